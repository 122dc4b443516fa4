#!/usr/bin/env bash
# tests/test_cross_aarch64.sh -- the aarch64 part of `make test-cross`, cut to fit in
# `make test`: builds build-aarch64/ (make CROSS=aarch64-linux-gnu-, only what changed),
# then scripts/test_cross.sh: the C test programs under qemu-aarch64 but the four slowest
# (test_sampler, test_kernels_cpu, test_reference, test_grade: about 5 of their minutes
# under qemu on 2 cores; the demo runs the sampler and kernels they test), and the
# cut-down quick demo, whose outputs must equal the native run's bit for bit.
# Usage: tests/test_cross_aarch64.sh BUILD_DIR   (the native o1p: BUILD_DIR/o1p)
set -u
build=${1:-build}
. tests/lib.sh "$build"  # fresh_make
log=$(mktemp)
trap 'rm -f "$log"' EXIT
t0=$SECONDS
if ! fresh_make -j2 CROSS=aarch64-linux-gnu- >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "FAIL: make CROSS=aarch64-linux-gnu-"
    echo "0 passed, 1 failed"
    exit 1
fi
echo "aarch64 build: $((SECONDS - t0)) s"
PROGRAMS="test_dataset test_eval test_freeze test_json test_model test_model_io test_objectives test_plot \
test_reward test_sft test_tokenizer" bash scripts/test_cross.sh "$build" aarch64
