#!/bin/bash
# t320-ops.sh -- operations: `tollgate health` green after yesterday's publish and red
# (exit 1, the problem naming the grant and the missing date) the day after with no
# publish (TOLLGATE_NOW, no sleeping); GET /api/admin/status = the CLI's JSON, 401
# without the admin key; the scheduler of `tollgate serve` publishing an inbox upload
# and rejecting a corrupt one, seen as `event: published` / `event: rejected` on the
# SSE stream (curl -N, stopped by PID) and replayed with Last-Event-ID; a webhook
# receiver (python http.server on 127.0.0.1) that answers 500 once, checks the HMAC
# signature of every delivery and sees the retry; the scheduler's log lines with counts;
# no secret in the log. Waits are bounded polls (<= 60 s), never timing assertions.
source "$(dirname "$0")/lib.sh"

pyj() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# wait_for SECONDS FILE PATTERN: bounded poll for an extended regexp in a file
wait_for() {
    local n=$(($1 * 10))
    for _ in $(seq 1 "$n"); do
        grep -Eq -- "$3" "$2" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

out=$("$TG" health --help 2>&1)
check_contains "'tollgate health --help' shows usage" "usage: tollgate health" "$out"

export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
tg_init "$T/data" || { not_ok "init"; finish; }
WPORT=$(free_port)
WSECRET="whsec-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cat >>"$CONF" <<EOF

[grant tier1]
title = Tier 1
prefix = tier1/

[webhook ops]
url = http://127.0.0.1:$WPORT/hook
secret = $WSECRET
events = published rejected

[health]
stale_after_hour = 6
EOF

"$TG" health nosuch --config "$CONF" >"$T/h.out" 2>&1
check_eq "health with an unknown grant: usage error (2)" 2 "$?"
"$TG" health --bogus --config "$CONF" >"$T/h.out" 2>&1
check_eq "health with an unknown option: usage error (2)" 2 "$?"

G="$T/gen"
mkdir -p "$G"
# The server part runs on the real clock (S3 clients sign with it): its "yesterday".
YDAY=$(date -u -d yesterday +%F)
D2=$(date -u -d "$YDAY - 1 day" +%F) # fixed now: the test may cross midnight
"$TG" parquet gen -o "$G/d1.parquet" --rows 50 --date 2026-03-01 --seed 1 &&
    "$TG" parquet gen -o "$G/d2.parquet" --rows 60 --date "$YDAY" --seed 2 ||
    { not_ok "parquet gen"; finish; }
printf 'PAR1 this is not a parquet file PAR1' >"$G/bad.parquet"

# ---- health from the CLI ----
"$TG" health --json --config "$CONF" >"$T/h0.json" 2>>"$T/health.err"
check_eq "health before any publish: exit 1" 1 "$?"
check_contains "health before any publish: says nothing was published" "tier1: nothing published yet" "$(cat "$T/h0.json")"

N1=2026-03-02T07:00:00Z
TOLLGATE_NOW=$N1 "$TG" publish tier1 "$G/d1.parquet" --config "$CONF" >"$T/pub.out" 2>&1
check_eq "publish yesterday (2026-03-01) exits 0" 0 "$?"
# retention runs after every publish (and in serve); run it explicitly as well
TOLLGATE_NOW=$N1 "$TG" lifecycle apply --config "$CONF" >"$T/lc.out" 2>&1
check_eq "lifecycle apply exits 0" 0 "$?"
TOLLGATE_NOW=2026-03-02T07:30:00Z "$TG" health --json --config "$CONF" >"$T/h1.json" 2>"$T/h1.err"
rc=$?
check_eq "health green after publishing yesterday: exit 0" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/#   /' "$T/h1.json" "$T/h1.err" | head -20
check_eq "health JSON: ok, newest daily, MTD month" "True 2026-03-01 2026-03" \
    "$(pyj "$T/h1.json" 'd["ok"], d["grants"][0]["newest_daily"], d["grants"][0]["mtd_month"]' | tr -d "(),'")"
check_eq "health JSON: the fields of the issue" \
    "grant last_lifecycle_run mtd_built_at mtd_month newest_daily next_rotation ok problems" \
    "$(pyj "$T/h1.json" '" ".join(sorted(d["grants"][0].keys()))')"
check_eq "health JSON: next rotation is the next Monday 00:00 UTC" "2026-03-09T00:00:00Z" \
    "$(pyj "$T/h1.json" 'd["grants"][0]["next_rotation"]')"
check_eq "health JSON: lifecycle run recorded" "True" \
    "$(pyj "$T/h1.json" 'd["grants"][0]["last_lifecycle_run"] is not None')"
TOLLGATE_NOW=2026-03-02T07:30:00Z "$TG" health --config "$CONF" >"$T/h1.txt" 2>&1
check_contains "health table says all fresh" "all grants fresh" "$(cat "$T/h1.txt")"

# the day after, nothing published: red once stale_after_hour passed
N2=2026-03-03T08:00:00Z
TOLLGATE_NOW=$N2 "$TG" health --json --config "$CONF" >"$T/h2.json" 2>>"$T/health.err"
check_eq "health the day after without a publish: exit 1" 1 "$?"
check_eq "health JSON: ok false" "False False" "$(pyj "$T/h2.json" 'd["ok"], d["grants"][0]["ok"]' | tr -d "(),'")"
check_contains "the problem names the grant and the missing date" "tier1: the daily for 2026-03-02 is missing" \
    "$(pyj "$T/h2.json" '"; ".join(d["grants"][0]["problems"])')"
TOLLGATE_NOW=$N2 "$TG" health tier1 --config "$CONF" >"$T/h2.txt" 2>&1
check_eq "health table (one grant named): exit 1" 1 "$?"
check_contains "health table lists the problem" "problem: tier1: the daily for 2026-03-02 is missing" "$(cat "$T/h2.txt")"
# before stale_after_hour the day before yesterday is still accepted
TOLLGATE_NOW=2026-03-03T05:00:00Z "$TG" health --json --config "$CONF" >"$T/h3.json" 2>>"$T/health.err"
check_contains "before 06:00 UTC yesterday's file is not yet missing" "2026-03-01" "$(pyj "$T/h3.json" 'd["grants"][0]["newest_daily"]')"
check_eq "... so no missing-daily problem" "" "$(pyj "$T/h3.json" '"; ".join(p for p in d["grants"][0]["problems"] if "missing" in p)')"

# ---- a webhook receiver: 500 once, then 200; checks every signature ----
cat >"$T/hook.py" <<'EOF'
import hashlib, hmac, http.server, json, sys
port, secret, log = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
state = {"n": 0}
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        sig = self.headers.get("X-Tollgate-Signature", "")
        state["n"] += 1
        status = 500 if state["n"] == 1 else 200
        rec = {"n": state["n"], "status": status, "path": self.path,
               "event": self.headers.get("X-Tollgate-Event"),
               "delivery": self.headers.get("X-Tollgate-Delivery"),
               "sig_ok": hmac.compare_digest(sig, want), "body": json.loads(body)}
        with open(log, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
/usr/bin/python3 "$T/hook.py" "$WPORT" "$WSECRET" "$T/hooks.jsonl" >"$T/hook.log" 2>&1 &
HOOK_PID=$!
PIDS+=("$HOOK_PID")

# ---- serve (real clock: awscli signs with it): status, SSE, inbox, webhook ----
export TOLLGATE_SCHED_INTERVAL=1
tg_serve || { not_ok "server starts"; finish; }
unset TOLLGATE_SCHED_INTERVAL
check "scheduler: the start-up lifecycle run is logged with counts" \
    wait_for 30 "$T/server.log" 'scheduler: lifecycle \(start\): [0-9]+ retired, [0-9]+ deleted'

code=$(curl -s -o "$T/st401.json" -w '%{http_code}' "$URL/api/admin/status")
check_eq "GET /api/admin/status without the key: 401" 401 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/admin/events")
check_eq "GET /api/admin/events without the key: 401" 401 "$code"
code=$(curl -s -o "$T/st.json" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "$URL/api/admin/status")
check_eq "GET /api/admin/status with the admin key: 200" 200 "$code"
"$TG" health --json --config "$CONF" >"$T/h4.json" 2>>"$T/health.err"
same=$(/usr/bin/python3 - "$T/st.json" "$T/h4.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
keys = ["grant", "ok", "newest_daily", "mtd_month", "mtd_built_at", "last_lifecycle_run", "next_rotation", "problems"]
pick = lambda d: (d["ok"], [[g[k] for k in keys] for g in d["grants"]])
print("same" if pick(a) == pick(b) else "differ: %r vs %r" % (pick(a), pick(b)))
EOF
)
check_eq "/api/admin/status = tollgate health --json" same "$same"
check_eq "/api/admin/status: red (yesterday missing)" False "$(pyj "$T/st.json" 'd["ok"]')"

curl -sN -H "Authorization: Bearer $ADMIN" "$URL/api/admin/events" >"$T/sse.out" 2>"$T/sse.err" &
SSE_PID=$!
PIDS+=("$SSE_PID")
check "SSE stream opens (first comment arrives)" wait_for 20 "$T/sse.out" '^retry: 3000'

awss3 s3 cp "$G/d2.parquet" "s3://tollgate/inbox/tier1/$YDAY.parquet" >"$T/cp1.out" 2>&1
check_eq "aws s3 cp into the inbox" 0 "$?"
awss3 s3 cp "$G/bad.parquet" s3://tollgate/inbox/tier1/2026-02-27.parquet >"$T/cp2.out" 2>&1
check_eq "aws s3 cp a corrupt file into the inbox" 0 "$?"

check "SSE: event: published arrives (<= 60 s)" wait_for 60 "$T/sse.out" '^event: published$'
check "SSE: event: rejected arrives (<= 60 s)" wait_for 60 "$T/sse.out" '^event: rejected$'
kill "$SSE_PID" 2>/dev/null
wait "$SSE_PID" 2>/dev/null
sse=$(cat "$T/sse.out")
check_contains "SSE: the published event names the grant and date" "\"date\":\"$YDAY\"" "$(grep -A1 '^event: published' "$T/sse.out" | grep '^data:')"
check_contains "SSE: the rejected event carries a reason" '"reason":' "$(grep -A1 '^event: rejected' "$T/sse.out" | grep '^data:')"
check "SSE: every event frame has data and id lines" /usr/bin/python3 - "$T/sse.out" <<'EOF'
import json, sys
# ":" lines are comments (keep-alive ticks): a client ignores them
text = "\n".join(l for l in open(sys.argv[1]).read().split("\n") if not l.startswith(":"))
frames = [f.strip("\n") for f in text.split("\n\n") if f.strip("\n").startswith("event: ")]
assert frames, "no frames"
for f in frames:
    lines = f.split("\n")
    assert lines[1].startswith("data: ") and lines[2].startswith("id: "), f
    d = json.loads(lines[1][6:])
    assert d["kind"] == lines[0][7:] and str(d["id"]) == lines[2][4:], f
EOF
check_contains "SSE stream's content type" "text/event-stream" \
    "$(curl -s -m 2 -D - -o /dev/null -H "Authorization: Bearer $ADMIN" "$URL/api/admin/events")"

# Last-Event-ID: a reconnecting client gets what it missed
curl -sN -m 3 -H "Authorization: Bearer $ADMIN" -H "Last-Event-ID: 0" "$URL/api/admin/events" >"$T/sse2.out" 2>/dev/null
check_contains "Last-Event-ID 0 replays the published event" "event: published" "$(cat "$T/sse2.out")"
check_contains "Last-Event-ID 0 replays the rejected event" "event: rejected" "$(cat "$T/sse2.out")"

# at most EVENTS_SUBSCRIBERS_MAX (4) subscribers: the 5th gets 503; a slot of a client
# that went away is found again (the full bus makes its streams write)
# (the clients above are gone, but their parked streams may still hold slots: a refused
# subscriber is started again, bounded)
SUBS=()
for i in 1 2 3 4; do
    for _ in 1 2 3 4 5; do
        curl -sN -m 120 -H "Authorization: Bearer $ADMIN" "$URL/api/admin/events" >"$T/sub$i.out" 2>/dev/null &
        pid=$!
        PIDS+=("$pid")
        wait_for 20 "$T/sub$i.out" '^retry: 3000|unavailable'
        grep -q '^retry: 3000' "$T/sub$i.out" && break
        wait "$pid" 2>/dev/null
    done
    SUBS+=("$pid")
done
code=$(curl -s -m 5 -o "$T/503.json" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "$URL/api/admin/events")
check_eq "a 5th event subscriber: 503" 503 "$code"
check_contains "the 503 says why" "At most 4 event subscribers" "$(cat "$T/503.json")"
kill "${SUBS[0]}" "${SUBS[1]}" 2>/dev/null
wait "${SUBS[0]}" "${SUBS[1]}" 2>/dev/null
# the server notices a departed client when its parked stream next writes: asked again
# (bounded: 10 tries, 0.5 s apart) a slot is found
for _ in $(seq 1 10); do
    code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "$URL/api/admin/events")
    [ "$code" = 200 ] && break
    sleep 0.5
done
check_eq "after two subscribers left, a new one is accepted" 200 "$code"
kill "${SUBS[2]}" "${SUBS[3]}" 2>/dev/null
wait "${SUBS[2]}" "${SUBS[3]}" 2>/dev/null

# the inbox is emptied; the corrupt file is in inbox-rejected with its reason
awss3 s3 ls --recursive s3://tollgate/ >"$T/ls.out" 2>&1
check "the inbox is empty" sh -c "! grep -q ' inbox/' '$T/ls.out'"
check_contains "the corrupt file is in inbox-rejected/ with an .error.txt" "inbox-rejected/tier1/2026-02-27.parquet.error.txt" "$(cat "$T/ls.out")"

# after the inbox publish the scheduler ran the lifecycle pass, and health is green
check "scheduler: the inbox scan is logged with counts" \
    wait_for 30 "$T/server.log" 'scheduler: inbox scan: [0-9]+ files: [0-9]+ published, [0-9]+ unchanged, [0-9]+ rejected'
check "scheduler: a lifecycle pass after the publish" wait_for 30 "$T/server.log" 'scheduler: lifecycle \(after publish\)'
curl -s -o "$T/st2.json" -H "Authorization: Bearer $ADMIN" "$URL/api/admin/status"
check_eq "/api/admin/status green after the inbox publish" "True $YDAY" \
    "$(pyj "$T/st2.json" 'd["ok"], d["grants"][0]["newest_daily"]' | tr -d "(),'")"

# ---- the webhook ----
check "webhook: a published and a rejected delivery answered 200 (<= 60 s)" /usr/bin/python3 - "$T/hooks.jsonl" <<'EOF'
import json, sys, time
for _ in range(600):
    try:
        recs = [json.loads(l) for l in open(sys.argv[1])]
    except FileNotFoundError:
        recs = []
    ok = {r["event"] for r in recs if r["status"] == 200}
    if {"published", "rejected"} <= ok:
        sys.exit(0)
    time.sleep(0.1)
sys.exit("got: %r" % recs)
EOF
check "webhook: every delivery is signed correctly and its headers match the body" /usr/bin/python3 - "$T/hooks.jsonl" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert recs
for r in recs:
    assert r["sig_ok"], r
    assert r["event"] == r["body"]["kind"] and r["path"] == "/hook", r
    assert r["event"] in ("published", "rejected"), r  # events = published rejected
    assert r["delivery"] and len(r["delivery"]) == 32, r
EOF
check "webhook: the delivery answered 500 was retried with the same delivery id" /usr/bin/python3 - "$T/hooks.jsonl" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
first = recs[0]
assert first["status"] == 500, first
assert any(r["delivery"] == first["delivery"] and r["status"] == 200 for r in recs[1:]), recs
EOF
check "webhook: the failed attempt is logged with its retry" grep -Eq 'webhook ops: .* attempt 1 of 6 failed \(HTTP 500\); retry in [0-9]+ ms' "$T/server.log"

# a `tollgate publish` by another process is announced too (the scheduler watches the indexes)
"$TG" parquet gen -o "$G/d3.parquet" --rows 20 --date "$D2" --seed 3 >/dev/null 2>&1
"$TG" publish tier1 "$G/d3.parquet" --date "$D2" --config "$CONF" >"$T/pub3.out" 2>&1
check_eq "tollgate publish while serve runs exits 0" 0 "$?"
check "webhook: the CLI publish arrives as published via publish (<= 60 s)" /usr/bin/python3 - "$T/hooks.jsonl" "$D2" <<'EOF'
import json, sys, time
for _ in range(600):
    recs = [json.loads(l) for l in open(sys.argv[1])]
    if any(r["status"] == 200 and r["body"].get("via") == "publish" and r["body"].get("date") == sys.argv[2] and r["body"]["grant"] == "tier1" for r in recs):
        sys.exit(0)
    time.sleep(0.1)
sys.exit("got: %r" % [r["body"] for r in recs])
EOF
check "scheduler: the announcement is logged" grep -q 'scheduler: 1 dailies published by another process announced' "$T/server.log"

# ---- no secret in the log; clean stop ----
check "the log holds neither the webhook secret nor the admin key" \
    sh -c "! grep -qF -e '$WSECRET' -e '$ADMIN' '$T/server.log'"
tg_stop
check_eq "serve stops on SIGTERM (scheduler joined)" 0 "$?"
check_contains "serve logged its stop" "tollgate: stopped" "$(tail -5 "$T/server.log")"
kill "$HOOK_PID" 2>/dev/null
finish
