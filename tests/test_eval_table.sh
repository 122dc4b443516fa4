#!/usr/bin/env bash
# tests/test_eval_table.sh -- `o1p eval` on the paper's three test sets at once (Table 2
# with its average column) on a random tiny model, a few problems each: the layout; the
# per-dataset results equal those of one-dataset runs (k = 1: today's numbers); the
# average column and the AES against a baseline given as eval JSONs, recomputed here; k > 1
# reports the mean accuracy over samples and the majority vote; bad lists fail clearly.
# Usage: tests/test_eval_table.sh BUILD_DIR   (the o1p binary in $O1P, default BUILD_DIR/o1p)
set -u
. tests/lib.sh "${1:-build}"
passive_threads
repo=$(pwd)
work_in_temp
tiny_data data.jsonl 10 1-2
tiny_tokenizer data.jsonl
tiny_config cfg.json max_position_embeddings=2048
tiny_model model cfg.json
ds=$repo/datasets
data="$ds/math_test.json,$ds/gsm8k.json,$ds/gaokao.json"
ev() { "$O1P" eval --model model --limit 3 --max-new 12 --quiet "$@"; }

# The baseline: hand-made eval JSONs (3 problems each, known accuracy and length), listed
# in another order than --data; they are matched by dataset name.
python3 - <<'EOF'
import json
for name, correct, length in (("math_test", [1, 0, 1], [10, 20, 30]), ("gsm8k", [1, 1, 1], [8, 8, 8]),
                              ("gaokao", [0, 1, 0], [30, 30, 30])):
    probs = [{"index": i, "sample": 0, "level": 0, "correct": c, "length": l, "truncated": 0, "answer": "1",
              "output": "\\boxed{1}"} for i, (c, l) in enumerate(zip(correct, length))]
    json.dump({"model": "base", "dataset": name, "k": 1, "temperature": 0, "seconds": 1.5, "n_problems": 3,
               "length_counts": "solution",
               "problems": probs}, open(f"base_{name}.json", "w"))
EOF
check "three datasets, a baseline of eval JSONs" ev --data "$data" --baseline base_gaokao.json,base_math_test.json,base_gsm8k.json --out t2.json
check "one results JSON per dataset" test -f t2.math_test.json -a -f t2.gsm8k.json -a -f t2.gaokao.json -a -f t2.md
check "Table 2 layout: the datasets, then the average; the time table" python3 - <<'EOF'
lines = open("t2.md").read().split("\n")
head = "| Model |" + "".join(f" {d} Acc (%) | {d} Length | {d} AES |" for d in ("math_test", "gsm8k", "gaokao"))
assert lines[0] == head + " Average Acc (%) | Average Length | Average AES |", lines[0]
assert lines[1] == "|---|" + "---:|---:|---:|" * 4
assert lines[2].startswith("| base | 66.7 | 20.0 | - | 100.0 | 8.0 | - | 33.3 | 30.0 | - | 66.7 | 19.3 | - |"), lines[2]
assert lines[3].startswith("| model |") and len(lines[3].split("|")) == 15, lines[3]
assert lines[5] == "| Model | math_test Time (s) | gsm8k Time (s) | gaokao Time (s) | Total Time (s) |", lines[5]
assert lines[8].startswith("| model |")
EOF
check "the average column and the AES, recomputed" python3 - <<'EOF'
import json
t = json.load(open("t2.json"))
assert t["model"] == "model" and t["baseline"] == "base" and [d["dataset"] for d in t["datasets"]] == ["math_test", "gsm8k", "gaokao"]
def aes(acc, ln, ab, lb):
    dl, da = (lb - ln) / lb, (acc - ab) / ab
    return dl + 3 * abs(da) if da >= 0 else dl - 5 * abs(da)
base = {"math_test": (2 / 3, 20), "gsm8k": (1, 8), "gaokao": (1 / 3, 30)}
for d in t["datasets"]:
    r = json.load(open(f"t2.{d['dataset']}.json"))
    assert d["accuracy"] == r["accuracy"] and d["mean_length"] == r["mean_length"] and d["n_problems"] == 3
    assert abs(d["aes"] - aes(r["accuracy"], r["mean_length"], *base[d["dataset"]])) < 1e-6, d
    assert abs(d["seconds"] - r["seconds"]) < 1e-6
a, ds = t["average"], t["datasets"]
assert abs(a["accuracy"] - sum(d["accuracy"] for d in ds) / 3) < 1e-8
assert abs(a["mean_length"] - sum(d["mean_length"] for d in ds) / 3) < 1e-6
assert abs(a["aes"] - sum(d["aes"] for d in ds) / 3) < 1e-6
assert abs(a["seconds"] - sum(d["seconds"] for d in ds)) < 1e-6
assert "vote_accuracy" not in a
row = open("t2.md").read().split("\n")[3].split("|")
assert row[-4].strip() == f"{100 * a['accuracy']:.1f}" and row[-3].strip() == f"{a['mean_length']:.1f}", row
assert row[-2].strip() == f"{a['aes']:.3f}", row
EOF

# k = 1: each dataset's results are those of a one-dataset run.
for d in math_test gsm8k gaokao; do
    ev --data "$ds/$d.json" --out one_$d.json >/dev/null 2>&1
    check "$d: as evaluated alone" python3 - one_$d.json t2.$d.json <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for x in (a, b):
    x.pop("seconds"); x.pop("sec_per_problem")
assert a == b and "vote_accuracy" not in a
EOF
done

# k > 1: the mean accuracy over samples, the majority vote, the mean length.
check "k = 3 on two datasets" ev --data "$ds/gsm8k.json,$ds/gaokao.json" --k 3 --temperature 1 --out k3.json
check "k = 3: vote accuracy and means" python3 - <<'EOF'
import json
t = json.load(open("k3.json"))
for d in t["datasets"]:
    r = json.load(open(f"k3.{d['dataset']}.json"))
    assert r["k"] == 3 and len(r["problems"]) == 9 and 0 <= r["vote_accuracy"] <= 1
    assert abs(r["accuracy"] - sum(p["correct"] for p in r["problems"]) / 9) < 1e-8
    assert abs(r["mean_length"] - sum(p["length"] for p in r["problems"]) / 9) < 1e-6
    assert d["vote_accuracy"] == r["vote_accuracy"] and d["k"] == 3
assert abs(t["average"]["vote_accuracy"] - sum(d["vote_accuracy"] for d in t["datasets"]) / 2) < 1e-8
md = open("k3.md").read()
assert "| Model | Dataset | k | Acc, mean over samples (%) | Majority vote Acc (%) | Length |" in md
EOF

expect_fail "two datasets of one name" 1 "have the same name 'gsm8k'" ev --data "$ds/gsm8k.json,$ds/gsm8k.json" --out dup.json
expect_fail "a baseline list without the dataset" 1 "no results on dataset 'gaokao'" \
    ev --data "$ds/gsm8k.json,$ds/gaokao.json" --baseline base_gsm8k.json,base_math_test.json --out miss.json
summary
