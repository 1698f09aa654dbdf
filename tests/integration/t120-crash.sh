#!/bin/bash
# t120-crash.sh -- 20 rounds of 32 concurrent PUTs with kill -9 of the server mid-way and
# a restart: acknowledged PUTs survive byte-identical, no partial object is ever listed,
# tmp/ is empty after each restart. The rounds are driven by t120-crash.py.
source "$(dirname "$0")/lib.sh"
tg_init "$T/data" || { not_ok "init"; finish; }
/usr/bin/python3 "$(dirname "$0")/t120-crash.py" "$TG" "$CONF" "$URL" "$DATA" "$AKID" "$SECRET"
finish
