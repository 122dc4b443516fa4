#!/usr/bin/env bash
# tests/test_cuda_build.sh -- keeps the CUDA backend honest on machines without a GPU
# (CI): compiles and links it (./o1p-cuda and the tests/cuda/ programs, which then skip:
# "SKIP: no CUDA device"), and runs the kernel conformance test on the CPU emulation
# of the kernels (tests/cuda/emu/, `make test-cuda-emu`), which checks their indexing,
# masking and synchronisation against the CPU backend. make rebuilds only what changed,
# so a second run costs the emulated test's ~20 s.
# Prints one pass for the build plus the emulated test's counts. Without the toolkit
# only the emulated test runs (it needs a C++ compiler, not nvcc).
# Usage: tests/test_cuda_build.sh [BUILD_DIR]   (the CPU build dir; unused here)
set -u
. tests/lib.sh "${1:-build}"  # fresh_make
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
built=0
if [ ! -x "$nvcc" ]; then
    echo "SKIP: no CUDA toolkit ($nvcc): the build is not checked, the emulation is"
elif fresh_make -j2 cuda test-cuda >"$log" 2>&1; then
    grep -E '^(SKIP|[0-9]+ passed)' "$log" | sed 's/^/  on the GPU: /'
    echo "ok: make cuda (./o1p-cuda and the CUDA tests build and link)"
    built=1
else
    tail -n 40 "$log"
    echo "FAIL: make cuda test-cuda"
    echo "0 passed, 1 failed"
    exit 1
fi

fresh_make -j2 test-cuda-emu >"$log" 2>&1
rc=$?
grep -E '^FAIL|^emu:' "$log" | head -n 20
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
if [ -z "$line" ]; then
    tail -n 40 "$log"
    echo "FAIL: make test-cuda-emu printed no summary (exit $rc)"
    echo "$built passed, 1 failed"
    exit 1
fi
echo "emulated GPU: $line"
p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
echo "$((p + built)) passed, $f failed"
[ "$f" -eq 0 ]
