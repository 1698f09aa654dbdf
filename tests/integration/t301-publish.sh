#!/bin/bash
# t301-publish.sh -- `tollgate publish` with TOLLGATE_NOW (no sleeping): three days of
# one month (MTD rows = sum, manifest lists the days), re-publishing day 2 with other
# data (spliced in place, day order kept), identical bytes (no-op), the 1st of the next
# month (previous MTD frozen under monthly/ and retired, not deleted: its link still
# downloads, the portal no longer lists it), a late day of the closed month (monthly
# bundle rebuilt, checked by DuckDB), a schema mismatch (refused, nothing changed),
# --columns (projection; an unknown column refused), CSV / JSON-lines / gzip bundles
# (one header, byte ranges), other formats daily-only, and the portal JSON API listing
# the published files with rows and sha256 from the manifests.
source "$(dirname "$0")/lib.sh"
# a private copy of the binary: other work may rebuild build/tollgate meanwhile
for _ in 1 2 3 4 5; do cp "$TG" "$T/tollgate" 2>/dev/null && break; sleep 1; done
TG="$T/tollgate"

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

# Rollover retires, never deletes: the March MTD is still stored (and downloads by its
# presigned link) but retired, so neither the portal nor the index lists it
if [ "$TG_STORAGE" = s3 ]; then
    check "rollover: the old MTD is retired (its marker on the remote), not deleted" bash -c \
        "remote_aws s3api head-object --bucket tollgate --key .tollgate/retired/tier2/mtd/2026-03/tier2_2026-03_mtd.parquet && remote_aws s3api head-object --bucket tollgate --key tier2/mtd/2026-03/tier2_2026-03_mtd.parquet"
else
    check_eq "rollover: the old MTD is retired, not deleted" "1" \
        "$(sqlq "select count(*) from objects where cast(key as text)='tier2/mtd/2026-03/tier2_2026-03_mtd.parquet' and retired_us > 0" | tr -d '[](),')"
fi
serve_at 2026-04-02T06:00:05Z || { not_ok "server starts (retired check)"; finish; }
SNOW=2026-04-02T06:00:05Z
fetch tier2/mtd/2026-03/tier2_2026-03_mtd.parquet "$T/oldmtd.parquet"
check_eq "retired old MTD: its presigned link still downloads the same bytes" "$MTD_SHA" "$(sha256sum "$T/oldmtd.parquet" | cut -d' ' -f1)"
api 2026-04-02T06:00:05Z
check "retired old MTD: absent from the portal API" bash -c "! grep -q 'mtd/2026-03' '$T/api.json'"
tg_stop

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

# A late day: 2026-03-04 arrives after the rollover -> the March monthly bundle is rebuilt
"$TG" parquet gen -o "$G/d4.parquet" --rows 55 --date 2026-03-04 --seed 5
pub 2026-04-03T06:00:00Z tier2 "$G/d4.parquet" --date 2026-03-04 --json
check_eq "late day exits 0" 0 "$?"
check_eq "late day: the monthly bundle is rebuilt" "tier2/monthly/2026-03/tier2_2026-03.parquet" "$(pyj "$T/pub.json" 'd["monthly_key"]')"
check_eq "late day: no warning" "None" "$(pyj "$T/pub.json" 'd.get("warning")')"
serve_at 2026-04-03T12:00:00Z || { not_ok "server starts (late day)"; finish; }
SNOW=2026-04-03T12:00:00Z
M tier2/monthly/2026-03/manifest.json
check_eq "late day: monthly manifest days in order with rows" "2026-03-01:100 2026-03-02:40 2026-03-03:70 2026-03-04:55" \
    "$(pyj "$T/m.json" '" ".join(x["date"] + ":" + str(x["rows"]) for x in d["days"])')"
check_eq "late day: monthly coverage and rows" "2026-03-01 2026-03-04 265" "$(pyj "$T/m.json" 'd["coverage"]["start"] + " " + d["coverage"]["end"] + " " + str(d["rows"])')"
fetch tier2/monthly/2026-03/tier2_2026-03.parquet "$T/m3b.parquet"
check_eq "late day: monthly file sha256 = manifest's" "$(pyj "$T/m.json" 'd["sha256"]')" "$(sha256sum "$T/m3b.parquet" | cut -d' ' -f1)"
"$TG" parquet info --json "$T/m3b.parquet" >"$T/info.json"
check_eq "late day: monthly file rows" 265 "$(pyj "$T/info.json" 'd["rows"]')"
if [ -d "$ROOT/tests/parquet/node_modules/@duckdb" ]; then
    check "late day: monthly values = the days' in order (DuckDB, hyparquet)" \
        node "$ROOT/tests/parquet/pq.mjs" check "$T/m3b.parquet" "$G/d1.parquet" "$G/d2b.parquet" "$G/d3.parquet" "$G/d4.parquet"
fi
tg_stop
pub 2026-04-03T07:00:00Z tier2 "$G/d4.parquet" --date 2026-03-04 --json
check_eq "late day again, identical: a no-op" "True" "$(pyj "$T/pub.json" 'd["noop"]')"

# --columns: one master file, a narrower tier
printf '\n[grant tier1]\ntitle = Tier 1\nprefix = tier1/\n' >>"$CONF"
BEFORE=$(sqlq "select count(*) from objects")
pub 2026-03-02T06:00:00Z tier1 "$G/d1.parquet" --columns ts,symbol,nope
check_eq "--columns with an unknown column: exit 1" 1 "$?"
check_contains "--columns: the error names the unknown column" "nope" "$(cat "$T/pub.err")"
check_eq "--columns refused: nothing written" "$BEFORE" "$(sqlq "select count(*) from objects")"
pub 2026-03-02T06:00:00Z tier1 "$G/d1.parquet" --columns ts,symbol,price --json
check_eq "--columns ts,symbol,price exits 0" 0 "$?"
pub 2026-03-03T06:00:00Z tier1 "$G/d2.parquet" --columns ts,symbol,price --json
check_eq "--columns: second day joins the MTD (same projected schema)" "2 350" "$(pyj "$T/pub.json" 'd["mtd_days"], d["mtd_rows"]' | tr -d '(),')"
serve_at 2026-03-03T12:00:00Z || { not_ok "server starts (columns)"; finish; }
SNOW=2026-03-03T12:00:00Z
fetch tier1/mtd/2026-03/tier1_2026-03_mtd.parquet "$T/t1mtd.parquet"
"$TG" parquet info --json "$T/t1mtd.parquet" >"$T/info.json"
check_eq "--columns: the MTD has exactly the 3 columns" "ts,symbol,price 350" "$(pyj "$T/info.json" '",".join(c["name"] for c in d["columns"]) + " " + str(d["rows"])')"
tg_stop

# CSV, JSON-lines, gzip: MTD = concatenation, one CSV header
printf '\n[grant tcsv]\nprefix = tcsv/\n[grant tjs]\nprefix = tjs/\n[grant tbin]\nprefix = tbin/\n' >>"$CONF"
printf 'id,name\r\n1,a\r\n2,b\r\n' >"$G/c1.csv"
printf 'id,name\n3,c\n\n4,d\n5,e' >"$G/c2.csv"    # a blank line (not a row), no final newline
printf 'id,name\n9,z\n' >"$G/c2b.csv"
printf 'id,name\n6,f\n' | gzip -c >"$G/c3.csv.gz"
printf 'name,id\n7,g\n' >"$G/cbad.csv"
pub 2026-03-02T06:00:00Z tcsv "$G/c1.csv" --json
check_eq "CSV day 1: rows (header not counted), format" "2 csv" "$(pyj "$T/pub.json" 'd["rows"], d["format"]' | tr -d "(),'")"
pub 2026-03-03T06:00:00Z tcsv "$G/c2.csv" --json
check_eq "CSV day 2: rows, MTD days and rows" "3 2 5" "$(pyj "$T/pub.json" 'd["rows"], d["mtd_days"], d["mtd_rows"]' | tr -d "(),'")"
pub 2026-03-04T06:00:00Z tcsv "$G/c3.csv.gz" --json
check_eq "CSV day 3 (gzip) joins the CSV MTD" "3 6 tcsv/daily/2026-03-03/tcsv_2026-03-03.csv.gz" "$(pyj "$T/pub.json" 'd["mtd_days"], d["mtd_rows"], d["daily_key"]' | tr -d "(),'")"
pub 2026-03-05T06:00:00Z tcsv "$G/c2b.csv" --date 2026-03-02 --json
check_eq "CSV re-publish of day 2: spliced, MTD rows" "True 4" "$(pyj "$T/pub.json" 'd["spliced"], d["mtd_rows"]' | tr -d "(),'")"
pub 2026-03-05T06:00:00Z tcsv "$G/cbad.csv" --date 2026-03-04
check_eq "CSV with another header: refused" 1 "$?"
check_contains "CSV header mismatch: a schema change" "differs from the grant's previous days" "$(cat "$T/pub.err")"
printf '{"b":1,"a":"x"}\n{"a":"y","b":2}\n' | gzip -c >"$G/j1.jsonl.gz"
printf '{"a":"z","b":3}\n' | gzip -c >"$G/j2.jsonl.gz"
pub 2026-03-02T06:00:00Z tjs "$G/j1.jsonl.gz" --json
pub 2026-03-03T06:00:00Z tjs "$G/j2.jsonl.gz" --json
check_eq "JSON-lines (gzip): MTD days and rows" "2 3" "$(pyj "$T/pub.json" 'd["mtd_days"], d["mtd_rows"]' | tr -d "(),'")"
printf 'just bytes' >"$G/x.bin"
pub 2026-03-02T06:00:00Z tbin "$G/x.bin" --json
check_eq "other format: published" 0 "$?"
check_eq "other format: daily key keeps the extension, no MTD" "tbin/daily/2026-03-01/tbin_2026-03-01.bin None" "$(pyj "$T/pub.json" 'd["daily_key"], d.get("mtd_key")' | tr -d "(),'")"
check_contains "other format: the result says daily only" "daily object and manifest only" "$(pyj "$T/pub.json" 'd["warning"]')"
serve_at 2026-03-05T12:00:00Z || { not_ok "server starts (text)"; finish; }
SNOW=2026-03-05T12:00:00Z
fetch tcsv/mtd/2026-03/tcsv_2026-03_mtd.csv "$T/cmtd.csv"
check_eq "CSV MTD: one header, the days in date order" "$(printf 'id,name\r\n1,a\r\n2,b\r\n9,z\n6,f\n')" "$(cat "$T/cmtd.csv")"
M tcsv/mtd/2026-03/manifest.json
check_eq "CSV MTD manifest: days with byte ranges and rows" "2026-03-01:2:[9, 19] 2026-03-02:1:[19, 23] 2026-03-03:1:[23, 27]" \
    "$(pyj "$T/m.json" '" ".join(x["date"] + ":" + str(x["rows"]) + ":" + str(x["bytes"]) for x in d["days"])')"
check_eq "CSV MTD manifest: format, rows, fingerprint = sha256 of the header" "csv 4 $(printf 'id,name' | sha256sum | cut -d' ' -f1)" \
    "$(pyj "$T/m.json" 'd["format"] + " " + str(d["rows"]) + " " + d["schema"]["fingerprint"]')"
fetch tjs/mtd/2026-03/tjs_2026-03_mtd.jsonl.gz "$T/jmtd.gz"
check_eq "JSON-lines MTD: a valid gzip holding the days' lines" "3" "$(gzip -dc "$T/jmtd.gz" | wc -l)"
M tjs/daily/2026-03-01/manifest.json
check_eq "JSON-lines fingerprint = sha256 of the sorted keys of line 1" "$(printf 'a\nb\n' | sha256sum | cut -d' ' -f1)" "$(pyj "$T/m.json" 'd["schema"]["fingerprint"]')"
api 2026-03-05T12:00:00Z
tg_stop

# Text formats freeze and take late days too: April's first CSV day freezes March (header
# once), then a late March day rebuilds the CSV monthly bundle
printf 'id,name\n8,h\n' >"$G/c4.csv"
printf 'id,name\n10,j\n11,k\n' >"$G/c5.csv"
pub 2026-04-02T06:00:00Z tcsv "$G/c4.csv" --json
check_eq "CSV rollover: March frozen as a CSV monthly bundle" "tcsv/monthly/2026-03/tcsv_2026-03.csv" "$(pyj "$T/pub.json" 'd["monthly_key"]')"
pub 2026-04-02T07:00:00Z tcsv "$G/c5.csv" --date 2026-03-05 --json
check_eq "CSV late day: the monthly bundle rebuilt with it" "tcsv/monthly/2026-03/tcsv_2026-03.csv 4 6" "$(pyj "$T/pub.json" 'd["monthly_key"], d["mtd_days"], d["mtd_rows"]' | tr -d "(),'")"
serve_at 2026-04-02T07:00:05Z || { not_ok "server starts (CSV monthly)"; finish; }
SNOW=2026-04-02T07:00:05Z
fetch tcsv/monthly/2026-03/tcsv_2026-03.csv "$T/cmon.csv"
check_eq "CSV monthly: one header, the days in date order, the late day last" "$(printf 'id,name\r\n1,a\r\n2,b\r\n9,z\n6,f\n10,j\n11,k\n')" "$(cat "$T/cmon.csv")"
M tcsv/monthly/2026-03/manifest.json
check_eq "CSV monthly manifest: sha256 of the file" "$(sha256sum "$T/cmon.csv" | cut -d' ' -f1)" "$(pyj "$T/m.json" 'd["sha256"]')"
tg_stop

check_eq "no temp files left" "" "$(ls -A "$TMPDIR")"
finish
