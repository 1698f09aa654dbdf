#!/bin/sh
# run.sh -- `make run`: init ./tollgate-data on first use (printing the keys once),
# then serve it on 127.0.0.1:8080 in the foreground (Ctrl-C stops it).
set -e
cd "$(dirname "$0")/.."
DIR=${TOLLGATE_DATA:-./tollgate-data}
if [ ! -f "$DIR/tollgate.conf" ]; then
    ./build/tollgate init "$DIR"
    echo
fi
echo "S3 endpoint: http://127.0.0.1:8080  (region us-east-1, path-style)"
echo "Access keys: ./build/tollgate key list --config $DIR/tollgate.conf"
echo "             (secrets were printed by init; make a new pair: tollgate key create)"
exec ./build/tollgate serve --config "$DIR/tollgate.conf"
