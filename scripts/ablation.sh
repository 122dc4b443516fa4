#!/usr/bin/env bash
# scripts/ablation.sh -- the paper's two ablations on the synthetic task (make ablation).
#
#   scripts/ablation.sh [full|quick] [OUT]
#
#   1. reference   the demo's reference, its greedy evaluation and its pre-samples:
#                  UNTIL=presample scripts/demo.sh MODE DEMO (DEMO, default OUT/demo; the
#                  stages a demo already ran there are reused)
#   2. lambda      the paper's Table 3: o1p prune --lambda L for each L in LAMBDAS, each
#                  evaluated greedy on the test split against the reference: OUT/lambda.md
#   3. difficulty  the paper's Figure 4: o1p prune --difficulty easier, then harder (the
#                  half of the pre-sampled problems by the reference's pre-sample accuracy
#                  Abar, ties to the lower problem index), at lambda 2, evaluated likewise,
#                  beside the run on all problems (lambda-2 of step 2): OUT/difficulty.md,
#                  OUT/difficulty.png (length and accuracy per level)
#
# Every run starts from the same reference and pre-samples, with the demo's O1-Pruner
# settings (PRUNE_OPTS as in scripts/demo.sh: the paper's token-mean ratio) and seed. Intermediate files are in
# OUT/work/; a stage is marked done (OUT/work/STAGE.done) when its command exits 0 and is
# not run again. Environment: O1P (default ./o1p), SEED (default 1), DEMO, LAMBDAS
# (default "0 1 2 5"), and the demo's size variables (passed on to scripts/demo.sh).
set -euo pipefail

mode=${1:-full}
O1P=${O1P:-./o1p}
SEED=${SEED:-1}
case "$mode" in
full)
    out=${2:-results-ablation}
    : "${PRUNE_OPTS:=--batch 16 --accum 1 --lr 1e-5}" "${MAX_NEW_EVAL:=440}"
    ;;
quick)
    out=${2:-results-ablation-quick}
    : "${PRUNE_OPTS:=--batch 4 --accum 1 --lr 1e-4}" "${MAX_NEW_EVAL:=160}"
    ;;
*)
    echo "usage: scripts/ablation.sh [full|quick] [OUT]" >&2
    exit 2
    ;;
esac
: "${DEMO:=$out/demo}" "${LAMBDAS:=0 1 2 5}" "${SLOTS:=64}"
export O1P SEED PRUNE_OPTS MAX_NEW_EVAL SLOTS
work=$out/work
ref=$DEMO/work/ref
mkdir -p "$work"
t_start=$(date +%s)
elapsed() { local s=$(($(date +%s) - t_start)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
stage() { printf '\n== [%s] %s\n' "$(elapsed)" "$*"; }
is_done() { [ -f "$work/$1.done" ]; }

stage "1/3 reference and pre-samples: UNTIL=presample scripts/demo.sh $mode $DEMO"
UNTIL=presample bash scripts/demo.sh "$mode" "$DEMO"

# run NAME PRUNE_OPTIONS...: prunes the reference into OUT/work/NAME, evaluates it on the
# test split against the reference into OUT/work/eval_NAME.json.
run() {
    local name=$1
    shift
    if ! is_done "prune_$name"; then
        stage "prune $name: $*"
        rm -rf "${work:?}/$name"
        # shellcheck disable=SC2086
        $O1P prune --model "$ref" --presample "$DEMO/work/presample.jsonl" --data "$DEMO/work/train.jsonl" \
            --out "$work/$name" --seed "$SEED" $PRUNE_OPTS "$@"
        touch "$work/prune_$name.done"
    fi
    if ! is_done "eval_$name"; then
        stage "eval $name"
        $O1P eval --model "$work/$name" --name "$name" --data "$DEMO/work/test.jsonl" \
            --baseline "$DEMO/work/eval_ref.json" --slots "$SLOTS" --max-new "$MAX_NEW_EVAL" \
            --out "$work/eval_$name.json" --quiet >/dev/null
        touch "$work/eval_$name.done"
    fi
}

lambda_runs=()
for l in $LAMBDAS; do
    run "lambda-$l" --lambda "$l"
    lambda_runs+=("$work/eval_lambda-$l.json")
done
run easier-half --lambda 2 --difficulty easier
run harder-half --lambda 2 --difficulty harder

stage "3/3 tables"
list() { local IFS=,; echo "$*"; }
echo "Table 3 (lambda):"
$O1P eval --table "$out/lambda.md" --baseline "$DEMO/work/eval_ref.json" --results "$(list "${lambda_runs[@]}")"
# the run on all problems is lambda 2's
[ -f "$work/eval_lambda-2.json" ] || { echo "ablation: the difficulty table needs lambda 2 in LAMBDAS" >&2; exit 1; }
diff_runs=("$work/eval_lambda-2.json" "$work/eval_easier-half.json" "$work/eval_harder-half.json")
echo
echo "Figure 4 (training difficulty; lambda-2 trained on all problems):"
$O1P eval --table "$out/difficulty.md" --baseline "$DEMO/work/eval_ref.json" --results "$(list "${diff_runs[@]}")"
$O1P plot --levels "$(list "$DEMO/work/eval_ref.json" "${diff_runs[@]}")" --out "$out/difficulty.png"
echo
echo "ablation ($mode) done in $(elapsed): $out/lambda.md, $out/difficulty.md, $out/difficulty.png"
