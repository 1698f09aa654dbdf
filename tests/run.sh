#!/bin/sh
# run.sh -- run the unit tests (cmocka, ASan+UBSan) and/or the integration tests
# (tests/integration/t*.sh), and print one closing line "N passed, N failed".
#   tests/run.sh all|unit|integration [pattern]
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

if [ "$what" = all ] || [ "$what" = integration ]; then
    for t in tests/integration/t[0-9]*.sh; do
        [ -f "$t" ] || continue
        n=$(basename "$t" .sh)
        case "$n" in *"$pat"*) ;; *) continue ;; esac
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
fi

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
