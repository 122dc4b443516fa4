#!/usr/bin/env bash
# bench/cuda/gpu_checks.sh -- everything the CUDA backend owes a GPU, in one run (for a
# lent GPU machine with little time): build, the CUDA tests (conformance, and the
# model-level parity tests once tests/cuda/ has them), then the benchmark. Logs go to
# $OUT (or ./gpu-checks) so they come back even when a step fails or time runs out.
# Usage: bash bench/cuda/gpu_checks.sh      (from the repository root; ~3-5 minutes)
set -u -o pipefail
out=${OUT:-gpu-checks}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv 2>&1 | tee "$out/gpu.txt"
make -j"$(nproc)" cuda build-cuda/tests/test_kernels_cuda build-cuda/bench/bench_kernels_cuda \
    >"$out/build.txt" 2>&1 || { tail -n 30 "$out/build.txt"; exit 1; }
rc=0
make test-cuda 2>&1 | tee "$out/test-cuda.txt" || rc=1
make bench-cuda 2>&1 | tee "$out/bench-cuda.txt" || rc=1
exit $rc
