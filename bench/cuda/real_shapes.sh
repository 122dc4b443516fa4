#!/usr/bin/env bash
# bench/cuda/real_shapes.sh -- the published Qwen2.5 shapes at T tokens a sequence, with
# random weights and a small BPE tokenizer (the shapes matter here, not the words). Per
# shape, the stages its plan names, each printing its memory plan, progress lines
# (tokens/s) and wall time:
#   sft        STEPS steps of one sequence of exactly T tokens (a fresh model, --config)
#   presample  K samples of up to MAX_NEW new tokens of one problem (the model initialised
#              once with `o1p init`; random weights rarely stop, so every sample is long)
#   prune      STEPS steps of 4 rows (ppo on 8 of those samples, --m 8), each cut to T
#              tokens (--cutoff T)
# Default plan: Qwen2.5-0.5B presample + prune; Qwen2.5-1.5B sft + presample + prune with
# --recompute; Qwen2.5-7B presample + prune with --recompute --train-layers 4 (the
# freeze-tuning of the authors' QwQ runs), last, as the longest. A second command after
# bench/cuda/gpu_checks.sh on a lent GPU.
# Usage: bench/cuda/real_shapes.sh [T, default 4096]
# Environment: O1P (default ./o1p-cuda), DEVICE (default cuda-bf16), STEPS (default 2), K
# (default 16), MAX_NEW (default T), PLAN (space-separated CONFIG.json:STAGES:OPTIONS,
# stages and options comma-separated; the options go to sft and prune).
set -u -o pipefail
T=${1:-4096}
O1P=${O1P:-./o1p-cuda}
DEVICE=${DEVICE:-cuda-bf16}
STEPS=${STEPS:-2}
K=${K:-16}
MAX_NEW=${MAX_NEW:-$T}
PLAN=${PLAN:-"configs/qwen2.5-0.5b.json:presample,prune: configs/qwen2.5-1.5b.json:sft,presample,prune:--recompute \
configs/qwen2.5-7b.json:presample,prune:--recompute,--train-layers,4"}
work=$(mktemp -d "${TMPDIR:-/tmp}/o1p_real_shapes.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$O1P" data synth --n 64 --seed 1 --levels 1-3 --out "$work/synth.jsonl" >/dev/null 2>&1 &&
    "$O1P" tok train --data "$work/synth.jsonl" --vocab 512 --out "$work/tok.json" >/dev/null 2>&1 &&
    head -n 1 "$work/synth.jsonl" >"$work/one.jsonl" ||
    { echo "real_shapes: the data or the tokenizer failed" >&2; exit 1; }
# one example whose solution is longer than T tokens: every sequence is cut to exactly T
solution=$(for i in $(seq 1 $((T / 8 + 1))); do printf 'Step %d: 3 + 4 = 7. ' "$i"; done)
printf '{"problem": "Add 3 and 4.", "answer": "7", "solution": "%s"}\n' "$solution" >"$work/long.jsonl"
rc=0
stage() {  # stage WHAT COMMAND...: runs it, its output but the file notices, and its wall time
    local what=$1 t0
    shift
    echo "-- $what"
    t0=$(date +%s.%N)
    "$@" 2>&1 | grep -v '^wrote\|^o1p tok' || rc=1
    awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "wall %.1f s\n", b - a }'
}
for entry in $PLAN; do
    IFS=: read -r cfg stages opts <<<"$entry"
    opts=${opts//,/ }
    echo "== $cfg, T $T, --device $DEVICE $opts"
    case ",$stages," in *,sft,*)
        # shellcheck disable=SC2086
        stage "sft: $STEPS steps of 1 sequence (initialisation, steps, save)" \
            "$O1P" sft --config "$cfg" --tokenizer "$work/tok.json" --data "$work/long.jsonl" \
            --out "$work/sft" --steps "$STEPS" --batch 1 --seq "$T" --eval-frac 0 --log-every 1 \
            --device "$DEVICE" $opts
        rm -rf "$work/sft" ;;
    esac
    case ",$stages," in *,presample,*)
        stage "init (random weights, written once)" "$O1P" init --config "$cfg" --tokenizer "$work/tok.json" \
            --out "$work/model"
        stage "presample: K $K of up to $MAX_NEW new tokens" "$O1P" presample --model "$work/model" \
            --data "$work/one.jsonl" --k "$K" --max-new "$MAX_NEW" --slots "$K" --device "$DEVICE" \
            --out "$work/ps.jsonl" ;;
    esac
    case ",$stages," in *,prune,*)
        # shellcheck disable=SC2086
        stage "prune: $STEPS steps, rows cut to $T" "$O1P" prune --model "$work/model" \
            --presample "$work/ps.jsonl" --cutoff "$T" --m 8 --batch 4 --accum 1 --stop-at "$STEPS" --log-every 1 \
            --device "$DEVICE" --out "$work/prune" $opts ;;
    esac
    rm -rf "$work/model" "$work/ps.jsonl" "$work/prune"
done
exit $rc
