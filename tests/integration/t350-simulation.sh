#!/bin/bash
# t350-simulation.sh -- 75 simulated days of unattended publishing (TOLLGATE_NOW moved a
# day at a time from 2026-11-10 to 2027-01-23: two month ends and a year end). Each day
# at 06:00 one master file is generated for yesterday and published as three tiers
# (tier1/tier2 as --columns projections, tier3 the master) with `tollgate publish`;
# some dates are late (2026-11-18 one day, 2026-12-31 one day -- after January began
# -- and 2027-01-08 two days), 2026-12-10 is re-published with corrected data on
# 12-14, 2027-01-16 never comes. At 07:30 `tollgate lifecycle apply` runs (retention and
# blob GC), then `tollgate health` (green; red at 23:00 on the day the skipped file
# was due). At 12:00 a server runs at the simulated time and t350-check.py asserts,
# per tier, through the portal JSON API: exactly the newest keep_daily (7) dailies
# listed, MTD rows = the month's sum, monthly bundles with the month's rows; it mints
# links (newest daily, MTD, newest monthly) and re-downloads every unexpired link
# minted during the whole run (zero dead links, content = the key's); blobs on disk =
# blobs referenced in meta.db; nothing left in TMPDIR. Every few days and at month
# ends, DuckDB (npm) checks that the MTD's and the newest monthly bundle's values
# equal the concatenation of their days' files, in manifest order.
source "$(dirname "$0")/lib.sh"

# The binary is copied: other work may relink build/tollgate during the run.
cp "$TG" "$T/tollgate" && TG="$T/tollgate"
HAVE_DUCK=1
[ -d "$ROOT/tests/parquet/node_modules/@duckdb" ] || { HAVE_DUCK=0; not_ok "DuckDB from npm (npm ci in tests/parquet)"; }

# Features of other parts of issue 5; when one is missing it is reported once and the
# simulation goes on without it (the checks that depend on it fail).
HAVE_COLUMNS=0 HAVE_LC=0 HAVE_HEALTH=0
"$TG" publish --help 2>&1 | grep -q -- --columns && HAVE_COLUMNS=1
"$TG" lifecycle --help >/dev/null 2>&1 && HAVE_LC=1
"$TG" health --help >/dev/null 2>&1 && HAVE_HEALTH=1
[ $HAVE_COLUMNS = 1 ] || not_ok "missing feature: tollgate publish --columns (projections published from local files instead)"
[ $HAVE_LC = 1 ] || not_ok "missing feature: tollgate lifecycle apply (no retention, no blob GC)"
[ $HAVE_HEALTH = 1 ] || not_ok "missing feature: tollgate health"

export TMPDIR="$T/tmp" # every temp file of publish/lifecycle: must end empty each day
mkdir -p "$TMPDIR"
tg_init "$T/data" || { not_ok "init"; finish; }
for g in tier1 tier2 tier3; do
    printf '\n[grant %s]\ntitle = %s\nprefix = %s/\nlink_ttl = 6d20h\n' "$g" "$g" "$g" >>"$CONF"
done
# tier3's links go through the portal (checked at each click, then redirected)
printf 'link_mode = redirect\nredirect_ttl = 10m\n' >>"$CONF"
# Health at 08:00 accepts the day before yesterday (a late file) until 09:00.
printf '\n[health]\nstale_after_hour = 9\n' >>"$CONF"
S="$T/state"
mkdir -p "$S/files/tier1" "$S/files/tier2" "$S/files/tier3"
: >"$S/published.tsv"
: >"$S/minted.tsv"
COLS1=ts,symbol,price
COLS2=ts,symbol,price,volume,sentiment

day_after() { date -u -d "$1 + 1 day" +%F; }
day_before() { date -u -d "$1 - 1 day" +%F; }

# publish_date NOW DATE SEED: the master for DATE and its two projections, as the three
# tiers, published at NOW with `tollgate publish` (projections by --columns).
publish_date() {
    local now=$1 d=$2 seed=$3 n rows sha t f
    n=$(( 150 + (seed * 37) % 120 ))
    f="$T/master.parquet"
    "$TG" parquet gen -o "$f" --rows "$n" --seed "$seed" --date "$d" >/dev/null || { not_ok "$d: parquet gen"; return; }
    for t in tier1 tier2 tier3; do
        local cols=""
        [ $t = tier1 ] && cols=$COLS1
        [ $t = tier2 ] && cols=$COLS2
        if [ -n "$cols" ]; then
            # the local copy of what the tier now holds, for the value checks
            "$TG" parquet project -o "$S/files/$t/$d.parquet" --columns "$cols" "$f" >/dev/null
            if [ $HAVE_COLUMNS = 1 ]; then
                TOLLGATE_NOW=$now "$TG" publish --config "$CONF" "$t" "$f" --date "$d" --columns "$cols" --json >"$T/pub.json" 2>"$T/pub.err"
            else
                TOLLGATE_NOW=$now "$TG" publish --config "$CONF" "$t" "$S/files/$t/$d.parquet" --date "$d" --json >"$T/pub.json" 2>"$T/pub.err"
            fi
            local rc=$?
        else
            TOLLGATE_NOW=$now "$TG" publish --config "$CONF" "$t" "$f" --date "$d" --json >"$T/pub.json" 2>"$T/pub.err"
            local rc=$?
            cp "$f" "$S/files/$t/$d.parquet"
        fi
        if [ $rc -ne 0 ]; then
            not_ok "$d: publish $t exits 0"
            sed 's/^/#   /' "$T/pub.err" | grep -v TOLLGATE_NOW | head -5
            continue
        fi
        sha=$(sha256sum "$S/files/$t/$d.parquet" | cut -d' ' -f1)
        echo "$t $d $n $sha" >>"$S/published.tsv"
    done
    rm -f "$f"
}

START=2026-11-10
DAYS=${T350_DAYS:-75} # fewer for a quick try
LATE_ONE="2026-11-18 2026-12-31" # published on date + 2 (one day late)
LATE_TWO="2027-01-08"            # published on date + 3 (two days late)
CORRECTED=2026-12-10             # re-published with other data on 2026-12-14
SKIPPED=2027-01-16               # never published
has() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }
seed_of() { date -u -d "$1" +%s | awk '{ print int($1 / 86400) }'; }

d=$START
t0=$(date +%s)
health_fail=0
for i in $(seq 1 $DAYS); do
    y=$(day_before "$d")
    # 06:00 -- the nightly publish: yesterday, then late dates due today
    if ! has "$LATE_ONE $LATE_TWO" "$y" && [ "$y" != "$SKIPPED" ]; then
        publish_date "${d}T06:00:00Z" "$y" "$(seed_of "$y")"
    fi
    for l in $LATE_ONE; do
        [ "$(day_after "$(day_after "$l")")" = "$d" ] && publish_date "${d}T06:10:00Z" "$l" "$(seed_of "$l")"
    done
    for l in $LATE_TWO; do
        [ "$(day_after "$(day_after "$(day_after "$l")")")" = "$d" ] && publish_date "${d}T06:10:00Z" "$l" "$(seed_of "$l")"
    done
    if [ "$d" = 2026-12-14 ]; then
        publish_date "${d}T06:20:00Z" "$CORRECTED" $(( $(seed_of "$CORRECTED") + 1000 ))
        grep -q '"spliced": true' "$T/pub.json" && ok "$d: corrected $CORRECTED spliced into the MTD" ||
            not_ok "$d: corrected $CORRECTED spliced into the MTD"
    fi
    # 07:30 -- the lifecycle pass (the scheduler's job; run here at the simulated time)
    if [ $HAVE_LC = 1 ] && ! TOLLGATE_NOW="${d}T07:30:00Z" "$TG" lifecycle apply --config "$CONF" >"$T/lc.out" 2>&1; then
        not_ok "$d: tollgate lifecycle apply exits 0"
        grep -v TOLLGATE_NOW "$T/lc.out" | head -3 | sed 's/^/#   /'
    fi
    # health: green after the morning's publish; red late on the day the skipped file was due
    TOLLGATE_NOW="${d}T08:00:00Z" "$TG" health --config "$CONF" >"$T/health.out" 2>&1
    rc=$?
    if [ $HAVE_HEALTH = 0 ]; then
        :
    elif [ "$y" = "$SKIPPED" ]; then
        # a lifecycle pass just before, so the only problem is the missing day
        [ $HAVE_LC = 1 ] && TOLLGATE_NOW="${d}T22:30:00Z" "$TG" lifecycle apply --config "$CONF" >/dev/null 2>&1
        TOLLGATE_NOW="${d}T23:00:00Z" "$TG" health --config "$CONF" --json >"$T/health.out" 2>/dev/null
        check_eq "$d: tollgate health is red (exit 1) when $y is missing" 1 "$?"
        check_eq "$d: health: each grant not ok, its newest daily the day before" \
            "tier1 False $(day_before "$y") tier2 False $(day_before "$y") tier3 False $(day_before "$y")" \
            "$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join("%s %s %s" % (g["grant"], g["ok"], g["newest_daily"]) for g in d["grants"]))' "$T/health.out" 2>&1)"
    elif [ $rc -ne 0 ]; then
        not_ok "$d: tollgate health is green (exit 0)"
        grep -v TOLLGATE_NOW "$T/health.out" | head -4 | sed 's/^/#   /'
        health_fail=$((health_fail + 1))
    else
        ok "$d: tollgate health is green"
    fi
    # 12:00 -- members: the portal at the simulated time
    export TOLLGATE_NOW="${d}T12:00:00Z"
    if tg_serve; then
        "$TG" links --config "$CONF" --format json >"$S/links.json" 2>/dev/null
        bundles=""
        dd=${d:8:2}
        if [ $((i % 5)) -eq 0 ] || [ "$dd" = 01 ] || [ "$dd" = 02 ] || [ "$(day_after "$d" | cut -c9-10)" = 01 ] ||
            [ "$d" = 2026-12-14 ] || [ $i -eq $DAYS ]; then
            bundles=--bundles
            rm -f "$S"/bundle-*
        fi
        /usr/bin/python3 "$ROOT/tests/integration/t350-check.py" "$S" "$d" "$TOLLGATE_NOW" "$URL" "$DATA" "$CONF" "$TG" $bundles
        if [ -n "$bundles" ] && [ $HAVE_DUCK = 1 ] && ls "$S"/bundle-*.seg >/dev/null 2>&1; then
            node "$ROOT/tests/integration/t350-duck.mjs" "$S"/bundle-*.seg >"$T/duck.out" 2>&1
            while read -r res name rest; do
                case $res in
                ok) ok "$d: DuckDB: ${name#bundle-} $rest" ;;
                *) not_ok "$d: DuckDB: ${name#bundle-} $rest" ;;
                esac
            done <"$T/duck.out"
            grep -q . "$T/duck.out" || not_ok "$d: DuckDB checks ran"
        fi
        tg_stop
    else
        not_ok "$d: server starts"
    fi
    unset TOLLGATE_NOW
    d=$(day_after "$d")
done
echo "# simulated $DAYS days in $(( $(date +%s) - t0 )) s"
finish
