#!/usr/bin/python3
"""t120-crash.py -- durability under kill -9.

20 rounds: start `tollgate serve` on the same data directory, send 32 concurrent PUTs
(boto3, no retries; fresh keys and 4 keys overwritten every round), kill -9 the server
at a random moment while they run, restart it and check:
  - tmp/ is empty after the restart;
  - every PUT that got 200 reads back byte-identical;
  - a PUT that got no answer left either its body or the previous one, never a mix;
  - every listed object is complete (its bytes are one of the bodies sent to its key).
Prints "ok - ..." / "not ok - ..." lines. Usage: t120-crash.py TG CONF URL DATA AKID SECRET
"""
import hashlib, os, random, signal, subprocess, sys, threading, time, urllib.request

import boto3
from botocore.config import Config

TG, CONF, URL, DATA, AKID, SECRET = sys.argv[1:7]
ROUNDS, WRITERS, SHARED = 20, 32, 4
rng = random.Random(1234)
fails = 0


def report(ok, desc):
    global fails
    print(("ok - " if ok else "not ok - ") + desc, flush=True)
    if not ok:
        fails += 1


def start():
    log = open(os.path.join(os.path.dirname(CONF), "..", "crash-server.log"), "ab")
    p = subprocess.Popen([TG, "serve", "--config", CONF], stdout=log, stderr=log)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            urllib.request.urlopen(URL + "/healthz", timeout=1).read()
            return p
        except Exception:
            if p.poll() is not None:
                break
            time.sleep(0.05)
    p.kill()
    raise SystemExit("not ok - server did not start")


def client():
    return boto3.client("s3", endpoint_url=URL, aws_access_key_id=AKID,
                        aws_secret_access_key=SECRET, region_name="us-east-1",
                        config=Config(retries={"max_attempts": 1, "mode": "standard"},
                                      connect_timeout=2, read_timeout=10,
                                      s3={"addressing_style": "path"}))


digest = lambda b: hashlib.sha256(b).hexdigest()
# key -> set of acceptable sha256 (bodies that may legitimately be there)
acceptable = {}
acked = {}  # key -> sha256 of the last acknowledged body
interrupted = 0
sizes = {}  # key -> sizes of the bodies sent to it

s3 = client()
proc = start()
s3.create_bucket(Bucket="crash")
for rnd in range(ROUNDS):
    if rnd > 0:
        proc = start()
    bodies = []
    for i in range(WRITERS):
        key = f"shared/k{i}" if i < SHARED else f"r{rnd:02d}/k{i:02d}"
        size = rng.choice([0, 1, 1000, 65536, 300000, 1 << 20, (2 << 20) + 7])
        bodies.append((key, rng.randbytes(size)))
    results = [None] * WRITERS
    clients = [client() for _ in range(WRITERS)]

    def put(i):
        key, body = bodies[i]
        try:
            r = clients[i].put_object(Bucket="crash", Key=key, Body=body)
            results[i] = r["ResponseMetadata"]["HTTPStatusCode"]
        except Exception as e:  # connection reset by the kill
            results[i] = repr(e)[:80]

    threads = [threading.Thread(target=put, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    time.sleep(rng.uniform(0.0, 0.06))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for t in threads:
        t.join(timeout=30)
    for i, (key, body) in enumerate(bodies):
        h = digest(body)
        if results[i] == 200:
            acked[key] = h
            acceptable[key] = {h}
        else:
            acceptable.setdefault(key, set()).add(h)
        sizes.setdefault(key, set()).add(len(body))
    # Restart and verify.
    proc = start()
    tmp_left = os.listdir(os.path.join(DATA, "tmp"))
    report(tmp_left == [], f"round {rnd}: tmp/ empty after restart ({len(tmp_left)} left)")
    n_acked = sum(1 for r in results if r == 200)
    interrupted += WRITERS - n_acked
    bad = []
    for i, (key, body) in enumerate(bodies):
        if results[i] == 200:
            got = s3.get_object(Bucket="crash", Key=key)["Body"].read()
            if got != body:
                bad.append(key)
    report(not bad, f"round {rnd}: {n_acked}/{WRITERS} acknowledged PUTs read back identical"
           + (f" (differ: {bad[:3]})" if bad else ""))
    listed, partial = 0, []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="crash"):
        for o in page.get("Contents", []):
            listed += 1
            # Objects of earlier rounds were read then; re-read them all in the last round.
            if rnd < ROUNDS - 1 and not (o["Key"].startswith(f"r{rnd:02d}/") or
                                         o["Key"].startswith("shared/")):
                if o["Size"] not in sizes.get(o["Key"], set()):
                    partial.append(o["Key"])
                continue
            got = s3.get_object(Bucket="crash", Key=o["Key"])["Body"].read()
            if digest(got) not in acceptable.get(o["Key"], set()) or len(got) != o["Size"]:
                partial.append(o["Key"])
    report(not partial, f"round {rnd}: all {listed} listed objects complete and expected"
           + (f" (bad: {partial[:3]})" if partial else ""))
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(timeout=15)
    # What is there now is, per key, the only acceptable state for the next round.
    s3 = client()
# The test means something only if kills landed mid-way.
report(interrupted >= WRITERS, f"kill -9 interrupted {interrupted} of {ROUNDS * WRITERS} PUTs")
sys.exit(0)
