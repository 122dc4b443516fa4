#!/usr/bin/env bash
# tests/test_cuda_build.sh -- compiles and links the CUDA backend (./o1p-cuda and the
# tests/cuda/ programs) on every CI run, GPU or not, and runs those programs: without a
# GPU they print "SKIP: no CUDA device" and count nothing. make rebuilds only what
# changed, so a second run costs seconds. One pass when it all builds (and, on a GPU,
# the CUDA tests pass).
# Usage: tests/test_cuda_build.sh [BUILD_DIR]   (the CPU build dir; unused here)
set -u
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
if [ ! -x "$nvcc" ]; then
    echo "SKIP: no CUDA toolkit ($nvcc)"
    echo "0 passed, 0 failed"
    exit 0
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# A fresh make: under `make test-asan` the parent's MAKEFLAGS carry BUILD/OPT/SAN, which
# would build build-cuda/ with the sanitizers and mix instrumented objects into it.
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -j2 cuda test-cuda >"$log" 2>&1; then
    grep -E '^(SKIP|[0-9]+ passed)' "$log" | sed 's/^/  cuda tests: /'
    echo "1 passed, 0 failed"
else
    tail -n 40 "$log"
    echo "FAIL: make cuda test-cuda"
    echo "0 passed, 1 failed"
    exit 1
fi
