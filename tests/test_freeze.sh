#!/usr/bin/env bash
# tests/test_freeze.sh -- freeze-tuning end to end: `o1p sft` and `o1p prune` with
# --train-layers N on a 3-layer model leave every frozen tensor (the first 3 - N blocks,
# the embedding, the final norm) bit-identical and move every tensor of the last N
# blocks, on --device ref and cpu; the start line shows the smaller gradient and
# optimizer memory and train_state.bin holds the trained moments only; resume is
# bit-identical and refuses another N; N past the model's layers is a usage error.
# Usage: tests/test_freeze.sh BUILD_DIR   (the o1p binary in $O1P, default BUILD_DIR/o1p)
set -u
. tests/lib.sh "${1:-build}"
passive_threads
work_in_temp
tiny_qwen2_run

# frozen A B FIRST: the tensors of blocks >= FIRST differ between the two weight files, all
# others are bit-identical (an independent safetensors reader).
frozen() {
    /usr/bin/python3 - "$1/model.safetensors" "$2/model.safetensors" "$3" <<'EOF'
import json, re, struct, sys
def tensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items() if k != "__metadata__"}
a, b, first = tensors(sys.argv[1]), tensors(sys.argv[2]), int(sys.argv[3])
assert a.keys() == b.keys()
for k in a:
    m = re.match(r"model\.layers\.(\d+)\.", k)
    trained = m is not None and int(m.group(1)) >= first
    assert (a[k] != b[k]) == trained, (k, "should change" if trained else "should be frozen")
EOF
}

sft=(sft --model model --data data.jsonl --batch 4 --seq 128 --lr 1e-2 --steps 3 --eval-frac 0)
for dev in ref cpu; do
    "$O1P" "${sft[@]}" --device "$dev" --train-layers 1 --out "sft1_$dev" 2>"err_$dev"
    check "sft --train-layers 1 --device $dev runs" [ $? -eq 0 ]
    check "sft --train-layers 1 --device $dev: blocks 0-1, embedding, norm, lm_head bit-identical; block 2 moved" \
        frozen model "sft1_$dev" 2
done
check "the start line says what trains" grep -q "training the last 1 of 3 layers" err_cpu
n=$(sed -nE 's/.*layers, ([0-9]+) of [0-9]+ parameters.*/\1/p' err_cpu)
check "train_state.bin holds the moments of the $n trained parameters only" \
    [ "$(stat -c %s sft1_cpu/train_state.bin)" -eq $((128 + 8 * n + 8)) ]
"$O1P" "${sft[@]}" --train-layers 3 --out sft3 2>err3
check "sft --train-layers 3 (every block): embedding, final norm, lm_head bit-identical; every block moved" \
    frozen model sft3 0
"$O1P" "${sft[@]}" --out sft0 2>err0
mem() { sed -nE "s/.*$1 ([0-9.]+) kB.*/\\1/p" "$2"; }
g1=$(mem gradients err_cpu) o1=$(mem "optimizer state" err_cpu) g0=$(mem gradients err0) o0=$(mem "optimizer state" err0)
check "gradient and optimizer memory drop with --train-layers 1 ($g0 -> $g1 kB, $o0 -> $o1 kB)" \
    awk -v a="$g0" -v b="$g1" -v c="$o0" -v d="$o1" 'BEGIN { exit !(b > 0 && b < a / 3 && d < c / 3) }'

# ---- resume: bit-identical, and only with the same N -------------------------------
"$O1P" "${sft[@]}" --train-layers 1 --out halves --stop-at 1 --quiet 2>/dev/null
"$O1P" "${sft[@]}" --train-layers 1 --out halves --resume --quiet
check "1 step + resume 2 == 3 straight, frozen blocks too" cmp halves/model.safetensors sft1_cpu/model.safetensors
"$O1P" "${sft[@]}" --train-layers 1 --out other --stop-at 1 --quiet 2>/dev/null
expect_fail "resume with another --train-layers refused" 1 "train_state.bin: the run was started with --train-layers 1, not 2" \
    "$O1P" "${sft[@]}" --train-layers 2 --out other --resume
expect_fail "resume without --train-layers refused" 1 "--train-layers 1, not 0" \
    "$O1P" "${sft[@]}" --out other --resume

# ---- N out of range ------------------------------------------------------------------
expect_fail "sft --train-layers 4 of 3 layers (--model)" 2 "--train-layers 4 exceeds the 3 layers of model/config.json" \
    "$O1P" "${sft[@]}" --train-layers 4 --out x
expect_fail "sft --train-layers 4 of 3 layers (--config)" 2 "exceeds the 3 layers of cfg.json" \
    "$O1P" sft --config cfg.json --tokenizer tok.json --data data.jsonl --steps 1 --train-layers 4 --out x
expect_fail "sft --train-layers -1" 2 "'--train-layers' expects an integer" "$O1P" "${sft[@]}" --train-layers -1 --out x
check "nothing written by the refused runs" [ ! -e x ]

# ---- prune ---------------------------------------------------------------------------
"$O1P" presample --model model --data data.jsonl --k 2 --max-new 40 --temperature 1 --top-p 0.95 --quiet \
    --out ps.jsonl
for dev in ref cpu; do
    "$O1P" prune --model model --presample ps.jsonl --batch 4 --lr 1e-2 --device "$dev" --train-layers 2 \
        --out "prune2_$dev" --quiet
    check "prune --train-layers 2 --device $dev runs" [ $? -eq 0 ]
    check "prune --train-layers 2 --device $dev: block 0, embedding, norm, lm_head bit-identical; blocks 1-2 moved" \
        frozen model "prune2_$dev" 1
done
expect_fail "prune --train-layers 4 of 3 layers" 2 "exceeds the 3 layers of model/config.json" \
    "$O1P" prune --model model --presample ps.jsonl --train-layers 4 --out y
summary
