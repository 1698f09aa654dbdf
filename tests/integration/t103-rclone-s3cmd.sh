#!/bin/bash
# t103-rclone-s3cmd.sh -- rclone and s3cmd against a real `tollgate serve`: each copies a
# folder (nested dirs, 30 files including a 12 MiB one and an empty one) up and back,
# and the result must be byte-identical (diff -r). Both tools get config files in $T,
# nothing from the developer's home.
. "$(dirname "$0")/lib.sh"

tg_start || { not_ok "server starts"; finish; }

# ---- the folder -------------------------------------------------------------------------------
SRC=$T/src
mkdir -p "$SRC/a/b/c" "$SRC/d" "$SRC/with space"
: >"$SRC/empty.txt"
head -c $((12 << 20)) /dev/urandom >"$SRC/a/big.bin"
for i in $(seq 1 28); do
    case $((i % 4)) in
    0) d="$SRC" ;;
    1) d="$SRC/a/b" ;;
    2) d="$SRC/a/b/c" ;;
    3) d="$SRC/d" ;;
    esac
    head -c $((i * 1531 + 7)) /dev/urandom >"$d/file-$i.dat"
done
echo "a file in a folder with a space" >"$SRC/with space/note+plus.txt"
n=$(find "$SRC" -type f | wc -l)
[ "$n" -eq 31 ] || echo "# source has $n files"

# ---- rclone -----------------------------------------------------------------------------------
cat >"$T/rclone.conf" <<EOF
[tg]
type = s3
provider = Other
access_key_id = $AKID
secret_access_key = $SECRET
endpoint = $URL
region = us-east-1
EOF
rcl() { (unset AWS_CA_BUNDLE; timeout 120 rclone --config "$T/rclone.conf" --retries 1 --low-level-retries 1 "$@"); }

check "rclone mkdir" rcl mkdir tg:rclbkt
check "rclone copy up" rcl copy "$SRC" tg:rclbkt/tree --s3-upload-cutoff 5M --s3-chunk-size 5M
parts() { grep -c 'op=UploadPart' "$T/server.log"; }
p=$(parts)
check_eq "rclone sent the 12 MiB file as 3 parts" 3 "$p"
n=$(rcl lsf -R --files-only tg:rclbkt/tree 2>/dev/null | wc -l)
check_eq "rclone lists 31 files" 31 "$n"
check "rclone check (sizes and MD5s agree)" rcl check "$SRC" tg:rclbkt/tree
mkdir -p "$T/rclone-back"
check "rclone copy back" rcl copy tg:rclbkt/tree "$T/rclone-back"
# rclone does not create empty objects' folders specially: the empty file must come back.
check "rclone round trip is byte-identical (diff -r)" diff -r "$SRC" "$T/rclone-back"
out=$(rcl size tg:rclbkt/tree 2>&1)
check_contains "rclone size counts 31 objects" "Total objects: 31" "$out"
check "rclone delete one file" rcl deletefile "tg:rclbkt/tree/with space/note+plus.txt"
n=$(rcl lsf -R --files-only tg:rclbkt/tree 2>/dev/null | wc -l)
check_eq "rclone: 30 files after deletefile" 30 "$n"
check "rclone purge" rcl purge tg:rclbkt
out=$(rcl lsd tg: 2>&1)
case "$out" in *rclbkt*) not_ok "rclone purge removed the bucket"; echo "# $out" ;; *) ok "rclone purge removed the bucket" ;; esac

# ---- s3cmd ------------------------------------------------------------------------------------
HP=${URL#http://}
cat >"$T/s3cfg" <<EOF
[default]
access_key = $AKID
secret_key = $SECRET
host_base = $HP
host_bucket = $HP
use_https = False
signature_v2 = False
bucket_location = us-east-1
check_ssl_certificate = False
multipart_chunk_size_mb = 5
progress_meter = False
EOF
s3c() { timeout 120 s3cmd -c "$T/s3cfg" --no-progress "$@"; }

check "s3cmd mb" s3c mb s3://s3cbkt
check "s3cmd put --recursive (12 MiB as multipart)" s3c put --recursive "$SRC/" s3://s3cbkt/tree/
check_eq "s3cmd sent the 12 MiB file as 3 parts" 3 $(($(parts) - p))
n=$(s3c ls --recursive s3://s3cbkt/tree/ 2>/dev/null | wc -l)
check_eq "s3cmd lists 31 objects" 31 "$n"
out=$(s3c info s3://s3cbkt/tree/a/big.bin 2>&1)
check_contains "s3cmd info: 12 MiB object" "12582912" "$out"
mkdir -p "$T/s3cmd-back"
check "s3cmd get --recursive" s3c get --recursive s3://s3cbkt/tree/ "$T/s3cmd-back/"
check "s3cmd round trip is byte-identical (diff -r)" diff -r "$SRC" "$T/s3cmd-back"
check "s3cmd sync (nothing to do)" s3c sync "$SRC/" s3://s3cbkt/tree/
echo changed >"$T/changed.txt"
check "s3cmd put over an existing object" s3c put "$T/changed.txt" s3://s3cbkt/tree/d/file-3.dat
check "s3cmd get the new content" s3c get --force s3://s3cbkt/tree/d/file-3.dat "$T/changed.back"
check "s3cmd: overwritten object has the new bytes" cmp "$T/changed.txt" "$T/changed.back"
check "s3cmd del --recursive" s3c del --recursive --force s3://s3cbkt/tree/
n=$(s3c ls --recursive s3://s3cbkt/ 2>/dev/null | wc -l)
check_eq "s3cmd: bucket empty after del" 0 "$n"
check "s3cmd rb" s3c rb s3://s3cbkt

# s3cmd with signature_v2 = True: SigV2 header authentication.
sed 's/^signature_v2 = False/signature_v2 = True/' "$T/s3cfg" >"$T/s3cfg-v2"
s3c2() { timeout 60 s3cmd -c "$T/s3cfg-v2" --no-progress "$@"; }
check "s3cmd (SigV2) mb" s3c2 mb s3://s3cv2
check "s3cmd (SigV2) put" s3c2 put "$SRC/d/file-3.dat" "s3://s3cv2/with space/f+3.dat"
check "s3cmd (SigV2) get" s3c2 get "s3://s3cv2/with space/f+3.dat" "$T/v2.back"
check "s3cmd (SigV2) round trip is byte-identical" cmp "$SRC/d/file-3.dat" "$T/v2.back"
sed 's/^secret_key = .*/secret_key = wrong/' "$T/s3cfg-v2" >"$T/s3cfg-v2bad"
out=$(timeout 60 s3cmd -c "$T/s3cfg-v2bad" ls s3://s3cv2 2>&1)
check_contains "s3cmd (SigV2) with a wrong secret: SignatureDoesNotMatch" "SignatureDoesNotMatch" "$out"

finish
