#!/bin/bash
# stats.sh -- what analytics cost (issue 6, "Benchmark"). Run by `make bench`.
#   1. Presigned 4 KiB GETs (SigV4 verified per request) with analytics on (an event per
#      request, buffered and written in batches by a background thread) and off
#      ([stats] enabled = off), two servers in the same run, wrk -t2 -c64, REPS rounds
#      alternating, median requests/s. Target: on >= 0.95x off.
#   2. Rollup of N raw events (default 10 million over 60 days) into day windows
#      (build/bench/rollup: 30-minute windows from the raw events, hours and days from
#      them, all saved), then the same query again from the saved windows; time and peak RSS.
# Results go to docs/benchmarks.md between <!-- stats:begin --> and <!-- stats:end -->.
# Env: REPS=3, WRK_SECS=10, EVENTS=10000000, DAYS=60, BENCH_OUT=docs/benchmarks.md (- prints).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TG="$ROOT/build/tollgate"
ROLLUP="$ROOT/build/bench/rollup"
REPS=${REPS:-3}
WRK_SECS=${WRK_SECS:-10}
EVENTS=${EVENTS:-10000000}
DAYS=${DAYS:-60}
OUT=${BENCH_OUT:-$ROOT/docs/benchmarks.md}
for b in "$TG" "$ROLLUP"; do
    [ -x "$b" ] || { echo "stats.sh: $b missing: run 'make all'" >&2; exit 1; }
done
command -v wrk >/dev/null 2>&1 || { echo "stats.sh: wrk missing: run 'sh scripts/deps.sh test'" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-bench.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
head -c 4096 /dev/urandom >"$T/4k"
declare -A URL PID
for mode in on off; do
    port=$(free_port)
    "$TG" init "$T/$mode" --listen "127.0.0.1:$port" --json >"$T/init-$mode.json" 2>&1 || { cat "$T/init-$mode.json"; exit 1; }
    printf '\n[stats]\nenabled = %s\n' "$mode" >>"$T/$mode/tollgate.conf"
    "$TG" serve --config "$T/$mode/tollgate.conf" >"$T/serve-$mode.log" 2>&1 &
    PID[$mode]=$!
    PIDS+=("${PID[$mode]}")
    for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break; sleep 0.1; done
    u=$("$TG" presign --config "$T/$mode/tollgate.conf" tollgate/bench/4k --method PUT)
    curl -fsS -o /dev/null -T "$T/4k" "$u" || { echo "upload failed ($mode)" >&2; exit 1; }
    URL[$mode]=$("$TG" presign --config "$T/$mode/tollgate.conf" tollgate/bench/4k --expires 86400)
    cmp -s <(curl -fsS "${URL[$mode]}") "$T/4k" || { echo "download differs ($mode)" >&2; exit 1; }
done

declare -A RPS
for mode in on off; do RPS[$mode]=""; done
for r in $(seq 1 "$REPS"); do
    for mode in on off; do
        out=$(wrk -t2 -c64 -d"${WRK_SECS}s" --timeout 30s "${URL[$mode]}" 2>&1)
        rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
        errs=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
        [ -n "$errs" ] && { echo "stats.sh: $mode: non-2xx answers: $errs" >&2; exit 1; }
        RPS[$mode]="${RPS[$mode]} $rps"
        echo "round $r analytics $mode: $rps req/s" >&2
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
ON=$(echo "${RPS[on]}" | median)
OFF=$(echo "${RPS[off]}" | median)
RATIO=$(awk -v a="$ON" -v b="$OFF" 'BEGIN {printf "%.2f", a / b}')
sleep 2 # the writer's last batch
EV=$(/usr/bin/python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from stats_events").fetchone()[0])' "$T/on/meta.db")
DROPPED=$(curl -fsS -H "Authorization: Bearer $(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin_key"])' "$T/init-on.json")" \
    "http://127.0.0.1:$(sed -n 's/^listen = 127.0.0.1://p' "$T/on/tollgate.conf")/metrics" | awk '/^tollgate_stats_events_dropped_total/ {print $2}')

echo "rollup: $EVENTS events over $DAYS days..." >&2
/usr/bin/time -v "$ROLLUP" "$T/rollup" "$EVENTS" "$DAYS" >"$T/rollup.json" 2>"$T/rollup.time" || { cat "$T/rollup.time" >&2; exit 1; }
RJ=$(cat "$T/rollup.json")
rj() { /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$RJ" "$1"; }
PEAK=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$T/rollup.time")

section=$(cat <<EOF
## Analytics (bench/stats.sh)

$(date -u +%F), $(nproc) cores, one run. Presigned 4 KiB GETs, \`wrk -t2 -c64 -d${WRK_SECS}s\`,
median of $REPS rounds, two tollgate servers (analytics on / \`[stats] enabled = off\`):

| | requests/s |
|---|---:|
| analytics on (one event per request) | $ON |
| analytics off | $OFF |
| **on / off** | **${RATIO}×** (target ≥ 0.95×) |

The analytics server recorded $EV events during the runs; events dropped because the buffer
was full: ${DROPPED:-0} (the buffer holds 2048 events per flush; a drop is counted, never blocks).

Rollup of $(rj events) raw events over $(rj days) days into day windows (\`build/bench/rollup\`:
30-minute windows from the raw events, hours and days from them, each closed window saved):

| | |
|---|---:|
| writing the events (batches of 5000) | $(rj insert_s) s |
| first query (computes and saves every window) | $(rj rollup_s) s |
| the same query again (saved windows) | $(rj again_s) s |
| peak RSS | $PEAK MiB |
EOF
)
if [ "$OUT" = - ]; then echo "$section"; exit 0; fi
[ -f "$OUT" ] || printf '# Benchmarks\n' >"$OUT"
grep -q '<!-- stats:begin -->' "$OUT" || printf '\n<!-- stats:begin -->\n<!-- stats:end -->\n' >>"$OUT"
SECTION="$section" awk '
    /<!-- stats:begin -->/ { print; print ENVIRON["SECTION"]; skip = 1; next }
    /<!-- stats:end -->/ { skip = 0 }
    !skip { print }' "$OUT" >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
echo "stats.sh: results in $OUT" >&2
