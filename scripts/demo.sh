#!/usr/bin/env bash
# scripts/demo.sh -- the whole O1-Pruner pipeline on the embedded synthetic task.
#
#   scripts/demo.sh [full|quick] [OUT]      (make demo / make demo-quick)
#
#   1. data        o1p data synth: training problems with long, overthinking solutions,
#                  a disjoint test split, a held-out slice for the training curves
#   2. reference   o1p sft: pi_ref from scratch (its BPE tokenizer trained on the data first)
#   3. presample   o1p presample: K solutions per training problem from pi_ref (T 0.5, top-p 0.8)
#   4. prune       o1p prune: length-harmonizing fine-tuning (the official defaults: lambda 2,
#                  eps 0.2, m 2, the token-mean ratio, one epoch, AdamW beta2 0.999; the
#                  demo's own: lr and 16 sequences a step, see PRUNE_OPTS), the same with
#                  standard PPO's per-token ratio (an extra row), and the paper's baselines:
#                  --objective sft-shortest, --objective dpo
#   5. eval        o1p eval: greedy decoding on the test split; accuracy, length, AES vs pi_ref
#   6. report      OUT/table.md (the paper's Table 2 layout, per-level breakdowns),
#                  OUT/levels.png, OUT/curves.png, OUT/memory.md (each stage's peak RSS)
#
# Every intermediate file is in OUT/work/. A stage is marked done (OUT/work/STAGE.done)
# only when its command exits 0; a marked stage is not run again (delete the mark to redo
# it). An interrupted demo (Ctrl-C: the stage exits 130 and the demo stops) continues
# where it stopped: a training stage with a checkpoint resumes, presample appends.
# Environment: O1P (the binary, default ./o1p), SEED (default 1), TASK (the synthetic
# task, chain or walk: o1p data synth --task; default chain), UNTIL=presample (stop
# after the pre-sampling: scripts/ablation.sh), and the sizes below.
# Your own task: TRAIN_DATA and TEST_DATA (JSON/JSONL with problem, answer and, for
# training, solution; see README) replace the synthetic data; the held-out slice for the
# training curves is then the first N_HELDOUT test problems.
set -euo pipefail

mode=${1:-full}
O1P=${O1P:-./o1p}
SEED=${SEED:-1}
TASK=${TASK:-chain}
# Sizes and settings per mode; each can be overridden from the environment (e.g.
# N_TRAIN=4000 SFT_OPTS="--epochs 3 --batch 16 --lr 1e-3" scripts/demo.sh full).
case "$mode" in
full)
    out=${2:-results}
    : "${N_TRAIN:=4000}" "${N_TEST:=500}" "${N_HELDOUT:=48}" "${LEVELS:=1-3}"
    # the walk's reference leaves its loss plateau (about 0.85) only after 2.5 epochs: 6
    sft_epochs=2.5
    [ "$TASK" = walk ] && sft_epochs=6
    : "${CONFIG:=configs/ref-small.json}" "${SFT_OPTS:=--epochs $sft_epochs --batch 4 --accum 2 --lr 1e-3 --min-lr-ratio 0 --eval-frac 0.02}"
    : "${N_PRESAMPLE:=400}" "${K:=4}" "${MAX_NEW:=440}"
    # lr 1e-5 (the official 2e-7 moves a small model trained from scratch too little in 50
    # steps); 16 sequences a step (the official 32 would halve the steps)
    : "${PRUNE_OPTS:=--batch 16 --accum 1 --lr 1e-5}" "${EVAL_EVERY:=25}" "${MAX_NEW_EVAL:=440}"
    ;;
quick)
    out=${2:-results-quick}
    : "${N_TRAIN:=64}" "${N_TEST:=24}" "${N_HELDOUT:=8}" "${LEVELS:=1}"
    : "${CONFIG:=}" "${SFT_OPTS:=--epochs 40 --batch 8 --lr 5e-3 --eval-frac 0}"  # CONFIG empty: a toy model
    : "${N_PRESAMPLE:=64}" "${K:=4}" "${MAX_NEW:=160}"
    : "${PRUNE_OPTS:=--batch 4 --accum 1 --lr 1e-4}" "${EVAL_EVERY:=8}" "${MAX_NEW_EVAL:=160}"
    ;;
*)
    echo "usage: scripts/demo.sh [full|quick] [OUT]" >&2
    exit 2
    ;;
esac
n_train=$N_TRAIN n_test=$N_TEST n_heldout=$N_HELDOUT levels=$LEVELS config=$CONFIG sft_opts=$SFT_OPTS
# sequences decoded together by presample and eval (the results do not depend on it)
: "${SLOTS:=64}"
n_presample=$N_PRESAMPLE k=$K max_new=$MAX_NEW prune_opts=$PRUNE_OPTS eval_every=$EVAL_EVERY
max_new_eval=$MAX_NEW_EVAL

work=$out/work
mkdir -p "$work"
t_start=$(date +%s)
elapsed() { local s=$(($(date +%s) - t_start)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
stage() { printf '\n== [%s] %s\n' "$(elapsed)" "$*"; }
done_mark() { touch "$work/$1.done"; }
is_done() { [ -f "$work/$1.done" ]; }
# o1p STAGE ARGS...: runs $O1P ARGS, its peak resident memory (GNU time's %M, kB) added as
# a line to OUT/work/STAGE.rss (without /usr/bin/time: not measured).
o1p() {
    local stage=$1
    shift
    if [ -x /usr/bin/time ]; then /usr/bin/time -a -o "$work/$stage.rss" -f %M $O1P "$@"; else $O1P "$@"; fi
}
# A training stage's folder: --resume when it holds a checkpoint, else started over.
resume_or_clear() { if [ -e "$1/train_state.bin" ]; then echo --resume; else rm -rf "$1"; fi; }

if [ -z "$config" ]; then
    config=$work/toy.json
    cat >"$config" <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 384,
 "hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 4, "max_position_embeddings": 256,
 "rope_theta": 10000.0, "rms_norm_eps": 1e-05, "tie_word_embeddings": true}
EOF
fi

echo "o1p demo ($mode): $n_train training problems (levels $levels), $n_test test problems, seed $SEED"
echo "outputs in $out/"

if ! is_done data; then
    if [ -n "${TRAIN_DATA:-}${TEST_DATA:-}" ]; then
        if [ -z "${TRAIN_DATA:-}" ] || [ -z "${TEST_DATA:-}" ]; then
            echo "demo: give both TRAIN_DATA and TEST_DATA" >&2
            exit 2
        fi
        stage "1/6 data: $TRAIN_DATA (training), $TEST_DATA (test)"
        # copied as they are (JSON arrays too: the loaders read either, whatever the name)
        cp "$TRAIN_DATA" "$work/train.jsonl"
        cp "$TEST_DATA" "$work/test.jsonl"
        cp "$TEST_DATA" "$work/heldout.jsonl"
    else
        stage "1/6 data: o1p data synth --task $TASK"
        synth=(data synth --task "$TASK" --levels "$levels")
        o1p data "${synth[@]}" --n "$n_train" --seed "$SEED" --out "$work/train.jsonl"
        o1p data "${synth[@]}" --n "$n_test" --seed "$SEED" --split test --out "$work/test.jsonl"
        # The held-out slice for the training curves: test-split problems of another seed.
        o1p data "${synth[@]}" --n "$n_heldout" --seed $((SEED + 1000)) --split test --out "$work/heldout.jsonl"
    fi
    o1p data data stats --data "$work/train.jsonl"
    done_mark data
fi

if ! is_done sft; then
    stage "2/6 reference model: o1p sft --config $config (tokenizer trained first)"
    resume=$(resume_or_clear "$work/ref")
    # shellcheck disable=SC2086
    o1p sft sft --data "$work/train.jsonl" --config "$config" --out "$work/ref" --seed "$SEED" $sft_opts $resume
    done_mark sft
fi

if ! is_done eval_ref; then
    stage "3/6 reference on the test split: o1p eval (greedy)"
    o1p eval_ref eval --model "$work/ref" --name reference --data "$work/test.jsonl" --out "$work/eval_ref.json" --slots "$SLOTS" \
        ${max_new_eval:+--max-new $max_new_eval}
    done_mark eval_ref
fi

if ! is_done presample; then
    stage "4/6 pre-sampling: $k samples for each of $n_presample training problems"
    o1p presample presample --model "$work/ref" --data "$work/train.jsonl" --k "$k" --limit "$n_presample" \
        --max-new "$max_new" --seed "$SEED" --slots "$SLOTS" --out "$work/presample.jsonl"
    done_mark presample
fi
if [ "${UNTIL:-}" = presample ]; then
    echo "demo ($mode): stopped after the pre-sampling (UNTIL=presample) in $(elapsed)"
    exit 0
fi

# The rows: NAME OBJECTIVE [OPTIONS]. O1-Pruner as the paper has it (the token-mean ratio),
# the same with standard PPO's per-token ratio, and the paper's two baselines.
for row in "o1-pruner ppo" "o1-pruner-per-token ppo --ratio per-token" "sft-shortest sft-shortest" "dpo dpo"; do
    read -r name obj row_opts <<<"$row"
    if ! is_done "prune_$name"; then
        stage "5/6 fine-tuning: o1p prune --objective $obj $row_opts"
        resume=$(resume_or_clear "$work/$name")
        # O1-Pruner's held-out curve (plotted for it only)
        only=()
        [ "$name" = o1-pruner ] && only=(--eval-data "$work/heldout.jsonl" --eval-n "$n_heldout" --eval-every "$eval_every")
        # shellcheck disable=SC2086
        o1p "prune_$name" prune --model "$work/ref" --presample "$work/presample.jsonl" --data "$work/train.jsonl" \
            --objective "$obj" --out "$work/$name" --seed "$SEED" "${only[@]}" $row_opts \
            ${max_new_eval:+--eval-max-new $max_new_eval} $prune_opts $resume
        done_mark "prune_$name"
    fi
    if ! is_done "eval_$name"; then
        stage "6/6 evaluation of $name against the reference"
        o1p "eval_$name" eval --model "$work/$name" --name "$name" --data "$work/test.jsonl" --baseline "$work/eval_ref.json" --slots "$SLOTS" \
            --out "$work/eval_$name.json" ${max_new_eval:+--max-new $max_new_eval} --quiet >/dev/null
        done_mark "eval_$name"
    fi
done

stage "results"
$O1P eval --table "$out/table.md" --baseline "$work/eval_ref.json" \
    --results "$work/eval_o1-pruner.json,$work/eval_o1-pruner-per-token.json,$work/eval_sft-shortest.json,$work/eval_dpo.json"
$O1P plot --levels "$work/eval_ref.json,$work/eval_o1-pruner.json,$work/eval_sft-shortest.json,$work/eval_dpo.json" \
    --out "$out/levels.png"
$O1P plot --metrics "$work/o1-pruner/prune_metrics.jsonl" --title "O1-Pruner" --out "$out/curves.png"
cp "$work"/eval_*.json "$out/"
# Each stage's peak RSS: the largest of its calls' (a stage resumed has several).
{
    echo "| stage | peak RSS (MB) |"
    echo "|---|---:|"
    for s in data sft eval_ref presample prune_o1-pruner eval_o1-pruner prune_o1-pruner-per-token \
        eval_o1-pruner-per-token prune_sft-shortest eval_sft-shortest prune_dpo eval_dpo; do
        [ -f "$work/$s.rss" ] || continue
        awk -v s="$s" '$1 ~ /^[0-9]+$/ && $1 > m { m = $1 } END { printf "| %s | %.1f |\n", s, m / 1024 }' "$work/$s.rss"
    done
} >"$out/memory.md"
echo
echo "demo ($mode) done in $(elapsed): $out/table.md, $out/levels.png, $out/curves.png, $out/memory.md, $out/eval_*.json"
