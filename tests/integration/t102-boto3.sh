#!/bin/bash
# t102-boto3.sh -- runs t102-boto3.py (Debian's /usr/bin/python3 with python3-boto3)
# against a fresh server; the script prints its own ok/not ok lines.
. "$(dirname "$0")/lib.sh"

tg_start || { not_ok "server starts"; finish; }
TG_URL=$URL TG_TMP=$T timeout 300 /usr/bin/python3 "$ROOT/tests/integration/t102-boto3.py"
rc=$?
[ "$rc" -eq 0 ] || not_ok "t102-boto3.py exited with status $rc"
finish
