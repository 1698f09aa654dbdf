#!/bin/bash
# t150-http-load.sh -- the HTTP server under load and under hostile clients (issue 2,
# "Load and concurrency"):
#  1. 1,000 keep-alive connections held open (each sent one GET /healthz first: a
#     connection that never sends a request is cut by header_timeout, by design) while
#     256 clients download a 1 MiB object in parallel: bigget -c 256 for three rounds
#     (every body read to its Content-Length, zero errors) and 256 Python clients x 2
#     rounds checking each body's length and SHA-256. Then every held connection must
#     still answer one more request. Run in poll mode (the default) and again with
#     TOLLGATE_HTTP_MODE=epoll, so libmicrohttpd's stall at 128 ready events per epoll
#     thread (notes/http-perf.md, pitfall 2) cannot come back in either mode.
#  2. Clients that send their request head one byte per second are cut by
#     header_timeout (2s here) while other requests are served.
#  3. Clients that stop reading a 64 MiB download (tiny receive buffer), on more
#     connections than the server has threads, do not hold a thread: /healthz and
#     small objects are still served at once, and idle_timeout (3s here) closes them.
# Time bounds are hang detectors (timeout(1), curl --max-time, the helper's --max), not
# performance assertions. Helpers: tests/load/holdconn.py, bench/bigget.c (built here).
. "$(dirname "$0")/lib.sh"

# Up to ~1,300 client sockets in this shell's children, as many on the server side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 2048 ]; then
    not_ok "ulimit -n can be raised to 2048 for $((1000 + 256)) connections (hard limit $(ulimit -Hn))"
    finish
fi
HC=(/usr/bin/python3 "$ROOT/tests/load/holdconn.py")
BIGGET="$T/bigget"
cc -std=c11 -D_GNU_SOURCE -O2 -pthread -o "$BIGGET" "$ROOT/bench/bigget.c" 2>"$T/cc.err" || {
    not_ok "bench/bigget.c builds"; sed 's/^/#   /' "$T/cc.err"; finish; }
HELD=1000
CLIENTS=256
NCPU=$(nproc)
STALLED=$((NCPU * 4 > 8 ? NCPU * 4 : 8))
MIB=1048576

tg_init || { not_ok "init"; finish; }
tg_serve || { not_ok "server starts"; finish; }

# put FILE KEY: upload through a presigned PUT URL.
put() {
    local u
    u=$("$TG" presign --config "$CONF" "tollgate/$2" --method PUT) &&
        curl -fsS --max-time 120 -o /dev/null -T "$1" "$u"
}
presign() { "$TG" presign --config "$CONF" "tollgate/$1" --expires 3600; }
head -c 4096 /dev/urandom >"$T/4k"
head -c $MIB /dev/urandom >"$T/1m"
head -c $((64 * MIB)) /dev/urandom >"$T/64m"
check "upload 4 KiB, 1 MiB and 64 MiB objects" bash -c \
    "$(declare -f put); TG='$TG' CONF='$CONF'; put '$T/4k' load/4k && put '$T/1m' load/1m && put '$T/64m' load/64m"
SHA1M=$(sha256sum "$T/1m" | cut -c1-64)

# wait_for FILE SECONDS: bounded wait for a helper's ready file.
wait_for() {
    local i
    for i in $(seq 1 $(($2 * 10))); do [ -s "$1" ] && return 0; sleep 0.1; done
    return 1
}
# kv KEY LINE: the value of KEY=... in a helper's summary line.
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# ---- 1. 1,000 held connections + 256 parallel downloads --------------------------------------
load_scenario() {
    local mode=$1 hp start rc out reqs bytes errs elapsed url
    rm -f "$T/ready" "$T/go"
    timeout -k 5 150 "${HC[@]}" hold --port "$PORT" --n $HELD --ready "$T/ready" --go "$T/go" \
        --max 120 >"$T/hold.out" 2>&1 &
    hp=$!
    PIDS+=("$hp")
    if ! wait_for "$T/ready" 60; then
        not_ok "$mode: $HELD keep-alive connections opened"; sed 's/^/#   /' "$T/hold.out"
        return
    fi
    check_eq "$mode: $HELD keep-alive connections opened, one GET /healthz each" \
        "opened=$HELD first_ok=$HELD" "$(cat "$T/ready")"
    url=$(presign load/1m)
    start=$(date +%s)
    for round in 1 2 3; do
        out=$(timeout -k 5 60 "$BIGGET" -c $CLIENTS -d 3 "$url" 2>&1)
        rc=$?
        reqs=$(kv requests "$out") bytes=$(kv bytes "$out") errs=$(kv errors "$out")
        if [ $rc -eq 0 ] && [ "${errs:-x}" = 0 ] && [ "${reqs:-0}" -ge $CLIENTS ] &&
            [ "$bytes" = $((reqs * MIB)) ]; then
            ok "$mode: round $round, bigget -c $CLIENTS: $reqs complete 1 MiB responses, 0 errors ($(kv mib_s "$out") MiB/s)"
        else
            not_ok "$mode: round $round, bigget -c $CLIENTS: every response complete, no errors (rc=$rc)"
            echo "#   $out"
        fi
    done
    out=$(timeout -k 5 90 "${HC[@]}" fetch --url "$url" --n $CLIENTS --rounds 2 --size $MIB \
        --sha256 "$SHA1M" --max 60 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        ok "$mode: $CLIENTS clients x 2 rounds, every body exact (length and SHA-256): $out"
    else
        not_ok "$mode: $CLIENTS clients x 2 rounds, every body exact"; echo "#   $out"
    fi
    elapsed=$(($(date +%s) - start))
    if [ $elapsed -le 60 ]; then
        ok "$mode: downloads finished in ${elapsed}s (hang bound 60s)"
    else
        not_ok "$mode: downloads finished within 60s (took ${elapsed}s)"
    fi
    touch "$T/go"
    wait "$hp"
    rc=$?
    out=$(cat "$T/hold.out")
    if [ $rc -eq 0 ] && [ "$(kv again_ok "$out")" = $HELD ]; then
        ok "$mode: all $HELD held connections still open and answer 200: $out"
    else
        not_ok "$mode: all $HELD held connections still open and usable (rc=$rc)"; echo "#   $out"
    fi
    check_eq "$mode: server still running" 200 \
        "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$URL/healthz")"
}

check_contains "poll mode by default" "(poll," "$(grep 'http: listening' "$T/server.log" | tail -1)"
load_scenario poll

tg_stop
TOLLGATE_HTTP_MODE=epoll tg_serve || { not_ok "server starts in epoll mode"; finish; }
line=$(grep 'http: listening' "$T/server.log" | tail -1)
check_contains "TOLLGATE_HTTP_MODE=epoll is epoll" "(epoll," "$line"
# The stall needs 128 ready fds on one thread's epoll set (connections + listen socket +
# ITC pipe). Under load with several threads it shows only by chance (measured: none
# with 2 threads at c1000), so check the sizing that rules it out, deterministically.
threads=$(sed -n 's/.*(epoll, \([0-9]*\) threads, \([0-9]*\) connections).*/\1/p' <<<"$line")
conns=$(sed -n 's/.*(epoll, \([0-9]*\) threads, \([0-9]*\) connections).*/\2/p' <<<"$line")
if [ -n "$threads" ] && [ $(((conns + threads - 1) / threads + 2)) -lt 128 ]; then
    ok "epoll: at most $(((conns + threads - 1) / threads)) connections per thread ($conns over $threads threads): fewer than 128 fds per epoll set"
else
    not_ok "epoll: fewer than 128 fds per epoll set"; echo "#   $line"
fi
load_scenario epoll

# ---- 2 and 3: slow senders, stalled readers ------------------------------------------------------
tg_stop
sed -i 's/^header_timeout = .*/header_timeout = 2s/; s/^idle_timeout = .*/idle_timeout = 3s/' "$CONF"
tg_serve || { not_ok "server restarts with header_timeout=2s idle_timeout=3s"; finish; }
URL4K=$(presign load/4k)
URL1M=$(presign load/1m)

# others_served SECONDS PID: while PID runs (at most SECONDS), GET /healthz and the 4 KiB
# object in turn, each bounded by curl --max-time 5; prints "served=N failed=N".
others_served() {
    local end=$(($(date +%s) + $1)) served=0 failed=0 u st
    while kill -0 "$2" 2>/dev/null && [ "$(date +%s)" -lt $end ]; do
        for u in "$URL/healthz" "$URL4K"; do
            st=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}:%{size_download}' "$u")
            case "$st" in 200:*) served=$((served + 1)) ;; *) failed=$((failed + 1)) ;; esac
        done
        sleep 0.1
    done
    echo "served=$served failed=$failed"
}

timeout -k 5 40 "${HC[@]}" slow --port "$PORT" --n 4 --interval 1 --max 20 >"$T/slow.out" 2>&1 &
sp=$!
PIDS+=("$sp")
sleep 0.5 # the slow clients have connected and sent their first bytes
others=$(others_served 30 "$sp")
wait "$sp"
rc=$?
out=$(cat "$T/slow.out")
if [ $rc -eq 0 ]; then
    ok "4 clients sending one header byte per second are cut by header_timeout=2s: $out"
else
    not_ok "slow header clients are cut within 20s, never answered (rc=$rc)"; echo "#   $out"
fi
if [ "$(kv failed "$others")" = 0 ] && [ "$(kv served "$others")" -ge 4 ]; then
    ok "while the slow clients trickle, other requests are served: $others"
else
    not_ok "while the slow clients trickle, other requests are served: $others"
fi

PATH64=/$(presign load/64m | cut -d/ -f4-)
rm -f "$T/ready"
timeout -k 5 60 "${HC[@]}" stall --port "$PORT" --path "$PATH64" --n $STALLED --size $((64 * MIB)) \
    --ready "$T/ready" --rcvbuf 4096 --max 30 >"$T/stall.out" 2>&1 &
sp=$!
PIDS+=("$sp")
if wait_for "$T/ready" 20; then
    check_eq "$STALLED stalled 64 MiB downloads started ($NCPU server threads)" \
        "stalled=$STALLED heads=$STALLED" "$(cat "$T/ready")"
    served=0 failed=0 slowest=0
    for i in 1 2 3; do
        for spec in "$URL/healthz:" "$URL4K:4096" "$URL1M:$MIB"; do
            u=${spec%:*} want=${spec##*:}
            st=$(curl -s --max-time 5 -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "$u")
            set -- $st
            if [ "${1:-0}" = 200 ] && { [ -z "$want" ] || [ "${2:-0}" = "$want" ]; }; then
                served=$((served + 1))
            else
                failed=$((failed + 1))
            fi
            slowest=$(printf '%s\n%s\n' "$slowest" "${3:-0}" | sort -g | tail -1)
        done
    done
    check_eq "while $STALLED readers stall, /healthz, 4 KiB and 1 MiB GETs are served (slowest ${slowest}s, bound 5s)" \
        "served=9 failed=0" "served=$served failed=$failed"
else
    not_ok "stalled downloads started"; sed 's/^/#   /' "$T/stall.out"
fi
wait "$sp"
rc=$?
out=$(cat "$T/stall.out")
if [ $rc -eq 0 ]; then
    ok "stalled readers are closed by idle_timeout=3s, their bodies cut short: $out"
else
    not_ok "stalled readers are closed by idle_timeout within 30s (rc=$rc)"; echo "#   $out"
fi
check_eq "server still running after the hostile clients" 200 \
    "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$URL/healthz")"
rss=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVER_PID/status")
echo "# server peak RSS: $((rss / 1024)) MiB"

finish
