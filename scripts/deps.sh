#!/bin/sh
# deps.sh -- install what tollgate needs to build, run and test, on Debian 12.
# Idempotent and silent when everything is present. Run as root (or with sudo).
#   scripts/deps.sh build   packages to build and run
#   scripts/deps.sh test    + the real S3 clients, nginx, wrk, node packages for tests
#   scripts/deps.sh fuzz    + clang and libFuzzer
set -e
MODE=${1:-test}
BUILD_PKGS="gcc make pkg-config libc6-dev libmicrohttpd-dev libssl-dev libsqlite3-dev
 libjansson-dev libexpat1-dev libcurl4-openssl-dev libinih-dev libcmocka-dev zlib1g-dev
 libpq-dev"
# postgresql: the tests start throwaway clusters of it (tests/pg/pgctl.sh)
TEST_PKGS="curl awscli python3 python3-boto3 rclone s3cmd nginx wrk time procps
 nodejs npm sqlite3 chromium postgresql"

FUZZ_PKGS="clang libclang-rt-14-dev"
pkgs=$BUILD_PKGS
[ "$MODE" = test ] && pkgs="$pkgs $TEST_PKGS"
[ "$MODE" = fuzz ] && pkgs="$pkgs $FUZZ_PKGS"

missing=""
for p in $pkgs; do
    # npm may come with a non-Debian node install: accept the command.
    if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
    if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    echo "deps: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >&2
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
fi

[ "$MODE" = test ] || exit 0
# Node packages used by tests: exact versions from committed lockfiles.
here=$(cd "$(dirname "$0")/.." && pwd)
for lock in "$here"/tests/*/package-lock.json; do
    [ -f "$lock" ] || continue
    d=$(dirname "$lock")
    stamp="$d/node_modules/.tollgate-stamp"
    if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
        echo "deps: npm ci in ${d#$here/}" >&2
        # npm ci refuses a lockfile whose optional per-platform packages (e.g. DuckDB's
        # darwin/win32 bindings) the registry does not serve; npm install --no-save
        # then installs the same locked versions without touching the lockfile.
        (cd "$d" && export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 &&
            { npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1 ||
              npm install --no-save --no-audit --no-fund --loglevel=error >&2; })
        touch "$stamp"
    fi
done
