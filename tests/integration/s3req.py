#!/usr/bin/python3
# s3req.py -- a raw S3 request for the integration tests (t105, t106), signed with
# botocore's S3 SigV4 (or not at all), sent byte-exact with http.client, so a test can
# send what real clients never would: a wrong secret, a shifted clock, a wrong
# Content-MD5, a hand-built aws-chunked body, a presigned URL with any X-Amz-Expires.
#
#   s3req.py [options] METHOD URL            send; prints "STATUS" then the body
#   s3req.py presign [options] METHOD URL    print a SigV4 presigned URL
# options:
#   --akid ID --secret S      credentials (default $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY)
#   --shift SECONDS           sign as if the clock were SECONDS ahead (negative: behind)
#   --anon                    do not sign
#   --data STR | --data-file F   the body (exact bytes)
#   -H 'Name: value'          an extra header (signed unless it is Expect); repeatable
#   --expires N               presign: X-Amz-Expires
#   --payload-hash V          sign with this x-amz-content-sha256 (hex, UNSIGNED-PAYLOAD,
#                             STREAMING-UNSIGNED-PAYLOAD-TRAILER, ...) instead of the body's
#   --head                    also print the response headers (after the status line)
import datetime
import http.client
import os
import sys
import urllib.parse

import botocore.auth
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main(argv):
    mode = "send"
    if argv and argv[0] == "presign":
        mode = "presign"
        argv = argv[1:]
    akid = os.environ.get("AWS_ACCESS_KEY_ID", "")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    shift, anon, body, headers, expires, show_head = 0, False, b"", [], 3600, False
    payload_hash = None
    pos = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--akid", "--secret", "--shift", "--data", "--data-file", "-H", "--expires",
                 "--payload-hash"):
            v = argv[i + 1]
            i += 2
            if a == "--akid":
                akid = v
            elif a == "--secret":
                secret = v
            elif a == "--shift":
                shift = int(v)
            elif a == "--data":
                body = v.encode()
            elif a == "--data-file":
                body = open(v, "rb").read()
            elif a == "-H":
                n, _, val = v.partition(":")
                headers.append((n.strip(), val.strip()))
            elif a == "--expires":
                expires = int(v)
            elif a == "--payload-hash":
                payload_hash = v
            continue
        if a == "--anon":
            anon = True
        elif a == "--head":
            show_head = True
        else:
            pos.append(a)
        i += 1
    method, url = pos

    if shift:
        real = datetime.datetime

        class Shifted(real):
            @classmethod
            def utcnow(cls):
                return real.utcnow() + datetime.timedelta(seconds=shift)

        botocore.auth.datetime.datetime = Shifted

    creds = Credentials(akid, secret)
    unsigned = [(n, v) for n, v in headers if n.lower() == "expect"]
    signed = [(n, v) for n, v in headers if n.lower() != "expect"]
    req = AWSRequest(method=method, url=url, data=body, headers=dict(signed))
    if mode == "presign":
        S3SigV4QueryAuth(creds, "s3", "us-east-1", expires=expires).add_auth(req)
        print(req.prepare().url)
        return 0
    if not anon:
        auth = S3SigV4Auth(creds, "s3", "us-east-1")
        if payload_hash is not None:
            auth.payload = lambda request: payload_hash
        auth.add_auth(req)
    p = req.prepare()
    u = urllib.parse.urlsplit(p.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    target = u.path + ("?" + u.query if u.query else "")
    conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", u.netloc)
    for n, v in list(p.headers.items()) + unsigned:
        conn.putheader(n, v)
    if "content-length" not in {n.lower() for n in p.headers.keys()}:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body if body else None)
    r = conn.getresponse()
    data = r.read()
    print(r.status)
    if show_head:
        for n, v in r.getheaders():
            print("%s: %s" % (n, v))
        print()
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
