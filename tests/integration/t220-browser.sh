#!/bin/bash
# t220-browser.sh -- the member portal in Chromium (Debian's /usr/bin/chromium, driven
# by playwright-core from tests/browser, installed by scripts/deps.sh from its lockfile):
# a Download click saves a file whose SHA-256 is the one shown, a bad token sees the 403
# page. Screenshots (desktop, phone, 403) are kept in build/test-artifacts/.
source "$(dirname "$0")/lib.sh"

BR="$ROOT/tests/browser"
if [ ! -x /usr/bin/chromium ] || [ ! -d "$BR/node_modules/playwright-core" ]; then
    not_ok "chromium and playwright-core are installed (run scripts/deps.sh test)"
    finish
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

tg_init "$T/data" || { not_ok "init"; finish; }
grep -q '^\[grant tier2\]' "$CONF" ||
    printf '\n[grant tier2]\ntitle = Tier 2 — full daily dataset\nprefix = tier2/\n' >>"$CONF"
tg_serve || { not_ok "server starts"; finish; }

# Eight days of files (seven are shown), a manifest for the newest, an MTD and a monthly.
for i in 8 7 6 5 4 3 2 1; do
    d=$(TZ=UTC date -d "-$i days" +%F)
    head -c $((40000 + i * 7919)) /dev/urandom >"$T/day.parquet"
    awss3 s3 cp "$T/day.parquet" "s3://tollgate/tier2/daily/$d/tier2.parquet" --only-show-errors
done
printf '{"rows": 1048576, "key": "tier2/daily/%s/tier2.parquet"}' "$d" >"$T/manifest.json"
awss3 s3 cp "$T/manifest.json" "s3://tollgate/tier2/daily/$d/manifest.json" --only-show-errors
head -c 300000 /dev/urandom >"$T/mtd.parquet"
awss3 s3 cp "$T/mtd.parquet" "s3://tollgate/tier2/mtd/$(TZ=UTC date -d "-1 day" +%Y-%m)/tier2.parquet" --only-show-errors
head -c 2000000 /dev/urandom >"$T/monthly.parquet"
awss3 s3 cp "$T/monthly.parquet" "s3://tollgate/tier2/monthly/$(TZ=UTC date -d "-1 month" +%Y-%m)/tier2.parquet" --only-show-errors

"$TG" links tier2 --config "$CONF" --format json >"$T/links.json"
TOKEN=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["current"]["token"])' "$T/links.json")
mkdir -p "$T/shots"
PORTAL_URL="$URL/downloads/tier2?t=$TOKEN" BAD_URL="$URL/downloads/tier2?t=not-a-token" OUT="$T/shots" \
    timeout 120 node "$BR/portal.mjs" 2>&1 | tee "$T/browser.out" | grep -E '^(not ok|ok|#)' 
grep -q '^ok - ' "$T/browser.out" || { not_ok "the browser script ran"; sed 's/^/#   /' "$T/browser.out" | tail -20; }

mkdir -p "$ROOT/build/test-artifacts"
for f in portal.png portal-phone.png forbidden.png; do
    if [ -s "$T/shots/$f" ]; then
        cp "$T/shots/$f" "$ROOT/build/test-artifacts/t220-$f"
        ok "screenshot $f kept as build/test-artifacts/t220-$f"
    else
        not_ok "screenshot $f"
    fi
done
check "no token in the server log" bash -c "! grep -qF -- '$TOKEN' '$T/server.log'"
finish
