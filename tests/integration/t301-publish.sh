#!/bin/bash
# t301-publish.sh -- `tollgate publish` with TOLLGATE_NOW (no sleeping): three days of
# one month (MTD rows = sum, manifest lists the days), re-publishing day 2 with other
# data (spliced in place, day order kept), identical bytes (no-op), the 1st of the next
# month (previous MTD frozen under monthly/, new MTD with one day), a schema mismatch
# (refused, nothing changed), non-Parquet refused, and the portal JSON API listing the
# published files with rows and sha256 from the manifests; the MTD link downloads the
# manifest's bytes.
source "$(dirname "$0")/lib.sh"

out=$("$TG" publish --help 2>&1); rc=$?
check_eq "'tollgate publish --help' exits 0" 0 "$rc"
check_contains "'tollgate publish --help' shows usage" "usage: tollgate publish" "$out"

export TMPDIR="$T/tmp" # publish's temp files: checked at the end
mkdir -p "$TMPDIR"
tg_init "$T/data"
printf '\n[grant tier2]\ntitle = Tier 2\nprefix = tier2/\n' >>"$CONF"
G="$T/gen"
mkdir -p "$G"
"$TG" parquet gen -o "$G/d1.parquet" --rows 100 --date 2026-03-01 --seed 1 &&
    "$TG" parquet gen -o "$G/d2.parquet" --rows 250 --date 2026-03-02 --seed 2 &&
    "$TG" parquet gen -o "$G/d2b.parquet" --rows 40 --date 2026-03-02 --seed 22 &&
    "$TG" parquet gen -o "$G/d3.parquet" --rows 70 --date 2026-03-03 --seed 3 &&
    "$TG" parquet gen -o "$G/a1.parquet" --rows 30 --date 2026-04-01 --seed 4 ||
    { not_ok "parquet gen"; finish; }

pyj() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# pub NOW GRANT FILE [args]: publish at NOW, JSON into $T/pub.json, stderr into $T/pub.err
pub() {
    local now=$1
    shift
    TOLLGATE_NOW=$now "$TG" publish --config "$CONF" "$@" >"$T/pub.json" 2>"$T/pub.err"
}
sqlq() { /usr/bin/python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(sys.argv[2]).fetchall())' "$DATA/meta.db" "$1"; }

# Day 1: date defaults to yesterday
pub 2026-03-02T06:00:00Z tier2 "$G/d1.parquet" --schema-label v1 --json
check_eq "publish day 1 (default date = yesterday) exits 0" 0 "$?"
check_eq "day 1 daily key" "tier2/daily/2026-03-01/tier2_2026-03-01.parquet" "$(pyj "$T/pub.json" 'd["daily_key"]')"
pub 2026-03-03T06:00:00Z tier2 "$G/d2.parquet" --date 2026-03-02 --json
check_eq "publish day 2 exits 0" 0 "$?"
pub 2026-03-04T06:00:00Z tier2 "$G/d3.parquet" --json
check_eq "publish day 3 exits 0" 0 "$?"
check_eq "MTD rows = 100 + 250 + 70" "420 3" "$(pyj "$T/pub.json" 'd["mtd_rows"], d["mtd_days"]' | tr -d '(),')"

# Server (for downloads) and a token
serve_at() { export TOLLGATE_NOW=$1; tg_serve; local rc=$?; unset TOLLGATE_NOW; return $rc; }
api() { # api NOW -> $T/api.json
    TOLLGATE_NOW=$1 "$TG" links tier2 --config "$CONF" --format json >"$T/links.json" 2>/dev/null
    local tok
    tok=$(pyj "$T/links.json" 'd[0]["current"]["token"]')
    curl -s -o "$T/api.json" "$URL/api/downloads/tier2?t=$tok"
}

serve_at 2026-03-04T12:00:00Z || { not_ok "server starts"; finish; }
api 2026-03-04T12:00:00Z
check_eq "API lists the 3 dailies, newest first" "2026-03-03 2026-03-02 2026-03-01" "$(pyj "$T/api.json" '" ".join(f["date"] for f in d["daily"])')"
check_eq "API: daily rows from the manifests" "70 250 100" "$(pyj "$T/api.json" '" ".join(str(f["rows"]) for f in d["daily"])')"
check_eq "API: MTD month and rows" "2026-03 420" "$(pyj "$T/api.json" 'd["mtd"]["month"] + " " + str(d["mtd"]["rows"])')"
curl -s -o "$T/mtd.parquet" "$(pyj "$T/api.json" 'd["mtd"]["url"]')"
check_eq "MTD download: sha256 = the API's (= manifest's)" "$(pyj "$T/api.json" 'd["mtd"]["sha256"]')" "$(sha256sum "$T/mtd.parquet" | cut -d' ' -f1)"
"$TG" parquet info --json "$T/mtd.parquet" >"$T/info.json"
check_eq "parquet info: MTD rows = sum of the days" 420 "$(pyj "$T/info.json" 'd["rows"]')"
tg_stop

# Manifests, read through presigned S3 URLs
# S3 signatures carry the (simulated) time: presign at the server's TOLLGATE_NOW.
SNOW=2026-03-04T12:00:00Z
fetch() { # fetch KEY FILE
    curl -s -o "$2" "$(TOLLGATE_NOW=$SNOW "$TG" presign --config "$CONF" "tollgate/$1")"
}
M() { fetch "$1" "$T/m.json"; } # M KEY -> $T/m.json
serve_at 2026-03-04T12:00:00Z || { not_ok "server restarts"; finish; }
M tier2/mtd/2026-03/manifest.json
check_eq "MTD manifest: kind, coverage" "mtd 2026-03-01 2026-03-03" "$(pyj "$T/m.json" 'd["kind"] + " " + d["coverage"]["start"] + " " + d["coverage"]["end"]')"
check_eq "MTD manifest: days in order with rows" "2026-03-01:100 2026-03-02:250 2026-03-03:70" \
    "$(pyj "$T/m.json" '" ".join(x["date"] + ":" + str(x["rows"]) for x in d["days"])')"
check_eq "MTD manifest: schema label kept" v1 "$(pyj "$T/m.json" 'd["schema"]["label"]')"
check_eq "MTD manifest: row-group ranges" "[0, 1] [1, 2] [2, 3]" "$(pyj "$T/m.json" '" ".join(str(x["row_groups"]) for x in d["days"])')"
M tier2/daily/2026-03-02/manifest.json
check_eq "daily manifest: sha256 of the file" "$(sha256sum "$G/d2.parquet" | cut -d' ' -f1)" "$(pyj "$T/m.json" 'd["sha256"]')"
check_eq "daily manifest fields" "built_at coverage format grant key kind row_groups rows schema sha256 size" "$(pyj "$T/m.json" '" ".join(sorted(d))')"

# Re-publish day 2 with other data: spliced
pub 2026-03-04T07:00:00Z tier2 "$G/d2b.parquet" --date 2026-03-02 --json
check_eq "re-publish day 2 exits 0" 0 "$?"
check_eq "re-publish day 2: spliced, MTD rows 100 + 40 + 70" "True 210" "$(pyj "$T/pub.json" 'd["spliced"], d["mtd_rows"]' | tr -d '(),')"
M tier2/mtd/2026-03/manifest.json
check_eq "after splice: day order kept, rows updated" "2026-03-01:100 2026-03-02:40 2026-03-03:70" \
    "$(pyj "$T/m.json" '" ".join(x["date"] + ":" + str(x["rows"]) for x in d["days"])')"
check_eq "after splice: day 2 sha256 is the new file's" "$(sha256sum "$G/d2b.parquet" | cut -d' ' -f1)" "$(pyj "$T/m.json" 'd["days"][1]["sha256"]')"
fetch tier2/mtd/2026-03/tier2_2026-03_mtd.parquet "$T/mtd2.parquet"
"$TG" parquet info --json "$T/mtd2.parquet" >"$T/info.json"
check_eq "parquet info: spliced MTD rows" 210 "$(pyj "$T/info.json" 'd["rows"]')"
MTD_SHA=$(pyj "$T/m.json" 'd["sha256"]')

# Identical re-publish: no-op
pub 2026-03-04T08:00:00Z tier2 "$G/d2b.parquet" --date 2026-03-02
check_eq "identical re-publish exits 0" 0 "$?"
check_contains "identical re-publish says nothing to do" "nothing to do" "$(cat "$T/pub.json")"
M tier2/mtd/2026-03/manifest.json
check_eq "identical re-publish: MTD unchanged" "$MTD_SHA" "$(pyj "$T/m.json" 'd["sha256"]')"

# Schema mismatch: refused, nothing changed
"$TG" parquet project -o "$G/narrow.parquet" --columns ts,symbol,price "$G/d3.parquet"
BEFORE=$(sqlq "select count(*) from objects")
check "object count readable" test -n "$BEFORE"
pub 2026-03-05T06:00:00Z tier2 "$G/narrow.parquet" --date 2026-03-04
check_eq "schema mismatch: exit 1" 1 "$?"
check_contains "schema mismatch: clear message" "differs from the grant's previous days" "$(cat "$T/pub.err")"
check_contains "schema mismatch: mentions --allow-schema-change" "--allow-schema-change" "$(cat "$T/pub.err")"
check_eq "schema mismatch: no object written" "$BEFORE" "$(sqlq "select count(*) from objects")"
sqlq "select key from objects" >"$T/ls.txt"
check "schema mismatch: no daily folder for the date" bash -c "! grep -q 2026-03-04 '$T/ls.txt'"

# A CSV file for a Parquet grant: a schema (format) change, refused
echo "a,b" >"$G/x.csv"
pub 2026-03-05T06:00:00Z tier2 "$G/x.csv" --date 2026-03-04
check_eq "CSV after Parquet days: exit 1" 1 "$?"
check_contains "CSV after Parquet days: says the schema (format) differs" "(csv, fingerprint" "$(cat "$T/pub.err")"
pub 2026-03-05T06:00:00Z nope "$G/d1.parquet"
check_eq "unknown grant: exit 1" 1 "$?"
tg_stop

# Next month: rollover
pub 2026-04-02T06:00:00Z tier2 "$G/a1.parquet" --json
check_eq "publish 2026-04-01 exits 0" 0 "$?"
check_eq "rollover: monthly key" "tier2/monthly/2026-03/tier2_2026-03.parquet" "$(pyj "$T/pub.json" 'd["monthly_key"]')"
check_eq "rollover: new MTD has one day" "1 30" "$(pyj "$T/pub.json" 'd["mtd_days"], d["mtd_rows"]' | tr -d '(),')"

serve_at 2026-04-02T12:00:00Z || { not_ok "server starts (April)"; finish; }
SNOW=2026-04-02T12:00:00Z
M tier2/monthly/2026-03/manifest.json
check_eq "monthly manifest: kind, rows, sha256 of the frozen MTD" "monthly 210 $MTD_SHA" "$(pyj "$T/m.json" 'd["kind"] + " " + str(d["rows"]) + " " + d["sha256"]')"
M _index/tier2.json
check_eq "index: mtd, monthly" "tier2/mtd/2026-04/tier2_2026-04_mtd.parquet ['tier2/monthly/2026-03/tier2_2026-03.parquet']" "$(pyj "$T/m.json" 'd["mtd"] + " " + str(d["monthly"])')"
check_eq "index: 4 dailies" 4 "$(pyj "$T/m.json" 'len(d["daily"])')"
api 2026-04-02T12:00:00Z
check_eq "API (April): MTD 2026-04, 30 rows" "2026-04 30" "$(pyj "$T/api.json" 'd["mtd"]["month"] + " " + str(d["mtd"]["rows"])')"
check_eq "API (April): monthly 2026-03, 210 rows, manifest sha256" "2026-03 210 $MTD_SHA" \
    "$(pyj "$T/api.json" 'd["monthly"][0]["month"] + " " + str(d["monthly"][0]["rows"]) + " " + d["monthly"][0]["sha256"]')"
check_eq "API (April): 4 dailies" 4 "$(pyj "$T/api.json" 'len(d["daily"])')"
curl -s -o "$T/mtd4.parquet" "$(pyj "$T/api.json" 'd["mtd"]["url"]')"
check_eq "April MTD download: sha256 = manifest's" "$(pyj "$T/api.json" 'd["mtd"]["sha256"]')" "$(sha256sum "$T/mtd4.parquet" | cut -d' ' -f1)"
curl -s -o "$T/m3.parquet" "$(pyj "$T/api.json" 'd["monthly"][0]["url"]')"
check_eq "monthly download: sha256 = manifest's" "$MTD_SHA" "$(sha256sum "$T/m3.parquet" | cut -d' ' -f1)"
tg_stop

check_eq "no temp files left" "" "$(ls -A "$TMPDIR")"
finish
