#!/bin/bash
# bench/publish.sh -- the nightly publish of a month of ~25 MiB daily Parquet files:
# days 1..30 of a month are published with `tollgate publish` (untimed), then timed:
#   append  publish day 31 (daily object + manifest, the day's row groups appended to
#           the month-to-date bundle, MTD manifest, index)
#   splice  re-publish day 15 with different data (its row groups replaced inside the
#           MTD), three times, alternating two versions of the day
# against the floor, copying the MTD file once (`cp` + `sync FILE`), and against
# rebuilding the MTD with DuckDB (COPY (SELECT * FROM read_parquet([31 files])), which
# decodes and re-encodes). Wall seconds and peak RSS from /usr/bin/time -v; the numbers
# go into docs/benchmarks.md between the publish markers. Page cache warm.
# Inputs (tollgate parquet gen) are cached in build/bench-publish/in; the data
# directory is rebuilt on every run and removed at the end.
#   BENCH_ROWS=600000 bench/publish.sh
set -eu
cd "$(dirname "$0")/.."
TG=$PWD/build/tollgate
PQ="node tests/parquet/pq.mjs"
B=build/bench-publish
IN=$B/in
DATA=$B/data
[ -x "$TG" ] || { echo "build first: make" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }
[ -d tests/parquet/node_modules/@duckdb ] || { echo "needs npm ci in tests/parquet (scripts/deps.sh test)" >&2; exit 1; }
mkdir -p "$IN" "$B/tmp"
export TMPDIR=$PWD/$B/tmp
export TOLLGATE_CONFIG=""

# ~25 MiB a day: rows from the size of a 100 000-row sample (about 43 bytes a row)
if [ -z "${BENCH_ROWS:-}" ]; then
    "$TG" parquet gen -o "$B/sample.parquet" --rows 100000 --seed 1 --date 2026-01-01 >/dev/null
    ROWS=$(( 25 * 1048576 * 100000 / $(wc -c <"$B/sample.parquet") ))
    rm -f "$B/sample.parquet"
else
    ROWS=$BENCH_ROWS
fi
stamp="$IN/.inputs-$ROWS"
if [ ! -f "$stamp" ]; then
    echo "generating 31 daily files of $ROWS rows (+ another day 15)..." >&2
    rm -f "$IN"/*.parquet "$IN"/.inputs-*
    for d in $(seq 1 31); do
        dd=$(printf %02d "$d")
        "$TG" parquet gen -o "$IN/day-$dd.parquet" --rows "$ROWS" --seed "$d" --date "2026-01-$dd" >/dev/null
    done
    "$TG" parquet gen -o "$IN/day-15b.parquet" --rows $((ROWS - ROWS / 7)) --seed 1015 --date 2026-01-15 >/dev/null
    touch "$stamp"
fi
day_bytes=$(wc -c <"$IN/day-01.parquet")

# a fresh data directory with one grant, days 1..30 published
rm -rf "$DATA"
"$TG" init "$DATA" --listen 127.0.0.1:0 --json >/dev/null
CONF=$DATA/tollgate.conf
printf '\n[grant bench]\ntitle = Bench\nprefix = bench/\n' >>"$CONF"
pub() { # pub DAY FILE: the publish command line (run by /usr/bin/time too)
    env TOLLGATE_NOW="2026-02-01T06:00:00Z" "$TG" publish --config "$CONF" bench "$2" --date "2026-01-$1"
}
echo "publishing days 1..30 ($(awk -v b="$day_bytes" 'BEGIN{printf "%.1f", b/1048576}') MiB each)..." >&2
for d in $(seq 1 30); do
    dd=$(printf %02d "$d")
    pub "$dd" "$IN/day-$dd.parquet" >/dev/null 2>"$B/setup.err" || { cat "$B/setup.err" >&2; exit 1; }
done

# run NAME CMD... -> SECS and RSS_KIB of one run
run() {
    local name=$1
    shift
    /usr/bin/time -v -o "$B/time.txt" "$@" >"$B/$name.out" 2>"$B/$name.err" || {
        echo "$name failed:" >&2; cat "$B/$name.err" >&2; exit 1; }
    SECS=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$B/time.txt")
    RSS_KIB=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$B/time.txt")
    echo "$name: ${SECS}s, peak RSS $((RSS_KIB / 1024)) MiB" >&2
}
blob_of() { # the blob file of a key of the data bucket (blobs/ab/cd/abcd...)
    local sha
    sha=$(/usr/bin/python3 -c 'import sqlite3,sys
c=sqlite3.connect(sys.argv[1])
print(c.execute("select hex(sha256) from objects where key=cast(? as blob)", (sys.argv[2],)).fetchone()[0].lower())' "$DATA/meta.db" "$1")
    echo "$DATA/blobs/${sha:0:2}/${sha:2:2}/$sha"
}
MTD_KEY=bench/mtd/2026-01/bench_2026-01_mtd.parquet

# append: day 31
cat "$(blob_of "$MTD_KEY")" "$IN/day-31.parquet" >/dev/null
run append env TOLLGATE_NOW="2026-02-01T06:00:00Z" "$TG" publish --config "$CONF" bench "$IN/day-31.parquet" --date 2026-01-31
ap_s=$SECS ap_rss=$RSS_KIB
mtd=$(blob_of "$MTD_KEY")
mtd_bytes=$(wc -c <"$mtd")
"$TG" parquet info --json "$mtd" | grep -q "\"rows\":$((31 * ROWS))," || { echo "bad MTD row count after the append" >&2; exit 1; }

# where the time goes: the row-group copy alone (MTD + one day, fsync) and the hashing
cat "$mtd" >/dev/null
run concat "$TG" parquet concat -o "$B/tmp/concat.parquet" "$mtd" "$IN/day-31.parquet"
cc_s=$SECS cc_rss=$RSS_KIB
rm -f "$B/tmp/concat.parquet"
run sha256 openssl dgst -sha256 "$mtd"
h2_s=$SECS h2_rss=$RSS_KIB
run md5 openssl dgst -md5 "$mtd"
h5_s=$SECS h5_rss=$RSS_KIB

# the floor: copy the MTD once
cat "$mtd" >/dev/null
run cp-sync sh -c "cp '$mtd' '$B/tmp/mtd-copy.parquet' && sync '$B/tmp/mtd-copy.parquet'"
cp_s=$SECS cp_rss=$RSS_KIB
rm -f "$B/tmp/mtd-copy.parquet"

# splice: day 15 replaced, three times (b, a, b)
sp_all=""
sp_s="" sp_rss=0
for v in b "" b; do
    cat "$(blob_of "$MTD_KEY")" >/dev/null
    run splice env TOLLGATE_NOW="2026-02-01T06:00:00Z" "$TG" publish --config "$CONF" bench "$IN/day-15$v.parquet" --date 2026-01-15
    grep -q spliced "$B/splice.out" || { echo "day 15 was not spliced:" >&2; cat "$B/splice.out" >&2; exit 1; }
    sp_all="$sp_all $SECS"
    if [ -z "$sp_s" ] || awk -v a="$SECS" -v b="$sp_s" 'BEGIN {exit !(a < b)}'; then sp_s=$SECS; fi
    [ "$RSS_KIB" -gt "$sp_rss" ] && sp_rss=$RSS_KIB
done
mtd=$(blob_of "$MTD_KEY")
"$TG" parquet info --json "$mtd" | grep -q "\"rows\":$((30 * ROWS + ROWS - ROWS / 7))," || { echo "bad MTD row count after the splice" >&2; exit 1; }

# DuckDB: the MTD rebuilt from the 31 daily files
cat "$IN"/day-[0-3][0-9].parquet >/dev/null
run duckdb $PQ duckcopy "$B/tmp/mtd-duck.parquet" "$IN"/day-[0-3][0-9].parquet
dk_s=$SECS dk_rss=$RSS_KIB
rm -f "$B/tmp/mtd-duck.parquet"
left=$(ls -A "$B/tmp")
rm -rf "$DATA"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) b = 0.005; printf "%.2f", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
mibb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
ncpu=$(nproc)
today=$(date -u +%Y-%m-%d)
verdict() { # verdict SECS RSS_KIB
    awk -v s="$1" -v c="$cp_s" -v r="$2" 'BEGIN { t = (s <= 2 * c ? "met" : "missed"); m = (r <= 65536 ? "met" : "missed"); printf "time %s, RSS %s", t, m }'
}

section=$(cat <<MD
## Publishing: the nightly publish of a month of daily files

$today, $ncpu × $cpu, page cache warm, \`bench/publish.sh\` (one append, best of three splices:
$sp_all s; the machine is shared, so expect noise). A month of daily files from \`tollgate parquet gen\`
($ROWS rows, 7 columns, PLAIN, $(mibb "$day_bytes") MiB each); days 1..30 published first. Each
\`tollgate publish\` is the whole command: validation, SHA-256 of the day, daily object and manifest,
the MTD rebuilt by row-group copy (fsync), its SHA-256 and manifest, the grant's index, then the
lifecycle pass. The MTD after day 31 is $(mibb "$mtd_bytes") MiB. DuckDB's output is not fsynced,
its input here is PLAIN (cheap to decode) and its output ZSTD (less to write), with 2 threads.

| task | tool | seconds | vs copying the MTD once | peak RSS | target (≤ 2× copy, ≤ 64 MiB) |
|---|---|---:|---:|---:|---|
| copy the MTD file once | \`cp\` + \`sync FILE\` | $cp_s | 1.00 | $(mib "$cp_rss") MiB | |
| publish day 31 (MTD append) | **tollgate publish** | **$ap_s** | **$(ratio "$ap_s" "$cp_s")×** | **$(mib "$ap_rss") MiB** | $(verdict "$ap_s" "$ap_rss") |
| re-publish day 15 with other data (MTD splice) | **tollgate publish** | **$sp_s** | **$(ratio "$sp_s" "$cp_s")×** | **$(mib "$sp_rss") MiB** | $(verdict "$sp_s" "$sp_rss") |
| of which: the row-group copy (MTD + day into a new file, fsync) | \`tollgate parquet concat\` | $cc_s | $(ratio "$cc_s" "$cp_s")× | $(mib "$cc_rss") MiB | |
| of which: the store's SHA-256 of the MTD (libcrypto, SHA-NI) | \`openssl dgst -sha256\` | $h2_s | $(ratio "$h2_s" "$cp_s")× | $(mib "$h2_rss") MiB | |
| of which: the store's MD5 of the MTD (the S3 ETag) | \`openssl dgst -md5\` | $h5_s | $(ratio "$h5_s" "$cp_s")× | $(mib "$h5_rss") MiB | |
| rebuild the MTD from 31 days | DuckDB \`COPY (SELECT * FROM read_parquet([...]))\` | $dk_s | $(ratio "$dk_s" "$cp_s")× | $(mib "$dk_rss") MiB | |

Rebuilding the month with DuckDB takes $(ratio "$dk_s" "$ap_s")× the time of the append and
$(ratio "$dk_s" "$sp_s")× that of the splice. Temp files left behind: ${left:-none}.
Where the time goes: the new MTD is built once, by row-group copy (\`copy_file_range\`,
fsync) into a temp file on the store's filesystem, which the store then adopts without a
second copy (\`store_put_adopt\`: moved into its tmp/, read once by two threads -- SHA-256
and MD5 at the same time, the larger being MD5 at $(ratio "$h5_s" "$cp_s")× the copy --
then linked into blobs/). So an append costs about the row-group copy plus MD5 plus the
day's own file; the remaining lever would be an ETag not derived from MD5 for objects the
publisher writes (S3 clients compare single-part ETags with MD5, so it stays MD5).
MD
)

doc=docs/benchmarks.md
grep -q '<!-- publish:begin -->' "$doc" || printf '\n<!-- publish:begin -->\n<!-- publish:end -->\n' >>"$doc"
SECTION="$section" awk '
    /<!-- publish:begin -->/ { print; print ENVIRON["SECTION"]; skip = 1; next }
    /<!-- publish:end -->/ { skip = 0 }
    !skip { print }' "$doc" >"$doc.tmp" && mv "$doc.tmp" "$doc"
echo "$section"
