#!/bin/bash
# t350-demo.sh -- `tollgate demo`: a new directory gets three grants and N days published
# through the pipeline (tier1 3 columns, tier2 5, tier3 all); the printed portal links
# work (7 dailies, the MTD, last month's bundle; the tiers' column counts), the admin
# key opens the admin API, the S3 keys sign requests; a second run publishes nothing
# and the same day a week later catches up; nothing is left in TMPDIR. With
# TOLLGATE_NOW (no sleeping), on 127.0.0.1 and a free port.
source "$(dirname "$0")/lib.sh"

cp "$TG" "$T/tollgate" && TG="$T/tollgate" # other work may relink build/tollgate meanwhile
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
DIR="$T/demo"
export TOLLGATE_NOW=2026-12-05T10:00:00Z

out=$("$TG" demo --help 2>&1)
check_contains "demo --help shows usage" "usage: tollgate demo" "$out"
"$TG" demo "$DIR" --days 12 --rows 300 --port "$PORT" --no-serve >"$T/demo1.out" 2>"$T/demo1.err"
check_eq "first run exits 0" 0 "$?"
check_contains "first run initialises DIR" "initialised" "$(cat "$T/demo1.out")"
check_contains "first run publishes 2026-11-23 .. 2026-12-04" "publishing 2026-11-23 .. 2026-12-04 for 3 grants" "$(cat "$T/demo1.out")"
check_contains "36 files published" "(36 files published, 0 unchanged" "$(cat "$T/demo1.out")"
check_eq "keys file is 0600" 600 "$(stat -c %a "$DIR/demo-keys.json")"
check_eq "nothing left in TMPDIR" "" "$(ls -A "$TMPDIR")"
link() { grep -o "$URL/downloads/$1?t=[A-Za-z0-9_-]*" "$T/demo1.out" | head -1; }
for g in tier1 tier2 tier3; do
    check_contains "a portal link for $g is printed" "$URL/downloads/$g?t=" "$(link $g)"
done
ADMIN=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin_key"])' "$DIR/demo-keys.json")
check_contains "the admin key is printed" "$ADMIN" "$(cat "$T/demo1.out")"
check_contains "the admin URL is printed" "$URL/admin" "$(cat "$T/demo1.out")"

"$TG" demo "$DIR" --days 12 --rows 300 --port "$PORT" --no-serve >"$T/demo2.out" 2>&1
check_eq "second run exits 0" 0 "$?"
check_contains "second run publishes nothing" "every day up to yesterday is published already" "$(cat "$T/demo2.out")"
check_contains "second run prints the same tier1 link" "$(link tier1)" "$(cat "$T/demo2.out")"

# serving: the demo itself, in the background
"$TG" demo "$DIR" --port "$PORT" >"$T/demo3.out" 2>"$T/server.log" &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for _ in $(seq 1 100); do curl -fsS "$URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
check "the demo serves /healthz" curl -fsS "$URL/healthz"
pyj() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
for g in tier1 tier2 tier3; do
    tok=$(link $g)
    curl -s -o "$T/$g.json" "$URL/api/downloads/$g?t=${tok##*t=}"
    check_eq "$g: 7 dailies, newest 2026-12-04" "7 2026-12-04" "$(pyj "$T/$g.json" 'len(d["daily"]), d["daily"][0]["date"]' | tr -d "(),'")"
    check_eq "$g: MTD 2026-12, monthly 2026-11" "2026-12 2026-11" "$(pyj "$T/$g.json" 'd["mtd"]["month"], d["monthly"][0]["month"]' | tr -d "(),'")"
    curl -sL -o "$T/$g.parquet" "$(pyj "$T/$g.json" 'd["daily"][0]["url"]')"
    check_eq "$g: the newest daily downloads (sha256 = the API's)" "$(pyj "$T/$g.json" 'd["daily"][0]["sha256"]')" "$(sha256sum "$T/$g.parquet" | cut -d' ' -f1)"
done
"$TG" parquet info --json "$T/tier1.parquet" >"$T/i1.json" && "$TG" parquet info --json "$T/tier2.parquet" >"$T/i2.json" && "$TG" parquet info --json "$T/tier3.parquet" >"$T/i3.json"
check_eq "columns: tier1 3, tier2 5, tier3 7" "3 5 7" "$(pyj "$T/i1.json" 'len(d["columns"])') $(pyj "$T/i2.json" 'len(d["columns"])') $(pyj "$T/i3.json" 'len(d["columns"])')"
check_eq "the admin key opens the admin API" 200 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "$URL/api/admin/grants")"
tg_stop

# the printed S3 keys sign real requests (a server on the real clock: aws signs with it)
AWS_ACCESS_KEY_ID=$(pyj "$DIR/demo-keys.json" 'd["access_key_id"]')
AWS_SECRET_ACCESS_KEY=$(pyj "$DIR/demo-keys.json" 'd["secret_access_key"]')
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
check_contains "the printed S3 key id is the one kept" "$AWS_ACCESS_KEY_ID" "$(cat "$T/demo1.out")"
CONF="$DIR/tollgate.conf"
unset TOLLGATE_NOW
tg_serve --listen "127.0.0.1:$PORT" && {
    awss3 s3 ls s3://tollgate/tier2/mtd/ --recursive >"$T/ls.txt" 2>&1
    check_contains "the S3 keys list the bucket (aws s3 ls)" "tier2_2026-12_mtd.parquet" "$(cat "$T/ls.txt")"
    tg_stop
}

export TOLLGATE_NOW=2026-12-05T10:00:00Z

# a week later: catches up the 7 days since
TOLLGATE_NOW=2026-12-12T10:00:00Z "$TG" demo "$DIR" --days 12 --rows 300 --port "$PORT" --no-serve >"$T/demo4.out" 2>&1
check_eq "a week later: exits 0" 0 "$?"
check_contains "a week later: publishes 2026-12-05 .. 2026-12-11" "publishing 2026-12-05 .. 2026-12-11" "$(cat "$T/demo4.out")"
check_eq "nothing left in TMPDIR at the end" "" "$(ls -A "$TMPDIR")"
finish
