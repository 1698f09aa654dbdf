#!/bin/sh
# run.sh -- run the unit tests (cmocka, ASan+UBSan), the integration tests
# (tests/integration/t*.sh) and the backend matrix, and print one closing line
# "N passed, N failed".
#   tests/run.sh all|unit|integration|matrix [pattern]
# Integration scripts print "ok - ..." / "not ok - ..." lines; a script that exits
# non-zero or prints no result counts as one failure. Each script has a time limit.
cd "$(dirname "$0")/.." || exit 2
what=${1:-all}
pat=${2:-}
passed=0
failed=0
failures=""
log=build/test-logs
mkdir -p "$log"

if [ "$what" = all ] || [ "$what" = unit ]; then
    for t in build/san/tests/test_*; do
        [ -x "$t" ] || continue
        n=$(basename "$t")
        case "$n" in *"$pat"*) ;; *) continue ;; esac
        ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
            timeout 300 "$t" >"$log/$n.log" 2>&1
        rc=$?
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log/$n.log" | awk '{s+=$1} END {print s+0}')
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log/$n.log" | awk '{s+=$1} END {print s+0}')
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
        passed=$((passed + p))
        failed=$((failed + f))
        if [ "$f" -ne 0 ]; then
            failures="$failures $n"
            echo "FAIL unit $n (log: $log/$n.log)"
            tail -30 "$log/$n.log"
        else
            echo "unit $n: $p passed"
        fi
    done
fi

# run_cell LABEL SCRIPTS...: the integration scripts, in the environment the caller set
# (TG_STORAGE, TG_META: tests/integration/lib.sh); LABEL names the cell in the output.
run_cell() {
    cell=$1
    shift
    for t in "$@"; do
        [ -f "$t" ] || continue
        n=$(basename "$t" .sh)
        case "$n" in *"$pat"*) ;; *) continue ;; esac
        [ -n "$cell" ] && n="$n@$cell"
        start=$(date +%s)
        timeout -k 10 900 bash "$t" >"$log/$n.log" 2>&1
        rc=$?
        p=$(grep -c '^ok - ' "$log/$n.log")
        f=$(grep -c '^not ok - ' "$log/$n.log")
        if [ "$rc" -ne 0 ] || [ $((p + f)) -eq 0 ]; then
            f=$((f + 1))
            echo "not ok - $n exited with status $rc" >>"$log/$n.log"
        fi
        passed=$((passed + p))
        failed=$((failed + f))
        secs=$(($(date +%s) - start))
        if [ "$f" -ne 0 ]; then
            failures="$failures $n"
            echo "FAIL integration $n: $p passed, $f failed (${secs}s, log: $log/$n.log)"
            grep -E '^not ok' "$log/$n.log" | head -20
            tail -25 "$log/$n.log"
        else
            echo "integration $n: $p passed (${secs}s)"
        fi
    done
}

if [ "$what" = all ] || [ "$what" = integration ]; then
    run_cell "" tests/integration/t[0-9]*.sh
fi

# The backend matrix (docs/testing.md): the tests of the core, the gate, publishing and
# analytics again with the metadata in PostgreSQL (a throwaway Debian PostgreSQL 15
# cluster, started here and stopped by its PID) and/or the objects in a remote store
# (a gateway in front of another tollgate; lib.sh): every cell runs the core's S3 API
# tests (1xx) and those of the gate (2xx), publishing (3xx) and analytics (4xx).
if [ "$what" = all ] || [ "$what" = matrix ]; then
    gate_tests="tests/integration/t1[0-9]*.sh tests/integration/t2[0-9]*.sh tests/integration/t3[0-9]*.sh tests/integration/t4[0-9]*.sh"
    TG_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-pg.XXXXXX")
    rmdir "$TG_PG_DIR"
    if sh tests/pg/pgctl.sh start "$TG_PG_DIR" $$ >"$log/pg-start.log" 2>&1; then
        export TG_PG_DIR
        TG_STORAGE=local TG_META=postgres run_cell pg $gate_tests
        TG_STORAGE=s3 TG_META=postgres run_cell s3+pg $gate_tests
        sh tests/pg/pgctl.sh stop "$TG_PG_DIR" >>"$log/pg-start.log" 2>&1
    else
        echo "FAIL matrix: PostgreSQL did not start (log: $log/pg-start.log)"
        tail -20 "$log/pg-start.log"
        failed=$((failed + 1))
        failures="$failures postgres"
    fi
    TG_STORAGE=s3 TG_META=sqlite run_cell s3 $gate_tests
fi

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
