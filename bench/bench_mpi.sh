#!/usr/bin/env bash
# bench/bench_mpi.sh -- one process against 2 MPI ranks (one thread each) on the same
# work: presample (problems split) and sft steps (micro-batches split), timed by o1p
# itself (presample's "in X s", the last step's "elapsed" in metrics.jsonl), so that
# mpirun's start-up is left out; and the share of the 2 ranks' sft time spent in the
# gradient sum (metrics.jsonl's comm_s, waiting for the other rank included).
# Usage: bench/bench_mpi.sh BUILD_DIR
set -u
build=${1:-build}
O1P=$(cd "$build" && pwd)/o1p
if ! nm "$build/engine/dist.o" 2>/dev/null | grep -q MPI_Init; then
    echo "skipped: o1p built without MPI (install libopenmpi-dev, rebuild)"
    exit 0
fi
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
"$O1P" data synth --n 32 --levels 1-3 --out data.jsonl >/dev/null 2>&1
"$O1P" tok train --data data.jsonl --vocab 384 --out tok.json >/dev/null 2>&1
cat >cfg.json <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 384, "hidden_size": 128,
 "intermediate_size": 352, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 4,
 "max_position_embeddings": 512, "rope_theta": 10000.0, "rms_norm_eps": 1e-05, "tie_word_embeddings": true}
EOF
"$O1P" init --config cfg.json --out model --tokenizer tok.json >/dev/null

launch() { local n=$1; shift; if [ "$n" -eq 1 ]; then "$O1P" "$@"; else mpirun -np "$n" "$O1P" "$@"; fi; }
seconds_presample() { sed -nE 's/.* in ([0-9.]+)s .*/\1/p' "$1"; }
seconds_sft() { tail -1 "$1/metrics.jsonl" | sed -E 's/.*"elapsed":([0-9.]+).*/\1/'; }
seconds_comm() { sed -nE 's/.*"comm_s":([0-9.]+).*/\1/p' "$1/metrics.jsonl" | paste -sd+ | bc -l; }
declare -A t
for n in 1 2; do
    launch "$n" presample --model model --data data.jsonl --k 4 --max-new 128 --temperature 1 --out ps$n.jsonl \
        2>ps$n.log
    t[ps$n]=$(seconds_presample ps$n.log)
    launch "$n" sft --data data.jsonl --model model --batch 4 --accum 4 --steps 4 --quiet --eval-frac 0 \
        --out sft$n >/dev/null 2>&1
    t[sft$n]=$(seconds_sft sft$n)
done
cmp -s ps1.jsonl ps2.jsonl && same=identical || same=DIFFERENT
printf '%-34s %10s %10s %8s\n' "(0.85M parameters, 1 thread a rank)" "1 process" "2 ranks" speedup
printf '%-34s %9.2fs %9.2fs %7.2fx\n' "presample 32 x 4 samples (files $same)" "${t[ps1]}" "${t[ps2]}" \
    "$(echo "${t[ps1]} / ${t[ps2]}" | bc -l)"
printf '%-34s %9.2fs %9.2fs %7.2fx\n' "sft, 4 steps of 4 x 4 sequences" "${t[sft1]}" "${t[sft2]}" \
    "$(echo "${t[sft1]} / ${t[sft2]}" | bc -l)"
comm=$(seconds_comm sft2)
printf '%-34s %9.3fs %9.3fs %7.1f%%\n' "sft step; 2 ranks: its share in sum" "$(echo "${t[sft1]} / 4" | bc -l)" \
    "$(echo "${t[sft2]} / 4" | bc -l)" "$(echo "100 * $comm / ${t[sft2]}" | bc -l)"
