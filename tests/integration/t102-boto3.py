#!/usr/bin/python3
# t102-boto3.py -- Debian's boto3 (1.26.x, botocore 1.29.x) against a running tollgate,
# run by t102-boto3.sh, which starts the server and passes TG_URL, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY and TG_TMP. Prints one "ok - ..." / "not ok - ..." line per
# assertion. Covers: put/get/head with metadata, ListObjectsV2 with delimiter and
# pagination, encoding-type=url with odd keys, ranged and conditional GETs,
# DeleteObjects (Content-MD5), a 3-part multipart upload with ListParts and
# ListMultipartUploads, abort, managed transfers, and presigned GET/PUT URLs (SigV2,
# boto3's default in us-east-1, and SigV4) used with curl.
import datetime
import hashlib
import io
import os
import subprocess
import sys
import time
import traceback

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

URL = os.environ["TG_URL"]
TMP = os.environ["TG_TMP"]
MiB = 1 << 20
fails = 0


def ok(cond, desc, detail=""):
    global fails
    if cond:
        print("ok - " + desc)
    else:
        fails += 1
        print("not ok - " + desc)
        if detail:
            for line in str(detail).splitlines()[:20]:
                print("#   " + line)
    sys.stdout.flush()
    return cond


def eq(desc, want, got):
    return ok(want == got, desc, "expected: %r\nactual:   %r" % (want, got))


def err_of(fn, *a, **kw):
    """Calls fn and returns (HTTP status, S3 error code) of the ClientError it raises,
    or (None, None) when it does not raise."""
    try:
        fn(*a, **kw)
    except ClientError as e:
        return (e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
                e.response.get("Error", {}).get("Code"))
    return (None, None)


def client(**cfg):
    return boto3.client("s3", endpoint_url=URL, region_name="us-east-1",
                        config=Config(retries={"max_attempts": 1}, **cfg))


def curl(*args):
    """curl with a bounded time; returns (status, body bytes)."""
    out = os.path.join(TMP, "curl.out")
    p = subprocess.run(["curl", "-s", "--max-time", "20", "-o", out, "-w", "%{http_code}"]
                       + list(args), capture_output=True)
    body = open(out, "rb").read() if os.path.exists(out) else b""
    if os.path.exists(out):
        os.unlink(out)
    return (int(p.stdout or 0), body)


def md5hex(b):
    return hashlib.md5(b).hexdigest()


def section(fn):
    """Runs one group of assertions; an unexpected exception is one failure."""
    try:
        fn()
    except Exception:
        ok(False, "%s raised" % fn.__name__, traceback.format_exc())


s3 = client()
B = "botobkt"


def t_bucket():
    s3.create_bucket(Bucket=B)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    ok(B in names, "create_bucket + list_buckets")
    eq("head_bucket of a missing bucket: 404", (404, "404"), err_of(s3.head_bucket, Bucket="nobkt"))


def t_put_get_head():
    body = os.urandom(3000)
    r = s3.put_object(Bucket=B, Key="obj/one.bin", Body=body, Metadata={"Owner": "Ann", "k2": "v 2"},
                      ContentType="application/x-one", ContentDisposition='attachment; filename="one.bin"')
    eq("put_object: ETag is the MD5", '"%s"' % md5hex(body), r["ETag"])
    g = s3.get_object(Bucket=B, Key="obj/one.bin")
    eq("get_object: same bytes", body, g["Body"].read())
    eq("get_object: content type", "application/x-one", g["ContentType"])
    h = s3.head_object(Bucket=B, Key="obj/one.bin")
    eq("head_object: length", 3000, h["ContentLength"])
    eq("head_object: metadata (names lowercased)", {"owner": "Ann", "k2": "v 2"}, h["Metadata"])
    eq("head_object: content disposition", 'attachment; filename="one.bin"', h.get("ContentDisposition"))
    eq("head_object: ETag", '"%s"' % md5hex(body), h["ETag"])
    s3.put_object(Bucket=B, Key="obj/untyped.bin", Body=b"x")
    eq("no Content-Type on PUT: S3's default binary/octet-stream", "binary/octet-stream",
       s3.head_object(Bucket=B, Key="obj/untyped.bin")["ContentType"])
    eq("get_object of a missing key: 404 NoSuchKey", (404, "NoSuchKey"),
       err_of(s3.get_object, Bucket=B, Key="obj/none"))
    eq("get_object in a missing bucket: 404 NoSuchBucket", (404, "NoSuchBucket"),
       err_of(s3.get_object, Bucket="nobkt", Key="x"))
    # Overwrite: readers see the new object.
    s3.put_object(Bucket=B, Key="obj/one.bin", Body=b"second")
    eq("overwrite: new bytes", b"second", s3.get_object(Bucket=B, Key="obj/one.bin")["Body"].read())
    # Empty object.
    s3.put_object(Bucket=B, Key="obj/empty", Body=b"")
    g = s3.get_object(Bucket=B, Key="obj/empty")
    eq("empty object: 0 bytes, ETag of nothing", (b"", '"d41d8cd98f00b204e9800998ecf8427e"'),
       (g["Body"].read(), g["ETag"]))
    # botocore sends Expect: 100-continue on PutObject and waits up to 1 s for the 100:
    # the best of three 200 KB puts must take well under that second.
    blob, best = os.urandom(200 * 1024), 9.0
    for _ in range(3):
        t0 = time.monotonic()
        s3.put_object(Bucket=B, Key="obj/expect.bin", Body=io.BytesIO(blob))  # file-like: Expect is sent
        best = min(best, time.monotonic() - t0)
    ok(best < 0.9, "put_object with Expect: 100-continue: best of 3 took %.3f s (< 1 s wait)" % best)
    # response-* overrides (signed GET).
    g = s3.get_object(Bucket=B, Key="obj/one.bin", ResponseContentType="text/plain",
                      ResponseContentDisposition="inline", ResponseCacheControl="no-cache")
    eq("response-* overrides", ("text/plain", "inline", "no-cache"),
       (g["ContentType"], g.get("ContentDisposition"), g.get("CacheControl")))


def t_list():
    keys = ["lst/a/1", "lst/a/2", "lst/a/3", "lst/b/1", "lst/c", "lst/d", "lst/e/f/g"]
    for k in keys:
        s3.put_object(Bucket=B, Key=k, Body=k.encode())
    r = s3.list_objects_v2(Bucket=B, Prefix="lst/", Delimiter="/")
    eq("delimiter: common prefixes", ["lst/a/", "lst/b/", "lst/e/"],
       [p["Prefix"] for p in r.get("CommonPrefixes", [])])
    eq("delimiter: contents", ["lst/c", "lst/d"], [o["Key"] for o in r.get("Contents", [])])
    eq("delimiter: KeyCount counts keys and prefixes", 5, r["KeyCount"])
    # Pagination by hand: MaxKeys 2 and ContinuationToken.
    got, token, pages = [], None, 0
    while pages < 20:
        kw = {"Bucket": B, "Prefix": "lst/", "MaxKeys": 2}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        pages += 1
        got += [o["Key"] for o in r.get("Contents", [])]
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    eq("pagination MaxKeys=2: every key once, in order", sorted(keys), got)
    eq("pagination MaxKeys=2: 4 pages", 4, pages)
    # Pagination with a delimiter: prefixes count toward MaxKeys and are not repeated.
    got, token, pages = [], None, 0
    while pages < 20:
        kw = {"Bucket": B, "Prefix": "lst/", "Delimiter": "/", "MaxKeys": 1}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        pages += 1
        got += [o["Key"] for o in r.get("Contents", [])] + [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    eq("pagination with delimiter, MaxKeys=1: each key or prefix once",
       ["lst/a/", "lst/b/", "lst/c", "lst/d", "lst/e/"], got)
    # V1 with a delimiter: NextMarker names the last key or prefix of the page.
    got, marker, pages = [], "", 0
    while pages < 20:
        r = s3.list_objects(Bucket=B, Prefix="lst/", Delimiter="/", MaxKeys=2, Marker=marker)
        pages += 1
        got += [o["Key"] for o in r.get("Contents", [])] + [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        if not r["IsTruncated"]:
            break
        marker = r.get("NextMarker", "")
        if not marker:
            break
    eq("V1 pagination with delimiter, MaxKeys=2, by NextMarker",
       ["lst/a/", "lst/b/", "lst/c", "lst/d", "lst/e/"], sorted(got))
    eq("V1 pagination with delimiter: 3 pages", 3, pages)
    # The paginator and StartAfter.
    pg = s3.get_paginator("list_objects_v2")
    got = [o["Key"] for page in pg.paginate(Bucket=B, Prefix="lst/", PaginationConfig={"PageSize": 3})
           for o in page.get("Contents", [])]
    eq("paginator (page size 3)", sorted(keys), got)
    r = s3.list_objects_v2(Bucket=B, Prefix="lst/", StartAfter="lst/b/1")
    eq("StartAfter", ["lst/c", "lst/d", "lst/e/f/g"], [o["Key"] for o in r.get("Contents", [])])
    r = s3.list_objects_v2(Bucket=B, Prefix="nothing/")
    eq("empty listing: KeyCount 0, no Contents", (0, None), (r["KeyCount"], r.get("Contents")))


ODD = ["odd/with space", "odd/plus+sign", "odd/unicode-\u00fc-\u65e5\u672c", "odd/percent%20x",
       "odd/amp&lt<gt>", "odd/q?x=1#h", "odd/tilde~star*", "odd/semi;colon:comma,",
       "odd/dir with space/inner"]


def t_odd_keys():
    for k in ODD:
        s3.put_object(Bucket=B, Key=k, Body=k.encode("utf-8"))
    # botocore asks for encoding-type=url and decodes the answer.
    r = s3.list_objects_v2(Bucket=B, Prefix="odd/")
    eq("encoding-type=url: odd keys come back exact", sorted(ODD), [o["Key"] for o in r.get("Contents", [])])
    r = s3.list_objects_v2(Bucket=B, Prefix="odd/", Delimiter="/")
    eq("encoding-type=url: odd common prefix", ["odd/dir with space/"],
       [p["Prefix"] for p in r.get("CommonPrefixes", [])])
    bad = [k for k in ODD if s3.get_object(Bucket=B, Key=k)["Body"].read() != k.encode("utf-8")]
    eq("odd keys read back by name", [], bad)
    # V1 listing and versions too.
    r = s3.list_objects(Bucket=B, Prefix="odd/")
    eq("ListObjects V1 with odd keys", sorted(ODD), [o["Key"] for o in r.get("Contents", [])])
    r = s3.list_object_versions(Bucket=B, Prefix="odd/")
    eq("ListObjectVersions with odd keys, VersionId null", [(k, "null") for k in sorted(ODD)],
       [(v["Key"], v["VersionId"]) for v in r.get("Versions", [])])
    # Paginators over odd keys: V1 (NextMarker, URL-encoded and decoded by botocore),
    # V2 and versions (key-marker), two keys a page.
    for name, op, item in (("V1", "list_objects", "Contents"), ("V2", "list_objects_v2", "Contents"),
                           ("versions", "list_object_versions", "Versions")):
        pg = s3.get_paginator(op)
        got = [o["Key"] for page in pg.paginate(Bucket=B, Prefix="odd/", PaginationConfig={"PageSize": 2})
               for o in page.get(item, [])]
        eq("%s paginated by 2 over odd keys: each once, in order" % name, sorted(ODD), got)
    # CopyObject with an odd source key (x-amz-copy-source is URL-encoded).
    for k in ("odd/with space", "odd/plus+sign", "odd/unicode-\u00fc-\u65e5\u672c", "odd/percent%20x"):
        s3.copy_object(Bucket=B, Key="copy/" + k, CopySource={"Bucket": B, "Key": k})
        eq("copy_object from %r" % k, k.encode("utf-8"), s3.get_object(Bucket=B, Key="copy/" + k)["Body"].read())
    eq("copy_object from a missing key: 404 NoSuchKey", (404, "NoSuchKey"),
       err_of(s3.copy_object, Bucket=B, Key="copy/x", CopySource={"Bucket": B, "Key": "odd/none"}))
    eq("copy_object from a missing bucket: 404 NoSuchBucket", (404, "NoSuchBucket"),
       err_of(s3.copy_object, Bucket=B, Key="copy/x", CopySource={"Bucket": "nobkt", "Key": "x"}))
    # Without encoding-type the XML carries the keys escaped but not URL-encoded: turn off
    # botocore's automatic encoding-type by giving none in a raw request.
    status, body = raw_signed("GET", "/%s?list-type=2&prefix=odd%%2Fplus" % B)
    ok(status == 200 and b"<Key>odd/plus+sign</Key>" in body, "listing without encoding-type: raw key",
       body[:400])
    status, body = raw_signed("GET", "/%s?list-type=2&prefix=odd%%2F&encoding-type=url" % B)
    ok(status == 200 and b"<Key>odd/with%20space</Key>" in body and b"odd/plus%2Bsign" in body,
       "listing with encoding-type=url: keys URL-encoded", body[:600])


def raw_signed(method, path_query, body=b"", headers=None):
    """A SigV4 request signed by botocore, sent as is (no handlers)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    import urllib.request
    creds = boto3.Session().get_credentials()
    req = AWSRequest(method=method, url=URL + path_query, data=body, headers=headers or {})
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    p = req.prepare()
    r = urllib.request.Request(p.url, data=body or None, method=method, headers=dict(p.headers))
    try:
        with urllib.request.urlopen(r, timeout=20) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def t_range_cond():
    body = bytes(range(256)) * 40
    etag = s3.put_object(Bucket=B, Key="rng", Body=body)["ETag"]
    g = s3.get_object(Bucket=B, Key="rng", Range="bytes=10-19")
    eq("ranged get: 206, 10 bytes, Content-Range",
       (206, body[10:20], "bytes 10-19/10240"),
       (g["ResponseMetadata"]["HTTPStatusCode"], g["Body"].read(), g.get("ContentRange")))
    g = s3.get_object(Bucket=B, Key="rng", Range="bytes=-5")
    eq("suffix range bytes=-5", body[-5:], g["Body"].read())
    g = s3.get_object(Bucket=B, Key="rng", Range="bytes=10000-")
    eq("open range bytes=10000-", body[10000:], g["Body"].read())
    g = s3.get_object(Bucket=B, Key="rng", Range="bytes=10230-99999")
    eq("range past the end is clamped", body[10230:], g["Body"].read())
    eq("range starting past the end: 416 InvalidRange", (416, "InvalidRange"),
       err_of(s3.get_object, Bucket=B, Key="rng", Range="bytes=20000-"))
    eq("If-None-Match with the ETag: 304", (304, "304"),
       err_of(s3.get_object, Bucket=B, Key="rng", IfNoneMatch=etag))
    eq("If-Match with a wrong ETag: 412 PreconditionFailed", (412, "PreconditionFailed"),
       err_of(s3.get_object, Bucket=B, Key="rng", IfMatch='"0123456789abcdef0123456789abcdef"'))
    g = s3.get_object(Bucket=B, Key="rng", IfMatch=etag)
    eq("If-Match with the ETag: 200", 200, g["ResponseMetadata"]["HTTPStatusCode"])
    g = s3.get_object(Bucket=B, Key="rng", IfNoneMatch='"other"')
    eq("If-None-Match with another ETag: 200", 200, g["ResponseMetadata"]["HTTPStatusCode"])
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    eq("If-Modified-Since tomorrow: 304", (304, "304"),
       err_of(s3.get_object, Bucket=B, Key="rng", IfModifiedSince=future))
    eq("If-Unmodified-Since 2000: 412", (412, "PreconditionFailed"),
       err_of(s3.get_object, Bucket=B, Key="rng", IfUnmodifiedSince=past))
    eq("head_object If-None-Match: 304", (304, "304"),
       err_of(s3.head_object, Bucket=B, Key="rng", IfNoneMatch=etag))


def t_delete_objects():
    for k in ("del/1", "del/2", "del/3", "del/keep"):
        s3.put_object(Bucket=B, Key=k, Body=b"x")
    r = s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": "del/1"}, {"Key": "del/2"},
                                                         {"Key": "del/3"}, {"Key": "del/never"}]})
    eq("delete_objects: every key reported deleted (a missing one too)",
       ["del/1", "del/2", "del/3", "del/never"], sorted(d["Key"] for d in r.get("Deleted", [])))
    eq("delete_objects: no errors", [], r.get("Errors", []))
    left = [o["Key"] for o in s3.list_objects_v2(Bucket=B, Prefix="del/").get("Contents", [])]
    eq("delete_objects: only del/keep is left", ["del/keep"], left)
    r = s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": "del/keep"}], "Quiet": True})
    eq("delete_objects Quiet: no Deleted list", [], r.get("Deleted", []))
    eq("delete_object of a missing key: 204", 204,
       s3.delete_object(Bucket=B, Key="del/none")["ResponseMetadata"]["HTTPStatusCode"])


def t_multipart():
    parts_data = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1 * MiB + 17)]
    u = s3.create_multipart_upload(Bucket=B, Key="mpu/three.bin", ContentType="application/x-mpu",
                                   Metadata={"m": "1"})
    uid = u["UploadId"]
    ok(bool(uid), "create_multipart_upload: an UploadId")
    etags = []
    # Parts sent out of order, as transfer managers do.
    for n in (2, 1, 3):
        r = s3.upload_part(Bucket=B, Key="mpu/three.bin", UploadId=uid, PartNumber=n, Body=parts_data[n - 1])
        etags.append((n, r["ETag"]))
    etags.sort()
    eq("upload_part: ETags are the MD5s of the parts",
       ['"%s"' % md5hex(d) for d in parts_data], [e for _, e in etags])
    lp = s3.list_parts(Bucket=B, Key="mpu/three.bin", UploadId=uid)
    eq("list_parts: numbers, sizes, ETags",
       [(1, 5 * MiB, etags[0][1]), (2, 5 * MiB, etags[1][1]), (3, MiB + 17, etags[2][1])],
       [(p["PartNumber"], p["Size"], p["ETag"]) for p in lp.get("Parts", [])])
    lp = s3.list_parts(Bucket=B, Key="mpu/three.bin", UploadId=uid, MaxParts=2)
    eq("list_parts MaxParts=2: truncated, NextPartNumberMarker 2",
       (True, 2, [1, 2]), (lp["IsTruncated"], lp.get("NextPartNumberMarker"),
                           [p["PartNumber"] for p in lp["Parts"]]))
    lp = s3.list_parts(Bucket=B, Key="mpu/three.bin", UploadId=uid, PartNumberMarker=2)
    eq("list_parts after marker 2", [3], [p["PartNumber"] for p in lp["Parts"]])
    lu = s3.list_multipart_uploads(Bucket=B)
    eq("list_multipart_uploads shows the upload", [("mpu/three.bin", uid)],
       [(x["Key"], x["UploadId"]) for x in lu.get("Uploads", [])])
    ok(s3.list_objects_v2(Bucket=B, Prefix="mpu/").get("KeyCount") == 0,
       "an upload in progress is not listed as an object")
    # encoding-type=url is honoured here too (botocore does not decode it for this call).
    u3 = s3.create_multipart_upload(Bucket=B, Key="mpu/odd key+\u00fc")["UploadId"]
    lu = s3.list_multipart_uploads(Bucket=B, Prefix="mpu/odd", EncodingType="url")
    eq("list_multipart_uploads encoding-type=url: key URL-encoded",
       (["mpu/odd%20key%2B%C3%BC"], "mpu/odd"), ([x["Key"] for x in lu.get("Uploads", [])], lu.get("Prefix")))
    lu = s3.list_multipart_uploads(Bucket=B, Prefix="mpu/odd")
    eq("list_multipart_uploads without encoding: key as is", ["mpu/odd key+\u00fc"],
       [x["Key"] for x in lu.get("Uploads", [])])
    s3.abort_multipart_upload(Bucket=B, Key="mpu/odd key+\u00fc", UploadId=u3)
    r = s3.complete_multipart_upload(Bucket=B, Key="mpu/three.bin", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in etags]})
    want = '"%s-3"' % hashlib.md5(b"".join(hashlib.md5(d).digest() for d in parts_data)).hexdigest()
    eq("complete: ETag md5-of-md5s-3", want, r["ETag"])
    g = s3.get_object(Bucket=B, Key="mpu/three.bin")
    eq("completed object: byte-identical", hashlib.sha256(b"".join(parts_data)).hexdigest(),
       hashlib.sha256(g["Body"].read()).hexdigest())
    eq("completed object: content type and metadata from create", ("application/x-mpu", {"m": "1"}),
       (g["ContentType"], g["Metadata"]))
    eq("completed object: ETag in GET", want, g["ETag"])
    lu = s3.list_multipart_uploads(Bucket=B)
    eq("list_multipart_uploads: none after complete", [], lu.get("Uploads", []))
    # Complete with a wrong ETag / missing part.
    u2 = s3.create_multipart_upload(Bucket=B, Key="mpu/bad.bin")["UploadId"]
    e1 = s3.upload_part(Bucket=B, Key="mpu/bad.bin", UploadId=u2, PartNumber=1, Body=b"a" * 100)["ETag"]
    eq("complete naming a part never uploaded: InvalidPart", (400, "InvalidPart"),
       err_of(s3.complete_multipart_upload, Bucket=B, Key="mpu/bad.bin", UploadId=u2,
              MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e1}]}))
    eq("complete with a wrong ETag: InvalidPart", (400, "InvalidPart"),
       err_of(s3.complete_multipart_upload, Bucket=B, Key="mpu/bad.bin", UploadId=u2,
              MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"%s"' % ("0" * 32)}]}))
    e2 = s3.upload_part(Bucket=B, Key="mpu/bad.bin", UploadId=u2, PartNumber=2, Body=b"b" * 100)["ETag"]
    eq("complete with parts out of order: InvalidPartOrder", (400, "InvalidPartOrder"),
       err_of(s3.complete_multipart_upload, Bucket=B, Key="mpu/bad.bin", UploadId=u2,
              MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]}))
    s3.abort_multipart_upload(Bucket=B, Key="mpu/bad.bin", UploadId=u2)


def t_abort():
    uid = s3.create_multipart_upload(Bucket=B, Key="mpu/aborted.bin")["UploadId"]
    e1 = s3.upload_part(Bucket=B, Key="mpu/aborted.bin", UploadId=uid, PartNumber=1, Body=b"z" * 1000)["ETag"]
    r = s3.abort_multipart_upload(Bucket=B, Key="mpu/aborted.bin", UploadId=uid)
    eq("abort_multipart_upload: 204", 204, r["ResponseMetadata"]["HTTPStatusCode"])
    eq("list_parts after abort: NoSuchUpload", (404, "NoSuchUpload"),
       err_of(s3.list_parts, Bucket=B, Key="mpu/aborted.bin", UploadId=uid))
    eq("upload_part after abort: NoSuchUpload", (404, "NoSuchUpload"),
       err_of(s3.upload_part, Bucket=B, Key="mpu/aborted.bin", UploadId=uid, PartNumber=2, Body=b"y"))
    eq("complete after abort: NoSuchUpload", (404, "NoSuchUpload"),
       err_of(s3.complete_multipart_upload, Bucket=B, Key="mpu/aborted.bin", UploadId=uid,
              MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]}))
    eq("upload_part to an upload id never issued: NoSuchUpload", (404, "NoSuchUpload"),
       err_of(s3.upload_part, Bucket=B, Key="mpu/aborted.bin", UploadId="never-issued", PartNumber=1,
              Body=b"y" * 100))
    eq("complete with a malformed ETag on an aborted upload: NoSuchUpload", (404, "NoSuchUpload"),
       err_of(s3.complete_multipart_upload, Bucket=B, Key="mpu/aborted.bin", UploadId=uid,
              MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": "not-an-etag"}]}))
    eq("abort of an unknown upload: NoSuchUpload", (404, "NoSuchUpload"),
       err_of(s3.abort_multipart_upload, Bucket=B, Key="mpu/aborted.bin", UploadId="nope"))
    eq("no object after abort", (404, "NoSuchKey"), err_of(s3.get_object, Bucket=B, Key="mpu/aborted.bin"))
    eq("list_multipart_uploads empty after abort", [], s3.list_multipart_uploads(Bucket=B).get("Uploads", []))


def t_transfer():
    from boto3.s3.transfer import TransferConfig
    src = os.path.join(TMP, "xfer.src")
    with open(src, "wb") as f:
        f.write(os.urandom(12 * MiB + 3))
    tc = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)
    s3.upload_file(src, B, "xfer/file.bin", Config=tc)
    dst = os.path.join(TMP, "xfer.dst")
    s3.download_file(B, "xfer/file.bin", dst, Config=tc)
    eq("upload_file/download_file (multipart 5 MiB, 4 threads): byte-identical",
       open(src, "rb").read() == open(dst, "rb").read(), True)
    h = s3.head_object(Bucket=B, Key="xfer/file.bin")
    ok(h["ETag"].endswith('-3"'), "upload_file: multipart ETag -3", h["ETag"])


def t_presign():
    body = os.urandom(5000)
    s3.put_object(Bucket=B, Key="pre/get.bin", Body=body)
    # boto3 1.26 presigns with SigV2 in us-east-1 unless told otherwise.
    for name, c in (("default (SigV2)", s3), ("SigV4", client(signature_version="s3v4"))):
        u = c.generate_presigned_url("get_object", Params={"Bucket": B, "Key": "pre/get.bin"}, ExpiresIn=600)
        if name.startswith("default"):
            ok("AWSAccessKeyId=" in u and "Signature=" in u, "%s: the GET URL is SigV2" % name, u)
        else:
            ok("X-Amz-Signature=" in u, "%s: the GET URL is SigV4" % name, u)
        eq("%s presigned GET with curl: 200 and the bytes" % name, (200, body), curl(u))
        eq("%s presigned GET, HEAD with curl: 403 (signed for GET)" % name, 403, curl("-I", u)[0])
        put_body = os.urandom(7000)
        f = os.path.join(TMP, "put.src")
        with open(f, "wb") as fh:
            fh.write(put_body)
        key = "pre/put-%s.bin" % ("v2" if "V2" in name else "v4")
        u = c.generate_presigned_url("put_object", Params={"Bucket": B, "Key": key}, ExpiresIn=600)
        st, _ = curl("-T", f, u)
        eq("%s presigned PUT with curl -T: 200" % name, 200, st)
        eq("%s presigned PUT: object stored" % name, put_body, s3.get_object(Bucket=B, Key=key)["Body"].read())
        # The URL names one key: using it for another fails.
        other = u.replace("/pre/put-", "/pre/xput-", 1)
        st, _ = curl("-T", f, other)
        eq("%s presigned PUT for another key: 403" % name, 403, st)
    # response-content-disposition signed into a SigV4 URL.
    c4 = client(signature_version="s3v4")
    u = c4.generate_presigned_url("get_object", Params={
        "Bucket": B, "Key": "pre/get.bin", "ResponseContentDisposition": 'attachment; filename="x y.bin"'})
    p = subprocess.run(["curl", "-s", "--max-time", "20", "-D", "-", "-o", "/dev/null", u],
                       capture_output=True, text=True)
    ok('content-disposition: attachment; filename="x y.bin"' in p.stdout.lower(),
       "presigned response-content-disposition overrides the header", p.stdout)


def t_sigv2():
    # signature_version='s3': SigV2 header authentication, which boto3 still offers.
    c2 = client(signature_version="s3")
    body = os.urandom(2000)
    c2.put_object(Bucket=B, Key="v2/odd key+\u00fc", Body=body, Metadata={"m": "v2"})
    g = c2.get_object(Bucket=B, Key="v2/odd key+\u00fc")
    eq("SigV2 header auth: put/get with metadata", (body, {"m": "v2"}), (g["Body"].read(), g["Metadata"]))
    # botocore's HmacV1Auth signs a path-style bucket request with the canonical resource
    # "/bkt/" (CreateBucket: PUT /bkt) and a ListObjectsV2 with "/bkt?list-type=2" (the
    # operation's request URI); the server accepts those auth paths.
    eq("SigV2 header auth: list_objects_v2 (signed '/bkt?list-type=2')", (None, None),
       err_of(c2.list_objects_v2, Bucket=B, Prefix="v2/"))
    eq("SigV2 header auth: create_bucket (signed '/bkt/')", (None, None),
       err_of(c2.create_bucket, Bucket="botov2"))
    eq("SigV2 header auth: list_objects (V1)", (None, None), err_of(c2.list_objects, Bucket=B, Prefix="v2/"))
    bad = boto3.client("s3", endpoint_url=URL, region_name="us-east-1", aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key="wrong", config=Config(signature_version="s3", retries={"max_attempts": 1}))
    eq("SigV2 header auth with a wrong secret: 403 SignatureDoesNotMatch", (403, "SignatureDoesNotMatch"),
       err_of(bad.get_object, Bucket=B, Key="v2/odd key+\u00fc"))


for fn in (t_bucket, t_sigv2, t_put_get_head, t_list, t_odd_keys, t_range_cond, t_delete_objects,
           t_multipart, t_abort, t_transfer, t_presign):
    section(fn)
sys.exit(0)
