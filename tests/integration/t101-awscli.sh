#!/bin/bash
# t101-awscli.sh -- Debian's awscli (/usr/bin/aws, 2.9.x) against a real `tollgate serve`:
# the high-level `aws s3` commands (mb, cp up/down small and multipart, ls, sync both
# ways, rm, presign fetched by curl) and the `aws s3api` calls clients depend on
# (head-object, V1 listing with marker, versions of an unversioned bucket, location,
# metadata and content type, copy with COPY/REPLACE, create twice, BucketNotEmpty,
# a repeated CompleteMultipartUpload). Every transfer is compared byte for byte.
. "$(dirname "$0")/lib.sh"

tg_start || { not_ok "server starts"; finish; }
Q=(--only-show-errors)
B=awsbkt
jq_py() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# ---- mb, cp up/down ---------------------------------------------------------------------------
check "s3 mb" awss3 s3 mb "s3://$B"
head -c 1024 /dev/urandom >"$T/small"
head -c $((40 << 20)) /dev/urandom >"$T/big"
check "s3 cp up 1 KiB" awss3 s3 cp "$T/small" "s3://$B/dir/small.bin" "${Q[@]}"
check "s3 cp up 40 MiB (multipart)" awss3 s3 cp "$T/big" "s3://$B/dir/big.bin" "${Q[@]}"
check "s3 cp down 1 KiB" awss3 s3 cp "s3://$B/dir/small.bin" "$T/small.back" "${Q[@]}"
check "s3 cp down 40 MiB" awss3 s3 cp "s3://$B/dir/big.bin" "$T/big.back" "${Q[@]}"
check_eq "1 KiB round trip: same sha256" "$(sha "$T/small")" "$(sha "$T/small.back" 2>/dev/null)"
check_eq "40 MiB round trip: same sha256" "$(sha "$T/big")" "$(sha "$T/big.back" 2>/dev/null)"
# Streams: upload from stdin (size unknown: multipart in 8 MiB parts), download to stdout.
head -c $((9 << 20)) /dev/urandom >"$T/stdin"
check "s3 cp - (stdin, 9 MiB) up" awss3 s3 cp - "s3://$B/stdin.bin" "${Q[@]}" <"$T/stdin"
check_eq "s3 cp to - (stdout) gives the same bytes" "$(sha "$T/stdin")" \
    "$(awss3 s3 cp "s3://$B/stdin.bin" - "${Q[@]}" | sha256sum | cut -d' ' -f1)"
# A multipart object's ETag is "<md5 of part md5s>-N"; awscli uses 8 MiB parts: 5 of them.
etag=$(awss3 s3api head-object --bucket "$B" --key dir/big.bin 2>"$T/err" | jq_py 'd["ETag"]')
case "$etag" in *-5\") ok "multipart ETag ends in -5: $etag" ;; *) not_ok "multipart ETag: '$etag'"; cat "$T/err" ;; esac

# ---- ls -----------------------------------------------------------------------------------------
out=$(awss3 s3 ls "s3://$B/" 2>&1)
check_contains "s3 ls shows the prefix dir/" "PRE dir/" "$out"
out=$(awss3 s3 ls "s3://$B/dir/" 2>&1)
check_contains "s3 ls dir/ shows big.bin with its size" "41943040 big.bin" "$out"
check_contains "s3 ls dir/ shows small.bin with its size" "1024 small.bin" "$out"

# ---- sync both ways ----------------------------------------------------------------------------
mkdir -p "$T/up/sub/deeper" "$T/down"
for i in $(seq 1 50); do
    case $((i % 3)) in
    0) f="$T/up/f$i.dat" ;;
    1) f="$T/up/sub/f$i.dat" ;;
    2) f="$T/up/sub/deeper/f$i.dat" ;;
    esac
    head -c $((i * 997)) /dev/urandom >"$f"
done
check "s3 sync up (50 files)" awss3 s3 sync "$T/up" "s3://$B/sync" "${Q[@]}"
n=$(awss3 s3 ls --recursive "s3://$B/sync/" 2>/dev/null | wc -l)
check_eq "50 objects under sync/" 50 "$n"
check "s3 sync down" awss3 s3 sync "s3://$B/sync" "$T/down" "${Q[@]}"
check "sync round trip is byte-identical (diff -r)" diff -r "$T/up" "$T/down"
# A second sync has nothing to do: sizes and times agree.
out=$(awss3 s3 sync "$T/up" "s3://$B/sync" 2>&1)
check_eq "second sync up uploads nothing" "" "$out"

# ---- presign ------------------------------------------------------------------------------------
purl=$(awss3 s3 presign "s3://$B/dir/small.bin" --expires-in 300 2>"$T/err")
case "$purl" in *X-Amz-Signature=*) ok "s3 presign gives a SigV4 URL" ;; *) not_ok "s3 presign: $purl"; cat "$T/err" ;; esac
code=$(curl -s -o "$T/presigned.out" -w '%{http_code}' "$purl")
check_eq "presigned URL fetched by curl: 200" 200 "$code"
check "presigned URL body is the object" cmp "$T/small" "$T/presigned.out"
# Flip the signature's last hex digit.
last=${purl: -1}
[ "$last" = 0 ] && flip=1 || flip=0
code=$(curl -s -o /dev/null -w '%{http_code}' "${purl%?}$flip")
check_eq "tampered presigned URL: 403" 403 "$code"

# ---- s3api --------------------------------------------------------------------------------------
out=$(awss3 s3api head-object --bucket "$B" --key dir/small.bin 2>&1)
check_eq "head-object: ContentLength 1024" 1024 "$(echo "$out" | jq_py 'd["ContentLength"]' 2>&1)"
check_eq "head-object: ETag is the MD5" "\"$(md5sum "$T/small" | cut -d' ' -f1)\"" \
    "$(echo "$out" | jq_py 'd["ETag"]' 2>&1)"

# V1 listing with a marker: keys after dir/big.bin under dir/.
out=$(awss3 s3api list-objects --bucket "$B" --prefix dir/ --marker dir/big.bin 2>&1)
check_eq "list-objects V1 with marker: only dir/small.bin" "['dir/small.bin']" \
    "$(echo "$out" | jq_py '[o["Key"] for o in d.get("Contents", [])]' 2>&1)"
# awscli pages V1 listings itself (NextMarker or the last key): all 50 come back.
out=$(awss3 s3api list-objects --bucket "$B" --prefix sync/ --page-size 7 2>&1)
check_eq "list-objects V1 paginated by 7: 50 keys" 50 "$(echo "$out" | jq_py 'len(d["Contents"])' 2>&1)"

out=$(awss3 s3api list-object-versions --bucket "$B" --prefix dir/ 2>&1)
check_eq "list-object-versions: VersionId null, IsLatest" "[('dir/big.bin', 'null', True), ('dir/small.bin', 'null', True)]" \
    "$(echo "$out" | jq_py '[(v["Key"], v["VersionId"], v["IsLatest"]) for v in d["Versions"]]' 2>&1)"

out=$(awss3 s3api get-bucket-location --bucket "$B" 2>&1)
check_eq "get-bucket-location: us-east-1 is null" "None" "$(echo "$out" | jq_py 'd.get("LocationConstraint")' 2>&1)"

check "put-object with --metadata and --content-type" \
    awss3 s3api put-object --bucket "$B" --key meta.txt --body "$T/small" \
    --metadata color=blue,Shape=round --content-type text/x-test --cache-control max-age=60
out=$(awss3 s3api head-object --bucket "$B" --key meta.txt 2>&1)
check_eq "head-object shows the metadata and content type" \
    "{'color': 'blue', 'shape': 'round'} text/x-test max-age=60" \
    "$(echo "$out" | jq_py 'd.get("Metadata"), d.get("ContentType"), d.get("CacheControl")' 2>&1 | tr '\n' ' ' | sed 's/ $//')"

check "copy-object (COPY directive)" \
    awss3 s3api copy-object --bucket "$B" --key meta-copy.txt --copy-source "$B/meta.txt"
out=$(awss3 s3api head-object --bucket "$B" --key meta-copy.txt 2>&1)
check_eq "COPY keeps metadata and content type" "{'color': 'blue', 'shape': 'round'} text/x-test" \
    "$(echo "$out" | jq_py 'd.get("Metadata"), d.get("ContentType")' 2>&1 | tr '\n' ' ' | sed 's/ $//')"
check "copy-object (REPLACE directive)" \
    awss3 s3api copy-object --bucket "$B" --key meta-repl.txt --copy-source "$B/meta.txt" \
    --metadata-directive REPLACE --metadata size=xl --content-type application/x-new
out=$(awss3 s3api head-object --bucket "$B" --key meta-repl.txt 2>&1)
check_eq "REPLACE sets the new metadata and content type only" "{'size': 'xl'} application/x-new" \
    "$(echo "$out" | jq_py 'd.get("Metadata"), d.get("ContentType")' 2>&1 | tr '\n' ' ' | sed 's/ $//')"
check "copied body is byte-identical" awss3 s3 cp "s3://$B/meta-repl.txt" "$T/repl.back" "${Q[@]}"
check "copy: same bytes" cmp "$T/small" "$T/repl.back"
out=$(awss3 s3api copy-object --bucket "$B" --key meta.txt --copy-source "$B/meta.txt" 2>&1)
check_contains "copy onto itself without REPLACE: InvalidRequest" "InvalidRequest" "$out"

check "create-bucket" awss3 s3api create-bucket --bucket awsbkt2
check "create-bucket again: already owned, succeeds" awss3 s3api create-bucket --bucket awsbkt2
out=$(awss3 s3api delete-bucket --bucket "$B" 2>&1)
check_contains "delete-bucket of a non-empty bucket: BucketNotEmpty" "BucketNotEmpty" "$out"
check "delete-bucket of an empty bucket" awss3 s3api delete-bucket --bucket awsbkt2

# CompleteMultipartUpload twice: the second answers the same as the first.
uid=$(awss3 s3api create-multipart-upload --bucket "$B" --key mpu.bin 2>"$T/err" | jq_py 'd["UploadId"]')
[ -n "$uid" ] && ok "create-multipart-upload" || { not_ok "create-multipart-upload"; cat "$T/err"; }
head -c $((5 << 20)) /dev/urandom >"$T/p1"
head -c 1000 /dev/urandom >"$T/p2"
e1=$(awss3 s3api upload-part --bucket "$B" --key mpu.bin --upload-id "$uid" --part-number 1 --body "$T/p1" 2>"$T/err" | jq_py 'd["ETag"]')
e2=$(awss3 s3api upload-part --bucket "$B" --key mpu.bin --upload-id "$uid" --part-number 2 --body "$T/p2" 2>>"$T/err" | jq_py 'd["ETag"]')
[ -n "$e1" ] && [ -n "$e2" ] && ok "upload-part x2" || { not_ok "upload-part x2"; cat "$T/err"; }
/usr/bin/python3 - "$e1" "$e2" >"$T/parts.json" <<'EOF'
import json, sys
print(json.dumps({"Parts": [{"PartNumber": 1, "ETag": sys.argv[1]}, {"PartNumber": 2, "ETag": sys.argv[2]}]}))
EOF
out1=$(awss3 s3api complete-multipart-upload --bucket "$B" --key mpu.bin --upload-id "$uid" \
    --multipart-upload "file://$T/parts.json" 2>&1)
out2=$(awss3 s3api complete-multipart-upload --bucket "$B" --key mpu.bin --upload-id "$uid" \
    --multipart-upload "file://$T/parts.json" 2>&1)
et1=$(echo "$out1" | jq_py 'd["ETag"]' 2>&1)
et2=$(echo "$out2" | jq_py 'd["ETag"]' 2>&1)
case "$et1" in *-2\") ok "complete-multipart-upload: ETag ...-2" ;; *) not_ok "complete-multipart-upload: $out1" ;; esac
check_eq "complete-multipart-upload repeated: succeeds, same ETag" "$et1" "$et2"
cat "$T/p1" "$T/p2" >"$T/mpu.expect"
check "completed upload reads back" awss3 s3 cp "s3://$B/mpu.bin" "$T/mpu.back" "${Q[@]}"
check "completed upload: byte-identical" cmp "$T/mpu.expect" "$T/mpu.back"

# ---- rm -----------------------------------------------------------------------------------------
check "s3 rm one object" awss3 s3 rm "s3://$B/dir/small.bin" "${Q[@]}"
check "s3 rm --recursive" awss3 s3 rm "s3://$B/" --recursive "${Q[@]}"
n=$(awss3 s3 ls --recursive "s3://$B/" 2>/dev/null | wc -l)
check_eq "bucket is empty after rm --recursive" 0 "$n"
check "s3 rb of the now empty bucket" awss3 s3 rb "s3://$B"

finish
