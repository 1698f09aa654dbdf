#!/bin/bash
# t400-stats.sh -- download analytics end to end, with TOLLGATE_NOW across two days:
# curl with several user agents views the portal and its API, downloads through links,
# fails with a bad token; the stats API then gives exact numbers (views, links minted,
# downloads, bytes, rejections, visitors per day; the same client is a new visitor the
# next day; the month sums daily uniques), the pulse counts only the last 5 minutes,
# X-Forwarded-For counts only from a trusted proxy, `tollgate stats` prints the same,
# /metrics parses as Prometheus text with the expected values (and needs the admin key
# unless metrics_public = on), and nothing in the data directory (files and SQLite
# dump) holds a client address, a full user agent or a token.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
H="$ROOT/tests/integration/t400-stats.py"
get() { $PY "$H" get "$@"; }

tg_init "$T/data" || { not_ok "init"; finish; }
printf '\n[grant tier1]\ntitle = Tier 1\nprefix = tier1/\n\n[grant tier2]\ntitle = Tier 2\nprefix = tier2/\n' >>"$CONF"
G="$T/gen"
mkdir -p "$G"
"$TG" parquet gen -o "$G/d.parquet" --rows 500 --date 2026-02-26 --seed 3 >/dev/null &&
    TOLLGATE_NOW=2026-02-27T06:00:00Z "$TG" publish tier2 "$G/d.parquet" --config "$CONF" >/dev/null 2>"$T/pub.err" ||
    { not_ok "publish"; cat "$T/pub.err"; finish; }

FF="Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
CURLUA="curl/8.5.0"
serve_at() { export TOLLGATE_NOW=$1; tg_serve; local rc=$?; unset TOLLGATE_NOW; return $rc; }
token_at() {
    TOLLGATE_NOW=$1 "$TG" links "$2" --config "$CONF" --format json >"$T/links.json" 2>/dev/null
    get "$T/links.json" 'd[0]["current"]["token"]'
}

# ---- day 1: 2026-02-27 ----
serve_at 2026-02-27T10:00:00Z || { not_ok "server starts"; finish; }
TOK2=$(token_at 2026-02-27T10:00:00Z tier2)
TOK1=$(token_at 2026-02-27T10:00:00Z tier1)
c() { curl -s -o "$T/out" -w '%{http_code}' "$@"; }
check_eq "portal page (Firefox, from a referrer)" 200 "$(c -A "$FF" -e 'https://news.example.com/post?id=9' "$URL/downloads/tier2?t=$TOK2")"
check_eq "portal page again (same client)" 200 "$(c -A "$FF" "$URL/downloads/tier2?t=$TOK2")"
check_eq "API view (curl)" 200 "$(c -A "$CURLUA" "$URL/api/downloads/tier2?t=$TOK2")"
cp "$T/out" "$T/api.json"
LINK=$(get "$T/api.json" 'd["daily"][0]["url"]')
SIZE=$(get "$T/api.json" 'd["daily"][0]["size"]')
check_eq "download through the link (Firefox)" 200 "$(c -A "$FF" "$LINK")"
check_eq "a ranged download (curl)" 206 "$(c -A "$CURLUA" -r 0-99 "$LINK")"
check_eq "a bad token is refused" 403 "$(c -A "$CURLUA" "$URL/downloads/tier2?t=nope-not-a-token")"
check_eq "tier1 API view" 200 "$(c -A "$CURLUA" "$URL/api/downloads/tier1?t=$TOK1")"
# an untrusted X-Forwarded-For changes nothing: still the same visitor as the curl above
check_eq "API view with an untrusted X-Forwarded-For" 200 "$(c -A "$CURLUA" -H 'X-Forwarded-For: 198.51.100.77' "$URL/api/downloads/tier2?t=$TOK2")"
curl -s -o "$T/m401" -w '%{http_code}' "$URL/metrics" >"$T/m401.code"
check_eq "/metrics needs the admin key" 401 "$(cat "$T/m401.code")"
curl -s -H "Authorization: Bearer $ADMIN" -o "$T/metrics1" "$URL/metrics"
check "/metrics is strict Prometheus text with the expected counters" $PY "$H" metrics "$T/metrics1" \
    tollgate_downloads_total=2 tollgate_token_rejections_total=1 tollgate_api_views_total=3 \
    tollgate_portal_views_total=2 'tollgate_http_requests_total{route="portal",code="4xx"}=1' \
    'tollgate_lifecycle_objects_total{action="deleted"}=0'
tg_stop

# ---- day 2: 2026-02-28, a trusted proxy ----
printf '\n[stats]\ntrusted_proxies = 127.0.0.1\n' >>"$CONF"
serve_at 2026-02-28T09:00:00Z || { not_ok "server starts (day 2)"; finish; }
TOK2=$(token_at 2026-02-28T09:00:00Z tier2)
check_eq "day 2: API view" 200 "$(c -A "$FF" "$URL/api/downloads/tier2?t=$TOK2")"
cp "$T/out" "$T/api2.json"
LINK=$(get "$T/api2.json" 'd["daily"][0]["url"]')
check_eq "day 2: download (same client as day 1)" 200 "$(c -A "$FF" "$LINK")"
check_eq "day 2: download behind the proxy, client A" 200 "$(c -A "$CURLUA" -H 'X-Forwarded-For: 198.51.100.1' "$LINK")"
check_eq "day 2: download behind the proxy, client B" 200 "$(c -A "$CURLUA" -H 'X-Forwarded-For: 198.51.100.2' "$LINK")"

A="Authorization: Bearer $ADMIN"
check_eq "stats API needs the admin key" 401 "$(c "$URL/api/admin/stats")"
check_eq "stats API" 200 "$(c -H "$A" "$URL/api/admin/stats?window=day&from=2026-02-27&to=2026-02-28&grant=tier2")"
cp "$T/out" "$T/stats.json"
row() { get "$T/stats.json" "[s for s in d['series'] if s['start'].startswith('$1')][0]['$2']"; }
check_eq "day 1: portal views" 2 "$(row 2026-02-27 portal_views)"
check_eq "day 1: API views" 2 "$(row 2026-02-27 api_views)"
check_eq "day 1: downloads (200 and 206)" 2 "$(row 2026-02-27 downloads)"
check_eq "day 1: bytes sent = file + 100" "$((SIZE + 100))" "$(row 2026-02-27 bytes)"
check_eq "day 1: rejections" 1 "$(row 2026-02-27 rejections)"
# links minted: every view hands out a link per listed file (daily + MTD); views within one
# second reuse the same links (same URL), so 1 to 4 rounds of 2
LM=$(row 2026-02-27 links_minted)
check "day 1: links minted come in pairs, 2..8 ($LM)" test "$LM" -ge 2 -a "$LM" -le 8 -a $((LM % 2)) -eq 0
check_eq "day 1: visitors (Firefox, curl; XFF untrusted)" 2 "$(row 2026-02-27 visitors)"
check_eq "day 2: downloads" 3 "$(row 2026-02-28 downloads)"
check_eq "day 2: visitors (Firefox again = new day, 2 behind the proxy, +API)" 3 "$(row 2026-02-28 visitors)"
check_eq "top file is the daily" "tier2/daily/2026-02-26/tier2_2026-02-26.parquet" "$(get "$T/stats.json" 'd["top_keys"][0]["key"]')"
check_eq "top referrer is the domain only" "news.example.com" "$(get "$T/stats.json" 'd["top_referrers"][0]["domain"]')"
check_eq "month window" 200 "$(c -H "$A" "$URL/api/admin/stats?window=month&from=2026-02-01&to=2026-02-28&grant=tier2")"
check_eq "month: visitors are the sum of daily uniques (2 + 3)" "5 the sum of daily unique visitors" \
    "$(get "$T/out" 'str(d["series"][0]["visitors"]) + " " + d["visitors_are"]')"
check_eq "a bad window is a clear 400" 400 "$(c -H "$A" "$URL/api/admin/stats?window=week")"
check_contains "the 400 names the windows" "30m, hour, day, month, year" "$(cat "$T/out")"
check_eq "pulse" 200 "$(c -H "$A" "$URL/api/admin/pulse")"
check_eq "pulse: the last 5 minutes only (today's 4 requests)" "5 4 3" \
    "$(get "$T/out" '" ".join(str(d[k]) for k in ("window_minutes", "requests", "downloads"))')"
tg_stop

# the CLI prints the same numbers
TOLLGATE_NOW=2026-02-28T12:00:00Z "$TG" stats --config "$CONF" --from 2026-02-27 --to 2026-02-28 --grant tier2 --format csv >"$T/stats.csv" 2>"$T/stats.err"
check_eq "tollgate stats --format csv exits 0" 0 "$?"
check_eq "the CSV rows equal the API's series" ok "$($PY - "$T/stats.csv" "$T/stats.json" <<'PYEOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
series = json.load(open(sys.argv[2]))["series"]
cols = ["portal_views", "api_views", "links_minted", "downloads", "bytes", "rejections", "visitors"]
a = [[r["start"], r["grant"]] + [int(r[c]) for c in cols] for r in rows]
b = [[s["start"], s["grant"]] + [s[c] for c in cols] for s in series]
print("ok" if a == b and len(a) == 2 else f"csv {a} api {b}")
PYEOF
)"
# 90 days on, the lifecycle pass deletes the raw events; the numbers stay (saved windows)
TOLLGATE_NOW=2026-06-01T00:00:00Z "$TG" lifecycle apply --config "$CONF" >"$T/lc.out" 2>&1
check_contains "lifecycle apply deletes the raw events past raw_events_keep" "raw events past raw_events_keep deleted" "$(cat "$T/lc.out")"
check_eq "no raw event is left" 0 "$(meta_query "select count(*) from stats_events")"
TOLLGATE_NOW=2026-06-01T00:00:00Z "$TG" stats --config "$CONF" --from 2026-02-27 --to 2026-02-28 --grant tier2 --format csv >"$T/stats-later.csv" 2>"$T/stats-later.err"
check_eq "the same numbers from the saved windows" "$(cat "$T/stats.csv")" "$(cat "$T/stats-later.csv")"
TOLLGATE_NOW=2026-02-28T12:00:00Z "$TG" stats --config "$CONF" --window week >/dev/null 2>&1
check_eq "tollgate stats --window week is a usage error" 2 "$?"

# public metrics
printf 'metrics_public = on\n' >>"$CONF"
serve_at 2026-02-28T12:00:00Z || { not_ok "server starts (metrics_public)"; finish; }
check_eq "/metrics without a key when metrics_public = on" 200 "$(c "$URL/metrics")"
tg_stop

# nothing identifying on disk (with PostgreSQL metadata: in its dump too)
meta_dump "$DATA/metadata-dump.sql"
check "no client address, full user agent, forwarded address or token in the data directory" \
    $PY "$H" scan "$DATA" 127.0.0.1 198.51.100.1 198.51.100.2 198.51.100.77 "Gecko/20100101" "$TOK2" "$TOK1" "news.example.com/post"
check "no token in the server log" bash -c "! grep -qF -- '$TOK2' '$T/server.log'"
finish
