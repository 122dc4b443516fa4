#!/usr/bin/env bash
# bench/cuda/real_shapes.sh -- the published Qwen2.5 shapes at T tokens a sequence: `o1p
# sft` of a randomly initialised model for STEPS steps of one sequence of exactly T tokens
# (a small BPE tokenizer: the shapes matter here, not the words), printing for each shape
# the memory plan sft prints at its start, the progress lines (tokens/s) and the run's
# wall time. Default shapes: Qwen2.5-1.5B with --recompute (all parameters train), and
# Qwen2.5-7B with --recompute --train-layers 4 (the freeze-tuning of the authors' QwQ
# runs). A second command after bench/cuda/gpu_checks.sh on a lent GPU (about 3-5 minutes
# on an H100, most of it the hosts' random initialisation).
# Usage: bench/cuda/real_shapes.sh [T, default 4096]
# Environment: O1P (default ./o1p-cuda), DEVICE (default cuda), STEPS (default 2), SHAPES
# (space-separated CONFIG.json:OPTIONS, options comma-separated).
set -u -o pipefail
T=${1:-4096}
O1P=${O1P:-./o1p-cuda}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-2}
SHAPES=${SHAPES:-"configs/qwen2.5-1.5b.json:--recompute configs/qwen2.5-7b.json:--recompute,--train-layers,4"}
work=$(mktemp -d "${TMPDIR:-/tmp}/o1p_real_shapes.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$O1P" data synth --n 64 --seed 1 --levels 1-3 --out "$work/synth.jsonl" >/dev/null 2>&1 &&
    "$O1P" tok train --data "$work/synth.jsonl" --vocab 512 --out "$work/tok.json" >/dev/null 2>&1 ||
    { echo "real_shapes: the data or the tokenizer failed" >&2; exit 1; }
# one example whose solution is longer than T tokens: every sequence is cut to exactly T
solution=$(for i in $(seq 1 $((T / 8 + 1))); do printf 'Step %d: 3 + 4 = 7. ' "$i"; done)
printf '{"problem": "Add 3 and 4.", "answer": "7", "solution": "%s"}\n' "$solution" >"$work/long.jsonl"
rc=0
for shape in $SHAPES; do
    cfg=${shape%%:*}
    opts=${shape#*:}
    [ "$opts" = "$shape" ] && opts=
    echo "== $cfg, T $T, $STEPS steps of 1 sequence, --device $DEVICE ${opts//,/ }"
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$O1P" sft --config "$cfg" --tokenizer "$work/tok.json" --data "$work/long.jsonl" --out "$work/run" \
        --steps "$STEPS" --batch 1 --seq "$T" --eval-frac 0 --log-every 1 --device "$DEVICE" ${opts//,/ } \
        2>&1 | grep -v '^wrote\|^o1p tok' || rc=1
    awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "wall %.1f s (initialisation, steps, save)\n", b - a }'
    rm -rf "$work/run"
done
exit $rc
