#!/usr/bin/env bash
# tests/cuda/run.sh PROGRAM... -- runs the CUDA test programs (make test-cuda and
# test-cuda-emu) and prints, last, the sum of their "N passed, N failed" lines. A program
# that skipped ("SKIP: no CUDA device") adds nothing, and when every one skipped no sum
# is printed: nothing ran, so nothing may be counted as passed.
# Exits non-zero when a program failed or crashed.
set -u
rc=0 passed=0 failed=0 counted=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "$@"; do
    echo "== $t"
    "$t" 2>&1 | tee "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        counted=1
        passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
        failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
    elif ! grep -q '^SKIP' "$log"; then
        echo "FAIL: $t printed neither a count nor SKIP"
        rc=1
    fi
done
[ "$rc" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
[ "$counted" -eq 1 ] && echo "$passed passed, $failed failed"
exit $rc
