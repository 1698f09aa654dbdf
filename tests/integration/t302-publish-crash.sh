#!/bin/bash
# t302-publish-crash.sh -- a publish killed (kill -9, by PID) right after each of its steps
# (daily, daily-manifest, mtd-pending, mtd, mtd-manifest, index; on rollover monthly,
# monthly-manifest, retire; for a late day monthly-pending, monthly), using the test-only
# pause hook TOLLGATE_TEST_PUBLISH_PAUSE (publish.h). After each kill, through the portal
# JSON API of a running server: every listed file downloads (HTTP 200). Then the next
# publish (the same file again, or another day) repairs everything: every listed file
# downloads with the sha256 the API gives (manifests match their files), and the month's
# bundle equals the concatenation of its days in date order, values included (DuckDB and
# hyparquet via tests/parquet/pq.mjs, as t600), or its rows equal the sum of the days'
# when those readers are not installed.
source "$(dirname "$0")/lib.sh"
# a private copy of the binary: other work may rebuild build/tollgate meanwhile
for _ in 1 2 3 4 5; do cp "$TG" "$T/tollgate" 2>/dev/null && break; sleep 1; done
TG="$T/tollgate"

export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
tg_init "$T/data" || { not_ok "init"; finish; }
printf '\n[grant tier2]\ntitle = Tier 2\nprefix = tier2/\n' >>"$CONF"
G="$T/gen"
mkdir -p "$G"
HAVE_DUCK=no
[ -d "$ROOT/tests/parquet/node_modules/@duckdb" ] && command -v node >/dev/null && HAVE_DUCK=yes
pyj() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

declare -A DAY # date -> the local file last published for it
gen() {         # gen DATE SEED ROWS -> $G/DATE-SEED.parquet
    "$TG" parquet gen -o "$G/$1-$2.parquet" --rows "$3" --date "$1" --seed "$2" >/dev/null
}
# pub NOW DATE FILE: a normal publish
pub() {
    TOLLGATE_NOW=$1 "$TG" publish --config "$CONF" tier2 "$3" --date "$2" --json >"$T/pub.json" 2>"$T/pub.err"
    local rc=$?
    [ $rc -eq 0 ] && DAY[$2]=$3
    return $rc
}
# crash STEP NOW DATE FILE: publish paused at STEP, then kill -9 by PID
crash() {
    local step=$1 now=$2 date=$3 file=$4
    rm -f "$T/paused"
    TOLLGATE_TEST_PUBLISH_PAUSE=$step TOLLGATE_TEST_PUBLISH_PAUSE_FILE="$T/paused" TOLLGATE_NOW=$now \
        "$TG" publish --config "$CONF" tier2 "$file" --date "$date" >"$T/crash.out" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 200); do # <= 20 s
        [ -s "$T/paused" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -s "$T/paused" ] && [ "$(cat "$T/paused")" = "$pid" ]; then
        kill -9 "$pid"
        wait "$pid" 2>/dev/null
        ok "killed -9 at step '$step' ($date)"
    else
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        not_ok "publish of $date never reached step '$step'"
        sed 's/^/#   /' "$T/crash.out" | tail -5
    fi
}

# api -> $T/api.json (real clock: the server runs on it)
api() {
    "$TG" links tier2 --config "$CONF" --format json >"$T/links.json" 2>/dev/null
    curl -s -o "$T/api.json" "$URL/api/downloads/tier2?t=$(pyj "$T/links.json" 'd[0]["current"]["token"]')"
}
# listed -> "kind url sha256 name" per listed file
listed() {
    pyj "$T/api.json" '"\n".join(k + " " + f["url"] + " " + f["sha256"] + " " + f["filename"] for k in ("daily", "mtd", "monthly") for f in ((d[k] if isinstance(d[k], list) else [d[k]]) if d.get(k) else []))'
}
# every_listed_downloads WHAT [sha]: every listed file answers 200 (and with sha: its bytes
# hash to the sha256 the API gives)
every_listed_downloads() {
    local what=$1 want_sha=${2:-} bad="" n=0
    api
    while read -r kind url sha name; do
        [ -n "$url" ] || continue
        n=$((n + 1))
        code=$(curl -s -o "$T/dl" -w '%{http_code}' "$url")
        if [ "$code" != 200 ]; then
            bad="$bad $name:$code"
        elif [ -n "$want_sha" ] && [ "$(sha256sum "$T/dl" | cut -d' ' -f1)" != "$sha" ]; then
            bad="$bad $name:sha"
        fi
    done < <(listed)
    [ "$n" -gt 0 ] || bad="nothing listed"
    check_eq "$what: all $n listed files download${want_sha:+ with the listed sha256}" "" "$bad"
}
# bundle_is KIND MONTH DATES...: the listed bundle of MONTH = the days' files in order
bundle_is() {
    local kind=$1 month=$2
    shift 2
    local files=() d
    for d in "$@"; do files+=("${DAY[$d]}"); done
    local url
    url=$(pyj "$T/api.json" "[f['url'] for f in ((d['$kind'] if isinstance(d['$kind'], list) else [d['$kind']]) if d.get('$kind') else []) if f['month'] == '$month'][0]" 2>/dev/null)
    if [ -z "$url" ]; then
        not_ok "$kind $month is listed"
        return
    fi
    curl -s -o "$T/bundle.parquet" "$url"
    if [ $HAVE_DUCK = yes ]; then
        check "$kind $month = its ${#files[@]} days in date order, values included (DuckDB, hyparquet)" \
            node "$ROOT/tests/parquet/pq.mjs" check "$T/bundle.parquet" "${files[@]}"
    else
        local want=0 f
        for f in "${files[@]}"; do
            want=$((want + $("$TG" parquet info --json "$f" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"])')))
        done
        check_eq "$kind $month rows = the sum of its days" "$want" "$("$TG" parquet info --json "$T/bundle.parquet" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"])')"
    fi
}

export TOLLGATE_SCHED_INTERVAL=3600 # the server's scheduler stays out of the way
tg_serve || { not_ok "server starts"; finish; }

for i in 01 02 03 04 05 06 07 08 09 10 11 12; do gen 2026-03-$i 1$i $((40 + 10#$i)); done
gen 2026-03-02 99 33
for m in 04 05 06 07; do gen 2026-$m-01 2$m 25; gen 2026-$m-02 3$m 26; done

pub 2026-03-02T06:00:00Z 2026-03-01 "$G/2026-03-01-101.parquet"
check_eq "day 1 published" 0 "$?"

# after the daily object: the next day's publish repairs (the day's manifest is made again)
crash daily 2026-03-03T06:00:00Z 2026-03-02 "$G/2026-03-02-102.parquet"
DAY[2026-03-02]=$G/2026-03-02-102.parquet
every_listed_downloads "after a kill at 'daily'"
pub 2026-03-04T06:00:00Z 2026-03-03 "$G/2026-03-03-103.parquet"
check_eq "next day after the kill: exits 0" 0 "$?"
check_eq "next day after the kill: repaired the other day's manifest, MTD has 3 days" "1 3" "$(pyj "$T/pub.json" 'd["repaired"], d["mtd_days"]' | tr -d '(),')"
every_listed_downloads "repaired after 'daily'" sha
bundle_is mtd 2026-03 2026-03-01 2026-03-02 2026-03-03

# after the daily manifest: the same file again is NOT a no-op
crash daily-manifest 2026-03-05T06:00:00Z 2026-03-04 "$G/2026-03-04-104.parquet"
every_listed_downloads "after a kill at 'daily-manifest'"
pub 2026-03-05T06:05:00Z 2026-03-04 "$G/2026-03-04-104.parquet"
check_eq "same file again after 'daily-manifest': not a no-op" "False 4" "$(pyj "$T/pub.json" 'd["noop"], d["mtd_days"]' | tr -d '(),')"
every_listed_downloads "repaired after 'daily-manifest'" sha
bundle_is mtd 2026-03 2026-03-01 2026-03-02 2026-03-03 2026-03-04

# after the pending MTD manifest
crash mtd-pending 2026-03-06T06:00:00Z 2026-03-05 "$G/2026-03-05-105.parquet"
every_listed_downloads "after a kill at 'mtd-pending'"
pub 2026-03-06T06:05:00Z 2026-03-05 "$G/2026-03-05-105.parquet"
check_eq "same file again after 'mtd-pending': not a no-op, 5 days" "False 5" "$(pyj "$T/pub.json" 'd["noop"], d["mtd_days"]' | tr -d '(),')"
every_listed_downloads "repaired after 'mtd-pending'" sha
bundle_is mtd 2026-03 2026-03-01 2026-03-02 2026-03-03 2026-03-04 2026-03-05

# after the MTD object (its manifest stale) during a splice of day 2; repaired by another day
crash mtd 2026-03-07T06:00:00Z 2026-03-02 "$G/2026-03-02-99.parquet"
DAY[2026-03-02]=$G/2026-03-02-99.parquet
every_listed_downloads "after a kill at 'mtd'"
pub 2026-03-07T06:05:00Z 2026-03-06 "$G/2026-03-06-106.parquet"
check_eq "another day after 'mtd': exits 0" 0 "$?"
every_listed_downloads "repaired after 'mtd'" sha
bundle_is mtd 2026-03 2026-03-01 2026-03-02 2026-03-03 2026-03-04 2026-03-05 2026-03-06

# after the MTD manifest (the index is stale): the same file again rewrites the index
crash mtd-manifest 2026-03-08T06:00:00Z 2026-03-07 "$G/2026-03-07-107.parquet"
every_listed_downloads "after a kill at 'mtd-manifest'"
pub 2026-03-08T06:05:00Z 2026-03-07 "$G/2026-03-07-107.parquet"
check_eq "same file again after 'mtd-manifest': not a no-op (index)" "False" "$(pyj "$T/pub.json" 'd["noop"]')"
pub 2026-03-08T06:06:00Z 2026-03-07 "$G/2026-03-07-107.parquet"
check_eq "and once more: now a no-op" "True" "$(pyj "$T/pub.json" 'd["noop"]')"
bundle_is mtd 2026-03 2026-03-01 2026-03-02 2026-03-03 2026-03-04 2026-03-05 2026-03-06 2026-03-07

crash index 2026-03-09T06:00:00Z 2026-03-08 "$G/2026-03-08-108.parquet"
every_listed_downloads "after a kill at 'index'"
pub 2026-03-09T06:05:00Z 2026-03-08 "$G/2026-03-08-108.parquet"
check_eq "same file again after 'index': exits 0" 0 "$?"
every_listed_downloads "after 'index'" sha
bundle_is mtd 2026-03 2026-03-01 2026-03-02 2026-03-03 2026-03-04 2026-03-05 2026-03-06 2026-03-07 2026-03-08
MARCH=(2026-03-01 2026-03-02 2026-03-03 2026-03-04 2026-03-05 2026-03-06 2026-03-07 2026-03-08)

# rollover, killed after the monthly copy: the next day repairs (monthly manifest, retire)
crash monthly 2026-04-02T06:00:00Z 2026-04-01 "$G/2026-04-01-204.parquet"
DAY[2026-04-01]=$G/2026-04-01-204.parquet
every_listed_downloads "after a kill at 'monthly' (rollover)"
pub 2026-04-03T06:00:00Z 2026-04-02 "$G/2026-04-02-304.parquet"
check_eq "next day after 'monthly': exits 0" 0 "$?"
every_listed_downloads "repaired after 'monthly'" sha
bundle_is monthly 2026-03 "${MARCH[@]}"
bundle_is mtd 2026-04 2026-04-01 2026-04-02
check_eq "the index lists the new MTD and the March bundle" "tier2/mtd/2026-04/tier2_2026-04_mtd.parquet ['tier2/monthly/2026-03/tier2_2026-03.parquet']" \
    "$(awss3 s3 cp s3://tollgate/_index/tier2.json - 2>/dev/null | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["mtd"], d["monthly"])')"

crash monthly-manifest 2026-05-02T06:00:00Z 2026-05-01 "$G/2026-05-01-205.parquet"
DAY[2026-05-01]=$G/2026-05-01-205.parquet
every_listed_downloads "after a kill at 'monthly-manifest'"
pub 2026-05-02T06:05:00Z 2026-05-01 "$G/2026-05-01-205.parquet"
check_eq "same file again after 'monthly-manifest': not a no-op" "False" "$(pyj "$T/pub.json" 'd["noop"]')"
every_listed_downloads "repaired after 'monthly-manifest'" sha
bundle_is monthly 2026-04 2026-04-01 2026-04-02

crash retire 2026-06-02T06:00:00Z 2026-06-01 "$G/2026-06-01-206.parquet"
DAY[2026-06-01]=$G/2026-06-01-206.parquet
every_listed_downloads "after a kill at 'retire'"
pub 2026-06-03T06:00:00Z 2026-06-02 "$G/2026-06-02-306.parquet"
every_listed_downloads "repaired after 'retire'" sha
bundle_is monthly 2026-05 2026-05-01
bundle_is mtd 2026-06 2026-06-01 2026-06-02

# the first day of a month killed before its MTD existed: the next day rebuilds it from the dailies
crash mtd-pending 2026-07-02T06:00:00Z 2026-07-01 "$G/2026-07-01-207.parquet"
DAY[2026-07-01]=$G/2026-07-01-207.parquet
every_listed_downloads "after a kill at 'mtd-pending' (first day of July)"
pub 2026-07-03T06:00:00Z 2026-07-02 "$G/2026-07-02-307.parquet"
every_listed_downloads "repaired July" sha
bundle_is mtd 2026-07 2026-07-01 2026-07-02
bundle_is monthly 2026-06 2026-06-01 2026-06-02

# late days of March (closed): killed while its monthly bundle is rebuilt
crash monthly-pending 2026-07-04T06:00:00Z 2026-03-09 "$G/2026-03-09-109.parquet"
DAY[2026-03-09]=$G/2026-03-09-109.parquet
every_listed_downloads "after a kill at 'monthly-pending' (late day)"
pub 2026-07-04T06:05:00Z 2026-03-09 "$G/2026-03-09-109.parquet"
check_eq "same late file again: not a no-op, the March bundle rebuilt" "False tier2/monthly/2026-03/tier2_2026-03.parquet" "$(pyj "$T/pub.json" 'd["noop"], d["monthly_key"]' | tr -d "(),'")"
every_listed_downloads "repaired after 'monthly-pending'" sha
bundle_is monthly 2026-03 "${MARCH[@]}" 2026-03-09
crash monthly 2026-07-05T06:00:00Z 2026-03-10 "$G/2026-03-10-110.parquet"
DAY[2026-03-10]=$G/2026-03-10-110.parquet
every_listed_downloads "after a kill at 'monthly' (late day)"
pub 2026-07-05T06:05:00Z 2026-03-11 "$G/2026-03-11-111.parquet"
every_listed_downloads "repaired after 'monthly' (late day)" sha
bundle_is monthly 2026-03 "${MARCH[@]}" 2026-03-09 2026-03-10 2026-03-11

tg_stop
check_eq "no temp files left" "" "$(ls -A "$TMPDIR")"
finish
