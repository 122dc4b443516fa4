#!/usr/bin/env bash
# bench/cuda/gpu_checks.sh -- everything the CUDA backend owes a GPU, in one run (for a
# lent GPU machine with little time; about 4-6 minutes on an H100, every step capped):
#   1. build: ./o1p-cuda, the tests/cuda/ programs, the benchmarks
#   2. make test-cuda: kernel conformance (test_kernels_cuda) and the model-level parity
#      with the CPU (test_model_cuda: dump, 20 training steps, greedy sampler)
#   3. make bench-cuda: kernels (bench_kernels_cuda), then the whole model
#      (bench_model_cuda: training step time, tokens/s, MFU; decode tokens/s)
#   4. the pipeline's stages on the GPU: scripts/demo.sh quick with --device cuda added
#      to sft, presample, prune and eval (and dump on its model: GPU vs CPU loss)
# Logs go to $OUT (or ./gpu-checks) as each step runs, so they come back even when a
# step fails or time runs out; summary.txt lists each step's exit status.
# Usage: bash bench/cuda/gpu_checks.sh      (from the repository root)
set -u -o pipefail
out=${OUT:-gpu-checks}
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
step() {  # step NAME SECONDS COMMAND...: runs with a time cap, logs to $out/NAME.txt
    local name=$1 secs=$2
    shift 2
    local t0=$SECONDS
    timeout "$secs" "$@" >"$out/$name.txt" 2>&1
    local rc=$?
    echo "$name: exit $rc ($((SECONDS - t0)) s)" | tee -a "$summary"
    return $rc
}
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv 2>&1 | tee "$out/gpu.txt"
step build 240 make -j"$(nproc)" cuda build-cuda/tests/test_kernels_cuda build-cuda/tests/test_model_cuda \
    build-cuda/bench/bench_kernels_cuda build-cuda/bench/bench_model_cuda || { tail -n 30 "$out/build.txt"; exit 1; }
rc=0
step test-cuda 120 make test-cuda || rc=1
step bench-cuda 240 make bench-cuda || rc=1

# The stages with --device cuda: a wrapper adds it where the CLI takes it.
wrap="$out/o1p-on-cuda.sh"
cat >"$wrap" <<'WRAP'
#!/usr/bin/env bash
case "$1" in
sft | presample | prune | eval | dump | generate) exec ./o1p-cuda "$@" --device cuda ;;
*) exec ./o1p-cuda "$@" ;;
esac
WRAP
chmod +x "$wrap"
rm -rf "$out/demo-cuda"
step demo-cuda 180 env O1P="$wrap" bash scripts/demo.sh quick "$out/demo-cuda" || rc=1
ref="$out/demo-cuda/work/ref"
if [ -f "$ref/config.json" ]; then
    printf '1 2 3 4 5 6 7 8 9 10\n11 12 13\n' >"$out/tokens.txt"
    step dump-cuda 60 ./o1p-cuda dump --model "$ref" --tokens "$out/tokens.txt" \
        --out "$out/dump-cuda.safetensors" --device cuda || rc=1
    step dump-cpu 60 ./o1p-cuda dump --model "$ref" --tokens "$out/tokens.txt" \
        --out "$out/dump-cpu.safetensors" --device cpu || rc=1
    cat "$out/dump-cuda.txt" "$out/dump-cpu.txt"
fi
cat "$summary"
exit $rc
