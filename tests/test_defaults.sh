#!/usr/bin/env bash
# tests/test_defaults.sh -- the official O1-Pruner defaults and the options around them:
# each default shown by --help; --preset marco|qwq and the options given overriding it in
# either order; --max-new's default (8192) capped at the context; the length convention
# (the end token not counted) on hand-made pre-sample files of both headers and on eval
# JSON files of both kinds; prune's --cutoff on the rows' tokens.
# Usage: tests/test_defaults.sh BUILD_DIR   (the o1p binary in $O1P, default BUILD_DIR/o1p)
set -u
. tests/lib.sh "${1:-build}"
passive_threads
work_in_temp

# ---- --help: every default with its value -------------------------------------------
# helps CMD OPTION TEXT: the --help line of OPTION says TEXT
helps() { "$O1P" "$1" --help | grep -E -- "^  --$2 " | grep -qF -- "$3"; }
check "prune --beta2 default 0.999" helps prune beta2 "default 0.999"
check "prune --accum default 4 (32 sequences a step)" helps prune accum "default 4: 32 sequences"
check "prune --batch default 8" helps prune batch "default 8"
check "prune --lr default 2e-7" helps prune lr "default 2e-7"
check "prune --rounds default 1 (the paper's single pass)" helps prune rounds "default 1"
check "prune --lambda default 2" helps prune lambda "default 2"
check "prune --cutoff default 3072" helps prune cutoff "default 3072"
check "prune --eval-max-new default 8192" helps prune eval-max-new "default 8192"
check "prune --preset" helps prune preset "marco"
check "sft --beta2 default 0.95" helps sft beta2 "default 0.95"
check "sft --cutoff default 0" helps sft cutoff "default 0"
check "sft --vocab-chunk: whole logits up to 1 GiB" helps sft vocab-chunk "default: chunks once the logits pass 1 GiB"
check "prune --vocab-chunk: whole logits up to 1 GiB" helps prune vocab-chunk "default: chunks once the logits pass 1 GiB"
check "presample --max-new default 8192" helps presample max-new "default 8192"
check "presample --preset" helps presample preset "qwq (k 12)"
check "eval --max-new default 8192" helps eval max-new "default 8192"
expect_fail "an unknown preset" 2 "--preset must be marco or qwq" "$O1P" prune --preset nope --model m \
    --presample p --out o

# ---- a tiny model with a 256-token context --------------------------------------------
tiny_data data.jsonl 10 1
tiny_tokenizer data.jsonl
tiny_config cfg.json
tiny_model model cfg.json
ps() { "$O1P" presample --model model --data data.jsonl --limit 2 --temperature 1 --quiet "$@"; }

# ---- presample: --preset k, overridden in either order; --max-new capped -------------
header() { python3 -c "import json, sys; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])" "$@"; }
ps --preset qwq --out q.jsonl --max-new 4
check "presample --preset qwq: k 12" test "$(header q.jsonl k)" = 12
ps --preset qwq --k 3 --out q3.jsonl --max-new 4
check "--preset qwq --k 3: k 3" test "$(header q3.jsonl k)" = 3
ps --k 3 --preset qwq --out q3b.jsonl --max-new 4
check "--k 3 --preset qwq: k 3" test "$(header q3b.jsonl k)" = 3
check "presample --preset qwq: qwq's user template" test "$(header q.jsonl user_template)" = "Solve the problem: {problem}"
expect_fail "presample without --k nor --preset" 2 "required" ps --out none.jsonl
ps --k 2 --out cap.jsonl
ps --k 2 --out ctx.jsonl --max-new 0
check "presample: max_new 8192 by default" test "$(header cap.jsonl max_new)" = 8192
check "the default 8192 is capped at the context: the samples of --max-new 0" \
    cmp <(tail -n +2 cap.jsonl) <(tail -n +2 ctx.jsonl)
check "a sample ran to the context: more than 60 generated tokens" python3 -c "
import json
assert any(len(l.get('ids', [])) > 60 for l in map(json.loads, open('cap.jsonl')))"
"$O1P" eval --model model --data data.jsonl --limit 2 --out ev.json --quiet >/dev/null
"$O1P" eval --model model --data data.jsonl --limit 2 --out ev0.json --max-new 0 --quiet >/dev/null
check "eval: the default 8192 is capped at the context: the results of --max-new 0" python3 -c "
import json
a, b = (json.load(open(f))['problems'] for f in ('ev.json', 'ev0.json'))
assert a == b and any(p['truncated'] for p in a)"

# ---- lengths without the end token: hand-made pre-sample files ------------------------
end=$(python3 -c "import json; print(next(t['id'] for t in json.load(open('tok.json'))['added_tokens'] if t['content'] == '<|im_end|>'))")
# problem 0, k 2: [5 6 7 END] ended (L 3), [5 6 7 8 9] truncated (L 5): Lbar 4; the old
# header counted the end token (L 4 and 5, Lbar 4.5)
mkps() {  # mkps FILE HEADER_EXTRA L_ENDED LBAR
    python3 - "$@" "$end" <<'PY'
import json, sys
f, extra, l0, lbar, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
h = {"presample": 1, "model": "model", "data": "data.jsonl", "n_problems": 10, "k": 2, "temperature": 1,
     "top_p": 1, "top_k": 0, "max_new": 5, "seed": 1}
if extra: h["length_counts"] = extra
s0 = {"problem": 0, "sample": 0, "length": l0, "correct": True, "truncated": False, "answer": "1",
      "mean_logprob": -1, "ids": [5, 6, 7, end], "text": "x"}
s1 = {"problem": 0, "sample": 1, "length": 5, "correct": False, "truncated": True, "answer": None,
      "mean_logprob": -1, "ids": [5, 6, 7, 8, 9], "text": "y"}
su = {"problem": 0, "summary": True, "k": 2, "mean_length": lbar, "accuracy": 0.5}
open(f, "w").write("".join(json.dumps(x) + "\n" for x in (h, s0, s1, su)))
PY
}
mkps new.jsonl solution 3 4
mkps old.jsonl "" 4 4.5
mkps mixed.jsonl solution 4 4.5
mkps bad.jsonl tokens 3 4
pr() { "$O1P" prune --model model --data data.jsonl --m 0 --batch 2 --accum 1 --quiet "$@"; }
# the step's mean_length is the mean of the reward's L over its two rows
step_len() { python3 -c "import json; print(json.loads(open('$1/prune_metrics.jsonl').readline())['mean_length'])"; }
pr --presample new.jsonl --out p_new 2>/dev/null
check "new header: L without the end token (mean 4)" test "$(step_len p_new)" = 4
pr --presample old.jsonl --out p_old 2>/dev/null
check "old header: converted on load (mean 4, not 4.5)" test "$(step_len p_old)" = 4
check "old and new files train the same weights" cmp p_new/model.safetensors p_old/model.safetensors
expect_fail "new header, end token counted in length" 1 "expected \"ids\", an array of 5 token ids" \
    pr --presample mixed.jsonl --out p_mixed
expect_fail "an unknown length convention" 1 "expected \"length_counts\": \"solution\"" \
    pr --presample bad.jsonl --out p_bad
cp old.jsonl resume.jsonl
expect_fail "presample does not resume an old file (two counts in one file)" 1 "counts the end token" \
    "$O1P" presample --model model --data data.jsonl --k 2 --max-new 5 --temperature 1 --top-p 1 --out resume.jsonl
check "the refused old file is untouched" cmp old.jsonl resume.jsonl
check "a new file's lengths: ids less the end token" python3 -c "
import json
for s in (l for l in map(json.loads, open('cap.jsonl')) if 'sample' in l):
    assert s['length'] == len(s['ids']) - (not s['truncated']), s"

# ---- prune --cutoff on the rows' tokens ------------------------------------------------
# prompt p > 20, completion 4 or 5: 2c < 20, so the prompt is cut: rows of 20 tokens
tokens1() { python3 -c "import json; print(json.loads(open('$1/metrics.jsonl').readline())['tokens'])"; }
"$O1P" prune --model model --data data.jsonl --m 0 --batch 2 --accum 1 --presample new.jsonl --out p_cut \
    --cutoff 20 2>err.txt
check "--cutoff 20: rows of 20 tokens (40 in the step)" test "$(tokens1 p_cut)" = 40
check "--cutoff 20: the cut is reported" grep -q "2 of 2 pre-samples cut to --cutoff 20 tokens" err.txt
check "--cutoff 0: rows uncut (more than 40 tokens)" test "$(pr --presample new.jsonl --out p_c0 --cutoff 0 \
    2>/dev/null; tokens1 p_c0)" -gt 40

# ---- sft --cutoff: every example (prompt > 40 tokens) cut to 40 -------------------------
"$O1P" sft --data data.jsonl --model model --out s_cut --steps 1 --batch 2 --eval-frac 0 --cutoff 40 2>err.txt
check "sft --cutoff 40: rows of 40 tokens (80 in the step)" test "$(tokens1 s_cut)" = 80
check "sft --cutoff 40: the cut is reported" grep -q "10 of 10 examples cut to --cutoff 40 tokens" err.txt

# ---- prune --preset: lambda and lr, overridden in either order -------------------------
# (qwq freeze-tunes the last 48 layers: --train-layers 1 overrides it on this small model)
report() { "$O1P" prune --model model --data data.jsonl --presample new.jsonl --stop-at 1 --out "$1" "${@:2}" 2>&1; }
"$O1P" prune --model model --data data.jsonl --presample new.jsonl --out r0 --preset qwq >/dev/null 2>err.txt
check "--preset qwq: its 48 layers refused on a small model (exit 2)" test $? = 2
check "... the message names the layers" grep -q "train-layers 48 exceeds" err.txt
check "--train-layers 1 --preset qwq: the option given wins" bash -c "$(declare -f report); O1P='$O1P'; \
    report rq --train-layers 1 --preset qwq | grep -q 'training the last 1 of'"
check "--preset qwq: lambda 5, lr 2e-6" bash -c "$(declare -f report); O1P='$O1P'; report r1 --preset qwq --train-layers 1 |
    grep -q 'lambda 5;' && report r2 --preset qwq --train-layers 1 | grep -q 'lr 2e-06,'"
check "--preset qwq --lr 1e-4: lr 1e-4, lambda 5" bash -c "$(declare -f report); O1P='$O1P'; report r3 --preset qwq \
    --train-layers 1 --lr 1e-4 | grep 'lambda 5;' >/dev/null && report r4 --preset qwq --lr 1e-4 --train-layers 1 | grep -q 'lr 0.0001,'"
check "--lr 1e-4 --lambda 1 --preset qwq: lr 1e-4, lambda 1" bash -c "$(declare -f report); O1P='$O1P'; report r5 \
    --lr 1e-4 --lambda 1 --train-layers 1 --preset qwq | grep -q 'lambda 1;' && report r6 --lr 1e-4 --preset qwq \
    --train-layers 1 | grep -q 'lr 0.0001,'"
check "no preset: the defaults (lambda 2, lr 2e-7, beta2 0.999)" bash -c "$(declare -f report); O1P='$O1P'; \
    report r7 | grep -q 'lambda 2;' && report r8 | grep -q 'lr 2e-07, beta2 0.999'"

# ---- eval JSON: an older file's lengths (stop token counted) are converted -----------
mkev() {  # mkev FILE WITH_COUNTS: lengths 4 (ended) and 6 (truncated)
    python3 - "$@" <<'PY'
import json, sys
d = {"model": "m", "dataset": "d", "k": 1, "temperature": 0, "seconds": 1, "n_problems": 2,
     "problems": [{"index": 0, "sample": 0, "level": 1, "correct": 1, "length": 4, "truncated": 0, "answer": "1", "output": "x"},
                  {"index": 1, "sample": 0, "level": 1, "correct": 0, "length": 6, "truncated": 1, "answer": None, "output": "y"}]}
if sys.argv[2] == "1": d["length_counts"] = "solution"
json.dump(d, open(sys.argv[1], "w"))
PY
}
mkev ev_new.json 1
mkev ev_old.json 0
check "eval JSON with length_counts: lengths as written (mean 5.0)" bash -c "'$O1P' eval --table t1.md \
    --results ev_new.json | grep -q '| 50.0 | 5.0 |'"
check "older eval JSON: the stop token taken off (mean 4.5)" bash -c "'$O1P' eval --table t2.md \
    --results ev_old.json | grep -q '| 50.0 | 4.5 |'"
summary
