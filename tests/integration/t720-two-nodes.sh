#!/bin/bash
# t720-two-nodes.sh -- scale-out: two gateway nodes A and B on different ports share one
# PostgreSQL (tests/pg/pgctl.sh: a throwaway Debian PostgreSQL 15 cluster) and one
# remote store (another tollgate); they share nothing else but the secret and the
# config. Publish through A: B's portal lists it. `token rotate` on A: B refuses the old
# token at once (LISTEN/NOTIFY). A named token with --max-downloads 5, hammered through
# both nodes in proxy mode: exactly 5 downloads. The lifecycle pass started on both at
# once: each object retired and deleted once, no error (one holds the lease, the other
# reports it skipped). A publish on A killed (-9) mid-way, then node A itself killed:
# B serves a consistent portal (every listed file downloads with its sha256), and the
# next publish through B repairs the month.
source "$(dirname "$0")/lib.sh"
for _ in 1 2 3 4 5; do cp "$TG" "$T/tollgate" 2>/dev/null && break; sleep 1; done
TG="$T/tollgate"
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
pyj() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# ---- PostgreSQL (the run's cluster when the matrix started one, else our own) ----
PGDIR=${TG_PG_DIR:-}
if [ -z "$PGDIR" ] || [ ! -d "$PGDIR" ]; then
    # not under $T: its mode 0700 keeps out the postgres user the cluster runs as
    PGDIR=$(mktemp -u /tmp/tollgate-pg.XXXXXX)
    sh "$ROOT/tests/pg/pgctl.sh" start "$PGDIR" $$ >"$T/pg.log" 2>&1 || {
        not_ok "PostgreSQL starts"; tail -5 "$T/pg.log"; finish; }
    OWN_PG=yes
fi
stop_pg() { [ "${OWN_PG:-}" = yes ] && sh "$ROOT/tests/pg/pgctl.sh" stop "$PGDIR" >/dev/null 2>&1; }
trap 'stop_pg; cleanup' EXIT
DSN=$(sh "$ROOT/tests/pg/pgctl.sh" createdb "$PGDIR" "two$$") || { not_ok "createdb"; finish; }

# ---- node A: init with the metadata in PostgreSQL, objects on the remote ----
PORT_A=$(free_port)
"$TG" init "$T/a" --listen "127.0.0.1:$PORT_A" --meta-dsn "$DSN" --json >"$T/init.json" 2>"$T/init.err" ||
    { not_ok "init A"; cat "$T/init.err"; finish; }
CONF_A="$T/a/tollgate.conf"
tg_use_remote "$CONF_A" || { not_ok "remote store"; finish; }
cat >>"$CONF_A" <<'EOF'

[grant tier1]
title = Tier 1
prefix = tier1/
keep_daily = 2
EOF
# ---- node B: the same config and secret, another port, an empty data dir ----
PORT_B=$(free_port)
mkdir -p "$T/b"
cp "$T/a/secret" "$T/b/secret"
sed "s/^listen = .*/listen = 127.0.0.1:$PORT_B/" "$CONF_A" >"$T/b/tollgate.conf"
chmod 600 "$T/b/tollgate.conf"
CONF_B="$T/b/tollgate.conf"
URL_A="http://127.0.0.1:$PORT_A"
URL_B="http://127.0.0.1:$PORT_B"

node_start() { # node_start NAME CONF URL -> PID_<NAME>
    "$TG" serve --config "$2" >>"$T/server-$1.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    eval "PID_$1=$pid"
    for _ in $(seq 1 100); do
        curl -fsS "$3/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    tail -5 "$T/server-$1.log"
    return 1
}
node_start A "$CONF_A" "$URL_A" || { not_ok "node A starts"; finish; }
node_start B "$CONF_B" "$URL_B" || { not_ok "node B starts"; finish; }
ok "two nodes on ports $PORT_A and $PORT_B, one PostgreSQL, one remote store"
check_eq "node B keeps no metadata of its own" "no" "$([ -e "$T/b/meta.db" ] && echo yes || echo no)"

# ---- publish through A, the portal on B lists it ----
for d in 1 2 3 4; do
    printf 'day,v\n%d,%d\n' "$d" $((d * 10)) >"$T/d$d.csv"
done
"$TG" publish --config "$CONF_A" tier1 "$T/d1.csv" --date 2026-11-01 >/dev/null 2>"$T/pub.err"
check_eq "publish through A" 0 "$?"
TOK=$("$TG" links tier1 --config "$CONF_B" --format json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["current"]["token"])')
curl -s "$URL_B/api/downloads/tier1?t=$TOK" >"$T/b.json"
check_eq "the portal on B lists what A published" "['2026-11-01']" "$(pyj "$T/b.json" '[x["date"] for x in d["daily"]]')"
check_eq "... and B serves it" "$(printf 'day,v\n1,10\n')" "$(curl -s "$(pyj "$T/b.json" 'd["daily"][0]["url"]')")"

# ---- token rotate on A kills the token on B at once ----
check_eq "before the rotation B accepts the token" 200 "$(code "$URL_B/downloads/tier1?t=$TOK")"
"$TG" token rotate tier1 --now --config "$CONF_A" >/dev/null 2>&1
check_eq "token rotate through A" 0 "$?"
# LISTEN/NOTIFY is asynchronous: B may see it a moment later -- bounded, never a sleep
# that passes by itself
got=""
for i in $(seq 1 40); do
    c=$(code "$URL_B/downloads/tier1?t=$TOK")
    [ "$c" = 403 ] && { got=$i; break; }
    sleep 0.05
done
check "after the rotation on A, B refuses the old token (request #${got:-none} of at most 40, 50 ms apart)" test -n "$got"
check_eq "... and A too" 403 "$(code "$URL_A/downloads/tier1?t=$TOK")"
TOK=$("$TG" links tier1 --config "$CONF_B" --format json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["current"]["token"])')
check_eq "the new token works on B" 200 "$(code "$URL_B/downloads/tier1?t=$TOK")"

# ---- max-downloads 5 through both nodes (proxy mode) ----
"$TG" token create tier1 --label five --max-downloads 5 --json --config "$CONF_A" >"$T/n5.json" 2>/dev/null
N5=$(pyj "$T/n5.json" 'd["token"]')
curl -s "$URL_A/api/downloads/tier1?t=$N5" >"$T/n5a.json"
curl -s "$URL_B/api/downloads/tier1?t=$N5" >"$T/n5b.json"
LA=$(pyj "$T/n5a.json" 'd["daily"][0]["url"]')
LB=$(pyj "$T/n5b.json" 'd["daily"][0]["url"]')
check_contains "proxy mode: A's link points at A" "$URL_A/" "$LA"
check_contains "... B's at B" "$URL_B/" "$LB"
cpids=()
for i in $(seq 1 16); do
    if [ $((i % 2)) = 0 ]; then u=$LA; else u=$LB; fi
    curl -s -o /dev/null -w '%{http_code}\n' "$u" >"$T/c.$i" 2>&1 &
    cpids+=($!)
done
wait "${cpids[@]}"
check_eq "16 parallel downloads through both nodes: exactly 5 allowed" 5 "$(cat "$T"/c.* | grep -c '^200$')"
check_eq "... the other 11 refused (403)" 11 "$(cat "$T"/c.* | grep -c '^403$')"

# ---- the lifecycle pass on both nodes at once ----
for d in 2 3 4; do
    "$TG" publish --config "$CONF_A" tier1 "$T/d$d.csv" --date 2026-11-0$d >/dev/null 2>>"$T/pub.err"
done
# keep_daily = 2: the publishes' own passes retired days 1 and 2 (hidden, still stored:
# links were minted for day 1); passes past every link horizon delete them
curl -s "$URL_B/api/downloads/tier1?t=$TOK" >"$T/b.json"
check_eq "after day 4, B lists days 3 and 4 (1 and 2 retired)" "['2026-11-03', '2026-11-04']" \
    "$(pyj "$T/b.json" 'sorted(x["date"] for x in d["daily"])')"
check "... day 1 is still stored on the remote (its links live)" \
    remote_aws s3api head-object --bucket tollgate --key tier1/daily/2026-11-01/tier1_2026-11-01.csv
LATER=$(date -u -d '+8 days' +%Y-%m-%dT%H:%M:%SZ)
apply_both() { # -> $T/lc-A.json $T/lc-B.json
    TOLLGATE_NOW=$LATER "$TG" lifecycle apply --json --config "$CONF_A" >"$T/lc-A.json" 2>"$T/lc-A.err" &
    local pa=$!
    TOLLGATE_NOW=$LATER "$TG" lifecycle apply --json --config "$CONF_B" >"$T/lc-B.json" 2>"$T/lc-B.err" &
    local pb=$!
    wait $pa; RA=$?
    wait $pb; RB=$?
}
sum() { echo $(( $(pyj "$T/lc-A.json" "d['$1']") + $(pyj "$T/lc-B.json" "d['$1']") )); }
total_retired=0 total_deleted=0 skipped=0 errors=0
for round in 1 2 3; do
    apply_both
    [ "$RA" = 0 ] && [ "$RB" = 0 ] || errors=$((errors + 1))
    total_retired=$((total_retired + $(sum retired)))
    total_deleted=$((total_deleted + $(sum deleted)))
    skipped=$((skipped + $(sum skipped)))
done
check_eq "three rounds of passes started on both nodes at once: no error" 0 "$errors"
check_eq "... the 4 objects of days 1 and 2 (file + manifest) deleted once in all" 4 "$total_deleted"
check "... and no error in either node's output" bash -c "! grep -qi error '$T'/lc-A.err '$T'/lc-B.err"
echo "# passes skipped because the other node held the lease: $skipped"
remote_aws s3api list-objects-v2 --bucket tollgate --prefix tier1/daily/ --output json >"$T/rl.json"
check_eq "the remote keeps days 3 and 4 only" "['2026-11-03', '2026-11-04']" \
    "$(pyj "$T/rl.json" 'sorted({o["Key"].split("/")[2] for o in d.get("Contents", [])})')"
curl -s "$URL_B/api/downloads/tier1?t=$TOK" >"$T/b.json"
check_eq "B's portal lists days 3 and 4" "['2026-11-03', '2026-11-04']" "$(pyj "$T/b.json" 'sorted(x["date"] for x in d["daily"])')"

# ---- A killed mid-publish, then node A killed: B stays consistent ----
printf 'day,v\n5,50\n' >"$T/d5.csv"
rm -f "$T/paused"
TOLLGATE_TEST_PUBLISH_PAUSE=mtd TOLLGATE_TEST_PUBLISH_PAUSE_FILE="$T/paused" \
    "$TG" publish --config "$CONF_A" tier1 "$T/d5.csv" --date 2026-11-05 >"$T/crash.out" 2>&1 &
cpid=$!
PIDS+=("$cpid")
for _ in $(seq 1 200); do [ -s "$T/paused" ] && break; kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
if [ -s "$T/paused" ]; then kill -9 "$cpid"; ok "a publish through A killed -9 after its MTD step"; else not_ok "the publish reached its MTD step"; kill -9 "$cpid" 2>/dev/null; fi
wait "$cpid" 2>/dev/null
kill -9 "$PID_A"
wait "$PID_A" 2>/dev/null
check_eq "node A is gone" 000 "$(code "$URL_A/healthz")"
consistent() { # consistent [sha]: every file B lists downloads (and with sha: hashes
    # to the sha256 B lists -- a manifest the killed publish did not rewrite yet may lag
    # until the next publish repairs it, as on one node: t302)
    curl -s "$URL_B/api/downloads/tier1?t=$TOK" >"$T/b.json" || return 1
    local bad=0 n=0
    while read -r u s; do
        n=$((n + 1))
        curl -s -o "$T/one" -w '%{http_code}' "$u" >"$T/one.code"
        [ "$(cat "$T/one.code")" = 200 ] || { bad=$((bad + 1)); continue; }
        if [ "${1:-}" = sha ] && [ "$(sha256sum <"$T/one" | cut -d' ' -f1)" != "$s" ]; then
            bad=$((bad + 1))
        fi
    done < <(pyj "$T/b.json" '"\n".join(f["url"] + " " + f["sha256"] for f in d["daily"] + ([d["mtd"]] if d.get("mtd") else []))')
    echo "$n listed, $bad bad"
    [ "$bad" = 0 ] && [ "$n" -gt 0 ]
}
check "B's portal after A died: every listed file downloads" consistent
"$TG" publish --config "$CONF_B" tier1 "$T/d5.csv" --date 2026-11-05 >/dev/null 2>>"$T/pub.err"
check_eq "the publish, run again through B, completes" 0 "$?"
check "B's portal after the repair: every listed file downloads with its sha256" consistent sha
check_contains "... and lists day 5" "2026-11-05" "$(pyj "$T/b.json" '[x["date"] for x in d["daily"]]')"
curl -s "$(pyj "$T/b.json" 'd["mtd"]["url"]')" >"$T/mtd.csv"
check_eq "the MTD holds days 1..5, each once" "$(printf 'day,v\n1,10\n2,20\n3,30\n4,40\n5,50\n')" "$(cat "$T/mtd.csv")"
kill "$PID_B"
wait "$PID_B" 2>/dev/null
check "the remote's secret in no node's log" bash -c "! grep -qF -- '$REMOTE_SECRET' '$T'/server-*.log"
finish
