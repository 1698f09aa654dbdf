#!/bin/bash
# bench/portal.sh -- the member JSON API under load: wrk on /api/downloads/tier2?t=TOKEN
# with 7 daily + 1 MTD objects (each response: a token check, three listings of the
# grant's prefix, manifests from the cache, 8 presigned URLs = 8 SigV4 signatures,
# jansson), in the same run:
#   1. tollgate (SQLite metadata, a tier token) against nginx serving a static JSON file
#      of the same size;
#   2. the metadata backends on one node: tollgate with SQLite against tollgate with
#      PostgreSQL ([meta] backend = postgres; a throwaway cluster from tests/pg/pgctl.sh
#      on 127.0.0.1), each with a tier token and with a named token (a named token
#      charges one use per open: --max-uses 1000000000).
#   wrk -t2 -c64 -d10s --latency, REPS rounds (default 3), each round one run of every
#   series (the two backends alternate which goes first); the run with the median req/s
#   of each series is reported, every run is listed.
# Targets: tollgate >= 0.5x nginx req/s and p99 <= 5 ms at 64 connections (issue 1);
# PostgreSQL >= 0.7x SQLite req/s (issue 7).
# A tier token charges nothing per open; link horizons are batched by the gate.
# Results go to docs/benchmarks.md between <!-- portal:begin --> and <!-- portal:end -->
# (BENCH_OUT=FILE to write elsewhere). Not part of `make test`. Needs PostgreSQL 15
# (Debian's postgresql-15, as tests/pg/pgctl.sh does; PGBIN overrides its directory).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TG="$ROOT/build/tollgate"
PGCTL="$ROOT/tests/pg/pgctl.sh"
REPS=${REPS:-3}
WRK_SECS=${WRK_SECS:-10}
CONNS=${CONNS:-64}
OUT=${BENCH_OUT:-$ROOT/docs/benchmarks.md}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -x "$TG" ] || { echo "portal.sh: $TG missing: run 'make all'" >&2; exit 1; }
for c in nginx wrk curl psql; do
    command -v $c >/dev/null 2>&1 || [ -x /usr/sbin/$c ] ||
        { echo "portal.sh: $c missing: run 'sh scripts/deps.sh test'" >&2; exit 1; }
done
[ -x "$PGBIN/initdb" ] || { echo "portal.sh: no $PGBIN/initdb: run 'sh scripts/deps.sh test'" >&2; exit 1; }
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)

T=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-bench-portal.XXXXXX")
chmod 755 "$T" # nginx workers may run as nobody
PGD="$T/pg"    # created by pgctl.sh start, removed by pgctl.sh stop
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    [ -d "$PGD" ] && PGBIN="$PGBIN" sh "$PGCTL" stop "$PGD" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP # through the EXIT trap
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_http() { # URL: up to 10 s
    for _ in $(seq 1 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
    echo "portal.sh: $1 does not answer" >&2
    exit 1
}
json_get() { # PYTHON-EXPRESSION on the JSON `j` read from stdin
    /usr/bin/python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"
}

# ---- PostgreSQL: a throwaway cluster, one database ----------------------------------------
PGBIN="$PGBIN" sh "$PGCTL" start "$PGD" $$ >"$T/pg.dsn" 2>"$T/pg.err" ||
    { cat "$T/pg.err" >&2; echo "portal.sh: pgctl.sh start failed" >&2; exit 1; }
PG_DSN=$(PGBIN="$PGBIN" sh "$PGCTL" createdb "$PGD" portal) ||
    { echo "portal.sh: pgctl.sh createdb failed" >&2; exit 1; }
# pgctl.sh tunes the cluster for tests (fsync off, synchronous_commit off). SQLite runs
# with synchronous=FULL (an fsync per commit), so for a like-for-like comparison the
# cluster is made durable again (PG_DURABLE=0 keeps the test tuning).
pg_su() { # SQL as the cluster's superuser, through its socket
    local as=()
    [ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
    "${as[@]}" "$PGBIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$PGD" -p "$(cat "$PGD/port")" \
        -U postgres -d postgres -c "$1"
}
PG_DURABLE=${PG_DURABLE:-1}
if [ "$PG_DURABLE" = 1 ]; then
    for set in "fsync = on" "synchronous_commit = on" "full_page_writes = on"; do
        pg_su "ALTER SYSTEM SET $set" >/dev/null || { echo "portal.sh: ALTER SYSTEM SET $set failed" >&2; exit 1; }
    done
    pg_su 'SELECT pg_reload_conf()' >/dev/null
    sleep 0.5
fi
PG_VERSION=$(psql "$PG_DSN" -XAtqc 'SHOW server_version' 2>/dev/null | cut -d' ' -f1)
PG_SETTINGS=$(psql "$PG_DSN" -XAtqc "SELECT string_agg(name || ' ' || setting, ', ' ORDER BY name)
    FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers')")
[ "$PG_DURABLE" != 1 ] || echo "$PG_SETTINGS" | grep -q 'fsync on, full_page_writes on.*synchronous_commit on' ||
    { echo "portal.sh: the cluster is not durable: $PG_SETTINGS" >&2; exit 1; }

# ---- tollgate with 7 daily files and an MTD under tier2/ -------------------------------------
head -c 65536 /dev/urandom >"$T/file.parquet"
# start_tg NAME [DSN]: data directory T/NAME (SQLite, or PostgreSQL metadata at DSN), its
# server on a free port, the 8 objects and a named token. Sets CONF, LOG, TIER_URL, NAMED_URL.
start_tg() {
    local name=$1 dsn=${2:-} port i u k
    local meta=()
    [ -n "$dsn" ] && meta=(--meta-dsn "$dsn")
    port=$(free_port)
    "$TG" init "$T/$name" --listen "127.0.0.1:$port" "${meta[@]}" --json >"$T/$name.init.json" 2>&1 ||
        { cat "$T/$name.init.json" >&2; exit 1; }
    CONF="$T/$name/tollgate.conf"
    LOG="$T/$name.log"
    grep -q '^\[grant tier2\]' "$CONF" ||
        printf '\n[grant tier2]\ntitle = Tier 2\nprefix = tier2/\n' >>"$CONF"
    "$TG" serve --config "$CONF" >"$LOG" 2>&1 &
    PIDS+=("$!")
    wait_http "http://127.0.0.1:$port/healthz"
    for i in 1 2 3 4 5 6 7 mtd; do
        if [ "$i" = mtd ]; then k="tier2/mtd/$(date -u -d "-1 day" +%Y-%m)/tier2.parquet"
        else k="tier2/daily/$(date -u -d "-$i days" +%F)/tier2.parquet"; fi
        u=$("$TG" presign --config "$CONF" "tollgate/$k" --method PUT)
        curl -fsS -o /dev/null -T "$T/file.parquet" "$u" || { echo "portal.sh: upload $k failed" >&2; exit 1; }
    done
    local tier named
    tier=$("$TG" links tier2 --config "$CONF" --format json | json_get 'j[0]["current"]["token"]')
    named=$("$TG" token create tier2 --label bench --max-uses 1000000000 --config "$CONF" --json |
        json_get 'j["token"]') || { echo "portal.sh: token create failed ($name)" >&2; exit 1; }
    TIER_URL="http://127.0.0.1:$port/api/downloads/tier2?t=$tier"
    NAMED_URL="http://127.0.0.1:$port/api/downloads/tier2?t=$named"
    for u in "$TIER_URL" "$NAMED_URL"; do
        curl -fsS -o "$T/$name.api.json" "$u" || { echo "portal.sh: the API does not answer ($name)" >&2; exit 1; }
        i=$(grep -o 'X-Amz-Signature' "$T/$name.api.json" | wc -l)
        [ "$i" -eq 8 ] || { echo "portal.sh: expected 8 links, got $i ($name)" >&2; exit 1; }
    done
}
start_tg sq
SQ_CONF=$CONF SQ_LOG=$LOG SQ_TIER=$TIER_URL SQ_NAMED=$NAMED_URL
start_tg pg "$PG_DSN"
PG_CONF=$CONF PG_LOG=$LOG PG_TIER=$TIER_URL PG_NAMED=$NAMED_URL
grep -q '^backend = postgres' "$PG_CONF" || { echo "portal.sh: $PG_CONF is not on postgres" >&2; exit 1; }
psql "$PG_DSN" -XAtqc 'SELECT count(*) FROM named_tokens' | grep -qx 1 ||
    { echo "portal.sh: the postgres node's token is not in PostgreSQL" >&2; exit 1; }
mkdir -p "$T/www"
curl -fsS -o "$T/www/api.json" "$SQ_TIER" || { echo "portal.sh: the API does not answer" >&2; exit 1; }
BYTES=$(wc -c <"$T/www/api.json")

# ---- nginx: the same bytes as a static file --------------------------------------------------
NG_PORT=$(free_port)
mkdir -p "$T/nginx"
cat >"$T/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 2;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000000;
    keepalive_timeout 65;
    default_type application/json;
    client_body_temp_path $T/nginx/body;
    proxy_temp_path $T/nginx/proxy;
    fastcgi_temp_path $T/nginx/fastcgi;
    uwsgi_temp_path $T/nginx/uwsgi;
    scgi_temp_path $T/nginx/scgi;
    server {
        listen 127.0.0.1:$NG_PORT reuseport;
        root $T/www;
    }
}
EOF
"$NGINX_BIN" -c "$T/nginx/nginx.conf" -p "$T/nginx" >"$T/nginx/stdout" 2>&1 &
PIDS+=("$!")
NG_URL="http://127.0.0.1:$NG_PORT/api.json"
wait_http "$NG_URL"

# ---- runs ----------------------------------------------------------------------------------
# wrk_run URL -> "req_per_s p50_ms p99_ms non2xx requests"
wrk_run() {
    wrk -t2 -c"$CONNS" -d"${WRK_SECS}s" --latency "$1" >"$T/wrk.out" 2>&1
    /usr/bin/python3 - "$T/wrk.out" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
def ms(v, u):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p = {k: ms(v, u) for k, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)", t, re.M)}
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
n = re.search(r"(\d+) requests in", t)
print(f"{rps:.0f} {p['50']:.2f} {p['99']:.2f} {bad.group(1) if bad else 0} {n.group(1)}")
EOF
}
# "transactions WAL-flushes" of the cluster so far: transactions committed in the
# database (every statement the node sends outside BEGIN ... COMMIT is one) and WAL
# syncs (fsync/fdatasync of the WAL: what a durable commit waits for). Read after the
# backends flushed their counters (at most once a second).
pg_counts() {
    sleep 1.5
    psql "$PG_DSN" -XAtqF' ' -c "SELECT xact_commit, (SELECT wal_sync FROM pg_stat_wal)
        FROM pg_stat_database WHERE datname = current_database()"
}
# run SERIES URL [pg]: one wrk run appended to T/runs.SERIES (with PostgreSQL: and the
# transactions and WAL syncs per request of that run to T/xpr.SERIES)
run() {
    local c0 c1 res
    [ -n "${3:-}" ] && c0=$(pg_counts)
    res=$(wrk_run "$2")
    echo "$res" >>"$T/runs.$1"
    if [ -n "${3:-}" ]; then
        c1=$(pg_counts)
        echo "$c0 $c1 ${res##* }" |
            awk '{printf "%.2f %.2f\n", ($3 - $1) / $5, ($4 - $2) / $5}' >>"$T/xpr.$1"
    fi
    echo "$res"
}
# pg_async on|off: synchronous_commit off for the whole cluster, or back to on
pg_async() {
    local v=on
    [ "$1" = on ] && v=off
    pg_su "ALTER SYSTEM SET synchronous_commit = $v" >/dev/null && pg_su 'SELECT pg_reload_conf()' >/dev/null
    sleep 0.5
}
SERIES="ng sq_tier pg_tier sq_named pg_named"
[ "$PG_DURABLE" = 1 ] && SERIES="$SERIES pg_async"
for s in $SERIES; do : >"$T/runs.$s"; : >"$T/xpr.$s"; done
for r in $(seq 1 "$REPS"); do
    ng=$(run ng "$NG_URL")
    if [ $((r % 2)) -eq 1 ]; then
        st=$(run sq_tier "$SQ_TIER"); pt=$(run pg_tier "$PG_TIER" pg)
        sn=$(run sq_named "$SQ_NAMED"); pn=$(run pg_named "$PG_NAMED" pg)
    else
        pt=$(run pg_tier "$PG_TIER" pg); st=$(run sq_tier "$SQ_TIER")
        pn=$(run pg_named "$PG_NAMED" pg); sn=$(run sq_named "$SQ_NAMED")
    fi
    pa=-
    if [ "$PG_DURABLE" = 1 ]; then
        pg_async on; pa=$(run pg_async "$PG_NAMED" pg); pg_async off
    fi
    echo "run $r (req/s p50 p99 non-2xx requests): nginx $ng | sqlite tier $st | postgres tier $pt |" \
        "sqlite named $sn | postgres named $pn | postgres named, synchronous_commit off $pa" >&2
done
median() { sort -n "$1" | sed -n "$(( (REPS + 1) / 2 ))p"; }
read -r ng_rps ng_p50 ng_p99 ng_bad _ <<<"$(median "$T/runs.ng")"
read -r tg_rps tg_p50 tg_p99 tg_bad _ <<<"$(median "$T/runs.sq_tier")"
read -r pt_rps pt_p50 pt_p99 pt_bad _ <<<"$(median "$T/runs.pg_tier")"
read -r sn_rps sn_p50 sn_p99 sn_bad _ <<<"$(median "$T/runs.sq_named")"
read -r pn_rps pn_p50 pn_p99 pn_bad _ <<<"$(median "$T/runs.pg_named")"
pa_rps=
[ "$PG_DURABLE" = 1 ] && read -r pa_rps pa_p50 pa_p99 pa_bad _ <<<"$(median "$T/runs.pg_async")"
RUNS=$(paste -d'|' "$T/runs.ng" "$T/runs.sq_tier" | awk -F'|' '{split($1, n, " "); split($2, t, " ");
    printf "%s%d / %d req/s (p99 %s / %s ms)", (NR > 1 ? "; " : ""), n[1], t[1], n[3], t[3]}')
list() { cut -d' ' -f1 "$T/runs.$1" | paste -sd/ | sed 's,/, / ,g'; }
# xpr SERIES: "transactions / WAL syncs" per request (median of each over the runs)
xpr() {
    local a b
    a=$(cut -d' ' -f1 "$T/xpr.$1" | sort -n | sed -n "$(( (REPS + 1) / 2 ))p")
    b=$(cut -d' ' -f2 "$T/xpr.$1" | sort -n | sed -n "$(( (REPS + 1) / 2 ))p")
    echo "$a / $b"
}
ratio=$(awk -v a="$tg_rps" -v b="$ng_rps" 'BEGIN {printf "%.2f", a / b}')
verdict_r=$(awk -v r="$ratio" 'BEGIN {print (r >= 0.5) ? "met" : "MISSED"}')
verdict_p=$(awk -v p="$tg_p99" 'BEGIN {print (p <= 5) ? "met" : "MISSED"}')
# PostgreSQL / SQLite: the ratio of the median runs (as for nginx above) and the median of
# the round-by-round ratios (the two backends run one after the other, so each round's
# ratio sees the same machine load); the target is judged on the lower of the two.
per_round() { paste -d' ' "$T/runs.$1" "$T/runs.$2" | awk '{printf "%s%.2f", (NR > 1 ? " / " : ""), $1 / $6}'; }
at_least() { paste -d' ' "$T/runs.$1" "$T/runs.$2" | awk '$1 / $6 >= 0.7 {n++} END {print n + 0}'; }
round_median() { per_round "$1" "$2" | tr -d ' ' | tr / '\n' | sort -n | sed -n "$(( (REPS + 1) / 2 ))p"; }
m_tier=$(awk -v a="$pt_rps" -v b="$tg_rps" 'BEGIN {printf "%.2f", a / b}')
m_named=$(awk -v a="$pn_rps" -v b="$sn_rps" 'BEGIN {printf "%.2f", a / b}')
p_tier=$(round_median pg_tier sq_tier)
p_named=$(round_median pg_named sq_named)
r_tier=$(awk -v a="$m_tier" -v b="$p_tier" 'BEGIN {printf "%.2f", a < b ? a : b}')
r_named=$(awk -v a="$m_named" -v b="$p_named" 'BEGIN {printf "%.2f", a < b ? a : b}')
v_tier=$(awk -v r="$r_tier" 'BEGIN {print (r >= 0.7) ? "met" : "MISSED"}')
v_named=$(awk -v r="$r_named" 'BEGIN {print (r >= 0.7) ? "met" : "MISSED"}')
echo "tollgate/nginx = $ratio ($verdict_r), tollgate p99 = ${tg_p99} ms ($verdict_p)" >&2
echo "postgres/sqlite: tier token $r_tier ($v_tier), named token $r_named ($v_named);" \
    "postgres transactions / WAL syncs per request: tier $(xpr pg_tier), named $(xpr pg_named)" >&2
[ -z "$pa_rps" ] || echo "postgres named with synchronous_commit off: $pa_rps req/s," \
    "$(awk -v a="$pa_rps" -v b="$sn_rps" 'BEGIN {printf "%.2f", a / b}')x sqlite named" >&2
for s in $SERIES; do
    bad=$(awk '{n += $4} END {print n + 0}' "$T/runs.$s")
    [ "$bad" = 0 ] || echo "portal.sh: $s: $bad non-2xx responses" >&2
done
# Every named open was charged once (the wrk runs plus the check in start_tg).
uses_sq=$("$TG" token list --config "$SQ_CONF" --json | json_get 'j[0]["uses"]')
uses_pg=$("$TG" token list --config "$PG_CONF" --json | json_get 'j[0]["uses"]')
req_sq=$(awk '{n += $5} END {print n + 1}' "$T/runs.sq_named")
req_pg=$(cat "$T/runs.pg_named" "$T/runs.pg_async" 2>/dev/null | awk '{n += $5} END {print n + 1}')
echo "named uses charged: sqlite $uses_sq of $req_sq requests, postgres $uses_pg of $req_pg" >&2

# ---- docs/benchmarks.md --------------------------------------------------------------------
MODE=$(sed -n 's/.*http: listening on .*(\(.*\)).*/\1/p' "$SQ_LOG" | head -1)
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
SECTION=$(cat <<EOF
## Member JSON API vs nginx static file, SQLite vs PostgreSQL metadata (bench/portal.sh)

\`GET /api/downloads/tier2?t=TOKEN\` with 7 daily files and 1 month-to-date file under
\`tier2/\`: each response checks the tier token (HMAC, constant-time compare, the grant's
epoch, cached until an epoch changes), takes the grant's listing (three store listings,
reused until the store changes), puts 8 presigned URLs in it (SigV4 with signed \`x-tollgate-*\` parameters; a URL
minted earlier in the same second is reused, see below) and encodes $BYTES bytes of JSON. nginx serves the same $BYTES bytes as a static
file (\`access_log off\`, 2 workers). Same machine ($(nproc) cores, ${CPU:-unknown CPU}, $(uname -r)), same run, loopback,
\`wrk -t2 -c$CONNS -d${WRK_SECS}s --latency\`, $REPS rounds, each round one run of every series below, the median run of each
series shown. tollgate runs with its defaults (access log on${MODE:+; $MODE}).

| server | req/s | p50 | p99 |
|---|---:|---:|---:|
| nginx, static file | $ng_rps | $ng_p50 ms | $ng_p99 ms |
| tollgate, portal API | $tg_rps | $tg_p50 ms | $tg_p99 ms |

tollgate / nginx = **$ratio** (target >= 0.5: $verdict_r); tollgate p99 = **$tg_p99 ms**
(target <= 5 ms: $verdict_p). All runs, nginx / tollgate: $RUNS.
Measured $(date -u +%F) at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); reproduce with
\`bench/portal.sh\` (REPS, WRK_SECS, CONNS override the defaults). The machine is shared
(2 cores for wrk, the server and anything else running), so p99 moves with the load:
at 64 connections a request's mean time in the system is 64 / req/s.

What a request costs (\`perf record --call-graph dwarf\` of the server under this load):
the grant's listing is reused until the store changes (three store listings and the
manifests, then shared), and the 8 links are memoised within their second (a mint is a pure function
of token, object, ttl and the second, so the memo hands out the bytes the gate would
mint: under wrk nearly every request hits it). What remains per request: the HTTP layer
and its \`sendmsg\` (~26%), the gate's token check (~23%, of which ~19% was the grant's
epoch read from SQLite on every check — since cached, in the numbers above), writing the JSON (~21%; with jansson's
build-then-dump it was ~50% and the API did 12.5k req/s), the access-log line (~9%).

### The metadata backend: SQLite vs PostgreSQL on one node

Two tollgate nodes in the same run, identical but for \`[meta]\`: one with SQLite
(\`meta.db\` in its data directory, the default: WAL, \`synchronous=FULL\`), one with
\`backend = postgres\` on a throwaway PostgreSQL ${PG_VERSION:-15} cluster (\`tests/pg/pgctl.sh\`,
loopback TCP; $(echo "$PG_SETTINGS" | sed 's/shared_buffers \([0-9]*\)/shared_buffers \1 (8 kB pages)/')$( [ "$PG_DURABLE" = 1 ] &&
echo ": pgctl.sh's test tuning, fsync and synchronous_commit off, set back to durable, as SQLite's \`synchronous=FULL\` is")).
Both databases on the same disk; the server, wrk and PostgreSQL share the $(nproc) cores.
Same objects, same wrk settings; each node with its tier token and with a named token
(\`token create --max-uses 1000000000\`: every open is charged -- one conditional
\`UPDATE ... RETURNING\` on PostgreSQL, a write transaction on SQLite; uses charged
afterwards: SQLite $uses_sq for $req_sq opens, PostgreSQL $uses_pg for $req_pg, the
difference being the <= $CONNS opens in flight when each wrk run stops). PG transactions /
WAL syncs per request: \`pg_stat_database.xact_commit\` and \`pg_stat_wal.wal_sync\` over
each run divided by the requests wrk counted (median; includes the analytics batches).

| metadata | token | req/s | p50 | p99 | PostgreSQL / SQLite | PG transactions / WAL syncs per request | all runs (req/s) |
|---|---|---:|---:|---:|---:|---:|---|
| SQLite | tier | $tg_rps | $tg_p50 ms | $tg_p99 ms | | | $(list sq_tier) |
| PostgreSQL | tier | $pt_rps | $pt_p50 ms | $pt_p99 ms | $m_tier | $(xpr pg_tier) | $(list pg_tier) |
| SQLite | named (charged) | $sn_rps | $sn_p50 ms | $sn_p99 ms | | | $(list sq_named) |
| PostgreSQL | named (charged) | $pn_rps | $pn_p50 ms | $pn_p99 ms | $m_named | $(xpr pg_named) | $(list pg_named) |
$( [ -n "$pa_rps" ] && echo "| PostgreSQL, synchronous_commit off | named (charged) | $pa_rps | $pa_p50 ms | $pa_p99 ms | $(awk -v a="$pa_rps" -v b="$sn_rps" 'BEGIN {printf "%.2f", a / b}') | $(xpr pg_async) | $(list pg_async) |")

PostgreSQL / SQLite round by round (the two backends one after the other): tier
$(per_round pg_tier sq_tier) (median $p_tier); named $(per_round pg_named sq_named) (median
$p_named). Target (issue 7): PostgreSQL >= 0.7x SQLite, judged on the lower of the ratio of
the median runs (table) and the median round: tier token **$r_tier** ($v_tier), named token
**$r_named** ($v_named); rounds at or above 0.7: tier $(at_least pg_tier sq_tier) of $REPS, named
$(at_least pg_named sq_named) of $REPS.

Why the two rows differ. A tier token's check makes no database round trip on either
backend (the grant's epoch is cached, invalidated by LISTEN/NOTIFY on PostgreSQL; the
analytics go out in multi-row INSERTs about once a second), so the backends serve the
tier page at the same speed within this machine's noise. A named open is one statement
on PostgreSQL: counted with \`log_statement = all\` on a 1 s run (c4, fsync off), 4286
\`UPDATE named_tokens ... RETURNING\` for 4282 responses, plus 9 analytics INSERTs in 4
transactions -- one round trip per open, as issue 7 asks. With durable commits each open
waits for one WAL flush (the WAL-syncs column, ~1 per request) and the node's two server
threads share one gate connection, so named opens run at the disk's flush rate on both
backends: this machine's virtual disk does an 8 kB write + fdatasync in 0.6-1.1 ms
(\`pg_test_fsync\`, varying with the other work on the host; \`strace -T\` of both nodes
under this load: one fdatasync per open on each, 0.44-0.45 ms mean in a quiet minute, 1.2 ms
on PostgreSQL in a busy one), which caps either backend at about one charged open per flush
time and makes the named rows swing with the host's disk load, from run to run (so does the ratio, round by round, above). \`synchronous_commit = off\` (the last
row: fsync stays on; a crash of the database can lose the last fraction of a second of
charges, never corrupts) takes the flush out of the request, and PostgreSQL then serves
named opens several times faster than durable SQLite: the round trip itself is not the
limit, the durable commit is. What separates the two durable rows is what each commit
costs besides the flush: on PostgreSQL a loopback round trip and the backend's WAL write
on top of the fdatasync, with the node's two threads queued on one connection (on SQLite
they queue on its write lock the same way). A pool of gate connections (so the two threads' round trips
and commits overlap) was tried and withdrawn: A/B runs showed no gain at 2 threads (durable, two
nodes on one cluster alternating, 5 rounds of 5 s: median 387 opens/s with one connection, 391 with the pool; no gain with fsync off
either): with fsync off the node is CPU-bound, with it on flush-bound, and the second
commit of a pair still waits for its own flush (more threads or nodes would let commits
share one).
EOF
)
export SECTION
[ -f "$OUT" ] || printf '# Benchmarks\n' >"$OUT"
grep -q '<!-- portal:begin -->' "$OUT" || printf '\n<!-- portal:begin -->\n<!-- portal:end -->\n' >>"$OUT"
awk '
    /<!-- portal:begin -->/ { print; print ENVIRON["SECTION"]; skip = 1; next }
    /<!-- portal:end -->/ { skip = 0 }
    !skip { print }
' "$OUT" >"$T/doc.md" && cat "$T/doc.md" >"$OUT"
echo "portal.sh: results written to ${OUT#$ROOT/}" >&2
