#!/usr/bin/env bash
# tests/run.sh -- runs every test program and script, adds up their
# "N passed, N failed" lines, and prints the total as the last line.
# Usage: tests/run.sh BUILD_DIR [programs]   (BUILD_DIR: the folder holding the test_*
# programs; "programs": those alone, not the shell tests). RUNNER, if set, is a command
# that runs each program (e.g. qemu-aarch64 -L /usr/aarch64-linux-gnu). PROGRAMS, if set,
# names the programs to run (default: every one).
set -u
build=${1:-build}
only_programs=${2:-}
read -r -a runner <<<"${RUNNER:-}"
total_pass=0
total_fail=0
failed_suites=()

run_suite() {  # name, command...
    local name=$1
    shift
    echo "== $name"
    local out rc
    out=$("$@" 2>&1)
    rc=$?
    printf '%s\n' "$out" | tail -n 40
    local line
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        echo "!! $name printed no summary line (exit $rc)"
        total_fail=$((total_fail + 1))
        failed_suites+=("$name")
        return
    fi
    local p f
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "!! $name exited $rc"
        total_fail=$((total_fail + 1))
    fi
    if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then failed_suites+=("$name"); fi
}

for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    [ -z "${PROGRAMS:-}" ] || [[ " $PROGRAMS " == *" $(basename "$t") "* ]] || continue
    run_suite "$(basename "$t")" "${runner[@]}" "$t"
done
[ "$only_programs" = programs ] || for s in tests/test_*.sh; do
    [ -f "$s" ] || continue
    run_suite "$(basename "$s")" bash "$s" "$build"
done

if [ ${#failed_suites[@]} -gt 0 ]; then echo "failed suites: ${failed_suites[*]}"; fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
