#!/bin/sh
# run.sh -- `make run`: the demo on ./tollgate-data (or $TOLLGATE_DATA). The first run
# initialises the directory, adds three grants (tier1, tier2, tier3), publishes 40 days
# of generated Parquet data through the real pipeline and prints the three portal
# links, the admin URL and key and the S3 keys; later runs publish only the days
# missing since, print the same, and serve on 127.0.0.1:8080 in the foreground
# (Ctrl-C stops it).
set -e
cd "$(dirname "$0")/.."
DIR=${TOLLGATE_DATA:-./tollgate-data}
echo "S3 endpoint: http://127.0.0.1:8080  (region us-east-1, path-style)"
echo "Access keys: ./build/tollgate key list --config $DIR/tollgate.conf"
echo "             (a new pair: ./build/tollgate key create --config $DIR/tollgate.conf)"
echo
exec ./build/tollgate demo "$DIR"
