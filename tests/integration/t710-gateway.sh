#!/bin/bash
# t710-gateway.sh -- [storage] backend = s3: tollgate as a gateway in front of a remote
# S3 store (here another tollgate in local mode, which verifies every SigV4 signature).
# Objects land in the remote bucket with their SHA-256 as x-amz-meta-tollgate-sha256 and
# nothing in the gateway's data dir; presign-mode links point at the remote endpoint with
# the friendly filename; redirect-mode clicks are checked, then sent (302) to the remote;
# proxy_downloads = on streams through tollgate (Range passed through, max-downloads
# enforced); the S3 API passes through (the store's own keys are hidden and refused);
# config errors are clear; the remote stopped: the portal answers 503 with a clear page,
# a publish fails without half-publishing, and everything resumes by itself once the
# remote is back. The remote's secret never reaches the gateway's log.
source "$(dirname "$0")/lib.sh"
for _ in 1 2 3 4 5; do cp "$TG" "$T/tollgate" 2>/dev/null && break; sleep 1; done
TG="$T/tollgate"
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"

pyj() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

TG_STORAGE=local tg_init "$T/data"
tg_use_remote "$CONF" || { not_ok "remote store started"; finish; }
sed -i 's/^proxy_downloads = on$/proxy_downloads = off/' "$CONF"
cat >>"$CONF" <<'EOF'

[grant tier1]
title = Tier 1
prefix = tier1/

[grant tier3]
title = Tier 3
prefix = tier3/
link_mode = redirect
redirect_ttl = 10m
EOF

# ---- configuration errors are clear, and change nothing ----
cp "$CONF" "$DATA/bad.conf"
sed -i '/^endpoint = /d' "$DATA/bad.conf"
out=$("$TG" links tier1 --config "$DATA/bad.conf" 2>&1); rc=$?
check_eq "backend = s3 without an endpoint: exit 1" 1 "$rc"
check_contains "... the error names the key" "[storage] endpoint: backend = s3 needs endpoint" "$out"
cp "$CONF" "$DATA/bad.conf"
chmod 644 "$DATA/bad.conf"
out=$("$TG" links tier1 --config "$DATA/bad.conf" 2>&1); rc=$?
check_eq "a secret in a file others can read: exit 1" 1 "$rc"
check_contains "... says chmod 600" "chmod 600" "$out"
check "... and never prints the secret" bash -c "! grep -qF -- '$REMOTE_SECRET' <<<\"\$1\"" _ "$out"
cp "$CONF" "$DATA/bad.conf"
sed -i 's/^backend = s3$/backend = s4/' "$DATA/bad.conf"
out=$("$TG" links tier1 --config "$DATA/bad.conf" 2>&1)
check_contains "an unknown backend: expected local or s3" "expected local or s3" "$out"
cp "$CONF" "$DATA/bad.conf"
sed -i '/^secret_access_key = /d' "$DATA/bad.conf"
out=$(env -u AWS_SECRET_ACCESS_KEY "$TG" links tier1 --config "$DATA/bad.conf" 2>&1)
check_contains "no secret: says where to give one" "AWS_SECRET_ACCESS_KEY" "$out"
sed -i '/^access_key_id = /d' "$DATA/bad.conf"
out=$(AWS_ACCESS_KEY_ID=$REMOTE_AKID AWS_SECRET_ACCESS_KEY=$REMOTE_SECRET "$TG" token list --config "$DATA/bad.conf" 2>&1); rc=$?
check_eq "credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: accepted" 0 "$rc"

cp "$CONF" "$DATA/bad.conf"
chmod 600 "$DATA/bad.conf"
printf '\n[meta]\nbackend = mysql\n' >>"$DATA/bad.conf"
out=$("$TG" links tier1 --config "$DATA/bad.conf" 2>&1); rc=$?
check_eq "[meta] backend = mysql: exit 1" 1 "$rc"
check_contains "... expected sqlite or postgres" "[meta] backend: expected sqlite or postgres" "$out"
cp "$CONF" "$DATA/bad.conf"
chmod 600 "$DATA/bad.conf"
printf '\n[meta]\nbackend = postgres\n' >>"$DATA/bad.conf"
out=$("$TG" links tier1 --config "$DATA/bad.conf" 2>&1)
check_contains "[meta] backend = postgres without a dsn: says so" "backend = postgres needs dsn" "$out"
cp "$CONF" "$DATA/bad.conf"
chmod 600 "$DATA/bad.conf"
printf '\n[meta]\nbackend = postgres\ndsn = host=127.0.0.1 port=1 user=u password=hunter2secret dbname=x connect_timeout=2\n' >>"$DATA/bad.conf"
out=$("$TG" links tier1 --config "$DATA/bad.conf" 2>&1); rc=$?
check_eq "an unreachable PostgreSQL: exit 1" 1 "$rc"
check_contains "... a clear error" "cannot open the PostgreSQL metadata database" "$out"
check "... that never shows the dsn's password" bash -c "! grep -q hunter2secret <<<\"\$1\"" _ "$out"
rm -f "$DATA/bad.conf"

# ---- publishing lands in the remote bucket ----
head -c 300000 /dev/urandom >"$T/d1.bin"
printf 'a,b\n1,2\n3,4\n' >"$T/d1.csv"
printf 'a,b\n5,6\n' >"$T/d2.csv"
TOLLGATE_NOW=2026-11-02T06:00:00Z "$TG" publish --config "$CONF" tier1 "$T/d1.csv" --date 2026-11-01 >/dev/null 2>"$T/pub.err"
check_eq "publish day 1 through the gateway" 0 "$?"
TOLLGATE_NOW=2026-11-03T06:00:00Z "$TG" publish --config "$CONF" tier1 "$T/d2.csv" --date 2026-11-02 >/dev/null 2>>"$T/pub.err"
check_eq "publish day 2 (the MTD is appended on the remote)" 0 "$?"
TOLLGATE_NOW=2026-11-03T06:00:00Z "$TG" publish --config "$CONF" tier3 "$T/d1.bin" --date 2026-11-02 >/dev/null 2>>"$T/pub.err"
check_eq "publish to the redirect-mode grant" 0 "$?"
remote_aws s3api list-objects-v2 --bucket tollgate --output json >"$T/remote-ls.json"
keys=$(pyj "$T/remote-ls.json" '" ".join(sorted(o["Key"] for o in d["Contents"] if not o["Key"].startswith(".tollgate/")))')
check_contains "the remote bucket holds the daily file" "tier1/daily/2026-11-01/tier1_2026-11-01.csv" "$keys"
check_contains "... the month-to-date bundle" "tier1/mtd/2026-11/tier1_2026-11_mtd.csv" "$keys"
check_contains "... and the index" "_index/tier1.json" "$keys"
remote_aws s3 cp s3://tollgate/tier1/mtd/2026-11/tier1_2026-11_mtd.csv "$T/mtd.csv" >/dev/null 2>&1
check_eq "the remote MTD = day 1 + day 2 (one header)" "$(printf 'a,b\n1,2\n3,4\n5,6\n')" "$(cat "$T/mtd.csv")"
remote_aws s3api head-object --bucket tollgate --key tier1/daily/2026-11-01/tier1_2026-11-01.csv >"$T/head.json"
check_eq "x-amz-meta-tollgate-sha256 on the remote = the file's SHA-256" "$(sha "$T/d1.csv")" \
    "$(pyj "$T/head.json" 'd["Metadata"]["tollgate-sha256"]')"
check_eq "the gateway's data dir holds no object" "0" "$(find "$DATA" -path "$DATA/blobs/*" -type f | wc -l)"
check_eq "... and no scratch file is left" "0" "$(find "$DATA/tmp" "$TMPDIR" -type f | wc -l)"

# ---- presign mode: links point at the remote ----
tg_serve || { not_ok "gateway started"; finish; }
TOK1=$("$TG" links tier1 --config "$CONF" --format json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["current"]["token"])')
curl -s "$URL/api/downloads/tier1?t=$TOK1" >"$T/api1.json"
u=$(pyj "$T/api1.json" '[x for x in d["daily"] if x["date"]=="2026-11-01"][0]["url"]')
check_contains "presign mode: the link is signed for the remote endpoint" "$REMOTE_URL/tollgate/tier1/daily/2026-11-01/" "$u"
check "... and carries no tollgate parameter" bash -c "! grep -q x-tollgate <<<'$u'"
check_eq "the portal lists the SHA-256 (from the remote's header)" "$(sha "$T/d1.csv")" \
    "$(pyj "$T/api1.json" '[x for x in d["daily"] if x["date"]=="2026-11-01"][0]["sha256"]')"
curl -s -D "$T/h1" -o "$T/got1.csv" "$u"
check "the remote serves the bytes" cmp "$T/got1.csv" "$T/d1.csv"
check_contains "... with the friendly filename" 'filename="tier1_2026-11-01.csv"' "$(cat "$T/h1")"
check_eq "the MTD link works" 200 "$(code "$(pyj "$T/api1.json" 'd["mtd"]["url"]')")"

# ---- redirect mode: the token is checked at the click, then a 302 to the remote ----
TOK3=$("$TG" links tier3 --config "$CONF" --format json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["current"]["token"])')
curl -s "$URL/api/downloads/tier3?t=$TOK3" >"$T/api3.json"
click=$(pyj "$T/api3.json" 'd["daily"][0]["url"]')
check_contains "redirect mode: the page links to tollgate" "$URL/downloads/tier3/file/" "$click"
loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$click")
check_contains "the click is answered with a 302 to the remote" "$REMOTE_URL/tollgate/tier3/daily/" "$loc"
curl -s -L -o "$T/got3.bin" "$click"
check "following it downloads the file" cmp "$T/got3.bin" "$T/d1.bin"
"$TG" token rotate tier3 --now --config "$CONF" >/dev/null 2>&1
check_eq "after token rotate, the old click link is refused (403)" 403 "$(code "$click")"
tg_stop

# ---- proxy_downloads = on: downloads go through tollgate ----
sed -i 's/^proxy_downloads = off$/proxy_downloads = on/' "$CONF"
head -c 9000000 /dev/urandom >"$T/big.bin"
"$TG" publish --config "$CONF" tier1 "$T/big.bin" --date 2026-11-03 >/dev/null 2>>"$T/pub.err"
check_eq "publish a 9 MB file (streamed in chunks when served)" 0 "$?"
tg_serve || { not_ok "gateway restarted"; finish; }
curl -s "$URL/api/downloads/tier1?t=$TOK1" >"$T/api1.json"
ub=$(pyj "$T/api1.json" '[x for x in d["daily"] if x["date"]=="2026-11-03"][0]["url"]')
check_contains "proxy mode: links point at tollgate" "$URL/tollgate/tier1/daily/2026-11-03/" "$ub"
curl -s -o "$T/gotbig.bin" "$ub"
check "a 9 MB download through tollgate is byte-exact" cmp "$T/gotbig.bin" "$T/big.bin"
curl -s -r 4194000-4194999 -o "$T/range.bin" "$ub"
tail -c +4194001 "$T/big.bin" | head -c 1000 >"$T/range.want"
check "a Range across the 4 MiB chunk boundary is passed through exactly" cmp "$T/range.bin" "$T/range.want"
check_eq "... with status 206" 206 "$(code -r 0-9 "$ub")"
"$TG" token create tier1 --label five --max-downloads 5 --json --config "$CONF" >"$T/n5.json" 2>/dev/null
N5=$(pyj "$T/n5.json" 'd["token"]')
curl -s "$URL/api/downloads/tier1?t=$N5" >"$T/n5api.json"
l5=$(pyj "$T/n5api.json" '[x for x in d["daily"] if x["date"]=="2026-11-01"][0]["url"]')
cpids=()
for i in $(seq 1 12); do
    curl -s -o /dev/null -w '%{http_code}\n' "$l5" >"$T/n5code.$i" 2>&1 &
    cpids+=($!)
done
wait "${cpids[@]}"
cat "$T"/n5code.* >"$T/n5codes"
check_eq "max-downloads 5 in proxy mode: exactly 5 of 12 parallel downloads" "5" "$(grep -c '^200$' "$T/n5codes")"

# ---- memory does not grow with the file: an 80 MB publish goes up in 8 MiB parts ----
head -c 80000000 /dev/zero | tr '\0' 'x' >"$T/huge.bin"
/usr/bin/time -f '%M' -o "$T/rss" "$TG" publish --config "$CONF" tier1 "$T/huge.bin" --date 2026-11-05 >/dev/null 2>>"$T/pub.err"
check_eq "an 80 MB publish through the gateway (multipart to the remote)" 0 "$?"
rss_kb=$(tail -1 "$T/rss")
check "... with a peak RSS of ${rss_kb} KiB, well under the file's size (< 48 MiB)" test "$rss_kb" -lt 49152
remote_aws s3api head-object --bucket tollgate --key tier1/daily/2026-11-05/tier1_2026-11-05.bin >"$T/hh.json"
check_eq "... stored whole on the remote" 80000000 "$(pyj "$T/hh.json" 'd["ContentLength"]')"
check_contains "... as a multipart object" "-" "$(pyj "$T/hh.json" 'd["ETag"]')"
rm -f "$T/huge.bin"

# ---- the S3 API through the gateway ----
echo "hello gateway" >"$T/h.txt"
awss3 s3 cp "$T/h.txt" s3://tollgate/misc/h.txt >/dev/null 2>&1
check_eq "S3 PUT through the gateway" 0 "$?"
check_eq "... the object is on the remote" "hello gateway" "$(remote_aws s3 cp s3://tollgate/misc/h.txt - 2>/dev/null)"
check_eq "S3 GET through the gateway" "hello gateway" "$(awss3 s3 cp s3://tollgate/misc/h.txt - 2>/dev/null)"
awss3 s3api copy-object --bucket tollgate --copy-source tollgate/misc/h.txt --key misc/h2.txt >/dev/null 2>&1
check_eq "CopyObject" "hello gateway" "$(awss3 s3 cp s3://tollgate/misc/h2.txt - 2>/dev/null)"
awss3 s3api list-objects-v2 --bucket tollgate --delimiter / --output json >"$T/ls.json"
check_eq "a delimiter listing: the common prefixes, the store's own keys hidden" \
    "['_index/', 'misc/', 'tier1/', 'tier3/']" "$(pyj "$T/ls.json" 'sorted(p["Prefix"] for p in d.get("CommonPrefixes",[]))')"
awss3 s3api list-objects-v2 --bucket tollgate --max-keys 2 --prefix tier1/ --output json >"$T/ls2.json"
check_eq "max-keys 2: truncated with a continuation" "True 2" "$(pyj "$T/ls2.json" 'd["IsTruncated"], d["KeyCount"]' | tr -d '(),')"
out=$(awss3 s3api put-object --bucket tollgate --key .tollgate/x --body "$T/h.txt" 2>&1)
check_contains "the store's own keys are refused (AccessDenied)" "AccessDenied" "$out"
awss3 s3 rm s3://tollgate/misc/h2.txt >/dev/null 2>&1
out=$(remote_aws s3api head-object --bucket tollgate --key misc/h2.txt 2>&1)
check_contains "DeleteObject: gone from the remote" "Not Found" "$out"

# ---- buckets and multipart uploads pass through to the remote ----
awss3 s3 mb s3://gwb >/dev/null 2>&1
check_eq "CreateBucket through the gateway" 0 "$?"
check "... the bucket exists on the remote" remote_aws s3api head-bucket --bucket gwb
check_eq "ListBuckets: the remote's buckets" "['gwb', 'tollgate']" \
    "$(awss3 s3api list-buckets --output json | /usr/bin/python3 -c 'import json,sys; print(sorted(b["Name"] for b in json.load(sys.stdin)["Buckets"]))')"
head -c 12000000 /dev/urandom >"$T/mp.bin"
awss3 s3 cp "$T/mp.bin" s3://gwb/big/mp.bin >/dev/null 2>&1
check_eq "a 12 MB multipart upload (awscli, 8 MiB parts) through the gateway" 0 "$?"
remote_aws s3api head-object --bucket gwb --key big/mp.bin --output json >"$T/mph.json" 2>/dev/null
check_contains "... completed on the remote from 2 parts" '-2"' "$(pyj "$T/mph.json" 'd["ETag"]')"
check_eq "... the gateway answers the remote's ETag" "$(pyj "$T/mph.json" 'd["ETag"]')" \
    "$(awss3 s3api head-object --bucket gwb --key big/mp.bin --output json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ETag"])')"
remote_aws s3 cp s3://gwb/big/mp.bin "$T/mp.got" >/dev/null 2>&1
check "... the remote holds the same bytes" cmp "$T/mp.got" "$T/mp.bin"
lm() { /usr/bin/python3 -c 'import json,sys; print([o["LastModified"] for o in json.load(sys.stdin)["Contents"]])'; }
check_eq "a listing's LastModified through the gateway = the remote's, milliseconds and all (aws s3 sync compares them)" \
    "$(remote_aws s3api list-objects-v2 --bucket gwb --output json | lm)" "$(awss3 s3api list-objects-v2 --bucket gwb --output json | lm)"
awss3 s3 cp "$T/mp.bin" s3://tollgate/tier1/daily/2026-11-09/tier1_2026-11-09.csv >/dev/null 2>&1
curl -s "$URL/api/downloads/tier1?t=$TOK1" >"$T/apimp.json"
check_eq "a multipart upload into a grant's folder: listed, its SHA-256 empty (not known), not zeros" "12000000 ''" \
    "$(pyj "$T/apimp.json" '" ".join([str(x["size"]) + " " + repr(x["sha256"]) for x in d["daily"] if x["date"]=="2026-11-09"])')"
awss3 s3 rm s3://tollgate/tier1/daily/2026-11-09/tier1_2026-11-09.csv >/dev/null 2>&1
awss3 s3api create-multipart-upload --bucket gwb --key big/open.bin --output json >"$T/cmu.json" 2>/dev/null
UPID=$(pyj "$T/cmu.json" 'd["UploadId"]')
check_eq "CreateMultipartUpload: the upload id is the remote's" "$UPID" \
    "$(remote_aws s3api list-multipart-uploads --bucket gwb --output json | /usr/bin/python3 -c 'import json,sys; print(" ".join(u["UploadId"] for u in json.load(sys.stdin).get("Uploads", [])))')"
head -c 1000 /dev/urandom >"$T/p1.bin"
awss3 s3api upload-part --bucket gwb --key big/open.bin --upload-id "$UPID" --part-number 1 --body "$T/p1.bin" >/dev/null 2>&1
check_eq "ListParts through the gateway: the part sent" "1 1000" \
    "$(awss3 s3api list-parts --bucket gwb --key big/open.bin --upload-id "$UPID" --output json | /usr/bin/python3 -c 'import json,sys; print(" ".join("%d %d" % (p["PartNumber"], p["Size"]) for p in json.load(sys.stdin)["Parts"]))')"
out=$(awss3 s3api complete-multipart-upload --bucket gwb --key big/open.bin --upload-id "$UPID" \
    --multipart-upload '{"Parts":[{"PartNumber":1,"ETag":"\"00000000000000000000000000000000\""}]}' 2>&1)
check_contains "a wrong part ETag: the remote's InvalidPart comes back" "InvalidPart" "$out"
awss3 s3api abort-multipart-upload --bucket gwb --key big/open.bin --upload-id "$UPID" >/dev/null 2>&1
check_eq "AbortMultipartUpload: gone from the remote" "" \
    "$(remote_aws s3api list-multipart-uploads --bucket gwb --output json | /usr/bin/python3 -c 'import json,sys; t=sys.stdin.read(); print(" ".join(u["Key"] for u in json.loads(t).get("Uploads", [])) if t.strip() else "")')"
awss3 s3api put-object --bucket gwb --key ck.txt --body "$T/h.txt" --checksum-algorithm CRC32 >/dev/null 2>&1
check_contains "a client's CRC32 is kept on the remote as metadata" "tollgate-checksum-crc32" \
    "$(remote_aws s3api head-object --bucket gwb --key ck.txt --output json 2>/dev/null)"
check_eq "... and comes back through the gateway, not as user metadata" "$(/usr/bin/python3 -c 'import zlib,base64,sys; print(base64.b64encode(zlib.crc32(open(sys.argv[1],"rb").read()).to_bytes(4,"big")).decode())' "$T/h.txt") {}" \
    "$(awss3 s3api head-object --bucket gwb --key ck.txt --checksum-mode ENABLED --output json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("ChecksumCRC32"), d.get("Metadata"))')"
out=$(awss3 s3 rb s3://gwb 2>&1)
check_contains "DeleteBucket of a bucket with objects: BucketNotEmpty" "BucketNotEmpty" "$out"
awss3 s3 rm --recursive s3://gwb >/dev/null 2>&1
awss3 s3 rb s3://gwb >/dev/null 2>&1
check_eq "DeleteBucket once empty" 0 "$?"
check "... gone from the remote" bash -c "! remote_aws s3api head-bucket --bucket gwb 2>/dev/null"
out=$(awss3 s3 ls s3://gwb 2>&1)
check_contains "... and through the gateway: NoSuchBucket" "NoSuchBucket" "$out"

# ---- the lifecycle pass aborts old multipart uploads on the remote ----
printf '\n[lifecycle uploads]\nprefix = uploads/\nabort_multipart_after = 1\n' >>"$CONF"
remote_aws s3api create-multipart-upload --bucket tollgate --key uploads/stale.bin >/dev/null 2>&1
check_eq "an upload begun on the remote" 1 "$(remote_aws s3api list-multipart-uploads --bucket tollgate --output json | /usr/bin/python3 -c 'import json,sys; t=sys.stdin.read(); print(len(json.loads(t).get("Uploads", [])) if t.strip() else 0)')"
TOLLGATE_NOW=$(date -u -d '+3 hours' +%Y-%m-%dT%H:%M:%SZ) "$TG" lifecycle apply --json --config "$CONF" >"$T/lc.json" 2>"$T/lc.err"
check_eq "a pass 3 hours later keeps it" 0 "$(pyj "$T/lc.json" 'd["aborted_uploads"]')"
TOLLGATE_NOW=$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:%SZ) "$TG" lifecycle apply --json --config "$CONF" >"$T/lc.json" 2>"$T/lc.err"
check_eq "a pass 2 days later aborts it (abort_multipart_after = 1)" 1 "$(pyj "$T/lc.json" 'd["aborted_uploads"]')"
check_eq "... gone from the remote" 0 "$(remote_aws s3api list-multipart-uploads --bucket tollgate --output json | /usr/bin/python3 -c 'import json,sys; t=sys.stdin.read(); print(len(json.loads(t).get("Uploads", [])) if t.strip() else 0)')"

# ---- the remote stopped, then back ----
before=$(curl -s "$URL/api/downloads/tier1?t=$TOK1" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(sorted(x["date"] for x in d["daily"]))')
kill "$REMOTE_PID"
for _ in $(seq 1 50); do kill -0 "$REMOTE_PID" 2>/dev/null || break; sleep 0.1; done
curl -s -D "$T/h503" -o "$T/p503.html" "$URL/downloads/tier1?t=$TOK1"
check_contains "remote down: the portal answers 503" "HTTP/1.1 503" "$(head -1 "$T/h503")"
check_contains "... with a clear page" "The file store cannot be reached right now" "$(cat "$T/p503.html")"
check_contains "... and Retry-After" "Retry-After: 30" "$(cat "$T/h503")"
check_eq "... the JSON API too" 503 "$(code "$URL/api/downloads/tier1?t=$TOK1")"
check_eq "... a proxied download too" 503 "$(code "$ub")"
printf 'a,b\n7,8\n' >"$T/d4.csv"
out=$("$TG" publish --config "$CONF" tier1 "$T/d4.csv" --date 2026-11-04 2>&1); rc=$?
check "a publish while the remote is down fails" test "$rc" -ne 0
check_contains "... naming the remote endpoint" "$REMOTE_URL" "$out"
check "... and the remote's secret appears nowhere" bash -c "! grep -qF -- '$REMOTE_SECRET' '$T/server.log' && ! grep -qF -- '$REMOTE_SECRET' <<<\"\$1\"" _ "$out"
tg_remote_serve || { not_ok "remote restarted"; finish; }
check_eq "remote back: the portal answers 200 again, no restart of the gateway" 200 "$(code "$URL/downloads/tier1?t=$TOK1")"
after=$(curl -s "$URL/api/downloads/tier1?t=$TOK1" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(sorted(x["date"] for x in d["daily"]))')
check_eq "nothing half-published: the same days as before the failure" "$before" "$after"
"$TG" publish --config "$CONF" tier1 "$T/d4.csv" --date 2026-11-04 >/dev/null 2>>"$T/pub.err"
check_eq "the publish, run again, succeeds" 0 "$?"
curl -s "$URL/api/downloads/tier1?t=$TOK1" >"$T/api1.json"
check_contains "... and the portal lists the new day" "2026-11-04" "$(pyj "$T/api1.json" '[x["date"] for x in d["daily"]]')"
check_eq "... every listed link downloads (its first byte: 206)" "206 206 206 206 206" \
    "$(for u in $(pyj "$T/api1.json" '" ".join(x["url"] for x in d["daily"])'); do code -r 0-0 "$u"; echo; done | xargs)"
curl -s -o "$T/mtd2.csv" "$(pyj "$T/api1.json" 'd["mtd"]["url"]')"
check_eq "... the MTD has every day once" "$(printf 'a,b\n1,2\n3,4\n5,6\n7,8\n')" "$(grep -v '^$' "$T/mtd2.csv" | head -5)"
tg_stop
check "the remote's secret never reached the gateway's log" bash -c "! grep -qF -- '$REMOTE_SECRET' '$T/server.log'"
finish
