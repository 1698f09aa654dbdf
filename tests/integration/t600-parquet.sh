#!/bin/bash
# t600-parquet.sh -- `tollgate parquet` against independent readers. Inputs come from
# `tollgate parquet gen` (PLAIN, page indexes) and from DuckDB (SNAPPY, ZSTD, GZIP,
# dictionary + bloom filters, several row groups, nulls, a list and a struct column).
# After every concat / splice / project, DuckDB and hyparquet must both read the
# output with the expected row count, row groups, schema and an order-sensitive
# checksum of all values equal to the one computed over the inputs
# (tests/parquet/pq.mjs check). Refusals must explain themselves and leave nothing.
cd "$(dirname "$0")/../.." || exit 1
[ -f tests/integration/lib.sh ] && . tests/integration/lib.sh
TG=${TG:-build/tollgate}
if [ -z "${T:-}" ]; then
    T=$(mktemp -d)
    trap 'rm -rf "$T"' EXIT
fi
PQ="node tests/parquet/pq.mjs"
D=$T/pq
mkdir -p "$D"

pass() { echo "ok - $1"; }
flunk() { echo "not ok - $1"; [ -f "$D/log" ] && sed 's/^/#   /' "$D/log" | tail -20; }
# t DESC CMD... : the command must succeed
t() {
    local d=$1
    shift
    if "$@" >"$D/log" 2>&1; then pass "$d"; else flunk "$d"; fi
}
# refuse DESC EXPECTED-SUBSTRING CMD... : must exit 1 and say EXPECTED on stderr
refuse() {
    local d=$1 want=$2
    shift 2
    "$@" >"$D/log" 2>&1
    local rc=$?
    if [ "$rc" -eq 1 ] && grep -qF -- "$want" "$D/log"; then pass "$d"; else
        echo "# exit $rc, wanted 1 and: $want" >>"$D/log"
        flunk "$d"
    fi
}
# no leftovers: only the files we expect
leftovers() { ls -a "$D" | grep -E '\.tmp\.|^(bad|nope)' >/dev/null && return 1 || return 0; }

if [ ! -x "$TG" ] || [ ! -d tests/parquet/node_modules/@duckdb ]; then
    echo "not ok - prerequisites: $TG built and npm ci in tests/parquet (scripts/deps.sh test)"
    exit 0
fi

# ---- inputs ------------------------------------------------------------------------------------
t "gen: day 1 (3 row groups, pages of 256 rows, page index)" \
    "$TG" parquet gen -o "$D/g1.parquet" --rows 3000 --seed 1 --date 2026-02-01 --group-rows 1000 --page-rows 256 --page-index
t "gen: day 2" "$TG" parquet gen -o "$D/g2.parquet" --rows 2500 --seed 2 --date 2026-02-02 --group-rows 1000 --page-rows 300 --page-index
t "gen: day 2 re-published" "$TG" parquet gen -o "$D/g2b.parquet" --rows 1700 --seed 22 --date 2026-02-02 --group-rows 1000 --page-index
t "gen: day 3 (no page index)" "$TG" parquet gen -o "$D/g3.parquet" --rows 800 --seed 3 --date 2026-02-03
t "duckdb: SNAPPY input" $PQ duckgen "$D/d1.parquet" --rows 5000 --codec snappy --rg 2048 --seed 1
t "duckdb: ZSTD input" $PQ duckgen "$D/d2.parquet" --rows 7000 --codec zstd --rg 2048 --seed 2
t "duckdb: GZIP input" $PQ duckgen "$D/d3.parquet" --rows 3000 --codec gzip --rg 1024 --seed 3
t "duckdb: input with price as FLOAT" $PQ duckgen "$D/dfloat.parquet" --rows 100 --codec zstd --seed 4 --variant float
t "gen output reads the same in DuckDB and hyparquet" $PQ check "$D/g1.parquet" "$D/g1.parquet"

# ---- info ----------------------------------------------------------------------------------------
"$TG" parquet info --json "$D/d1.parquet" >"$D/info.json" 2>"$D/log"
t "info --json describes a DuckDB file" node -e '
const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const names = j.columns.map(c => c.name).join(",");
const ok = j.rows === 5000 && j.row_groups === 3 && j.row_group_rows.join() === "2048,2048,904" &&
  names === "id,ts,symbol,price,qty,day,tags,quote,halted" && /^[0-9a-f]{64}$/.test(j.fingerprint) &&
  j.columns[1].logical_type === "TIMESTAMP(MICROS,UTC)" && j.columns[6].logical_type === "LIST" &&
  j.columns[7].type === "GROUP" && j.columns[3].optional === true && /DuckDB/.test(j.created_by) &&
  j.size === require("fs").statSync(process.argv[2]).size;
if (!ok) { console.error(JSON.stringify(j)); process.exit(1); }' "$D/info.json" "$D/d1.parquet"
t "info prints text" sh -c "'$TG' parquet info '$D/g1.parquet' | grep -q 'TIMESTAMP(MICROS,UTC)'"

# ---- concat ----------------------------------------------------------------------------------------
t "concat: DuckDB SNAPPY+ZSTD+GZIP files" "$TG" parquet concat -o "$D/cd.parquet" "$D/d1.parquet" "$D/d2.parquet" "$D/d3.parquet"
t "concat: DuckDB output reads back identically (DuckDB, hyparquet)" \
    $PQ check "$D/cd.parquet" "$D/d1.parquet" "$D/d2.parquet" "$D/d3.parquet"
t "concat: relocated bloom filters still answer" $PQ bloom "$D/cd.parquet" symbol AAPL ZZZZ
t "concat: gen files with page indexes" "$TG" parquet concat -o "$D/mtd.parquet" "$D/g1.parquet" "$D/g2.parquet" "$D/g3.parquet"
t "concat: gen output reads back identically" $PQ check "$D/mtd.parquet" "$D/g1.parquet" "$D/g2.parquet" "$D/g3.parquet"
t "concat: every offset-index PageLocation re-pointed inside its chunk" $PQ indexes "$D/mtd.parquet"
cp "$D/g1.parquet" "$D/g1copy.parquet"
t "concat: the same file twice" "$TG" parquet concat -o "$D/twice.parquet" "$D/g1.parquet" "$D/g1.parquet"
t "concat: the same file twice reads back" $PQ check "$D/twice.parquet" "$D/g1.parquet" "$D/g1copy.parquet"

# ---- splice (re-publishing day 2 inside the month-to-date file) ---------------------------------------
t "splice: replace day 2 (row groups 3:6) in the MTD" \
    "$TG" parquet splice -o "$D/mtd2.parquet" "$D/mtd.parquet" --range 3:6 --with "$D/g2b.parquet"
t "splice: MTD with the new day 2 reads back" \
    $PQ check "$D/mtd2.parquet" "$D/g1.parquet" "$D/g2b.parquet" "$D/g3.parquet"
t "splice: offset indexes after splice" $PQ indexes "$D/mtd2.parquet"
t "splice: remove DuckDB row groups 2:5" "$TG" parquet splice -o "$D/sd.parquet" "$D/cd.parquet" --range 2:5
t "splice: removal reads back" $PQ check "$D/sd.parquet" "$D/cd.parquet@0:2" "$D/cd.parquet@5:9"
t "splice: replace DuckDB row groups 3:6 by a GZIP file" \
    "$TG" parquet splice -o "$D/sd2.parquet" "$D/cd.parquet" --range 3:6 --with "$D/d3.parquet"
t "splice: replacement reads back" $PQ check "$D/sd2.parquet" "$D/cd.parquet@0:3" "$D/d3.parquet" "$D/cd.parquet@6:9"
t "splice: bloom filters after splice" $PQ bloom "$D/sd2.parquet" symbol MSFT nope
t "splice: insert a day at the front (range 0:0)" "$TG" parquet splice -o "$D/mtd3.parquet" "$D/mtd2.parquet" --range 0:0 --with "$D/g3.parquet"
t "splice: insertion at the front reads back" \
    $PQ check "$D/mtd3.parquet" "$D/g3.parquet" "$D/g1.parquet" "$D/g2b.parquet" "$D/g3.parquet"

# ---- project ---------------------------------------------------------------------------------------------
t "project: DuckDB list + struct + string (3 of 9)" \
    "$TG" parquet project -o "$D/pd.parquet" --columns quote,symbol,tags "$D/cd.parquet"
t "project: DuckDB projection reads back (file column order)" \
    $PQ check "$D/pd.parquet" --columns symbol,tags,quote "$D/cd.parquet"
t "project: bloom filters kept" $PQ bloom "$D/pd.parquet" symbol AAPL ZZZZ
t "project: gen (3 of 7) with page indexes" \
    "$TG" parquet project -o "$D/pg.parquet" --columns price,ts,sentiment "$D/mtd.parquet"
t "project: gen projection reads back" $PQ check "$D/pg.parquet" --columns ts,price,sentiment "$D/mtd.parquet"
t "project: offset indexes after projection" $PQ indexes "$D/pg.parquet"

# ---- refusals -----------------------------------------------------------------------------------------------
refuse "concat refuses different schemas, naming the column" \
    "schemas differ: column 4 'price' is DOUBLE in d1.parquet but FLOAT in dfloat.parquet" \
    "$TG" parquet concat -o "$D/bad.parquet" "$D/d1.parquet" "$D/dfloat.parquet"
refuse "concat refuses a gen file with a DuckDB file" "schemas differ" \
    "$TG" parquet concat -o "$D/bad.parquet" "$D/g1.parquet" "$D/d1.parquet"
refuse "splice refuses a different schema" "schemas differ" \
    "$TG" parquet splice -o "$D/bad.parquet" "$D/cd.parquet" --range 0:1 --with "$D/g3.parquet"
refuse "splice refuses a range past the end" "row-group range 7:12 is outside" \
    "$TG" parquet splice -o "$D/bad.parquet" "$D/cd.parquet" --range 7:12
refuse "project refuses an unknown column and lists the available ones" \
    "no column 'nope' in" "$TG" parquet project -o "$D/bad.parquet" --columns price,nope "$D/d1.parquet"
refuse "project lists available columns" "available: id, ts, symbol, price, qty, day, tags, quote, halted" \
    "$TG" parquet project -o "$D/bad.parquet" --columns nope "$D/d1.parquet"
echo "not parquet at all" >"$D/text.txt"
refuse "a text file is not Parquet" "no PAR1 magic at the end" "$TG" parquet info "$D/text.txt"
head -c 20000 "$D/d1.parquet" >"$D/trunc.parquet"
refuse "a truncated file is refused" "not a Parquet file" "$TG" parquet concat -o "$D/bad.parquet" "$D/trunc.parquet"
t "failed commands leave no output and no temp files" leftovers
"$TG" parquet splice -o "$D/bad.parquet" "$D/cd.parquet" >/dev/null 2>&1
if [ $? -eq 2 ]; then pass "usage error exits 2"; else flunk "usage error exits 2"; fi
ok_help=1
for c in info concat splice project gen; do
    "$TG" parquet "$c" --help | grep -q "usage: tollgate parquet $c" || ok_help=0
done
"$TG" parquet --help | grep -q "commands:" || ok_help=0
if [ $ok_help = 1 ]; then pass "--help for every subcommand"; else flunk "--help for every subcommand"; fi
