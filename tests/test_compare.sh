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
check "method row" grep -qxF "| ppo | 100.0 [100.0, 100.0] | 140.0 [135.0, 145.0] | +3.300 [+3.275, +3.325] | - | 500 [500, 500] | 13 [12, 14] |" t.md
check "level header" grep -qxF "| method | level 1 (1) | level 2 (1) | all (2) |" t.md
check "reference per level" grep -qxF "| reference | 100.0 | 300.0 | 200.0 |" t.md
check "ppo per level, ratio to the reference" grep -qxF "| ppo | 60.0 (0.60) | 220.0 (0.73) | 140.0 (0.70) |" t.md
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
