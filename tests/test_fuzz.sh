#!/usr/bin/env bash
# tests/test_fuzz.sh -- builds every fuzz/fuzz_NAME.c (libFuzzer, ASan + UBSan) and runs
# each for FUZZ_SECONDS (default 10) from its seed corpus fuzz/corpus/NAME/.
# Usage: tests/test_fuzz.sh BUILD_DIR. Prints "N passed, N failed".
set -u
build=${1:-build}
secs=${FUZZ_SECONDS:-10}
mkdir -p "$build/fuzz"
pass=0
fail=0
for src in fuzz/fuzz_*.c; do
    [ -f "$src" ] || continue
    name=$(basename "$src" .c)
    corpus=${name#fuzz_}
    bin="$build/fuzz/$name"
    if ! make -s "$bin" BUILD="$build" >"$build/fuzz/build_$name.log" 2>&1; then
        echo "FAIL $name: build failed (see $build/fuzz/build_$name.log)"
        tail -n 20 "$build/fuzz/build_$name.log"
        fail=$((fail + 1))
        continue
    fi
    work="$build/fuzz/corpus/$corpus"
    mkdir -p "$work"
    seeds=()
    [ -d "fuzz/corpus/$corpus" ] && seeds=("fuzz/corpus/$corpus")
    log="$build/fuzz/$name.log"
    if "$bin" "$work" "${seeds[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$build/fuzz/$name-" -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$')
        echo "ok   $name: ${runs:-?} runs in ${secs}s"
        pass=$((pass + 1))
    else
        echo "FAIL $name: (log $log)"
        grep -E 'ERROR|SUMMARY|artifact|Test unit written' "$log" | head -n 10
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
