#!/bin/bash
# t310-lifecycle.sh -- retention that never breaks a link, with TOLLGATE_NOW (no sleeping):
# seven days published, links minted through the portal API for the two oldest; keep_daily
# lowered to 5: `lifecycle plan` names them with the reason and changes nothing; `apply`
# retires them (gone from the portal API and _index at once) while their links still
# download 200 until they expire; past the link horizon `apply` deletes them (404) and
# GC removes their blobs. A [lifecycle] rule expiring scratch/ after 3 days (retire, then
# delete), abort_multipart_after aborting only the old upload, the S3 lifecycle
# configuration round trip through awscli (put/get/delete, unsupported and malformed
# configurations refused), and the last run recorded.
source "$(dirname "$0")/lib.sh"

out=$("$TG" lifecycle --help 2>&1); rc=$?
check_eq "'tollgate lifecycle --help' exits 0" 0 "$rc"
check_contains "'tollgate lifecycle --help' shows usage" "usage: tollgate lifecycle plan|apply" "$out"

export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
tg_init "$T/data"
cat >>"$CONF" <<'EOF'

[grant tier2]
title = Tier 2
prefix = tier2/
link_ttl = 2d

[lifecycle scratch]
prefix = scratch/
expire_after = 3

[lifecycle uploads]
prefix = uploads/
abort_multipart_after = 1
EOF

pyj() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
G="$T/gen"
mkdir -p "$G"
for d in 1 2 3 4 5 6 7; do
    "$TG" parquet gen -o "$G/d$d.parquet" --rows $((20 + d)) --date "2026-03-0$d" --seed "$d" 2>/dev/null ||
        { not_ok "parquet gen day $d"; finish; }
    TOLLGATE_NOW="2026-03-0$((d + 1))T06:00:00Z" "$TG" publish --config "$CONF" tier2 "$G/d$d.parquet" \
        --date "2026-03-0$d" >/dev/null 2>"$T/pub.err" || { not_ok "publish day $d"; cat "$T/pub.err"; finish; }
done
ok "published 2026-03-01 .. 2026-03-07"

lc() { # lc NOW ARGS... -> stdout in $T/lc.out, status returned
    TOLLGATE_NOW=$1 "$TG" lifecycle --config "$CONF" "${@:2}" >"$T/lc.out" 2>"$T/lc.err"
    local rc=$?; [ $rc -eq 0 ] || sed "s/^/#   /" "$T/lc.err" | tail -3; return $rc
}
serve_at() { export TOLLGATE_NOW=$1; tg_serve; local rc=$?; unset TOLLGATE_NOW; return $rc; }
TOK=
api() { # api NOW -> $T/api.json
    TOLLGATE_NOW=$1 "$TG" links tier2 --config "$CONF" --format json >"$T/links.json" 2>/dev/null
    TOK=$(pyj "$T/links.json" 'd[0]["current"]["token"]')
    curl -s -o "$T/api.json" "$URL/api/downloads/tier2?t=$TOK"
}
code() { curl -s -o "$T/body" -w '%{http_code}' "$1"; }
presign() { # presign NOW KEY
    TOLLGATE_NOW=$1 "$TG" presign --config "$CONF" "tollgate/$2" 2>/dev/null
}

# ---- links for the two oldest days ----
serve_at 2026-03-08T12:00:00Z || { not_ok "server starts"; finish; }
api 2026-03-08T12:00:00Z
check_eq "API lists 7 dailies" "2026-03-07 2026-03-06 2026-03-05 2026-03-04 2026-03-03 2026-03-02 2026-03-01" \
    "$(pyj "$T/api.json" '" ".join(f["date"] for f in d["daily"])')"
L1=$(pyj "$T/api.json" '[f["url"] for f in d["daily"] if f["date"] == "2026-03-01"][0]')
L2=$(pyj "$T/api.json" '[f["url"] for f in d["daily"] if f["date"] == "2026-03-02"][0]')
# the server's clock starts at TOLLGATE_NOW and runs on: the link's expiry is 2 days after
# the instant it was minted (a second or so after 12:00:00)
E1=$(pyj "$T/api.json" '[f["expires_at"] for f in d["daily"] if f["date"] == "2026-03-01"][0]')
check_contains "link to 2026-03-01 expires with link_ttl (2d)" "2026-03-10T12:00:" "$E1"
check_eq "link to 2026-03-01 downloads before retention" 200 "$(code "$L1")"
check_eq "downloaded bytes = the published file" "$(sha256sum <"$G/d1.parquet")" "$(sha256sum <"$T/body")"
tg_stop

# ---- plan: keep_daily lowered to 5 ----
sed -i 's/^link_ttl = 2d$/link_ttl = 2d\nkeep_daily = 5/' "$CONF"
lc 2026-03-08T13:00:00Z plan
check_eq "plan exits 0" 0 "$?"
check_contains "plan: retire day 1 with its reason" \
    "retire       tier2/daily/2026-03-01/tier2_2026-03-01.parquet : older than keep_daily=5" "$(cat "$T/lc.out")"
check_contains "plan: the manifest goes with it" "retire       tier2/daily/2026-03-01/manifest.json" "$(cat "$T/lc.out")"
check_contains "plan: day 2 too" "tier2/daily/2026-03-02/tier2_2026-03-02.parquet : older than keep_daily=5" "$(cat "$T/lc.out")"
check_eq "plan: nothing else" "plan: 4 to retire, 0 to delete, 0 waiting for their links to expire, 0 uploads to abort" \
    "$(tail -1 "$T/lc.out")"
lc 2026-03-08T13:00:00Z plan --json
check_eq "plan --json: the link horizon (= the link's expiry) on the retire of day 1" "$E1" \
    "$(pyj "$T/lc.out" '[a.get("link_horizon") for a in d["actions"] if a["key"].endswith("2026-03-01.parquet")][0]')"
lc 2026-03-08T13:00:00Z plan
check_contains "plan changed nothing (same plan again)" "plan: 4 to retire" "$(tail -1 "$T/lc.out")"

# ---- apply: retired, hidden, links still work ----
lc 2026-03-08T13:00:00Z apply --json
check_eq "apply exits 0" 0 "$?"
check_eq "apply: retired 4, deleted 0, index of tier2 rewritten" "4 0 ['tier2']" \
    "$(pyj "$T/lc.out" 'str(d["retired"]) + " " + str(d["deleted"]) + " " + str(d["indexes"])')"
serve_at 2026-03-08T13:05:00Z || { not_ok "server restarts"; finish; }
api 2026-03-08T13:05:00Z
check_eq "API: the retired days are gone at once" "2026-03-07 2026-03-06 2026-03-05 2026-03-04 2026-03-03" \
    "$(pyj "$T/api.json" '" ".join(f["date"] for f in d["daily"])')"
check_eq "page: no retired day" 0 "$(curl -s "$URL/downloads/tier2?t=$TOK" | grep -c '2026-03-01')"
curl -s -o "$T/index.json" "$(presign 2026-03-08T13:05:00Z _index/tier2.json)"
check_contains "_index/tier2.json still lists 2026-03-03" "2026-03-03" "$(cat "$T/index.json")"
check_eq "_index/tier2.json no longer lists 2026-03-01 or 02" 0 "$(grep -c '2026-03-0[12]' "$T/index.json")"
check_eq "the link to retired 2026-03-01 still downloads" 200 "$(code "$L1")"
check_eq "... the same bytes" "$(sha256sum <"$G/d1.parquet")" "$(sha256sum <"$T/body")"
check_eq "the link to retired 2026-03-02 still downloads" 200 "$(code "$L2")"
tg_stop

lc 2026-03-10T11:00:00Z plan
check_contains "plan before the horizon: wait, with the link's expiry" \
    "wait         tier2/daily/2026-03-01/tier2_2026-03-01.parquet : retired; a link is valid until $E1" \
    "$(cat "$T/lc.out")"
lc 2026-03-10T11:00:00Z apply --json
check_eq "apply before the horizon deletes nothing (4 waiting)" "0 4" "$(pyj "$T/lc.out" 'str(d["deleted"]) + " " + str(d["waiting"])')"
serve_at 2026-03-10T11:30:00Z || { not_ok "server restarts"; finish; }
check_eq "an hour before it expires the link still downloads" 200 "$(code "$L1")"
tg_stop

# ---- past the horizon: deleted, 404, blobs gone ----
SHA1=$(sha256sum "$G/d1.parquet" | cut -d' ' -f1)
BLOB="$DATA/blobs/${SHA1:0:2}/${SHA1:2:2}/$SHA1"
D1KEY=tier2/daily/2026-03-01/tier2_2026-03-01.parquet
if [ "$TG_STORAGE" = s3 ]; then
    check "the day-1 object is on the remote before deletion" remote_aws s3api head-object --bucket tollgate --key $D1KEY
else
    check "the day-1 blob exists before deletion" test -f "$BLOB"
fi
lc 2026-03-10T13:00:00Z plan
check_contains "plan past the horizon: delete" \
    "delete       tier2/daily/2026-03-01/tier2_2026-03-01.parquet : retired; its last link expired at $E1" \
    "$(cat "$T/lc.out")"
lc 2026-03-10T13:00:00Z apply --json
check_eq "apply past the horizon: 4 deleted" 4 "$(pyj "$T/lc.out" 'd["deleted"]')"
if [ "$TG_STORAGE" = s3 ]; then
    check "the day-1 object is gone from the remote" bash -c "! remote_aws s3api head-object --bucket tollgate --key $D1KEY"
else
    check "GC removed blobs" test "$(pyj "$T/lc.out" 'd["blobs_removed"]')" -ge 2
    check "the day-1 blob is gone" test ! -e "$BLOB"
fi
lc 2026-03-10T13:00:00Z status --json
check_eq "status: the last run is recorded" "2026-03-10T13:00:00Z 4" \
    "$(pyj "$T/lc.out" 'd["last_run"]["ran_at"] + " " + str(d["last_run"]["deleted"])')"

serve_at 2026-03-10T13:05:00Z || { not_ok "server restarts"; finish; }
check_eq "the deleted day: 404 now" 404 "$(code "$(presign 2026-03-10T13:05:00Z tier2/daily/2026-03-01/tier2_2026-03-01.parquet)")"
check_eq "its manifest too" 404 "$(code "$(presign 2026-03-10T13:05:00Z tier2/daily/2026-03-01/manifest.json)")"
check_eq "a kept day still downloads" 200 "$(code "$(presign 2026-03-10T13:05:00Z tier2/daily/2026-03-03/tier2_2026-03-03.parquet)")"

echo scratch >"$T/s.txt"
if [ "$TG_STORAGE" = s3 ]; then
    # A gateway's objects and uploads are dated by the remote (its Last-Modified and
    # Initiated: the real clock, not TOLLGATE_NOW), so this section, which moves the
    # clock by days, is the local store's (docs/scaling.md, "What a gateway does not do").
    echo "# TG_STORAGE=s3: the [lifecycle] expire_after / abort_multipart_after section dated by TOLLGATE_NOW is local-store only"
    tg_stop
else
# ---- [lifecycle scratch]: expire_after = 3 days; uploads: abort after 1 day ----
# awscli signs with the real clock; awsat signs at a given instant (the server's
# TOLLGATE_NOW) by pinning the clock of awscli's own botocore.
cat >"$T/awsat.py" <<'EOF2'
import sys, datetime
import awscli.clidriver
import botocore.auth as bauth
fixed = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ")
class FixedDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return fixed
class Shim:
    pass
Shim.datetime, Shim.timedelta, Shim.timezone = FixedDatetime, datetime.timedelta, datetime.timezone
bauth.datetime = Shim
sys.argv = ["aws"] + sys.argv[2:]
sys.exit(awscli.clidriver.main())
EOF2
awsat() { local at=$1; shift; /usr/bin/python3 "$T/awsat.py" "$at" --endpoint-url "$URL" "$@"; }
nuploads() { awsat "$1" s3api list-multipart-uploads --bucket tollgate --output json |
    /usr/bin/python3 -c 'import json,sys; print(" ".join(u["Key"] for u in json.load(sys.stdin).get("Uploads", [])))'; }

S1=2026-03-10T13:05:00Z
check "put scratch/a.txt" awsat $S1 s3 cp --quiet "$T/s.txt" s3://tollgate/scratch/a.txt
check "put keep/b.txt (no rule)" awsat $S1 s3 cp --quiet "$T/s.txt" s3://tollgate/keep/b.txt
check "an upload begun at 2026-03-10T13:05" awsat $S1 s3api create-multipart-upload --bucket tollgate --key uploads/old.bin
tg_stop
serve_at 2026-03-11T12:00:00Z || { not_ok "server restarts"; finish; }
check "an upload begun at 2026-03-11T12:00" awsat 2026-03-11T12:00:00Z s3api create-multipart-upload --bucket tollgate --key uploads/new.bin
check_eq "the server's own pass at 2026-03-11T12:00 kept the 23-hour-old upload" "uploads/new.bin uploads/old.bin" \
    "$(nuploads 2026-03-11T12:00:00Z)"
tg_stop

lc 2026-03-12T00:00:00Z plan
check_contains "plan: the 35-hour-old upload is aborted" \
    "abort-upload uploads/old.bin : upload" "$(cat "$T/lc.out")"
check_contains "... with the rule" "older than abort_multipart_after=1d (rule uploads)" "$(cat "$T/lc.out")"
check_eq "plan: not the 12-hour-old one" 0 "$(grep -c 'uploads/new.bin' "$T/lc.out")"
check_eq "plan: scratch/a.txt not yet expired (1.5 days)" 0 "$(grep -c 'scratch/a.txt' "$T/lc.out")"
lc 2026-03-12T00:00:00Z apply --json
check_eq "apply: 1 upload aborted" 1 "$(pyj "$T/lc.out" 'd["aborted_uploads"]')"
serve_at 2026-03-12T00:05:00Z || { not_ok "server restarts"; finish; }
check_eq "only the new upload is left" "uploads/new.bin" "$(nuploads 2026-03-12T00:05:00Z)"
tg_stop

lc 2026-03-13T13:04:00Z plan
check_eq "plan a minute before 3 days: scratch/a.txt kept" 0 "$(grep -c 'scratch/a.txt' "$T/lc.out")"
lc 2026-03-13T13:06:00Z plan
check_contains "plan after 3 days: scratch/a.txt retired by the rule" \
    "retire       scratch/a.txt : older than expire_after=3d (rule scratch)" "$(cat "$T/lc.out")"
check_eq "plan: keep/b.txt untouched" 0 "$(grep -c 'keep/b.txt' "$T/lc.out")"
lc 2026-03-13T13:06:00Z apply
check_eq "apply retires scratch/a.txt" 0 "$?"
lc 2026-03-13T13:07:00Z apply --json
check_eq "the next pass deletes it (no link was handed out)" 1 "$(pyj "$T/lc.out" 'd["deleted"]')"

S2=2026-03-13T13:10:00Z
serve_at $S2 || { not_ok "server restarts"; finish; }
awsat $S2 s3api head-object --bucket tollgate --key scratch/a.txt >/dev/null 2>&1
check_eq "scratch/a.txt is gone" 254 "$?"
check "keep/b.txt is kept" awsat $S2 s3api head-object --bucket tollgate --key keep/b.txt
tg_stop
fi

# ---- S3 lifecycle configuration (the real clock: plain awscli and curl --aws-sigv4) ----
tg_serve || { not_ok "server restarts"; finish; }
check "create bucket scratchb" awss3 s3api create-bucket --bucket scratchb
awss3 s3api get-bucket-lifecycle-configuration --bucket scratchb >"$T/g.out" 2>&1
check_contains "no configuration yet: NoSuchLifecycleConfiguration" "NoSuchLifecycleConfiguration" "$(cat "$T/g.out")"
cat >"$T/lc.json" <<'EOF'
{"Rules": [
  {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 2}},
  {"ID": "mpu", "Status": "Disabled", "Filter": {"Prefix": ""}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}
]}
EOF
check "put-bucket-lifecycle-configuration" awss3 s3api put-bucket-lifecycle-configuration --bucket scratchb \
    --lifecycle-configuration "file://$T/lc.json"
awss3 s3api get-bucket-lifecycle-configuration --bucket scratchb --output json >"$T/g.json"
check_eq "get returns the rules" "tmp:Enabled:tmp/:2 mpu:Disabled::7" \
    "$(pyj "$T/g.json" '" ".join(r["ID"] + ":" + r["Status"] + ":" + r["Filter"]["Prefix"] + ":" + str(r.get("Expiration", {}).get("Days", r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation"))) for r in d["Rules"])')"
cat >"$T/bad.json" <<'EOF'
{"Rules": [{"ID": "t", "Status": "Enabled", "Filter": {"Prefix": "x/"},
  "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}]}
EOF
awss3 s3api put-bucket-lifecycle-configuration --bucket scratchb --lifecycle-configuration "file://$T/bad.json" >"$T/b.out" 2>&1
check_contains "a Transition: NotImplemented" "NotImplemented" "$(cat "$T/b.out")"
cat >"$T/bad2.json" <<'EOF'
{"Rules": [{"ID": "t", "Status": "Enabled", "Filter": {"Prefix": "x/"}, "Expiration": {"Date": "2027-01-01T00:00:00Z"}}]}
EOF
awss3 s3api put-bucket-lifecycle-configuration --bucket scratchb --lifecycle-configuration "file://$T/bad2.json" >"$T/b.out" 2>&1
check_contains "Expiration/Date: NotImplemented" "NotImplemented" "$(cat "$T/b.out")"
cat >"$T/s3put.py" <<'EOF2'
import base64, hashlib, os, sys, urllib.error, urllib.request
import awscli.clidriver  # makes awscli's botocore importable as botocore
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, body, out = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
req = AWSRequest(method="PUT", url=url, data=body,
                 headers={"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()})
creds = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
p = req.prepare()
try:
    resp = urllib.request.urlopen(urllib.request.Request(p.url, data=body, method="PUT", headers=dict(p.headers)))
    code, data = resp.status, resp.read()
except urllib.error.HTTPError as e:
    code, data = e.code, e.read()
open(out, "wb").write(data)
print(code)
EOF2
s3put() { # s3put BODY -> HTTP code, body in $T/body
    /usr/bin/python3 "$T/s3put.py" "$URL/scratchb?lifecycle" "$1" "$T/body"
}
check_eq "malformed XML: 400" 400 "$(s3put '<LifecycleConfiguration><Rule><ID>x</ID>')"
check_contains "... MalformedXML" "<Code>MalformedXML</Code>" "$(cat "$T/body")"
check_eq "Status other than Enabled|Disabled: 400" 400 \
    "$(s3put '<LifecycleConfiguration><Rule><Status>On</Status><Filter><Prefix/></Filter><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>')"
check_eq "Days 0: 400 InvalidArgument" "400 InvalidArgument" \
    "$(s3put '<LifecycleConfiguration><Rule><Status>Enabled</Status><Filter><Prefix/></Filter><Expiration><Days>0</Days></Expiration></Rule></LifecycleConfiguration>') $(sed -n 's:.*<Code>\(.*\)</Code>.*:\1:p' "$T/body")"
check_eq "a rule without an action: 400 InvalidRequest" "400 InvalidRequest" \
    "$(s3put '<LifecycleConfiguration><Rule><Status>Enabled</Status><Filter><Prefix>a/</Prefix></Filter></Rule></LifecycleConfiguration>') $(sed -n 's:.*<Code>\(.*\)</Code>.*:\1:p' "$T/body")"
check_eq "legacy top-level Prefix accepted" 200 \
    "$(s3put '<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ID>legacy</ID><Prefix>tmp/</Prefix><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule></LifecycleConfiguration>')"
check_eq "a refused configuration left the stored one alone" "legacy" \
    "$(awss3 s3api get-bucket-lifecycle-configuration --bucket scratchb --output json | /usr/bin/python3 -c 'import json,sys; print(" ".join(r["ID"] for r in json.load(sys.stdin)["Rules"]))')"
check "put scratchb/tmp/x and scratchb/other/y" sh -c "/usr/bin/aws --endpoint-url $URL s3 cp --quiet $T/s.txt s3://scratchb/tmp/x && /usr/bin/aws --endpoint-url $URL s3 cp --quiet $T/s.txt s3://scratchb/other/y"
tg_stop
lc "$(date -u -d '+2 days 1 minute' +%Y-%m-%dT%H:%M:%SZ)" plan
check_contains "plan: the S3 rule expires scratchb/tmp/x" "retire       s3://scratchb/tmp/x : older than expire_after=2d (S3 rule legacy)" "$(cat "$T/lc.out")"
check_eq "plan: not scratchb/other/y" 0 "$(grep -c 'other/y' "$T/lc.out")"
tg_serve || { not_ok "server restarts"; finish; }
check "delete-bucket-lifecycle" awss3 s3api delete-bucket-lifecycle --bucket scratchb
awss3 s3api get-bucket-lifecycle-configuration --bucket scratchb >"$T/g.out" 2>&1
check_contains "after delete: NoSuchLifecycleConfiguration" "NoSuchLifecycleConfiguration" "$(cat "$T/g.out")"
tg_stop
lc "$(date -u -d '+3 days' +%Y-%m-%dT%H:%M:%SZ)" plan
check_eq "without the configuration nothing in scratchb is planned" 0 "$(grep -c 'scratchb' "$T/lc.out")"

# ---- configuration refusals ----
cp "$CONF" "$DATA/bad.conf"
printf '\n[lifecycle nothing]\nprefix = x/\n' >>"$DATA/bad.conf"
TOLLGATE_NOW=2026-03-15T14:10:00Z "$TG" lifecycle plan --config "$DATA/bad.conf" >/dev/null 2>"$T/e.txt"
check_eq "a rule without an action is refused" 1 "$?"
check_contains "... naming the section" "[lifecycle nothing]: a rule needs expire_after, keep_newest or abort_multipart_after" "$(cat "$T/e.txt")"
cp "$CONF" "$DATA/bad.conf"
sed -i 's/^keep_daily = 5$/keep_daily = 5\nkeep_yearly = some/' "$DATA/bad.conf"
TOLLGATE_NOW=2026-03-15T14:10:00Z "$TG" lifecycle plan --config "$DATA/bad.conf" >/dev/null 2>"$T/e.txt"
check_contains "keep_yearly = some is refused with file:line" "keep_yearly = some: expected 'all' or a number of years" "$(cat "$T/e.txt")"
check "no temp files left by publish or lifecycle" test -z "$(ls -A "$TMPDIR")"
finish
