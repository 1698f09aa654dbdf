#!/bin/bash
# t104-aws-sdk-js.sh -- runs tests/js/t104.mjs (a current @aws-sdk/client-s3 with its
# default checksum behaviour: aws-chunked STREAMING-UNSIGNED-PAYLOAD-TRAILER uploads)
# against a fresh server. Node packages come from tests/js/package-lock.json
# (scripts/deps.sh test runs npm ci there).
. "$(dirname "$0")/lib.sh"

if [ ! -d "$ROOT/tests/js/node_modules/@aws-sdk/client-s3" ]; then
    not_ok "prerequisite: npm ci in tests/js (scripts/deps.sh test)"
    finish
fi
tg_start || { not_ok "server starts"; finish; }
TG_URL=$URL NODE_NO_WARNINGS=1 timeout 300 node "$ROOT/tests/js/t104.mjs"
rc=$?
[ "$rc" -eq 0 ] || not_ok "t104.mjs exited with status $rc"
finish
