#!/usr/bin/python3
# s3req.py -- a raw S3 request for the integration tests (t105, t106): SigV4-signed (S3
# rules: the path as sent, no normalization, no double encoding; written from the AWS
# documentation, independent of the server's code) or not at all, and sent byte-exact
# over a plain socket, so a test can send what real clients never would: a wrong secret,
# a shifted clock, a wrong Content-MD5, a hand-built aws-chunked body, a presigned URL
# with any X-Amz-Expires, a body shorter than its Content-Length. Only the standard
# library: it starts fast, and the tests call it often.
#
#   s3req.py [options] METHOD URL            send; prints "STATUS" then the body
#   s3req.py presign [options] METHOD URL    print a SigV4 presigned URL
# options:
#   --akid ID --secret S      credentials (default $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY)
#   --shift SECONDS           sign as if the clock were SECONDS ahead (negative: behind)
#   --anon                    do not sign
#   --data STR | --data-file F   the body (exact bytes)
#   -H 'Name: value'          an extra header (signed, except Expect); repeatable
#   --expires N               presign: X-Amz-Expires
#   --payload-hash V          sign with this x-amz-content-sha256 (hex, UNSIGNED-PAYLOAD,
#                             STREAMING-UNSIGNED-PAYLOAD-TRAILER, ...) instead of the body's
#   --head                    also print the response headers (after the status line)
#   --truncate N              send only the first N body bytes (Content-Length still says
#                             the whole body), then close the connection (prints "closed")
#   --pause S                 with --truncate: wait S seconds before closing
# The body is sent in pieces; if the server answers before it is all sent (an early
# refusal), sending stops and the answer is read. Prints "closed" when the server closed
# the connection without an answer.
import datetime
import hashlib
import hmac
import os
import select
import socket
import sys
import time
import urllib.parse

UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"


def enc(s, slash):
    """AWS URI encoding of already-decoded text: every byte but unreserved (and '/')."""
    out = []
    for b in s.encode("utf-8") if isinstance(s, str) else s:
        c = chr(b)
        out.append(c if c in UNRESERVED or (slash and c == "/") else "%%%02X" % b)
    return "".join(out)


def canonical_query(query):
    pairs = []
    for part in query.split("&") if query else []:
        k, _, v = part.partition("=")
        pairs.append((enc(urllib.parse.unquote_to_bytes(k), False),
                      enc(urllib.parse.unquote_to_bytes(v), False)))
    return "&".join("%s=%s" % kv for kv in sorted(pairs))


def signing_key(secret, date8):
    k = hmac.new(("AWS4" + secret).encode(), date8.encode(), hashlib.sha256).digest()
    for part in ("us-east-1", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def sign(secret, amz_date, canon_req):
    scope = "%s/us-east-1/s3/aws4_request" % amz_date[:8]
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(canon_req.encode()).hexdigest()])
    return hmac.new(signing_key(secret, amz_date[:8]), sts.encode(), hashlib.sha256).hexdigest()


def canonical_request(method, path, query, headers, signed, payload):
    hl = "".join("%s:%s\n" % (n, " ".join(headers[n].split())) for n in signed)
    cpath = enc(urllib.parse.unquote_to_bytes(path or "/"), True)
    return "\n".join([method, cpath, canonical_query(query), hl, ";".join(signed), payload])


def main(argv):
    mode = "send"
    if argv and argv[0] == "presign":
        mode = "presign"
        argv = argv[1:]
    akid = os.environ.get("AWS_ACCESS_KEY_ID", "")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    shift, anon, body, headers, expires, show_head = 0, False, b"", [], 3600, False
    payload_hash, truncate, pause = None, None, 0.0
    pos = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--akid", "--secret", "--shift", "--data", "--data-file", "-H", "--expires",
                 "--payload-hash", "--truncate", "--pause"):
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
            elif a == "--truncate":
                truncate = int(v)
            elif a == "--pause":
                pause = float(v)
            continue
        if a == "--anon":
            anon = True
        elif a == "--head":
            show_head = True
        else:
            pos.append(a)
        i += 1
    method, url = pos
    u = urllib.parse.urlsplit(url)
    path, query = u.path or "/", u.query
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=shift)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = "%s/us-east-1/s3/aws4_request" % amz_date[:8]

    if mode == "presign":
        extra = [("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", "%s/%s" % (akid, scope)),
                 ("X-Amz-Date", amz_date), ("X-Amz-Expires", str(expires)), ("X-Amz-SignedHeaders", "host")]
        q = "&".join(p for p in [query] + ["%s=%s" % (k, enc(v, False)) for k, v in extra] if p)
        creq = canonical_request(method, path, q, {"host": u.netloc}, ["host"], "UNSIGNED-PAYLOAD")
        print("%s://%s%s?%s&X-Amz-Signature=%s" % (u.scheme, u.netloc, path, q, sign(secret, amz_date, creq)))
        return 0

    send = [("Host", u.netloc)]
    unsigned = [(n, v) for n, v in headers if n.lower() == "expect"]
    hdrs = [(n, v) for n, v in headers if n.lower() != "expect"]
    if not anon:
        ph = payload_hash if payload_hash is not None else hashlib.sha256(body).hexdigest()
        hdrs += [("x-amz-date", amz_date), ("x-amz-content-sha256", ph)]
        lower = {"host": u.netloc}
        for n, v in hdrs:
            lower[n.lower()] = v
        signed = sorted(lower)
        creq = canonical_request(method, path, query, lower, signed, ph)
        hdrs.append(("Authorization", "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
                     % (akid, scope, ";".join(signed), sign(secret, amz_date, creq))))
    send += hdrs + unsigned
    if not any(n.lower() in ("content-length", "transfer-encoding") for n, _ in send):
        send.append(("Content-Length", str(len(body))))
    target = path + ("?" + query if query else "")
    head = "%s %s HTTP/1.1\r\n" % (method, target) + "".join("%s: %s\r\n" % h for h in send) + \
        "Connection: close\r\n\r\n"
    return exchange(u, head.encode("utf-8"), body if truncate is None else body[:truncate],
                    truncate is not None, pause, method == "HEAD", show_head)


def exchange(u, head, body, close_after, pause, is_head, show_head):
    sk = socket.create_connection((u.hostname, u.port), timeout=20)
    data = b""
    try:
        sk.sendall(head)
        off = 0
        while off < len(body):
            r, _, _ = select.select([sk], [], [], 0)
            if r:
                break  # the server answered early: stop sending
            off += sk.send(body[off:off + 65536])
        if close_after:
            # A client that dies mid-body: the connection closes, no answer is awaited.
            if pause:
                time.sleep(pause)
            sk.close()
            print("closed")
            return 0
    except OSError:
        pass
    try:
        while True:
            x = sk.recv(65536)
            if not x:
                break
            data += x
            h, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                cl = [int(l.split(b":", 1)[1]) for l in h.split(b"\r\n")[1:]
                      if l.lower().startswith(b"content-length:")]
                if is_head or h[9:12] in (b"204", b"304") or (cl and len(rest) >= cl[0]):
                    break
    except OSError:
        pass
    sk.close()
    if not data.startswith(b"HTTP/1."):
        print("closed")
        return 0
    h, _, rest = data.partition(b"\r\n\r\n")
    lines = h.decode("latin-1").split("\r\n")
    print(lines[0][9:12])
    if show_head:
        for l in lines[1:]:
            print(l)
        print()
    sys.stdout.flush()
    sys.stdout.buffer.write(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
