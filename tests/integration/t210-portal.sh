#!/bin/bash
# t210-portal.sh -- the member portal and the admin side against a real server, with
# TOLLGATE_NOW (never sleep): page and JSON listing from the key layout (7 newest days,
# MTD, monthly, manifests), downloads match their SHA-256, a week of rotation (Saturday:
# only the old token; Sunday overlap: both; Monday 00:00:00: only the new), link expiry,
# epoch bump, named tokens (max downloads under 10 parallel clients, max uses with HEAD
# and link-preview bots free), redirect mode, one 403 page for every reason, 404, 400 on
# odd query strings, 429 after 20 failures, security headers, the admin API (Bearer)
# and pages (login, session cookie, CSRF), and no token in the server log.
source "$(dirname "$0")/lib.sh"

pyj() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
TOKENS=() # every secret used: none may reach the log

tg_init "$T/data" || { not_ok "init"; finish; }
# The grants this test needs (tollgate init may already write tier1..tier3).
for g in tier1 tier2 tier3; do
    grep -q "^\[grant $g\]" "$CONF" || printf '\n[grant %s]\ntitle = %s daily dataset\nprefix = %s/\nrotation = 7d @ 1970-01-05T00:00:00Z\noverlap = 24h\nlink_ttl = 6d20h\n' \
        "$g" "Tier ${g#tier} —" "$g" >>"$CONF"
done
printf '\n[grant share]\ntitle = Shared <files> & "more"\nprefix = shared/ other/\nlink_mode = redirect\nredirect_ttl = 10m\n' >>"$CONF"

# Dates: a Monday at least two weeks ahead, so objects uploaded now are older than
# every TOLLGATE_NOW below.
eval "$(/usr/bin/python3 - <<'EOF'
import datetime as dt
t = dt.date.today() + dt.timedelta(days=14)
mon = t + dt.timedelta(days=(7 - t.weekday()) % 7)
d = lambda n: (mon + dt.timedelta(days=n)).isoformat()
print(f"MON={mon.isoformat()}")
print("DAYS=(" + " ".join(d(-n) for n in range(14, 5, -1)) + ")")  # 9 days, oldest first
newest = mon + dt.timedelta(days=-6)
print(f"MONTH={newest.strftime('%Y-%m')}")
prev = (newest.replace(day=1) - dt.timedelta(days=1)).strftime('%Y-%m')
print(f"PREVMONTH={prev}")
print(f"T_WED={d(-5)}T12:00:00Z T_SAT={d(-2)}T23:59:59Z T_SUN={d(-1)}T12:00:00Z")
print(f"T_MON={d(0)}T00:00:00Z T_MON_LAST={d(-1)}T23:59:59Z T_LATER={d(2)}T12:00:00Z")
EOF
)"
NEWEST=${DAYS[8]}

# ---- objects (uploaded with the real clock) ----
tg_serve || { not_ok "server starts"; finish; }
mkdir -p "$T/obj"
for d in "${DAYS[@]}"; do
    head -c $((2000 + RANDOM % 5000)) /dev/urandom >"$T/obj/$d.parquet"
    awss3 s3 cp "$T/obj/$d.parquet" "s3://tollgate/tier2/daily/$d/tier2.parquet" --only-show-errors
done
SHA_NEWEST=$(sha256sum "$T/obj/$NEWEST.parquet" | cut -d' ' -f1)
printf '{"grant":"tier2","kind":"daily","rows":4242,"sha256":"%s","key":"tier2/daily/%s/tier2.parquet"}' \
    "$SHA_NEWEST" "$NEWEST" >"$T/obj/manifest.json"
awss3 s3 cp "$T/obj/manifest.json" "s3://tollgate/tier2/daily/$NEWEST/manifest.json" --only-show-errors
head -c 9000 /dev/urandom >"$T/obj/mtd.parquet"
awss3 s3 cp "$T/obj/mtd.parquet" "s3://tollgate/tier2/mtd/$MONTH/tier2.parquet" --only-show-errors
head -c 7000 /dev/urandom >"$T/obj/monthly.parquet"
awss3 s3 cp "$T/obj/monthly.parquet" "s3://tollgate/tier2/monthly/$PREVMONTH/tier2.parquet" --only-show-errors
# off the layout: ignored
echo x | awss3 s3 cp - "s3://tollgate/tier2/daily/not-a-date/x.parquet" --only-show-errors
echo x | awss3 s3 cp - "s3://tollgate/tier2/daily/$NEWEST/nested/x.parquet" --only-show-errors
echo tier1 | awss3 s3 cp - "s3://tollgate/tier1/daily/$NEWEST/tier1.csv" --only-show-errors
echo "a,b" >"$T/obj/share.csv.gz"
awss3 s3 cp "$T/obj/share.csv.gz" "s3://tollgate/other/daily/$NEWEST/export é.csv.gz" --only-show-errors
tg_stop

links() { # links TIME GRANT -> $T/links.json
    TOLLGATE_NOW=$1 "$TG" links "$2" --config "$CONF" --format json >"$T/links.json" 2>/dev/null
}
serve_at() {
    export TOLLGATE_NOW=$1
    tg_serve
    local rc=$?
    unset TOLLGATE_NOW
    return $rc
}
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

links "$T_WED" tier2; A=$(pyj "$T/links.json" 'd[0]["current"]["token"]')
check_eq "no next link on Wednesday" "None" "$(pyj "$T/links.json" 'd[0]["next"]')"
links "$T_SUN" tier2; B=$(pyj "$T/links.json" 'd[0]["next"]["token"]')
check_eq "Sunday: the current link is still A" "$A" "$(pyj "$T/links.json" 'd[0]["current"]["token"]')"
links "$T_WED" tier1; T1=$(pyj "$T/links.json" 'd[0]["current"]["token"]')
links "$T_WED" share; SH=$(pyj "$T/links.json" 'd[0]["current"]["token"]')
TOKENS+=("$A" "$B" "$T1" "$SH" "$ADMIN")

# ---- Wednesday: the page and the API ----
serve_at "$T_WED" || { not_ok "server starts at $T_WED"; finish; }
curl -s -D "$T/page.h" -o "$T/page.html" "$URL/downloads/tier2?t=$A"
check_contains "page 200" " 200" "$(head -1 "$T/page.h")"
page=$(cat "$T/page.html")
check_contains "page shows the grant title" "<h1>Tier 2" "$page"
check_contains "page shows Last updated" "Last updated" "$page"
check_eq "page lists 7 daily + MTD + 1 monthly downloads" 9 "$(grep -o '>Download</a>' "$T/page.html" | wc -l)"
check_contains "newest day listed" "tier2_$NEWEST.parquet" "$page"
check_contains "7th day listed" "tier2_${DAYS[2]}.parquet" "$page"
check "8th day not listed" bash -c "! grep -q 'tier2_${DAYS[1]}.parquet' '$T/page.html'"
check_contains "manifest rows shown" "4,242" "$page"
check_contains "SHA-256 shown" "$SHA_NEWEST" "$page"
check_contains "MTD friendly name" "tier2_${MONTH}_mtd.parquet" "$page"
check_contains "monthly friendly name" "tier2_$PREVMONTH.parquet" "$page"
check_contains "page says when links expire" "expire on" "$page"
check "off-layout keys are not listed" bash -c "! grep -q -e 'not-a-date' -e 'nested' '$T/page.html'"
check "page has no script" bash -c "! grep -qi '<script' '$T/page.html'"
hdr=$(tr -d '\r' <"$T/page.h")
check_contains "page: Cache-Control no-store" "Cache-Control: no-store" "$hdr"
check_contains "page: Referrer-Policy no-referrer" "Referrer-Policy: no-referrer" "$hdr"
check_contains "page: strict CSP" "Content-Security-Policy: default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'" "$hdr"
check_contains "page: nosniff" "X-Content-Type-Options: nosniff" "$hdr"
css=$(grep -o 'href="/static/portal.css[^"]*"' "$T/page.html" | head -1 | sed 's/href="//; s/"$//')
check_eq "stylesheet served" 200 "$(code "$URL$css")"

curl -s -D "$T/api.h" -o "$T/api.json" "$URL/api/downloads/tier2?t=$A"
check_contains "API: application/json" "application/json" "$(cat "$T/api.h")"
check_contains "API: no-store" "no-store" "$(cat "$T/api.h")"
check_eq "API: grant, 7 daily, mtd, 1 monthly" "tier2 7 True 1" \
    "$(pyj "$T/api.json" 'd["grant"], len(d["daily"]), d["mtd"] is not None, len(d["monthly"])')"
check_eq "API: newest first" "$(printf '%s ' "${DAYS[@]:2}" | tr ' ' '\n' | sort -r | tr '\n' ' ' | sed 's/ $//')" \
    "$(pyj "$T/api.json" '" ".join(x["date"] for x in d["daily"])')"
check_eq "API: daily fields" "date expires_at filename key rows sha256 size url" \
    "$(pyj "$T/api.json" '" ".join(sorted(d["daily"][0]))')"
check_eq "API: manifest rows, store rows null" "4242 None" "$(pyj "$T/api.json" 'd["daily"][0]["rows"], d["daily"][1]["rows"]')"
check_eq "API: generated_at is TOLLGATE_NOW" "${T_WED:0:13}" "$(pyj "$T/api.json" 'd["generated_at"][:13]')"
check_eq "API: link expiry = now + link_ttl (6d20h)" "$(TZ=UTC date -d "${T_WED/T/ } +6 days +20 hours" +%Y-%m-%dT%H)" \
    "$(pyj "$T/api.json" 'd["daily"][0]["expires_at"][:13]')"
check_eq "API: MTD filename" "tier2_${MONTH}_mtd.parquet" "$(pyj "$T/api.json" 'd["mtd"]["filename"]')"
ok_all=1
for i in 0 1 2 3 4 5 6; do
    u=$(pyj "$T/api.json" "d['daily'][$i]['url']")
    want=$(pyj "$T/api.json" "d['daily'][$i]['sha256']")
    got=$(curl -fsS "$u" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$want" ] || { ok_all=0; echo "# day $i: $got != $want"; }
done
check_eq "every daily link downloads bytes with the SHA-256 shown" 1 "$ok_all"
u=$(pyj "$T/api.json" 'd["mtd"]["url"]')
check_contains "download has the friendly filename" "filename=\"tier2_${MONTH}_mtd.parquet\"" "$(curl -fsS -D - -o /dev/null "$u")"
L_WED=$(pyj "$T/api.json" 'd["daily"][0]["url"]')

# ---- refusals: one page whatever the reason ----
body403() { curl -s "$@" | md5sum | cut -d' ' -f1; }
REF=$(body403 "$URL/downloads/tier2?t=bogus")
check_eq "bad token: 403" 403 "$(code "$URL/downloads/tier2?t=bogus")"
check_eq "missing token: 403" 403 "$(code "$URL/downloads/tier2")"
check_eq "tier1 token on tier3: 403" 403 "$(code "$URL/downloads/tier3?t=$T1")"
check_eq "tier1 token on tier2: 403" 403 "$(code "$URL/downloads/tier2?t=$T1")"
check_eq "next token before the overlap: 403" 403 "$(code "$URL/downloads/tier2?t=$B")"
same=1
for q in "" "?t=" "?t=$T1" "?t=$B" "?t=${A}x" "?t=${A:0:42}"; do
    [ "$(body403 "$URL/downloads/tier2$q")" = "$REF" ] || { same=0; echo "# differs: $q"; }
done
[ "$(body403 "$URL/downloads/tier3?t=$T1")" = "$REF" ] || same=0
check_eq "the 403 page is the same bytes for every reason" 1 "$same"
check_contains "the 403 page tells to open the latest post" "latest link from the members' post" "$(curl -s "$URL/downloads/tier2?t=bogus")"
hdr=$(curl -s -D - -o /dev/null "$URL/downloads/tier2?t=bogus" | tr -d '\r')
check_contains "403 page: no-store" "Cache-Control: no-store" "$hdr"
check_contains "403 page: CSP" "Content-Security-Policy: default-src 'none'" "$hdr"
check_eq "API refusal: 403 JSON" "403 access_denied" \
    "$(curl -s -o "$T/e.json" -w '%{http_code}' "$URL/api/downloads/tier2?t=bogus"; echo " $(pyj "$T/e.json" 'd["error"]')")"
check_eq "unknown grant: 404" 404 "$(code "$URL/downloads/nope?t=$A")"
check_eq "unknown grant (API): 404" 404 "$(code "$URL/api/downloads/nope?t=$A")"
check_eq "odd grant name: 404" 404 "$(code "$URL/downloads/..%2Ftier2?t=$A")"
check_eq "repeated parameter: 400" 400 "$(code "$URL/downloads/tier2?t=$A&t=$A")"
check_eq "oversized parameter: 400" 400 "$(code "$URL/downloads/tier2?t=$A&x=$(head -c 300 /dev/zero | tr '\0' a)")"
check_eq "POST to the portal: 405" 405 "$(code -X POST "$URL/downloads/tier2?t=$A")"

# The refusals above count against 127.0.0.1's failure limit: start afresh.
tg_stop
serve_at "$T_WED" || { not_ok "server restarts at $T_WED"; finish; }

# ---- named tokens: uses (HEAD and bots free), downloads under concurrency ----
TOLLGATE_NOW=$T_WED "$TG" token create tier2 --label uses2 --max-uses 2 --json --config "$CONF" >"$T/n1.json" 2>/dev/null
N1=$(pyj "$T/n1.json" 'd["token"]'); TOKENS+=("$N1")
for _ in 1 2 3; do curl -s -o /dev/null -I "$URL/downloads/tier2?t=$N1"; done
curl -s -o "$T/bot.html" -A 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)' "$URL/downloads/tier2?t=$N1"
check "a link-preview bot gets a page without links" bash -c "! grep -q -e X-Amz-Signature -e 'Download</a>' '$T/bot.html'"
curl -s -o /dev/null -A 'Mozilla/5.0 (compatible; Discordbot/2.0)' "$URL/downloads/tier2?t=$N1"
curl -s -o /dev/null -A 'facebookexternalhit/1.1' "$URL/downloads/tier2?t=$N1"
check_eq "max-uses 2: HEAD and bots charged nothing, 2 opens allowed" "200 200 403" \
    "$(code "$URL/downloads/tier2?t=$N1") $(code "$URL/api/downloads/tier2?t=$N1") $(code "$URL/downloads/tier2?t=$N1")"

TOLLGATE_NOW=$T_WED "$TG" token create tier2 --label dl3 --max-downloads 3 --json --config "$CONF" >"$T/n3.json" 2>/dev/null
N3=$(pyj "$T/n3.json" 'd["token"]'); TOKENS+=("$N3")
curl -s -o "$T/n3api.json" "$URL/api/downloads/tier2?t=$N3"
L3=$(pyj "$T/n3api.json" 'd["daily"][0]["url"]')
check_contains "named token links carry its id" "x-tollgate-token=n$(pyj "$T/n3.json" 'd["id"]')&" "$L3"
cpids=()
for i in $(seq 1 10); do curl -s -o /dev/null -w '%{http_code}\n' "$L3" >"$T/par.$i" & cpids+=($!); done
wait "${cpids[@]}"
check_eq "max-downloads 3: exactly 3 of 10 parallel downloads succeed" 3 "$(cat "$T"/par.* | grep -c '^200$')"
check_eq "a HEAD of the exhausted link is still refused" 403 "$(code -I "$L3")"

# ---- redirect mode ----
curl -s -o "$T/share.json" "$URL/api/downloads/share?t=$SH"
SU=$(pyj "$T/share.json" 'd["daily"][0]["url"]')
check_contains "redirect mode: the link is a tollgate URL" "$URL/downloads/share/file/daily/$NEWEST/export%20%C3%A9.csv.gz?t=" "$SU"
check_eq "redirect mode: friendly name keeps .csv.gz" "share_$NEWEST.csv.gz" "$(pyj "$T/share.json" 'd["daily"][0]["filename"]')"
curl -s -D "$T/r.h" -o /dev/null "$SU"
loc=$(tr -d '\r' <"$T/r.h" | sed -n 's/^Location: //p')
check_contains "redirect: 302" " 302" "$(head -1 "$T/r.h")"
check_contains "redirect: to a presigned URL of redirect_ttl (600 s)" "X-Amz-Expires=600" "$loc"
check_contains "redirect: no-store" "Cache-Control: no-store" "$(tr -d '\r' <"$T/r.h")"
check_eq "redirect: the file downloads" "$(sha256sum "$T/obj/share.csv.gz" | cut -d' ' -f1)" "$(curl -fsSL "$SU" | sha256sum | cut -d' ' -f1)"
check_eq "redirect: a missing file 404" 404 "$(code "$URL/downloads/share/file/daily/nope.csv?t=$SH")"
check_eq "redirect: a bad token 403" 403 "$(code "$URL/downloads/share/file/daily/$NEWEST/x?t=bogus")"
check_contains "grant title is escaped" "Shared &lt;files&gt; &amp; &quot;more&quot;" "$(curl -s "$URL/downloads/share?t=$SH")"

# ---- admin API ----
check_eq "admin API without a key: 401" 401 "$(code "$URL/api/admin/grants")"
check_eq "admin API with a wrong key: 401" 401 "$(code -H 'Authorization: Bearer tga_nope' "$URL/api/admin/grants")"
AH="Authorization: Bearer $ADMIN"
curl -s -H "$AH" -o "$T/grants.json" "$URL/api/admin/grants"
check_eq "admin grants: current token = tollgate links" "$A" \
    "$(pyj "$T/grants.json" '[g for g in d if g["grant"]=="tier2"][0]["current"]["token"]')"
check_eq "admin grants: next rotation is Monday 00:00" "${MON}T00:00:00Z" \
    "$(pyj "$T/grants.json" '[g for g in d if g["grant"]=="tier2"][0]["next_rotation"]')"
check_contains "admin grants: no-store" "no-store" "$(curl -s -D - -o /dev/null -H "$AH" "$URL/api/admin/grants")"
st=$(curl -s -o "$T/created.json" -w '%{http_code}' -H "$AH" -H 'Content-Type: application/json' \
    -d '{"grant":"tier2","label":"from-api","max_uses":5,"expires":"30d"}' "$URL/api/admin/tokens")
check_eq "admin: create a named token: 201" 201 "$st"
NA=$(pyj "$T/created.json" 'd["token"]'); NA_ID=$(pyj "$T/created.json" 'd["id"]'); TOKENS+=("$NA")
check_contains "admin: the response has the portal URL" "/downloads/tier2?t=$NA" "$(pyj "$T/created.json" 'd["url"]')"
check_eq "the new token opens the page" 200 "$(code "$URL/downloads/tier2?t=$NA")"
curl -s -H "$AH" -o "$T/tokens.json" "$URL/api/admin/tokens"
check_eq "admin tokens: usage listed" "1 5 active" \
    "$(pyj "$T/tokens.json" '" ".join(str(x) for t in d if t["label"]=="from-api" for x in (t["uses"], t["max_uses"], t["status"]))')"
check "admin tokens: no secret in the list" bash -c "! grep -q -e '$NA' -e '$N1' '$T/tokens.json'"
check_eq "admin: bad create body: 400" 400 "$(code -H "$AH" -d '{"grant":"tier2"}' "$URL/api/admin/tokens")"
check_eq "admin: unknown grant: 400" 400 "$(code -H "$AH" -d '{"grant":"nope","label":"x"}' "$URL/api/admin/tokens")"
check_eq "admin: revoke" 200 "$(code -X POST -H "$AH" "$URL/api/admin/tokens/$NA_ID/revoke")"
check_eq "admin: revoke unknown: 404" 404 "$(code -X POST -H "$AH" "$URL/api/admin/tokens/999999/revoke")"
check_eq "a revoked token gets the same 403 page" "$REF" "$(body403 "$URL/downloads/tier2?t=$NA")"
check_eq "admin: GET on rotate: 405" 405 "$(code -H "$AH" "$URL/api/admin/grants/tier3/rotate")"

# ---- admin pages ----
J="$T/jar"
curl -s -c "$J" -b "$J" -o "$T/login.html" "$URL/admin"
check_contains "admin: login form" 'name="key"' "$(cat "$T/login.html")"
LOGIN=$(grep -o 'name="login" value="[^"]*"' "$T/login.html" | sed 's/.*value="//; s/"$//')
check_eq "admin: a wrong key is refused" 403 "$(code -c "$J" -b "$J" --data-urlencode "login=$LOGIN" --data-urlencode "key=tga_wrong" "$URL/admin/login")"
curl -s -c "$J" -b "$J" -o "$T/login.html" "$URL/admin"
LOGIN=$(grep -o 'name="login" value="[^"]*"' "$T/login.html" | sed 's/.*value="//; s/"$//')
check_eq "admin: login without the form's cookie is refused" 403 "$(code --data-urlencode "login=$LOGIN" --data-urlencode "key=$ADMIN" "$URL/admin/login")"
curl -s -c "$J" -b "$J" -D "$T/login.h" -o /dev/null --data-urlencode "login=$LOGIN" --data-urlencode "key=$ADMIN" "$URL/admin/login"
lh=$(tr -d '\r' <"$T/login.h")
check_contains "admin: login answers 303" " 303" "$(head -1 "$T/login.h")"
check_contains "admin: session cookie flags" "; Path=/admin; HttpOnly; SameSite=Strict" "$(echo "$lh" | grep '^Set-Cookie: tg_session=')"
SESSION=$(echo "$lh" | sed -n 's/^Set-Cookie: tg_session=\([^;]*\);.*/\1/p'); TOKENS+=("$SESSION")
curl -s -b "$J" -o "$T/grants.html" "$URL/admin/grants"
check_contains "admin grants page: current link" "/downloads/tier2?t=$A" "$(cat "$T/grants.html")"
check_contains "admin grants page: next rotation" "${MON} 00:00 UTC" "$(cat "$T/grants.html")"
CSRF=$(grep -o 'name="csrf" value="[^"]*"' "$T/grants.html" | head -1 | sed 's/.*value="//; s/"$//')
check_eq "admin: POST without CSRF token refused" 403 "$(code -b "$J" --data "grant=tier2&label=x" "$URL/admin/tokens")"
check_eq "admin: POST with a wrong CSRF token refused" 403 "$(code -b "$J" --data "csrf=nope&grant=tier2&label=x" "$URL/admin/tokens")"
curl -s -b "$J" -o "$T/created.html" --data-urlencode "csrf=$CSRF" --data "grant=tier2&label=web-form&max_downloads=2&expires=7d" "$URL/admin/tokens"
check_contains "admin: token created from the form" "Token created" "$(cat "$T/created.html")"
NW=$(grep -o '/downloads/tier2?t=tgn_[A-Za-z0-9_-]*' "$T/created.html" | head -1 | sed 's/.*t=//'); TOKENS+=("$NW")
check_eq "the form's token opens the page" 200 "$(code "$URL/downloads/tier2?t=$NW")"
curl -s -b "$J" -o "$T/tokens.html" "$URL/admin/tokens"
check_contains "admin tokens page lists it" "web-form" "$(cat "$T/tokens.html")"
check_eq "admin: rotation asks for confirmation" 200 "$(code -b "$J" "$URL/admin/grants/tier3/rotate")"
check_eq "admin: rotation with a wrong name does nothing" 400 "$(code -b "$J" --data-urlencode "csrf=$CSRF" --data "confirm=tier2" "$URL/admin/grants/tier3/rotate")"
check_eq "admin: pages need a session" 303 "$(code "$URL/admin/grants")"
check_eq "admin: logout" 303 "$(code -b "$J" --data-urlencode "csrf=$CSRF" "$URL/admin/logout")"
check_eq "admin: the session is gone after logout" 303 "$(code -b "$J" "$URL/admin/grants")"
tg_stop

# ---- the week: Saturday 23:59:59, Sunday overlap, Monday 00:00:00 ----
serve_at "$T_SAT" || { not_ok "server starts at $T_SAT"; finish; }
check_eq "Saturday 23:59:59: A 200, B 403" "200 403" "$(code "$URL/downloads/tier2?t=$A") $(code "$URL/downloads/tier2?t=$B")"
tg_stop
serve_at "$T_SUN" || { not_ok "server starts at $T_SUN"; finish; }
check_eq "Sunday overlap: A 200, B 200" "200 200" "$(code "$URL/downloads/tier2?t=$A") $(code "$URL/downloads/tier2?t=$B")"
check_eq "Sunday overlap: API with B" 200 "$(code "$URL/api/downloads/tier2?t=$B")"
tg_stop
serve_at "$T_MON" || { not_ok "server starts at $T_MON"; finish; }
check_eq "Monday 00:00:00: A 403, B 200" "403 200" "$(code "$URL/downloads/tier2?t=$A") $(code "$URL/downloads/tier2?t=$B")"
check_eq "Monday: the old token's 403 is the same page" "$REF" "$(body403 "$URL/downloads/tier2?t=$A")"
check_eq "Monday: the link minted on Wednesday still works (6d20h)" 200 "$(code "$L_WED")"
tg_stop

# ---- expiry and epoch bump ----
serve_at "$T_LATER" || { not_ok "server starts at $T_LATER"; finish; }
check_contains "a link used after its expiry: 403 Request has expired" "Request has expired" "$(curl -s "$L_WED")"
check_eq "…with status 403" 403 "$(code "$L_WED")"
links "$T_LATER" tier2; C=$(pyj "$T/links.json" 'd[0]["current"]["token"]'); TOKENS+=("$C")
curl -s -o "$T/c.json" "$URL/api/downloads/tier2?t=$C"
L_C=$(pyj "$T/c.json" 'd["daily"][0]["url"]')
check_eq "before the bump: token and link work" "200 200" "$(code "$URL/downloads/tier2?t=$C") $(code "$L_C")"
TOLLGATE_NOW=$T_LATER "$TG" token rotate tier2 --now --config "$CONF" >/dev/null 2>&1
check_eq "after tollgate token rotate: the old token 403" 403 "$(code "$URL/downloads/tier2?t=$C")"
check_eq "after tollgate token rotate: a link minted before it 403" 403 "$(code "$L_C")"
links "$T_LATER" tier2; D=$(pyj "$T/links.json" 'd[0]["current"]["token"]'); TOKENS+=("$D")
check "the new token differs" test "$C" != "$D"
check_eq "after the bump: the new token 200" 200 "$(code "$URL/downloads/tier2?t=$D")"
st=$(curl -s -o "$T/rot.json" -w '%{http_code}' -X POST -H "$AH" "$URL/api/admin/grants/tier2/rotate")
check_eq "admin API rotate: 200" 200 "$st"
E=$(pyj "$T/rot.json" 'd["current"]["token"]'); TOKENS+=("$E")
check_eq "admin API rotate: D 403, the returned token 200" "403 200" "$(code "$URL/downloads/tier2?t=$D") $(code "$URL/downloads/tier2?t=$E")"

# ---- 429 after 20 failures from one address ----
codes=""
for i in $(seq 1 21); do codes="$codes $(code --interface 127.0.0.2 "$URL/downloads/tier2?t=bad$i")"; done
check_eq "20 failures get 403, the 21st 429" "$(printf ' 403%.0s' $(seq 1 20)) 429" "$codes"
ra=$(curl -s -D - -o /dev/null --interface 127.0.0.2 "$URL/downloads/tier2?t=$E" | tr -d '\r' | sed -n 's/^Retry-After: //p')
check "429 carries Retry-After (1..60 s)" test -n "$ra" -a "${ra:-0}" -ge 1 -a "${ra:-0}" -le 60
check_eq "429 (API) is JSON" 429 "$(code --interface 127.0.0.2 "$URL/api/downloads/tier2?t=$E")"
check_eq "another address is not limited" 200 "$(code "$URL/downloads/tier2?t=$E")"
tg_stop

# ---- logs ----
leaks=0
for tok in "${TOKENS[@]}"; do
    [ -n "$tok" ] || continue
    if grep -qF -- "$tok" "$T/server.log"; then leaks=$((leaks + 1)); echo "# in the log: ${tok:0:6}…"; fi
done
check_eq "no token, admin key or session id in the server log (${#TOKENS[@]} checked)" 0 "$leaks"
check_contains "the log names tokens by tag" "tok#" "$(cat "$T/server.log")"
finish
