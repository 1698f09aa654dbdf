#!/bin/sh
# pgctl.sh -- a throwaway PostgreSQL 15 cluster for tests (Debian's postgresql-15).
#
#   tests/pg/pgctl.sh start DIR [PID]    create DIR (must not hold a cluster), initdb, start
#                                        on 127.0.0.1:<free port> + a unix socket in DIR;
#                                        prints the base DSN (database "postgres"). With
#                                        PID: a watchdog stops the cluster if that process
#                                        dies without calling stop (a crashed test)
#   tests/pg/pgctl.sh createdb DIR NAME  create database NAME ([a-z0-9_]+, fresh) owned by
#                                        the test role; prints its DSN
#   tests/pg/pgctl.sh dsn DIR [NAME]     prints the DSN again (base, or of database NAME)
#   tests/pg/pgctl.sh stop DIR           stop the server by its PID (SIGINT = fast shutdown,
#                                        <= 10 s, then SIGKILL) and remove DIR
#
# DSNs look like "host=127.0.0.1 port=54321 user=tollgate dbname=NAME". The role
# "tollgate" is not a superuser (CREATEDB only), as a deployment's would be, and
# authenticates by trust on 127.0.0.1 and on the socket only. PostgreSQL refuses to
# run as root: as root, DIR is chowned to the `postgres` system user and every server
# command runs through `runuser -u postgres --`. The cluster is tuned for tests
# (fsync off); never point it at data you keep. Every step is bounded; on failure the
# server log (DIR/server.log) is printed to stderr.
#
# In a test (bash): DIR=$(mktemp -d); DSN=$(tests/pg/pgctl.sh start "$DIR") || exit 1;
# trap 'tests/pg/pgctl.sh stop "$DIR"' EXIT; DB=$(tests/pg/pgctl.sh createdb "$DIR" t1)
set -eu
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
ROLE=tollgate

die() {
    echo "pgctl: $*" >&2
    exit 1
}
[ $# -ge 2 ] || die "usage: pgctl.sh start|createdb|dsn|stop DIR [NAME]"
cmd=$1
dir=$2
# Absolute: the server is told where its socket goes.
case $dir in /*) ;; *) dir="$(pwd)/$dir" ;; esac

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
dsn_of() { # dsn_of DBNAME
    echo "host=127.0.0.1 port=$(cat "$dir/port") user=$ROLE dbname=$1"
}
psql_su() { # SQL as the bootstrap superuser, through the socket
    as_pg "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$dir" -p "$(cat "$dir/port")" \
        -U postgres -d postgres -c "$1"
}

case $cmd in
start)
    [ -x "$PGBIN/initdb" ] || die "no $PGBIN/initdb (install postgresql-15: scripts/deps.sh)"
    [ ! -e "$dir/data" ] || die "$dir already holds a cluster"
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    chmod 700 "$dir"
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
        --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    cat >"$dir/data/pg_hba.conf" <<HBA
local all all              trust
host  all $ROLE 127.0.0.1/32 trust
HBA
    tries=0
    while :; do
        tries=$((tries + 1))
        port=$(free_port)
        echo "$port" >"$dir/port"
        cat >"$dir/data/postgresql.auto.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 16MB
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
CONF
        if as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null 2>&1; then
            break
        fi
        # A port taken between choosing it and binding it: another one, at most 3 times.
        [ "$tries" -lt 3 ] || { cat "$dir/server.log" >&2 2>/dev/null; die "the server did not start"; }
    done
    psql_su "CREATE ROLE $ROLE LOGIN CREATEDB" >/dev/null || die "cannot create role $ROLE"
    owner=${3:-}
    if [ -n "$owner" ]; then
        # Detached from our stdout (a caller reading it must see EOF); polls once a
        # second; gone when the owner is, or when DIR is (stop removed it).
        self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
        (
            while kill -0 "$owner" 2>/dev/null && [ -d "$dir/data" ]; do sleep 1; done
            [ -d "$dir/data" ] && PGCTL_WATCHDOG=1 sh "$self" stop "$dir"
        ) </dev/null >/dev/null 2>&1 &
        echo $! >"$dir/watchdog.pid"
    fi
    dsn_of postgres
    ;;
createdb)
    name=${3:-}
    case $name in '' | *[!a-z0-9_]*) die "database name must be [a-z0-9_]+" ;; esac
    psql_su "CREATE DATABASE $name OWNER $ROLE" >/dev/null || die "cannot create database $name"
    dsn_of "$name"
    ;;
dsn)
    dsn_of "${3:-postgres}"
    ;;
stop)
    [ -d "$dir" ] || exit 0
    if [ -f "$dir/watchdog.pid" ] && [ -z "${PGCTL_WATCHDOG:-}" ]; then
        kill "$(cat "$dir/watchdog.pid")" 2>/dev/null || true
    fi
    pid=""
    [ -f "$dir/data/postmaster.pid" ] && pid=$(head -n 1 "$dir/data/postmaster.pid")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -INT "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "pgctl: server $pid did not stop in 10 s: SIGKILL" >&2
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -rf "$dir"
    ;;
*)
    die "unknown command '$cmd'"
    ;;
esac
