#!/usr/bin/env bash
# scripts/compare.sh -- every prune objective on the same reference and pre-samples,
# over several seeds, in one table.
#
#   scripts/compare.sh WORK OUT      (make compare: the quick demo's, in results-compare/)
#
# WORK is a demo's work folder (scripts/demo.sh makes it): ref/, presample.jsonl,
# train.jsonl, test.jsonl, eval_ref.json. It is only read. For each objective and seed:
# o1p prune --objective OBJ --seed S (the seed draws the data order, and ppo's m samples),
# then o1p eval, greedy, on the test split. OUT/compare.md: per objective, the test
# accuracy, length and AES against the reference (mean and [min, max] over the seeds),
# the samples drawn (the pre-samples: the same for every objective, all offline), the
# tokens trained (per run) and the wall time of prune + eval (per run). A finished run
# (OUT/OBJ-sS/wall_s, written last) is not run again.
# Environment: O1P (default ./o1p), SEEDS (default "1 2 3"), OBJECTIVES (default all),
# PRUNE_OPTS (default the quick demo's "--batch 4 --accum 1 --lr 1e-4"), MAX_NEW_EVAL (default 160).
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: scripts/compare.sh WORK OUT" >&2
    exit 2
fi
work=$1
out=$2
O1P=${O1P:-./o1p}
: "${SEEDS:=1 2 3}" "${OBJECTIVES:=ppo sft-shortest dpo kimi efficient grpo-len dast}"
: "${PRUNE_OPTS:=--batch 4 --accum 1 --lr 1e-4}" "${MAX_NEW_EVAL:=160}"
for f in ref/model.safetensors presample.jsonl train.jsonl test.jsonl eval_ref.json; do
    [ -e "$work/$f" ] || { echo "compare: $work/$f is missing (run scripts/demo.sh first)" >&2; exit 1; }
done
mkdir -p "$out"

for obj in $OBJECTIVES; do
    for s in $SEEDS; do
        run=$out/$obj-s$s
        [ -f "$run/wall_s" ] && continue
        echo "== $obj, seed $s"
        rm -rf "$run"
        t0=$(date +%s.%N)
        # shellcheck disable=SC2086
        $O1P prune --model "$work/ref" --presample "$work/presample.jsonl" --data "$work/train.jsonl" \
            --objective "$obj" --seed "$s" --out "$run/model" --quiet $PRUNE_OPTS
        $O1P eval --model "$run/model" --name "$obj" --data "$work/test.jsonl" --max-new "$MAX_NEW_EVAL" \
            --out "$run/eval.json" --quiet >/dev/null
        python3 -c "import sys, time; print(time.time() - float(sys.argv[1]))" "$t0" >"$run/wall_s.tmp"
        mv "$run/wall_s.tmp" "$run/wall_s"
    done
done

python3 - "$work" "$out" "$SEEDS" "$OBJECTIVES" <<'PY'
import json, sys
work, out, seeds, objectives = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
ref = json.load(open(f"{work}/eval_ref.json"))
drawn = sum(1 for l in open(f"{work}/presample.jsonl") if '"sample"' in l and '"summary"' not in l)

def aes(acc, length):  # docs/method.md: None when the reference's accuracy is 0
    if ref["accuracy"] == 0:
        return None
    dl = (ref["mean_length"] - length) / ref["mean_length"]
    da = (acc - ref["accuracy"]) / ref["accuracy"]
    return dl + 3 * abs(da) if da >= 0 else dl - 5 * abs(da)

def cell(v, fmt):
    v = [x for x in v if x is not None]
    if not v:
        return "n/a"
    return f"{fmt.format(sum(v) / len(v))} [{fmt.format(min(v))}, {fmt.format(max(v))}]"

rows = [f"| reference | {100 * ref['accuracy']:.1f} | {ref['mean_length']:.1f} | - | {drawn} | - | - |"]
for obj in objectives:
    acc, length, a, tok, wall = [], [], [], [], []
    for s in seeds:
        d = f"{out}/{obj}-s{s}"
        ev = json.load(open(f"{d}/eval.json"))
        acc.append(100 * ev["accuracy"])
        length.append(ev["mean_length"])
        a.append(aes(ev["accuracy"], ev["mean_length"]))
        tok.append(sum(json.loads(l).get("trained_tokens", 0) for l in open(f"{d}/model/metrics.jsonl")))
        wall.append(float(open(f"{d}/wall_s").read()))
    rows.append(f"| {obj} | {cell(acc, '{:.1f}')} | {cell(length, '{:.1f}')} | {cell(a, '{:+.3f}')} | {drawn} | "
                f"{cell(tok, '{:.0f}')} | {cell(wall, '{:.0f}')} |")
head = ["| objective | test Acc (%) | test Length | AES | samples drawn | tokens trained | wall (s) |",
        "|---|---:|---:|---:|---:|---:|---:|"]
note = (f"\nMean [min, max] over seeds {', '.join(seeds)}; {ref['n']} test problems, greedy. Samples drawn: "
        f"the pre-samples of {work}, shared by every objective. Tokens trained and wall time (prune + eval) per run.\n")
open(f"{out}/compare.md", "w").write("\n".join(head + rows) + "\n" + note)
print("\n".join(head + rows) + "\n" + note)
PY
