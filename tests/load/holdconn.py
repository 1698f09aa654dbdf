#!/usr/bin/python3
"""holdconn.py -- load and slow-client helpers for tests/integration/t150-http-load.sh.

Plain sockets and threads (Debian's /usr/bin/python3, standard library only) so the
test controls exactly what each connection does and when. Every mode has a hard
deadline and exits non-zero when what it checks did not happen; it prints one
`key=value ...` summary line for the test to parse.

  hold  --port P --n N --ready F --go F [--max S]
        Open N keep-alive connections, send one GET /healthz on each (a connection that
        never sends a request is cut by header_timeout, by design), write F (ready),
        hold them idle until the file --go appears, then send one more request on each.
  fetch --url URL --n N --rounds R --size BYTES --sha256 HEX [--max S]
        N threads, each with its own keep-alive connection, start together and GET URL
        R times; every body must be exactly BYTES long with the given SHA-256.
  slow  --port P --n N [--interval S] [--max S]
        N connections each send a request head one byte per interval; report when the
        server cut each one (EOF or reset).
  stall --port P --path PATH --n N --ready F [--rcvbuf B] [--max S]
        N connections with a tiny receive buffer GET PATH (a big object), read the
        response head, then stop reading. Write F, then wait until the server side of
        every connection has left ESTABLISHED (/proc/net/tcp), then drain each to EOF
        and check it was cut short.
"""
import argparse
import hashlib
import os
import select
import socket
import sys
import threading
import time


def die(msg):
    print("error=" + msg.replace(" ", "_"))
    sys.exit(1)


class Resp:
    def __init__(self, status, headers, body_len, digest):
        self.status, self.headers, self.body_len, self.digest = status, headers, body_len, digest


def read_response(sock, deadline, keep_hash=False, bufsize=1 << 20):
    """Read one HTTP/1.1 response with a Content-Length body. Raises on EOF/timeout."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("response head timed out")
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("EOF before the response head")
        buf += chunk
        if len(buf) > 65536:
            raise ConnectionError("response head too large")
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    clen = int(headers.get("content-length", "0"))
    h = hashlib.sha256() if keep_hash else None
    got = len(rest)
    if h:
        h.update(rest)
    while got < clen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("body timed out at %d of %d" % (got, clen))
        sock.settimeout(left)
        chunk = sock.recv(min(bufsize, clen - got))
        if not chunk:
            raise ConnectionError("EOF in body at %d of %d" % (got, clen))
        got += len(chunk)
        if h:
            h.update(chunk)
    if got != clen:
        raise ConnectionError("body longer than Content-Length")
    return Resp(status, headers, got, h.hexdigest() if h else None)


def request(host, port, path):
    return ("GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (path, host, port)).encode()


def wait_file(path, deadline):
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# ---- hold ---------------------------------------------------------------------------------
def cmd_hold(a):
    deadline = time.monotonic() + a.max
    req = request("127.0.0.1", a.port, "/healthz")
    socks, first_ok = [], 0
    for _ in range(a.n):
        s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(req)
        r = read_response(s, time.monotonic() + 10)
        if r.status == 200 and r.headers.get("connection", "").lower() != "close":
            first_ok += 1
        socks.append(s)
    t_open = time.monotonic()
    with open(a.ready, "w") as f:
        f.write("opened=%d first_ok=%d\n" % (len(socks), first_ok))
    if not wait_file(a.go, deadline):
        die("no go file within %ds" % a.max)
    held = time.monotonic() - t_open
    # Each connection must still be open and usable: one more request on each, sent to
    # all first so the server sees them all at once (up to N ready connections).
    sent = 0
    for s in socks:
        try:
            s.sendall(req)
            sent += 1
        except OSError:
            pass
    again_ok, failed = 0, []
    end = time.monotonic() + 20
    for i, s in enumerate(socks):
        try:
            r = read_response(s, end)
            if r.status == 200:
                again_ok += 1
            else:
                failed.append("%d:status%d" % (i, r.status))
        except (OSError, ValueError) as e:
            failed.append("%d:%s" % (i, type(e).__name__))
        s.close()
    print("held=%d first_ok=%d held_secs=%.1f sent=%d again_ok=%d failed=%d%s" %
          (len(socks), first_ok, held, sent, again_ok, len(failed),
           (" first_failures=" + ",".join(failed[:5])) if failed else ""))
    sys.exit(0 if again_ok == a.n and first_ok == a.n else 1)


# ---- fetch --------------------------------------------------------------------------------
def cmd_fetch(a):
    assert a.url.startswith("http://")
    hostport, _, path = a.url[7:].partition("/")
    host, _, port = hostport.rpartition(":")
    port = int(port)
    req = ("GET /%s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, hostport)).encode()
    deadline = time.monotonic() + a.max
    barrier = threading.Barrier(a.n)
    lock = threading.Lock()
    stats = {"ok": 0, "bad": 0, "errors": 0, "bytes": 0, "why": []}

    def worker():
        s = None
        try:
            s = socket.create_connection((host, port), timeout=10)
            barrier.wait(timeout=30)
        except (OSError, threading.BrokenBarrierError) as e:
            with lock:
                stats["errors"] += a.rounds
                stats["why"].append("connect:" + type(e).__name__)
            return
        for _ in range(a.rounds):
            try:
                s.sendall(req)
                r = read_response(s, deadline, keep_hash=True)
                good = r.status == 200 and r.body_len == a.size and r.digest == a.sha256
                with lock:
                    stats["bytes"] += r.body_len
                    stats["ok" if good else "bad"] += 1
                    if not good:
                        stats["why"].append("status%d/len%d" % (r.status, r.body_len))
            except (OSError, ValueError) as e:
                with lock:
                    stats["errors"] += 1
                    stats["why"].append(type(e).__name__)
                s.close()
                try:
                    s = socket.create_connection((host, port), timeout=10)
                except OSError:
                    return
        s.close()

    t0 = time.monotonic()
    th = [threading.Thread(target=worker) for _ in range(a.n)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    took = time.monotonic() - t0
    want = a.n * a.rounds
    print("responses=%d exact=%d bad=%d errors=%d bytes=%d secs=%.1f%s" %
          (want, stats["ok"], stats["bad"], stats["errors"], stats["bytes"], took,
           (" why=" + ",".join(stats["why"][:5])) if stats["why"] else ""))
    sys.exit(0 if stats["ok"] == want and stats["bytes"] == want * a.size else 1)


# ---- slow ---------------------------------------------------------------------------------
def cmd_slow(a):
    head = request("127.0.0.1", a.port, "/healthz")
    socks = []
    for _ in range(a.n):
        s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        socks.append(s)
    t0 = time.monotonic()
    sent = [0] * a.n
    cut = [None] * a.n
    answered = [False] * a.n
    next_byte = t0
    while None in cut and time.monotonic() - t0 < a.max:
        now = time.monotonic()
        if now >= next_byte:
            for i, s in enumerate(socks):
                if cut[i] is None and sent[i] < len(head):
                    try:
                        s.send(head[sent[i]:sent[i] + 1])
                        sent[i] += 1
                    except OSError:
                        cut[i] = now - t0
            next_byte += a.interval
        live = [s for i, s in enumerate(socks) if cut[i] is None]
        if not live:
            break
        rd, _, _ = select.select(live, [], [], max(0.0, min(0.1, next_byte - time.monotonic())))
        for s in rd:
            i = socks.index(s)
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data:
                answered[i] = True  # the server answered the trickled head: not a cut
            else:
                cut[i] = time.monotonic() - t0
    for s in socks:
        s.close()
    done = [c for c in cut if c is not None]
    print("slow=%d cut=%d answered=%d max_cut_secs=%s bytes_sent_max=%d" %
          (a.n, len(done), sum(answered), ("%.1f" % max(done)) if done else "-", max(sent)))
    sys.exit(0 if len(done) == a.n and not any(answered) else 1)


# ---- stall --------------------------------------------------------------------------------
def server_side_states(port):
    """{client_port: state} of sockets whose local port is `port` (the server's side)."""
    out = {}
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(fn) as f:
                next(f)
                for ln in f:
                    p = ln.split()
                    lport = int(p[1].rsplit(":", 1)[1], 16)
                    rport = int(p[2].rsplit(":", 1)[1], 16)
                    if lport == port:
                        out[rport] = p[3]
        except FileNotFoundError:
            pass
    return out


def cmd_stall(a):
    req = request("127.0.0.1", a.port, a.path)
    socks = []
    for _ in range(a.n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Before connect, so the advertised window stays small.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
        s.settimeout(10)
        s.connect(("127.0.0.1", a.port))
        s.sendall(req)
        socks.append(s)
    heads, got = 0, [0] * a.n
    for i, s in enumerate(socks):
        data = s.recv(4096)  # at least the start of the head: the download has begun
        got[i] = len(data)
        if data.startswith(b"HTTP/1.1 200"):
            heads += 1
    ports = [s.getsockname()[1] for s in socks]
    t0 = time.monotonic()
    with open(a.ready, "w") as f:
        f.write("stalled=%d heads=%d\n" % (a.n, heads))
    # Wait (bounded) until the server has given up on every stalled connection.
    closed_at = {}
    while len(closed_at) < a.n and time.monotonic() - t0 < a.max:
        st = server_side_states(a.port)
        for p in ports:
            if p not in closed_at and st.get(p) != "01":  # 01 = ESTABLISHED
                closed_at[p] = time.monotonic() - t0
        time.sleep(0.1)
    # Drain: each must end (EOF or reset) well short of the full body.
    truncated, total = 0, 0
    for i, s in enumerate(socks):
        end = time.monotonic() + 10
        eof = False
        try:
            while time.monotonic() < end:
                s.settimeout(end - time.monotonic())
                d = s.recv(1 << 20)
                if not d:
                    eof = True
                    break
                got[i] += len(d)
        except ConnectionResetError:
            eof = True
        except OSError:
            pass
        if eof and got[i] < a.size:
            truncated += 1
        total += got[i]
        s.close()
    print("stalled=%d heads=%d closed=%d max_close_secs=%s truncated=%d bytes_received=%d" %
          (a.n, heads, len(closed_at), ("%.1f" % max(closed_at.values())) if closed_at else "-",
           truncated, total))
    sys.exit(0 if heads == a.n and len(closed_at) == a.n and truncated == a.n else 1)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("hold")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--ready", required=True)
    p.add_argument("--go", required=True)
    p.add_argument("--max", type=float, default=120)
    p = sub.add_parser("fetch")
    p.add_argument("--url", required=True)
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--sha256", required=True)
    p.add_argument("--max", type=float, default=60)
    p = sub.add_parser("slow")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--n", type=int, default=1)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--max", type=float, default=30)
    p = sub.add_parser("stall")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--rcvbuf", type=int, default=4096)
    p.add_argument("--max", type=float, default=30)
    a = ap.parse_args()
    {"hold": cmd_hold, "fetch": cmd_fetch, "slow": cmd_slow, "stall": cmd_stall}[a.cmd](a)


if __name__ == "__main__":
    main()
