#!/usr/bin/env bash
# scripts/compare.sh -- every prune objective on the same reference and pre-samples,
# over several seeds: two tables and one picture (make compare).
#
#   scripts/compare.sh [full|quick] [OUT]
#
#   1. reference   the demo's reference, its greedy evaluation and its pre-samples:
#                  UNTIL=presample scripts/demo.sh MODE DEMO (DEMO, default OUT/demo; the
#                  stages a demo already ran there are reused, e.g. DEMO=results)
#   2. runs        for each objective and seed: o1p prune --objective OBJ --seed S (the
#                  seed draws the data order, and ppo's m samples), then o1p eval, greedy,
#                  on the test split, in OUT/OBJ-sS/. A finished run (OUT/OBJ-sS/wall_s,
#                  its prune + eval seconds, written last) is not run again.
#   3. report      o1p compare: OUT/compare.md (per objective the test accuracy, length and
#                  AES against the reference, mean [min, max] over the seeds; the samples
#                  drawn, the shared pre-samples plus a run's own (--rounds, --online in
#                  PRUNE_OPTS); the tokens trained and the wall time per run; then the length per difficulty level against the reference's)
#                  and OUT/compare.png (accuracy against length, a point per run, a larger
#                  one per objective's mean, the reference marked).
#
# Environment: O1P (default ./o1p), DEMO, TASK and the demo's size variables (read by
# scripts/demo.sh), SEEDS (default "1 2 3"), OBJECTIVES (default all), PRUNE_OPTS
# (extra prune options, e.g. the demo's settings; default the demo's of MODE),
# MAX_NEW_EVAL (default the demo's of MODE), VARIANT (a suffix to the method's name and
# folders, for runs with other PRUNE_OPTS: VARIANT=-rounds2 PRUNE_OPTS="... --rounds 2";
# o1p compare then takes the run folders of several invocations).
set -euo pipefail

mode=${1:-quick}
O1P=${O1P:-./o1p}
case "$mode" in
full)
    out=${2:-results-compare-full}
    : "${PRUNE_OPTS:=--batch 16 --accum 1 --lr 1e-5}" "${MAX_NEW_EVAL:=440}"
    ;;
quick)
    out=${2:-results-compare}
    : "${PRUNE_OPTS:=--batch 4 --accum 1 --lr 1e-4}" "${MAX_NEW_EVAL:=160}"
    ;;
*)
    echo "usage: scripts/compare.sh [full|quick] [OUT]" >&2
    exit 2
    ;;
esac
: "${DEMO:=$out/demo}" "${SEEDS:=1 2 3}" "${OBJECTIVES:=ppo sft-shortest dpo kimi efficient grpo-len dast}"
export O1P PRUNE_OPTS MAX_NEW_EVAL
work=$DEMO/work
mkdir -p "$out"
t_start=$(date +%s)

echo "== reference and pre-samples: UNTIL=presample scripts/demo.sh $mode $DEMO"
UNTIL=presample bash scripts/demo.sh "$mode" "$DEMO"

runs=()
for obj in $OBJECTIVES; do
    name=$obj${VARIANT:-}
    for s in $SEEDS; do
        run=$out/$name-s$s
        runs+=("$run")
        [ -f "$run/wall_s" ] && continue
        echo "== $name, seed $s"
        rm -rf "$run"
        t0=$(date +%s%N)
        # shellcheck disable=SC2086
        $O1P prune --model "$work/ref" --presample "$work/presample.jsonl" --data "$work/train.jsonl" \
            --objective "$obj" --seed "$s" --out "$run/model" --quiet $PRUNE_OPTS
        $O1P eval --model "$run/model" --name "$name" --data "$work/test.jsonl" --max-new "$MAX_NEW_EVAL" \
            --out "$run/eval.json" --quiet >/dev/null
        ms=$((($(date +%s%N) - t0) / 1000000))
        printf '%d.%03d\n' $((ms / 1000)) $((ms % 1000)) >"$run/wall_s.tmp"
        mv "$run/wall_s.tmp" "$run/wall_s"
    done
done

echo "== report"
$O1P compare --reference "$work/eval_ref.json" --runs "$(IFS=,; echo "${runs[*]}")" \
    --presample "$work/presample.jsonl" --table "$out/compare.md" --plot "$out/compare.png"
echo "compare ($mode) done in $(($(date +%s) - t_start)) s: $out/compare.md, $out/compare.png"
