# lib.sh -- sourced by every tests/integration/tNNN-*.sh script (bash).
# Gives: $ROOT, $TG (the binary), $T (a private temp dir, removed at exit),
# tg_start / tg_stop (a real `tollgate serve` on 127.0.0.1 and a free port, stopped by
# its PID), result helpers printing "ok - ..." / "not ok - ...", and environments for
# the real S3 clients. Every process a test starts is recorded and killed at exit.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TG="$ROOT/build/tollgate"
T=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-test.XXXXXX")
PIDS=()
FAILS=0
export TOLLGATE_CONFIG=""
# Clients must never read the developer's own configuration or credentials.
export HOME="$T/home"
mkdir -p "$HOME"
export AWS_CONFIG_FILE="$T/home/aws-config" AWS_SHARED_CREDENTIALS_FILE="$T/home/aws-creds"
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_CA_BUNDLE

cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        # bounded wait, then force
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILS=$((FAILS + 1)); }
# check "description" command...  -> ok if the command succeeds
check() {
    local d=$1
    shift
    if "$@" >"$T/check.out" 2>&1; then ok "$d"; else not_ok "$d"; sed 's/^/#   /' "$T/check.out" | tail -20; fi
}
# check_eq "description" expected actual
check_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   expected: $2"; echo "#   actual:   $3"; fi
}
# check_contains "description" needle haystack
check_contains() {
    case "$3" in *"$2"*) ok "$1" ;; *) not_ok "$1"; echo "#   expected to contain: $2"; echo "#   in: $(echo "$3" | head -c 600)" ;; esac
}

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# The test matrix (tests/run.sh sets these; docs/testing.md):
#   TG_STORAGE=local|s3     s3: every data dir is a gateway whose objects live in a
#                           remote store -- another tollgate, in local mode, started here
#   TG_META=sqlite|postgres postgres: metadata in a fresh database of the cluster
#                           tests/pg/pgctl.sh runs (TG_PG_DIR, started by tests/run.sh)
TG_STORAGE=${TG_STORAGE:-local}
TG_META=${TG_META:-sqlite}
REMOTE_N=0

# tg_remote_start: a fresh local-mode tollgate to be the remote store of one data dir;
# sets REMOTE_URL REMOTE_AKID REMOTE_SECRET REMOTE_PID REMOTE_CONF.
tg_remote_start() {
    REMOTE_N=$((REMOTE_N + 1))
    local rdir="$T/remote-$REMOTE_N" rport
    rport=$(free_port)
    env -u TG_STORAGE "$TG" init "$rdir" --listen "127.0.0.1:$rport" --json >"$T/remote.json" \
        2>"$T/remote.err" || { cat "$T/remote.err"; return 1; }
    REMOTE_CONF="$rdir/tollgate.conf"
    REMOTE_URL="http://127.0.0.1:$rport"
    REMOTE_AKID=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_key_id"])' "$T/remote.json")
    REMOTE_SECRET=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret_access_key"])' "$T/remote.json")
    export REMOTE_URL REMOTE_AKID REMOTE_SECRET
    tg_remote_serve
}

# tg_remote_serve: (re)start the remote store of the last tg_remote_start.
tg_remote_serve() {
    # a plain object store: its own scheduler must not publish (or reject) the gateway's
    # inbox/ keys, so its inbox scan comes once a day
    env -u TOLLGATE_NOW TOLLGATE_SCHED_INTERVAL=86400 "$TG" serve --config "$REMOTE_CONF" \
        >>"$T/remote.log" 2>&1 &
    REMOTE_PID=$!
    PIDS+=("$REMOTE_PID")
    for _ in $(seq 1 100); do
        curl -fsS "$REMOTE_URL/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$REMOTE_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "# the remote store did not start"; tail -5 "$T/remote.log"
    return 1
}

# awscli against the remote store of the last tg_remote_start, with its own keys.
remote_aws() {
    AWS_ACCESS_KEY_ID=$REMOTE_AKID AWS_SECRET_ACCESS_KEY=$REMOTE_SECRET /usr/bin/aws --endpoint-url "$REMOTE_URL" "$@"
}
export -f remote_aws 2>/dev/null

# tg_use_remote CONF: point a data dir's config at a new remote store (backend = s3),
# downloads through tollgate (proxy_downloads = on): the gate's behaviour is then the
# local store's, which every test expects; t710 tests the other link modes.
tg_use_remote() {
    local conf=$1
    tg_remote_start || return 1
    /usr/bin/python3 - "$conf" "$REMOTE_URL" "$REMOTE_AKID" "$REMOTE_SECRET" <<'PY'
import sys
p, url, akid, sec = sys.argv[1:5]
s = open(p).read()
s = s.replace("backend = local\n", "backend = s3\nproxy_downloads = on\nendpoint = %s\naccess_key_id = %s\n"
              "secret_access_key = %s\n" % (url, akid, sec), 1)
open(p, "w").write(s)
PY
    chmod 600 "$conf"
}

# meta_query SQL: the first column of the first row, from the metadata of the last
# tg_init (DIR/meta.db, or its PostgreSQL database).
meta_query() {
    if [ "$TG_META" = postgres ]; then
        psql "$TG_DSN" -At -c "$1"
    else
        /usr/bin/python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$DATA/meta.db" "$1"
    fi
}
# meta_dump FILE: with PostgreSQL metadata, its whole database as SQL text in FILE (the
# SQLite file is in the data directory already).
meta_dump() {
    if [ "$TG_META" = postgres ]; then pg_dump --no-owner "$TG_DSN" >"$1"; else : >"$1"; fi
}

# tg_init DIR: init a data dir on a free port; sets PORT URL AKID SECRET ADMIN CONF.
tg_init() {
    local dir=${1:-$T/data} meta_args=()
    PORT=$(free_port)
    if [ "$TG_META" = postgres ]; then
        local dsn
        dsn=$(sh "$ROOT/tests/pg/pgctl.sh" createdb "$TG_PG_DIR" "t$(date +%s%N)") || {
            echo "# cannot create a PostgreSQL database"; return 1; }
        meta_args=(--meta-dsn "$dsn")
        TG_DSN=$dsn
    fi
    "$TG" init "$dir" --listen "127.0.0.1:$PORT" --json "${meta_args[@]}" >"$T/init.json" \
        2>"$T/init.err" || { cat "$T/init.err"; return 1; }
    CONF="$dir/tollgate.conf"
    if [ "$TG_STORAGE" = s3 ]; then tg_use_remote "$CONF" || return 1; fi
    DATA="$dir"
    URL="http://127.0.0.1:$PORT"
    AKID=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_key_id"])' "$T/init.json")
    SECRET=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret_access_key"])' "$T/init.json")
    ADMIN=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin_key"])' "$T/init.json")
    export AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET
}

# tg_serve [args...]: start the server on $CONF, wait for /healthz (<= 10 s); sets SERVER_PID.
tg_serve() {
    "$TG" serve --config "$CONF" "$@" >>"$T/server.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for _ in $(seq 1 100); do
        if curl -fsS "$URL/healthz" >/dev/null 2>&1; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "# server did not start; log:"; tail -20 "$T/server.log" | sed 's/^/#   /'
    return 1
}

# tg_start: init + serve.
tg_start() {
    tg_init "$T/data" && tg_serve "$@"
}

# tg_stop [signal]: stop the server by its PID and wait (<= 10 s).
tg_stop() {
    local sig=${1:-TERM}
    kill -"$sig" "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null
    return 1
}

# awscli against the server, quiet.
awss3() { /usr/bin/aws --endpoint-url "$URL" "$@"; }

finish() {
    # Scripts end with `finish`: exit status 0 even with failures (they are counted
    # from the output), non-zero only when the script itself broke.
    exit 0
}
