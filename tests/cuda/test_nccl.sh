#!/usr/bin/env bash
# tests/cuda/test_nccl.sh -- the NCCL gradient sum on the GPUs this machine has
# (docs/distributed.md): test_nccl on one rank (a one-rank communicator) and, with N >= 2
# GPUs, on N ranks; then sft --device cuda on 2 ranks through NCCL gives the weights of
# the MPI path (O1P_NCCL=0), bit for bit, and comm_s in metrics.jsonl. NCCL refuses two
# ranks on one GPU, so one GPU runs the first check only. Without a GPU: SKIP, nothing
# counted. Usage: tests/cuda/test_nccl.sh   (repository root, after make cuda
# build-cuda/tests/test_nccl)
set -u
. tests/lib.sh build-cuda
unit=$PWD/build-cuda/tests/test_nccl
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
if [ "$gpus" -eq 0 ] || "$unit" | grep -q '^SKIP'; then
    echo "SKIP: no GPU (or a build without NCCL)"
    exit 0
fi
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check "one rank: the NCCL sum = the MPI path's" "$unit"
[ "$gpus" -lt 2 ] && { summary; exit; }
check "$gpus ranks: the NCCL sum = the MPI path's" timeout 120 mpirun -np "$gpus" "$unit"
cd "$tmp" || exit 1
"$O1P" data synth --n 12 --levels 1-2 --out data.jsonl >/dev/null
"$O1P" tok train --data data.jsonl --vocab 300 --out tok.json >/dev/null
cat >cfg.json <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 300, "hidden_size": 32,
 "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
 "max_position_embeddings": 256, "rope_theta": 10000.0, "rms_norm_eps": 1e-05, "tie_word_embeddings": true}
EOF
S=(sft --data data.jsonl --config cfg.json --tokenizer tok.json --batch 2 --accum 6 --steps 3 --lr 1e-3 --quiet
   --eval-frac 0 --device cuda)
timeout 120 mpirun -np 2 "$O1P" "${S[@]}" --out nccl >/dev/null 2>&1
timeout 120 mpirun -np 2 -x O1P_NCCL=0 "$O1P" "${S[@]}" --out mpi >/dev/null 2>&1
check "sft on 2 GPUs: NCCL = the MPI path, bit for bit" cmp nccl/model.safetensors mpi/model.safetensors
check "sft on 2 GPUs: comm_s on every step" test "$(grep -c '"comm_s"' nccl/metrics.jsonl)" -eq 3
summary
