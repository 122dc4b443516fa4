#!/usr/bin/env bash
# bench/cuda/gpu_checks.sh -- everything the CUDA backend owes a GPU, in one run (for a
# lent GPU machine with little time; about 4-6 minutes on an H100, every step capped):
#   1. build: ./o1p-cuda, the tests/cuda/ programs, the benchmarks (PREBUILT=1: skip it and
#      run the binaries already in build-cuda/, e.g. built on another machine and carried
#      over with their libraries on LD_LIBRARY_PATH, where the GPU machine lacks libstb)
#   2. test-cuda: kernel conformance (test_kernels_cuda, the chunked cross-entropy too)
#      and the model-level parity with the CPU (test_model_cuda: dump, also with
#      recomputed activations; 20 training steps, also with the head in vocabulary
#      chunks; greedy sampler; decoding steps replayed as CUDA graphs bitwise as run
#      directly), and the NCCL gradient sum against the MPI path's
#      (test_nccl; tests/cuda/test_nccl.sh: every GPU as a rank, and sft on 2 ranks, when
#      there are 2 or more)
#   3. bench-cuda: kernels (bench_kernels_cuda), then the whole model (bench_model_cuda:
#      training step time, tokens/s, MFU; decode tokens/s, with and without CUDA graphs)
#   4. the pipeline's stages on the GPU: scripts/demo.sh quick with --device cuda added
#      to sft, presample, prune and eval, then o1p dump of its model on both backends
#      (each prints its loss; test_model_cuda compares every tensor), and the reference's
#      sft for 300 steps on cuda and cuda-bf16: the bf16 run's loss gap to the fp32 one
# Then, as a second command: bench/cuda/real_shapes.sh (Qwen2.5-0.5B, 1.5B and 7B at T
# 4096: presample, prune, sft).
# Each step logs to $OUT/STEP.txt (OUT defaults to ./gpu-checks) as it runs, so the logs
# come back even when a step fails or time runs out; summary.txt lists each step's exit
# status. At most eight files are written there; the demo's work folder stays in $TMPDIR.
# Usage: bash bench/cuda/gpu_checks.sh      (from the repository root)
set -u -o pipefail
out=${OUT:-gpu-checks}
mkdir -p "$out"
summary="$out/summary.txt"
tmp=$(mktemp -d)
step() {  # step NAME SECONDS COMMAND...: runs with a time cap, logs to $out/NAME.txt
    local name=$1 secs=$2
    shift 2
    local t0=$SECONDS
    timeout "$secs" "$@" >>"$out/$name.txt" 2>&1
    local rc=$?
    echo "$name: exit $rc ($((SECONDS - t0)) s)" | tee -a "$summary"
    return $rc
}
# loss_gap FP32.jsonl BF16.jsonl: the largest relative gap of the steps' losses, the mean
# gap over the last 50 steps, and the last losses (metrics.jsonl of two sft runs)
loss_gap() {
    awk -F'"loss":' 'NR == FNR { a[FNR] = $2 + 0; next }
        { g = ($2 + 0) / a[FNR] - 1; if (g < 0) g = -g; if (g > worst) worst = g
          n++; last[n % 50] = g; fa = a[FNR]; fb = $2 + 0 }
        END { for (i in last) s += last[i]
              printf "bf16 vs fp32 sft, %d steps: loss gap worst %.2e, mean of the last 50 %.2e; " \
                     "last loss fp32 %.4f, bf16 %.4f\n", n, worst, s / (n < 50 ? n : 50), fa, fb }' "$1" "$2"
}
{
    nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv
    echo "nproc $(nproc)"
    ldd ./o1p-cuda | grep 'not found' && echo "o1p-cuda: libraries missing (above)"
} >"$summary" 2>&1
tests=(build-cuda/tests/test_kernels_cuda build-cuda/tests/test_model_cuda build-cuda/tests/test_nccl)
benches=(build-cuda/bench/bench_kernels_cuda build-cuda/bench/bench_model_cuda)
if [ "${PREBUILT:-0}" != 1 ]; then
    step build 240 make -j"$(nproc)" cuda "${tests[@]}" "${benches[@]}" || { tail -n 30 "$out/build.txt"; exit 1; }
fi
rc=0
step test-cuda 150 tests/cuda/run.sh "${tests[@]}" || rc=1
step nccl 150 bash tests/cuda/test_nccl.sh || rc=1
for b in "${benches[@]}"; do
    echo "== $b" >>"$out/bench-cuda.txt"
    step bench-cuda 300 "$b" || rc=1
done

# The stages with --device cuda: a wrapper adds it where the CLI takes it.
wrap="$tmp/o1p-on-cuda.sh"
cat >"$wrap" <<WRAP
#!/usr/bin/env bash
case "\$1" in
sft | presample | prune | eval | dump | generate) exec "$PWD/o1p-cuda" "\$@" --device cuda ;;
*) exec "$PWD/o1p-cuda" "\$@" ;;
esac
WRAP
chmod +x "$wrap"
step demo-cuda 150 env O1P="$wrap" bash scripts/demo.sh quick "$tmp/demo" || rc=1
[ -f "$tmp/demo/table.md" ] && cp "$tmp/demo/table.md" "$out/demo-cuda-table.md"
ref="$tmp/demo/work/ref"
if [ -f "$ref/config.json" ]; then
    printf '1 2 3 4 5 6 7 8 9 10\n11 12 13\n' >"$tmp/tokens.txt"
    for dev in cuda cpu; do
        echo "== dump --device $dev" >>"$out/models.txt"
        step models 60 ./o1p-cuda dump --model "$ref" --tokens "$tmp/tokens.txt" \
            --out "$tmp/dump-$dev.safetensors" --device $dev || rc=1
    done
    # bf16 against fp32: the demo's reference sft (its data, config, tokenizer, seed) for
    # 300 steps on the fp32 table and on the tensor-core one; each step's loss gap
    for dev in cuda cuda-bf16; do
        echo "== sft --device $dev" >>"$out/models.txt"
        step models 120 ./o1p-cuda sft --data "$tmp/demo/work/train.jsonl" --config "$ref/config.json" \
            --tokenizer "$ref/tokenizer.json" --steps 300 --quiet --out "$tmp/sft-$dev" --device $dev || rc=1
    done
    loss_gap "$tmp/sft-cuda/metrics.jsonl" "$tmp/sft-cuda-bf16/metrics.jsonl" >>"$out/models.txt" 2>&1
fi
cat "$summary"
exit $rc
