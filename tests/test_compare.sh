#!/usr/bin/env bash
# tests/test_compare.sh -- `o1p compare` on hand-written run folders: the tables' numbers
# (costs read from wall_s and model/metrics.jsonl), the PNG's size, and the input errors
# (a bad wall_s, a missing eval.json, results of another dataset) naming the file.
# Usage: tests/test_compare.sh BUILD_DIR   (the o1p binary in $O1P, default BUILD_DIR/o1p)
set -u
build=${1:-build}
. tests/lib.sh "$build"
work_in_temp

# eval JSON: NAME DATASET CORRECT0 LENGTH0 LENGTH1 (problem 0 level 1, problem 1 level 2, right)
result() {
    printf '{"model": "%s", "dataset": "%s", "k": 1, "temperature": 0, "seconds": 1, "n_problems": 2, "length_counts": "solution",
 "problems": [
  {"index": 0, "sample": 0, "level": 1, "correct": %d, "length": %d, "truncated": 0, "answer": "1", "output": "x"},
  {"index": 1, "sample": 0, "level": 2, "correct": 1, "length": %d, "truncated": 0, "answer": "1", "output": "x"}]}\n' "$@"
}
mkdir -p s1/model s2 other
result reference t 0 100 300 >ref.json
result ppo t 1 50 240 >s1/eval.json  # 100%, 145; levels 50, 240
result ppo t 1 70 200 >s2/eval.json  # 100%, 135; levels 70, 200
echo 12.25 >s1/wall_s
echo 14 >s2/wall_s
printf '{"step": 1, "trained_tokens": 300}\n{"step": 2, "trained_tokens": 200}\n' >s1/model/metrics.jsonl
check "compare writes the table and the picture" "$O1P" compare --reference ref.json --runs s1,s2 --table t.md --plot p.png
# AES: dL = (200 - 145) / 200 + 3 (1 - 0.5) / 0.5 = 3.275, (200 - 135) / 200 + 3 = 3.325
check "method row" grep -qxF "| ppo | 100.0 [100.0, 100.0] | 140.0 [135.0, 145.0] | +3.300 [+3.275, +3.325] | n/a | 500 [500, 500] | 13 [12, 14] |" t.md
check "level header" grep -qxF "| method | level 1 (1) | level 2 (1) | all (2) |" t.md
check "reference per level" grep -qxF "| reference | 100.0 | 300.0 | 200.0 |" t.md
check "ppo per level, ratio to the reference" grep -qxF "| ppo | 60.0 (0.60) | 220.0 (0.73) | 140.0 (0.70) |" t.md
# samples drawn: the shared pre-samples (2 problems x K 1) plus what each run drew itself
printf '{"presample": 1, "model": "m", "data": "d", "n_problems": 2, "k": 1, "temperature": 1, "top_p": 1, "top_k": 0, "max_new": 8, "seed": 1, "length_counts": "solution"}\n' >ps.jsonl
for i in 0 1; do
    printf '{"problem": %d, "sample": 0, "length": 1, "correct": true, "truncated": false, "answer": "1", "mean_logprob": -1, "ids": [1, 2], "text": "x"}\n{"problem": %d, "summary": true, "k": 1, "mean_length": 1, "accuracy": 1}\n' $i $i >>ps.jsonl
done
printf '{"step": 1, "sampled": 6}\n{"step": 2}\n{"step": 3, "sampled": 4}\n' >s1/model/prune_metrics.jsonl
check "compare with --presample" "$O1P" compare --reference ref.json --runs s1,s2 --presample ps.jsonl --table t2.md
check "samples drawn: 2 shared, run 1's 10 of its own" grep -qF "| +3.300 [+3.275, +3.325] | 7 [2, 12] |" t2.md
check "the reference drew the 2 shared" grep -qxF "| reference | 50.0 | 200.0 | - | 2 | - | - |" t2.md
check "PNG 1100x620" test "$(od -An -tu1 -j16 -N8 p.png | tr -s ' ')" = " 0 0 4 76 0 0 2 108"

echo 1x >s2/wall_s
expect_fail "a wall_s that is not a number" 1 "s2/wall_s: line 1: expected one number" \
    "$O1P" compare --reference ref.json --runs s1,s2 --table t.md
expect_fail "a run without eval.json" 1 "other/eval.json: cannot open" \
    "$O1P" compare --reference ref.json --runs s1,other --table t.md
result ppo u 1 50 240 >other/eval.json
expect_fail "results on another dataset" 1 "other/eval.json holds results on dataset 'u', the reference on 't'" \
    "$O1P" compare --reference ref.json --runs other --table t.md
expect_fail "neither --table nor --plot" 2 "give --reference, --runs and --table or --plot" \
    "$O1P" compare --reference ref.json --runs s1
summary
