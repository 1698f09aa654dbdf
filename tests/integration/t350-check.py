#!/usr/bin/python3
"""t350-check.py -- the per-day assertions of t350-simulation.sh, against a running
`tollgate serve` at the simulated time. One "ok - ..." / "not ok - ..." line per check.

usage: t350-check.py STATE_DIR DAY NOW URL DATA CONF TG [--bundles]
  STATE_DIR/published.tsv   tier date rows sha256 (one line per publish; the last wins)
  STATE_DIR/links.json      `tollgate links --format json` at NOW
  STATE_DIR/minted.tsv      links minted so far: url key expires_at (appended here)
  STATE_DIR/keysha.json     key -> sha256 of its current content, as last listed (kept here)
  --bundles                 also write STATE_DIR/bundle-<tier>-<kind>.seg: the MTD / newest
                            monthly downloaded and the local files of its days in the order
                            of its manifest (for the DuckDB value check)
"""
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request

state, day, now, url, data, conf, tg = sys.argv[1:8]
bundles = "--bundles" in sys.argv[8:]
KEEP_DAILY = 7
TIERS = ["tier1", "tier2", "tier3"]
fails = 0


def ok(cond, desc, detail=""):
    global fails
    if cond:
        print(f"ok - {day}: {desc}")
    else:
        fails += 1
        print(f"not ok - {day}: {desc}")
        if detail:
            for line in str(detail).splitlines()[:12]:
                print(f"#   {line}")
    return cond


def get(u, timeout=20):
    try:
        with urllib.request.urlopen(u, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except Exception as e:  # connection refused, timeout
        return 0, str(e).encode()


def presign(key):
    env = dict(os.environ, TOLLGATE_NOW=now)
    out = subprocess.run([tg, "presign", "--config", conf, "tollgate/" + key], env=env,
                         capture_output=True, text=True)
    return out.stdout.strip()


# what was published: tier -> date -> (rows, sha); the last line for a date wins
pub = {t: {} for t in TIERS}
for line in open(os.path.join(state, "published.tsv")):
    t, d, rows, sha = line.split()
    pub[t][d] = (int(rows), sha)

links = {x["grant"]: x["current"]["token"] for x in json.load(open(os.path.join(state, "links.json")))}
keysha_path = os.path.join(state, "keysha.json")
keysha = json.load(open(keysha_path)) if os.path.exists(keysha_path) else {}
minted_path = os.path.join(state, "minted.tsv")
minted = []

for t in TIERS:
    st, body = get(f"{url}/api/downloads/{t}?t={links.get(t, '')}")
    if not ok(st == 200, f"{t}: portal API answers", f"status {st}: {body[:300]!r}"):
        continue
    j = json.loads(body)
    dates = sorted(pub[t], reverse=True)
    want = dates[:KEEP_DAILY]
    got = [f["date"] for f in j["daily"]]
    ok(got == want, f"{t}: exactly the newest {KEEP_DAILY} dailies listed",
       f"want {want}\ngot  {got}")
    bad = [f["date"] for f in j["daily"]
           if f["date"] in pub[t] and (f["rows"], f["sha256"]) != pub[t][f["date"]]]
    ok(not bad, f"{t}: dailies' rows and sha256 are the published files'", f"differ: {bad}")

    newest_month = dates[0][:7] if dates else None
    mtd = j.get("mtd")
    want_rows = sum(r for d, (r, _) in pub[t].items() if d[:7] == newest_month)
    ok(mtd is not None and mtd["month"] == newest_month and mtd["rows"] == want_rows,
       f"{t}: MTD {newest_month} rows = sum of the month's dailies ({want_rows})",
       f"got {mtd and (mtd['month'], mtd['rows'])}")

    months = sorted({d[:7] for d in pub[t] if newest_month and d[:7] < newest_month}, reverse=True)
    got_m = [(m["month"], m["rows"]) for m in j["monthly"]]
    want_m = [(m, sum(r for d, (r, _) in pub[t].items() if d[:7] == m)) for m in months]
    ok(got_m == want_m, f"{t}: monthly bundles listed with rows = each month's sum",
       f"want {want_m}\ngot  {got_m}")

    # the content each listed key has now; links minted for it must give these bytes
    for f in j["daily"] + ([mtd] if mtd else []) + j["monthly"]:
        keysha[f["key"]] = f["sha256"]
    # mint: the newest and the oldest daily (retired tomorrow: its link must live on),
    # the MTD, the newest monthly
    for f in (j["daily"][:1] + j["daily"][-1:] + ([mtd] if mtd else []) + j["monthly"][:1]):
        minted.append((f["url"], f["key"], f["expires_at"]))

    if bundles:
        for kind, f in (("mtd", mtd), ("monthly", j["monthly"][0] if j["monthly"] else None)):
            if not f:
                continue
            st, body = get(f["url"])
            bpath = os.path.join(state, f"bundle-{t}-{kind}.parquet")
            open(bpath, "wb").write(body)
            mkey = f["key"].rsplit("/", 1)[0] + "/manifest.json"
            st2, mbody = get(presign(mkey))
            if not ok(st == 200 and st2 == 200, f"{t}: {kind} {f['month']} and its manifest download",
                      f"statuses {st} {st2}"):
                continue
            man = json.loads(mbody)
            mdays = [x["date"] for x in man.get("days", [])]
            ok(sorted(mdays) == sorted(d for d in pub[t] if d[:7] == f["month"]),
               f"{t}: {kind} {f['month']} manifest lists the month's published days",
               f"manifest {mdays}")
            with open(os.path.join(state, f"bundle-{t}-{kind}.seg"), "w") as s:
                s.write(bpath + "\n")
                for d in mdays:
                    s.write(os.path.join(state, "files", t, d + ".parquet") + "\n")

with open(minted_path, "a") as m:
    for u, k, e in minted:
        m.write(f"{u}\t{k}\t{e}\n")
json.dump(keysha, open(keysha_path, "w"))

# every link minted so far that has not expired must download its key's content
live = dead = wrong = 0
detail = []
for line in open(minted_path):
    u, k, e = line.rstrip("\n").split("\t")
    if e == "None" or e <= now:
        continue
    live += 1
    st, body = get(u)
    if st != 200:
        dead += 1
        detail.append(f"{st} {k} (expires {e})")
    elif hashlib.sha256(body).hexdigest() != keysha.get(k):
        wrong += 1
        detail.append(f"content differs: {k}")
ok(dead == 0 and wrong == 0,
   f"{live} unexpired links minted so far download their content ({dead} dead, {wrong} differ)",
   "\n".join(detail))

# blobs: exactly the referenced ones (after the lifecycle pass's GC)
db = sqlite3.connect(f"file:{data}/meta.db?mode=ro", uri=True)
ref = {r[0].lower() for r in db.execute("select hex(sha256) from objects union select hex(sha256) from parts")}
# retired objects are deleted after their links' horizon: the dailies kept (listed or
# retired) stay bounded by keep_daily + the link lifetime (6d20h) + a day
for t in TIERS:
    n = db.execute("select count(distinct substr(cast(key as text), 1, 22)) from objects"
                   " where cast(key as text) like ?", (t + "/daily/%",)).fetchone()[0]
    ok(n <= KEEP_DAILY + 8, f"{t}: retired dailies are deleted after their horizon ({n} days stored)")
db.close()
files = set()
for root, _, names in os.walk(os.path.join(data, "blobs")):
    files.update(names)
missing = ref - files
extra = files - ref
ok(not missing, "every referenced blob exists", f"missing: {sorted(missing)[:5]}")
ok(not extra, "no unreferenced blobs after GC", f"{len(extra)} unreferenced")
left = os.listdir(os.environ.get("TMPDIR", "/tmp")) + os.listdir(os.path.join(data, "tmp"))
ok(not left, "nothing left in TMPDIR or the store's tmp/", f"{left[:5]}")
sys.exit(0)
