#!/bin/bash
# t110-cli.sh -- the command line: init (files, modes, JSON, refusal to re-init),
# --help everywhere, config errors with file:line, key create/list/delete against a
# running server (seen at once), presign (+ --filename), TOLLGATE_NOW, SIGTERM drain.
source "$(dirname "$0")/lib.sh"

for c in init serve key presign parquet; do
    out=$("$TG" $c --help 2>&1); rc=$?
    check_eq "'tollgate $c --help' exits 0" 0 "$rc"
    check_contains "'tollgate $c --help' shows usage" "usage: tollgate $c" "$out"
done
out=$("$TG" nope 2>&1); rc=$?
check_eq "unknown command exits 2" 2 "$rc"
check_contains "unknown command is named" "'nope' is not a command" "$out"

tg_init "$T/data"
check_eq "init --json has the documented fields" \
    "access_key_id admin_key config data_dir secret_access_key" \
    "$(/usr/bin/python3 -c 'import json,sys; print(" ".join(sorted(json.load(open(sys.argv[1])))))' "$T/init.json")"
check_eq "secret is 32 bytes, mode 600" "32 600" "$(stat -c '%s %a' "$DATA/secret")"
check_eq "config is mode 600" "600" "$(stat -c '%a' "$CONF")"
check "meta.db, blobs/ and tmp/ exist" test -f "$DATA/meta.db" -a -d "$DATA/blobs" -a -d "$DATA/tmp"
check_contains "config is commented" "; tollgate.conf -- written by 'tollgate init'" "$(cat "$CONF")"
out=$("$TG" init "$T/data" 2>&1); rc=$?
check_eq "init of an initialised directory fails" 1 "$rc"
check_contains "init says why" "already initialised" "$out"
check "secret not printed in the config or database" bash -c "! grep -q '$SECRET' '$CONF' '$DATA/meta.db'"

# A readable secret is refused.
chmod 644 "$DATA/secret"
out=$("$TG" key list --config "$CONF" 2>&1); rc=$?
check_eq "a world-readable secret is refused" 1 "$rc"
check_contains "refusal names the file and the fix" "chmod 600" "$out"
chmod 600 "$DATA/secret"

# Config errors name file and line; the server does not start.
cp "$CONF" "$T/bad.conf"
printf '\n[server]\nidle_timeout = soon\n' >>"$T/bad.conf"
sed -i "s|^data_dir = .*|data_dir = $DATA|" "$T/bad.conf"
out=$("$TG" serve --config "$T/bad.conf" 2>&1); rc=$?
check_eq "serve with a bad value exits 1" 1 "$rc"
check_contains "bad value names file:line and key" "bad.conf:$(grep -n 'idle_timeout = soon' "$T/bad.conf" | cut -d: -f1): [server] idle_timeout = soon" "$out"
printf '[server]\nlisten = 127.0.0.1:1\nbogus = 1\ndata_dir = %s\n' "$DATA" >"$T/bad2.conf"
out=$("$TG" serve --config "$T/bad2.conf" 2>&1)
check_contains "unknown key is refused with its line" "bad2.conf:3: unknown key 'bogus' in [server]" "$out"

tg_serve || { not_ok "server starts"; finish; }
ok "server starts"
check_eq "healthz" "ok" "$(curl -fsS "$URL/healthz")"
awss3 s3 mb s3://cli-bucket >/dev/null
echo "hello presign" >"$T/h.txt"
awss3 s3 cp "$T/h.txt" "s3://cli-bucket/dir/h é.txt" --only-show-errors

# Keys: created while the server runs, usable at once; deleted, refused at once.
"$TG" key create --config "$CONF" --label second --json >"$T/k2.json"
K2=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_key_id"])' "$T/k2.json")
S2=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret_access_key"])' "$T/k2.json")
check "a key created while serving works at once" \
    env AWS_ACCESS_KEY_ID="$K2" AWS_SECRET_ACCESS_KEY="$S2" /usr/bin/aws --endpoint-url "$URL" s3 ls s3://cli-bucket/
list=$("$TG" key list --config "$CONF" --json)
check_contains "key list shows the new key" "\"$K2\"" "$list"
check "key list never shows secrets" bash -c "! echo '$list' | grep -q -- '$S2'"
check "key delete" "$TG" key delete --config "$CONF" "$K2"
out=$(env AWS_ACCESS_KEY_ID="$K2" AWS_SECRET_ACCESS_KEY="$S2" /usr/bin/aws --endpoint-url "$URL" s3 ls s3://cli-bucket/ 2>&1)
check_contains "a deleted key is refused at once" "InvalidAccessKeyId" "$out"
out=$("$TG" key delete --config "$CONF" "$K2" 2>&1); rc=$?
check_eq "deleting it again fails" 1 "$rc"

# admin-reset: a new admin key, the old one refused (meta_admin_key_check is what the
# admin routes use; the HTTP side is tested in t210)
new_admin=$("$TG" key admin-reset --config "$CONF" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["admin_key"])')
check "admin-reset prints a new admin key" test -n "$new_admin" -a "$new_admin" != "$ADMIN"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "$URL/api/admin/grants")
check_eq "the old admin key is refused at once" 401 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $new_admin" "$URL/api/admin/grants")
check_eq "the new admin key works" 200 "$code"

# presign
u=$("$TG" presign --config "$CONF" "cli-bucket/dir/h é.txt" --expires 600)
check_eq "presigned URL fetches the object" "hello presign" "$(curl -fsS "$u")"
u=$("$TG" presign --config "$CONF" "cli-bucket/dir/h é.txt" --filename "tier2_2026-02-13 é.txt")
hdr=$(curl -fsS -D - -o /dev/null "$u")
check_contains "--filename sets Content-Disposition (RFC 6266/5987)" \
    "attachment; filename=\"tier2_2026-02-13 _.txt\"; filename*=UTF-8''tier2_2026-02-13%20%C3%A9.txt" "$hdr"
j=$("$TG" presign --config "$CONF" "cli-bucket/dir/h é.txt" --json --expires 60)
check_contains "presign --json has url and expires_at" '"expires_at"' "$j"
out=$("$TG" presign --config "$CONF" "cli-bucket/x" --expires 604801 2>&1); rc=$?
check_eq "presign refuses more than 7 days" 2 "$rc"
# a URL signed in the past (TOLLGATE_NOW) has expired
u=$(TOLLGATE_NOW=2020-01-01T00:00:00Z "$TG" presign --config "$CONF" "cli-bucket/dir/h é.txt" --expires 60 2>"$T/now.err")
check_contains "TOLLGATE_NOW warns on stderr" "TOLLGATE_NOW is set" "$(cat "$T/now.err")"
body=$(curl -sS "$u")
check_contains "an expired presigned URL is refused" "Request has expired" "$body"
out=$(TOLLGATE_NOW=tomorrow "$TG" key list --config "$CONF" 2>&1); rc=$?
check_eq "a bad TOLLGATE_NOW is a usage error" 2 "$rc"

# SIGTERM drains an in-flight download, then exits 0.
head -c $((24 << 20)) /dev/urandom >"$T/big.bin"
awss3 s3 cp "$T/big.bin" s3://cli-bucket/big.bin --only-show-errors
u=$("$TG" presign --config "$CONF" cli-bucket/big.bin)
curl -sS --limit-rate 12M -o "$T/big.out" "$u" &
CURL_PID=$!
PIDS+=("$CURL_PID")
sleep 0.5   # let the download start (ordering only; nothing time-dependent is asserted)
start=$(date +%s%N)
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check_eq "serve exits 0 on SIGTERM" 0 "$rc"
check "serve stopped within the 5 s drain limit (+1 s)" test "$ms" -lt 6000
wait "$CURL_PID"
check "the in-flight download finished intact during the drain" cmp "$T/big.bin" "$T/big.out"
check_contains "drain is logged" "draining" "$(cat "$T/server.log")"
check "no secret in the server log" bash -c "! grep -q -e '$SECRET' -e '$S2' '$T/server.log'"
check "no signature in the server log" bash -c "! grep -q -e 'Signature=' -e 'X-Amz-Signature' '$T/server.log'"
finish
