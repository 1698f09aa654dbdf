#!/bin/bash
# t701 -- the S3 client (src/s3/s3_client.c, driven by build/tools/s3c) against a local
# tollgate: small and multipart (20 MiB in 5 MiB parts) PUT, GET back byte-identical,
# a ranged GET, HEAD, ListObjectsV2 paging over 1,205 keys, DeleteObjects in batches,
# and the error sentences (missing key, wrong secret) -- which never carry the secret.
. "$(dirname "$0")/lib.sh"

S3C="$ROOT/build/tools/s3c"
[ -x "$S3C" ] || { echo "not ok - build/tools/s3c missing (make all)"; exit 1; }
tg_start || { echo "not ok - server start"; exit 1; }
awss3 s3 mb s3://cli >/dev/null
s3c() { "$S3C" --endpoint "$URL" --region us-east-1 --bucket cli --key-id "$AKID" --secret "$SECRET" "$@"; }
ALL="$T/all-output"
: >"$ALL"

printf 'hello, s3 client\n' >"$T/small"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$T/big"
check "put a small file" s3c put dir/small.txt "$T/small"
out=$(S3C_MULTIPART_THRESHOLD=5MiB S3C_PART_SIZE=5MiB s3c put dir/big.bin "$T/big" 2>&1)
echo "$out" >>"$ALL"
check_contains "put 20 MiB goes multipart (4 parts)" '-4"' "$out"
check_eq "4 UploadPart requests reached the server" 4 "$(grep -c 'op=UploadPart' "$T/server.log")"

check "get the small file" s3c get dir/small.txt "$T/small.out"
check "small file byte-identical" cmp "$T/small" "$T/small.out"
check "get the big file" s3c get dir/big.bin "$T/big.out"
check "big file byte-identical" cmp "$T/big" "$T/big.out"
check "ranged get" s3c get dir/big.bin "$T/range.out" --range 5242800-5242999
tail -c +5242801 "$T/big" | head -c 200 >"$T/range.want"
check "ranged get returns bytes 5242800-5242999" cmp "$T/range.want" "$T/range.out"
out=$(s3c head dir/big.bin 2>&1)
echo "$out" >>"$ALL"
check_contains "head reports the size" "head dir/big.bin 20971520 " "$out"

# 1,205 tiny keys through the aws CLI, then list them back through the client (2 pages).
mkdir -p "$T/many"
for i in $(seq 1 1205); do printf '%d' "$i" >"$T/many/k$i"; done
awss3 s3 cp --recursive --quiet "$T/many" s3://cli/many/ >/dev/null 2>&1
s3c ls many/ >"$T/ls.out" 2>&1
check_eq "ls with paging returns all 1,205 keys" 1205 "$(grep -c ' many/k' "$T/ls.out")"
check_eq "ls lists every key once" 1205 "$(awk '{print $3}' "$T/ls.out" | sort -u | wc -l)"
check "ls used more than one page" test "$(grep -c 'op=ListObjectsV2' "$T/server.log")" -ge 2
s3c ls >"$T/lsall.out" 2>&1
check_eq "ls without prefix sees 1,207 keys" 1207 "$(wc -l <"$T/lsall.out")"

before=$(grep -c 'op=DeleteObjects' "$T/server.log")
mapfile -t keys < <(awk '{print $3}' "$T/ls.out")
check "rm of 1,205 keys" s3c rm "${keys[@]}"
after=$(grep -c 'op=DeleteObjects' "$T/server.log")
check_eq "rm went in two DeleteObjects batches (1000 + 205)" 2 "$((after - before))"
check_eq "the keys are gone" 0 "$(s3c ls many/ | wc -l)"
check "rm of one key" s3c rm dir/small.txt

out=$(s3c get no/such/key "$T/x" 2>&1)
rc=$?
echo "$out" >>"$ALL"
check_eq "missing key exits 1" 1 "$rc"
check_contains "missing key: endpoint" "$URL" "$out"
check_contains "missing key: operation" "GetObject" "$out"
check_contains "missing key: status and code" "HTTP 404 NoSuchKey" "$out"

WRONG="wrong-${SECRET}-x"
out=$("$S3C" --endpoint "$URL" --bucket cli --key-id "$AKID" --secret "$WRONG" get dir/big.bin "$T/x" 2>&1)
rc=$?
echo "$out" >>"$ALL"
check_eq "wrong secret exits 1" 1 "$rc"
check_contains "wrong secret: 403 SignatureDoesNotMatch" "HTTP 403 SignatureDoesNotMatch" "$out"
check_contains "wrong secret: endpoint" "$URL" "$out"
cat "$T"/check.out >>"$ALL" 2>/dev/null
case "$(cat "$ALL" "$T/ls.out")" in
*"$SECRET"* | *"$WRONG"* | *Authorization* | *Signature=*) not_ok "no secret nor Authorization in the client's output" ;;
*) ok "no secret nor Authorization in the client's output" ;;
esac
finish
