#!/bin/bash
# t105-auth-errors.sh -- authentication failures answer S3's exact status and error Code
# (in the XML body): bad signature, unknown key, expired and not-yet-valid presigned URLs,
# X-Amz-Expires over 7 days, a clock skewed by more than 15 minutes (client side, and
# server side with TOLLGATE_NOW), anonymous requests, wrong region, and a key deleted
# with `tollgate key delete` while the server runs. Time is moved with TOLLGATE_NOW or
# by signing with a shifted clock: nothing sleeps.
. "$(dirname "$0")/lib.sh"

tg_start || { not_ok "server starts"; finish; }
S3REQ=(/usr/bin/python3 "$ROOT/tests/integration/s3req.py")
B=authbkt
SIGV4=(--aws-sigv4 "aws:amz:us-east-1:s3")
# curl 7.88's --aws-sigv4 cannot hash an upload (-T): it signs the empty payload's hash
# unless given x-amz-content-sha256, whose value it then signs.
sha_hdr() { echo "x-amz-content-sha256: $(sha256sum "$1" | cut -d' ' -f1)"; }

# code_of FILE: the <Code> of an S3 error body.
code_of() { sed -n 's:.*<Code>\([^<]*\)</Code>.*:\1:p' "$1" | head -1; }
msg_of() { sed -n 's:.*<Message>\([^<]*\)</Message>.*:\1:p' "$1" | head -1; }
# ccurl ARGS...: curl, bounded; prints "STATUS CODE" (CODE empty for a success).
ccurl() {
    local st
    st=$(curl -s --max-time 20 -o "$T/body" -w '%{http_code}' "$@")
    echo "$st $(code_of "$T/body")" | sed 's/ $//'
}
# pyreq ARGS...: s3req.py; prints "STATUS CODE".
pyreq() {
    "${S3REQ[@]}" "$@" >"$T/pyout" 2>"$T/pyerr" || { echo "s3req failed: $(tail -1 "$T/pyerr")"; return; }
    tail -n +2 "$T/pyout" >"$T/body"
    echo "$(head -1 "$T/pyout") $(code_of "$T/body")" | sed 's/ $//'
}
iso() { /usr/bin/python3 -c "import datetime,sys; print((datetime.datetime.now(datetime.timezone.utc)+datetime.timedelta(seconds=int(sys.argv[1]))).strftime('%Y-%m-%dT%H:%M:%SZ'))" "$1"; }

# ---- fixtures and the control case ------------------------------------------------------------
check_eq "signed PUT bucket (curl --aws-sigv4)" 200 "$(ccurl "${SIGV4[@]}" --user "$AKID:$SECRET" -X PUT "$URL/$B")"
echo "the object" >"$T/obj"
check_eq "signed PUT object (curl --aws-sigv4)" 200 \
    "$(ccurl "${SIGV4[@]}" --user "$AKID:$SECRET" -H "$(sha_hdr "$T/obj")" -T "$T/obj" "$URL/$B/obj.txt")"
check_eq "signed GET object (curl --aws-sigv4)" 200 "$(ccurl "${SIGV4[@]}" --user "$AKID:$SECRET" "$URL/$B/obj.txt")"
check_eq "signed GET via s3req.py" 200 "$(pyreq GET "$URL/$B/obj.txt")"

# ---- bad signature / unknown key ----------------------------------------------------------------
check_eq "wrong secret: 403 SignatureDoesNotMatch" "403 SignatureDoesNotMatch" \
    "$(ccurl "${SIGV4[@]}" --user "$AKID:wrong$SECRET" "$URL/$B/obj.txt")"
check_eq "wrong secret on a PUT: 403 SignatureDoesNotMatch, nothing stored" "403 SignatureDoesNotMatch" \
    "$(ccurl "${SIGV4[@]}" --user "$AKID:wrong$SECRET" -H "$(sha_hdr "$T/obj")" -T "$T/obj" "$URL/$B/evil.txt")"
check_eq "  ...and the key does not exist" "404 NoSuchKey" "$(pyreq GET "$URL/$B/evil.txt")"
url=$("${S3REQ[@]}" presign GET "$URL/$B/obj.txt")
check_eq "presigned URL used for another key: 403 SignatureDoesNotMatch" "403 SignatureDoesNotMatch" \
    "$(ccurl "${url/obj.txt/other.txt}")"
check_eq "unknown access key: 403 InvalidAccessKeyId" "403 InvalidAccessKeyId" \
    "$(ccurl "${SIGV4[@]}" --user "AKIANOSUCHKEY0000000:$SECRET" "$URL/$B/obj.txt")"
check_eq "payload hash not matching the body: 400 XAmzContentSHA256Mismatch" "400 XAmzContentSHA256Mismatch" \
    "$(pyreq PUT "$URL/$B/sha.txt" --data "abc" --payload-hash "$(printf 'abd' | sha256sum | cut -d' ' -f1)")"
check_eq "  ...and nothing stored" "404 NoSuchKey" "$(pyreq GET "$URL/$B/sha.txt")"
check_eq "credential scope for another region: 400 AuthorizationHeaderMalformed" \
    "400 AuthorizationHeaderMalformed" \
    "$(ccurl --aws-sigv4 "aws:amz:eu-west-1:s3" --user "$AKID:$SECRET" "$URL/$B/obj.txt")"

# ---- anonymous ----------------------------------------------------------------------------------
check_eq "anonymous GET object: 403 AccessDenied" "403 AccessDenied" "$(ccurl "$URL/$B/obj.txt")"
check_eq "anonymous list buckets: 403 AccessDenied" "403 AccessDenied" "$(ccurl "$URL/")"
check_eq "anonymous PUT: 403 AccessDenied, nothing stored" "403 AccessDenied" \
    "$(ccurl -T "$T/obj" "$URL/$B/anon.txt")"
check_eq "  ...and the key does not exist" "404 NoSuchKey" "$(pyreq GET "$URL/$B/anon.txt")"

# ---- presigned URLs -----------------------------------------------------------------------------
url=$("$TG" presign --config "$CONF" "$B/obj.txt" --expires 60 2>"$T/err")
check_eq "tollgate presign URL, now: 200" 200 "$(ccurl "$url")"
check "  ...body is the object" cmp "$T/obj" "$T/body"
url=$(TOLLGATE_NOW=$(iso -7200) "$TG" presign --config "$CONF" "$B/obj.txt" --expires 60 2>"$T/err")
check_eq "presigned 2 h ago for 60 s: 403 AccessDenied" "403 AccessDenied" "$(ccurl "$url")"
check_eq "  ...message 'Request has expired'" "Request has expired" "$(msg_of "$T/body")"
url=$(TOLLGATE_NOW=$(iso -7200) "$TG" presign --config "$CONF" "$B/obj.txt" --expires 604800 2>"$T/err")
check_eq "presigned 2 h ago for 7 days: 200" 200 "$(ccurl "$url")"
url=$(TOLLGATE_NOW=$(iso 3600) "$TG" presign --config "$CONF" "$B/obj.txt" --expires 600 2>"$T/err")
check_eq "presigned 1 h in the future: 403 AccessDenied" "403 AccessDenied" "$(ccurl "$url")"
check_contains "  ...message says not valid yet" "not valid yet" "$(msg_of "$T/body")"
url=$("${S3REQ[@]}" presign --expires 604801 GET "$URL/$B/obj.txt")
check_eq "X-Amz-Expires=604801: 400 AuthorizationQueryParametersError" "400 AuthorizationQueryParametersError" \
    "$(ccurl "$url")"
url=$("${S3REQ[@]}" presign --expires 604800 GET "$URL/$B/obj.txt")
check_eq "X-Amz-Expires=604800: 200" 200 "$(ccurl "$url")"
url=$("${S3REQ[@]}" presign --expires 300 GET "$URL/$B/obj.txt")
check_eq "presigned with a missing X-Amz-Expires: 400 AuthorizationQueryParametersError" \
    "400 AuthorizationQueryParametersError" "$(ccurl "$(echo "$url" | sed 's/&X-Amz-Expires=300//')")"
check_eq "presigned URL used with another method (PUT): 403 SignatureDoesNotMatch" "403 SignatureDoesNotMatch" \
    "$(ccurl -T "$T/obj" "$url")"
url=$("${S3REQ[@]}" presign --secret "x$SECRET" GET "$URL/$B/obj.txt")
check_eq "presigned with a wrong secret: 403 SignatureDoesNotMatch" "403 SignatureDoesNotMatch" "$(ccurl "$url")"

# ---- clock skew (client side) -------------------------------------------------------------------
check_eq "signed 10 min ahead (within 15 min): 200" 200 "$(pyreq --shift 600 GET "$URL/$B/obj.txt")"
check_eq "signed 1 h ahead: 403 RequestTimeTooSkewed" "403 RequestTimeTooSkewed" \
    "$(pyreq --shift 3600 GET "$URL/$B/obj.txt")"
check_eq "signed 1 h behind: 403 RequestTimeTooSkewed" "403 RequestTimeTooSkewed" \
    "$(pyreq --shift -3600 GET "$URL/$B/obj.txt")"
check_eq "signed 16 min behind, PUT: 403 RequestTimeTooSkewed" "403 RequestTimeTooSkewed" \
    "$(pyreq --shift -960 PUT "$URL/$B/skew.txt" --data "x")"

# ---- a key deleted while the server runs --------------------------------------------------------
"$TG" key create --config "$CONF" --label t105 --json >"$T/key.json" 2>"$T/err"
K2=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_key_id"])' "$T/key.json" 2>/dev/null)
S2=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret_access_key"])' "$T/key.json" 2>/dev/null)
check_eq "a key created while the server runs works at once" 200 \
    "$(ccurl "${SIGV4[@]}" --user "$K2:$S2" "$URL/$B/obj.txt")"
url2=$("$TG" presign --config "$CONF" "$B/obj.txt" --key "$K2" 2>"$T/err")
check_eq "  ...and its presigned URL" 200 "$(ccurl "$url2")"
check "tollgate key delete" "$TG" key delete --config "$CONF" "$K2"
check_eq "deleted key: next request 403 InvalidAccessKeyId" "403 InvalidAccessKeyId" \
    "$(ccurl "${SIGV4[@]}" --user "$K2:$S2" "$URL/$B/obj.txt")"
check_eq "deleted key: its presigned URL 403 InvalidAccessKeyId" "403 InvalidAccessKeyId" "$(ccurl "$url2")"
check_eq "the first key still works" 200 "$(ccurl "${SIGV4[@]}" --user "$AKID:$SECRET" "$URL/$B/obj.txt")"

# ---- clock skew (server side): the server's clock one hour ahead ------------------------------
url=$("$TG" presign --config "$CONF" "$B/obj.txt" --expires 600 2>"$T/err")
url7=$("$TG" presign --config "$CONF" "$B/obj.txt" --expires 604800 2>"$T/err")
tg_stop
TOLLGATE_NOW=$(iso 3600) tg_serve || { not_ok "server restarts with TOLLGATE_NOW"; finish; }
check_eq "server 1 h ahead: a request signed now is 403 RequestTimeTooSkewed" "403 RequestTimeTooSkewed" \
    "$(ccurl "${SIGV4[@]}" --user "$AKID:$SECRET" "$URL/$B/obj.txt")"
check_eq "server 1 h ahead: signed 1 h ahead too: 200" 200 "$(pyreq --shift 3600 GET "$URL/$B/obj.txt")"
check_eq "server 1 h ahead: a 10 min presigned URL made now has expired" "403 AccessDenied" "$(ccurl "$url")"
check_eq "  ...message 'Request has expired'" "Request has expired" "$(msg_of "$T/body")"
check_eq "server 1 h ahead: a 7 day presigned URL still works" 200 "$(ccurl "$url7")"

finish
