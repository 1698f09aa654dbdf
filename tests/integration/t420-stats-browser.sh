#!/bin/bash
# t420-stats-browser.sh -- the analytics dashboard in Chromium with 30 days of traffic:
# real requests (views, downloads through links, refused tokens) made by curl with
# several user agents, one server start per simulated day (TOLLGATE_NOW), then
# /admin/stats checked and photographed at 1280 px and on a phone (tests/browser/
# stats.mjs). Screenshots are kept in build/test-artifacts/.
source "$(dirname "$0")/lib.sh"

BR="$ROOT/tests/browser"
if [ ! -x /usr/bin/chromium ] || [ ! -d "$BR/node_modules/playwright-core" ]; then
    not_ok "chromium and playwright-core are installed (run scripts/deps.sh test)"
    finish
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
PY=/usr/bin/python3
tg_init "$T/data" || { not_ok "init"; finish; }
printf '\n[grant tier1]\ntitle = Tier 1\nprefix = tier1/\n\n[grant tier2]\ntitle = Tier 2\nprefix = tier2/\n' >>"$CONF"
head -c 30000 /dev/urandom >"$T/f.bin"
tg_serve || { not_ok "server starts"; finish; } # real time: awscli signs with the real clock
for g in tier1 tier2; do
    awss3 s3 cp "$T/f.bin" "s3://tollgate/$g/daily/2026-02-28/${g}_2026-02-28.bin" --only-show-errors
done
tg_stop

UAS=("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
    "curl/8.5.0" "python-requests/2.31.0" "aws-cli/2.15.10 Python/3.11.6 Linux/6.1.0 exe/x86_64.debian.12")
REFS=("https://news.example.com/a" "https://t.co/x" "")
days=0
for day in $(seq 1 30); do
    d=$(date -u -d "2026-03-01 + $((day - 1)) days" +%F)
    export TOLLGATE_NOW="${d}T12:00:00Z"
    tg_serve || { not_ok "server starts on $d"; unset TOLLGATE_NOW; finish; }
    for g in tier1 tier2; do
        tok=$("$TG" links "$g" --config "$CONF" --format json | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["current"]["token"])')
        n=$(((day * 7 + ${#g}) % 5 + 1))
        for i in $(seq 1 "$n"); do
            ua=${UAS[$(((day + i) % 5))]}
            ref=${REFS[$((i % 3))]}
            curl -s -o "$T/api.json" -A "$ua" ${ref:+-e "$ref"} "$URL/api/downloads/$g?t=$tok"
            link=$($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["daily"][0]["url"] if d.get("daily") else "")' "$T/api.json")
            [ -n "$link" ] && curl -s -o /dev/null -A "$ua" "$link"
        done
        [ $((day % 4)) -eq 0 ] && curl -s -o /dev/null -A "curl/8.5.0" "$URL/downloads/$g?t=bad-token-$day"
    done
    tg_stop
    unset TOLLGATE_NOW
    days=$((days + 1))
done
check_eq "30 days of traffic made" 30 "$days"

export TOLLGATE_NOW=2026-03-30T18:00:00Z
tg_serve || { not_ok "server starts"; finish; }
curl -s -H "Authorization: Bearer $ADMIN" -o "$T/stats.json" "$URL/api/admin/stats?from=2026-03-01&to=2026-03-30"
check "the stats API covers 30 days with downloads" $PY -c '
import json,sys; d=json.load(open(sys.argv[1]))
days={s["start"][:10] for s in d["series"] if s["downloads"]>0}
sys.exit(0 if len(days)==30 else 1)' "$T/stats.json"
mkdir -p "$T/shots"
BASE="$URL" ADMIN="$ADMIN" OUT="$T/shots" timeout 120 node "$BR/stats.mjs" 2>&1 | tee "$T/browser.out" | grep -E '^(not ok|ok|#)'
grep -q '^ok - ' "$T/browser.out" || { not_ok "the browser script ran"; tail -20 "$T/browser.out" | sed 's/^/#   /'; }
mkdir -p "$ROOT/build/test-artifacts"
for f in stats-desktop.png stats-phone.png; do
    if [ -s "$T/shots/$f" ]; then
        cp "$T/shots/$f" "$ROOT/build/test-artifacts/t420-$f"
        ok "screenshot $f kept as build/test-artifacts/t420-$f"
    else
        not_ok "screenshot $f"
    fi
done
tg_stop
finish
