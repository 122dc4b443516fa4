#!/usr/bin/env bash
# tests/test_inputs.sh -- inputs that are wrong alone (numbers out of range, nan, inf,
# unknown names) are usage errors (exit 2) before anything runs; inputs that are valid
# alone but do not belong together (a model vocab past the tokenizer's, pre-samples of
# another dataset or model, results of different datasets) fail clearly or are handled.
# Usage: tests/test_inputs.sh BUILD_DIR   (the o1p binary in $O1P, default BUILD_DIR/o1p)
set -u
. tests/lib.sh "${1:-build}"
passive_threads
work_in_temp

# Numbers: out of range, wrapped, nan, inf -- usage errors naming the option.
usage() {  # description option-fragment command...
    local what=$1 msg=$2
    shift 2
    expect_fail "$what" 2 "$msg" "$O1P" "$@"
}
usage "threads past the limit" "'--threads' expects an integer in [0, 1024]" sft --threads 100000 --data d --out o
usage "steps past an int" "'--steps' expects an integer" sft --steps 4294967297 --data d --out o
usage "epochs 1e300" "'--epochs' expects a finite number" sft --epochs 1e300 --data d --out o
usage "lr inf" "'--lr' expects a finite number" sft --lr inf --data d --out o
usage "grad-clip nan" "'--grad-clip' expects a finite number" sft --grad-clip nan --data d --out o
usage "grad-clip -1" "'--grad-clip' expects a finite number in [0" prune --grad-clip -1
usage "eval-frac 1" "'--eval-frac' expects a finite number in [0, 1)" sft --eval-frac 1 --data d --out o
usage "lambda nan" "'--lambda' expects a finite number" prune --lambda nan --model m --presample p --out o
usage "prune epochs past the limit" "'--epochs'" prune --epochs 1e300 --model m --presample p --out o
usage "objective foo" "--objective must be ppo, sft-shortest, dpo, kimi, efficient, grpo-len or dast, not 'foo'" \
    prune --objective foo --model m --presample p --out o
usage "ratio foo" "--ratio must be token, seq or per-token" prune --ratio foo --model m --presample p --out o
usage "presample max-new past an int" "'--max-new' expects an integer" \
    presample --max-new 4294967297 --model m --data d --k 2 --out o
usage "presample limit past an int" "'--limit' expects an integer" \
    presample --limit 4294967297 --model m --data d --k 2 --out o
usage "presample top-p 0" "'--top-p' expects a finite number in (0, 1]" \
    presample --top-p 0 --model m --data d --k 2 --out o
usage "eval temperature -1" "'--temperature' expects a finite number in [0" eval --temperature -1
usage "eval max-new -5" "'--max-new' expects an integer in [0" eval --max-new -5
usage "eval k 0" "'--k' expects an integer in [1" eval --k 0
usage "generate temperature nan" "'--temperature'" generate --temperature nan --model m --problem p
usage "tok train vocab past the limit" "'--vocab'" tok train --vocab 99999999 --data d --out o
usage "data synth n past the limit" "'--n'" data synth --n 10000001 --out o
usage "data synth task graph" "--task 'graph': expected chain or walk" data synth --task graph --n 1 --out o
usage "an integer with junk" "expects an integer" sft --steps 12x --data d --out o
usage "a number with junk" "expects a finite number" sft --lr 1e-3x --data d --out o
usage "export format onnx" "--format onnx: expected gguf" export --format onnx --model m --out o
usage "export type q4_0" "--type q4_0: expected f32, f16 or q8_0" export --format gguf --type q4_0 --model m --out o

# A model whose vocab_size (400) is padded past its tokenizer's 300 tokens: sampling
# never draws the padded ids, and says so once.
tiny_data data.jsonl 6 1-2
tiny_tokenizer data.jsonl
tiny_config cfg.json vocab_size=400
tiny_model padded cfg.json
ps_padded() { "$O1P" presample --model padded --data data.jsonl --k 4 --max-new 40 --temperature 2 --top-p 1 "$@"; }
check "presample on a padded vocab" ps_padded --out pad.jsonl --quiet
check "... no sampled id past the tokenizer's" /usr/bin/python3 -c "
import json, sys
lines = [json.loads(l) for l in open('pad.jsonl')][1:]
ids = [t for l in lines if 'ids' in l for t in l['ids']]
sys.exit(not (len(ids) > 0 and max(ids) < 300))"
expect_fail "... the note names the model and the masked ids" 0 "padded: the model's vocab_size is 400, its tokenizer has 300 tokens; ids 300..399 are never sampled" \
    ps_padded --out pad2.jsonl
check "generate on a padded vocab" "$O1P" generate --model padded --problem "Start with 5." --temperature 2 --max-new 40
expect_fail "eval on a padded vocab" 0 "ids 300..399 are never sampled" \
    "$O1P" eval --model padded --data data.jsonl --k 2 --temperature 2 --max-new 40 --out ev.json

# Pre-samples and their sources: resume and prune check the fingerprints of the weights,
# the tokenizer and the dataset recorded in the header.
tiny_config cfg300.json
tiny_model ref cfg300.json
tiny_model other cfg300.json 2
tiny_data data9.jsonl 6 1-2 9
ps_ref() { "$O1P" presample --model ref --data data.jsonl --k 2 --max-new 20 --quiet "$@"; }
ps_ref --out ps.jsonl --limit 2
check "the header records the fingerprints" grep -q '"weights_fnv1a": "[0-9a-f]\{16\}", "tokenizer_fnv1a": "[0-9a-f]\{16\}", "data_fnv1a": "[0-9a-f]\{16\}"}' ps.jsonl
cp ps.jsonl ps.orig
cp -r ref ref.orig && cp other/model.safetensors ref/
expect_fail "resume after the folder's weights changed" 1 "ps.jsonl was pre-sampled from other model weights" \
    ps_ref --out ps.jsonl
check "... the file is untouched" cmp ps.jsonl ps.orig
rm -rf ref && cp -r ref.orig ref
cp data.jsonl data.orig && cp data9.jsonl data.jsonl
expect_fail "resume after the dataset changed (same problem count)" 1 "was pre-sampled from another dataset" \
    ps_ref --out ps.jsonl
cp data.orig data.jsonl
check "... the file is untouched" cmp ps.jsonl ps.orig
ps_ref --out ps.jsonl
check "resume with the same sources completes the file" test "$(grep -c '"summary"' ps.jsonl)" -eq 6
sed '1s/, "weights_fnv1a".*}$/}/' ps.orig >old.jsonl
expect_fail "a file without fingerprints resumes, with a warning" 0 "old.jsonl records no fingerprints" \
    ps_ref --out old.jsonl
check "... to the same samples" cmp <(tail -n +2 old.jsonl) <(tail -n +2 ps.jsonl)
pr() { "$O1P" prune --presample ps.jsonl --out "$@" --epochs 1 --batch 4 --eval-n 0 --quiet; }
expect_fail "prune --data of another dataset with as many problems" 1 "was pre-sampled from another dataset" \
    pr p1 --model ref --data data9.jsonl
expect_fail "prune --model with other weights" 1 "was pre-sampled from other model weights" pr p2 --model other
expect_fail "prune of an older file warns" 0 "old.jsonl records no fingerprints" \
    "$O1P" prune --presample old.jsonl --out p3 --model ref --epochs 1 --batch 4 --eval-n 0 --quiet
expect_fail "prune --difficulty easier trains on half the problems" 0 "12 pre-samples of 6 problems -> 6 training" \
    "$O1P" prune --presample ps.jsonl --out p5 --model ref --epochs 1 --batch 4 --eval-n 0 --m 1
expect_fail "... easier: 3 problems" 0 "6 pre-samples of 3 problems -> 3 training" \
    "$O1P" prune --presample ps.jsonl --out p6 --model ref --epochs 1 --batch 4 --eval-n 0 --m 1 --difficulty easier
expect_fail "... harder: the other 3" 0 "6 pre-samples of 3 problems -> 3 training" \
    "$O1P" prune --presample ps.jsonl --out p7 --model ref --epochs 1 --batch 4 --eval-n 0 --m 1 --difficulty harder
usage "difficulty foo" "--difficulty: expected all, easier or harder, got 'foo'" \
    prune --difficulty foo --model m --presample p --out o
sed '2s/"length": [0-9]*,/"length": 0,/; 2s/"truncated": false/"truncated": true/; 2s/"ids": \[[0-9,]*\]/"ids": []/' \
    ps.jsonl >len0.jsonl
expect_fail "a sample of length 0 names the file and line" 1 "len0.jsonl: line 2: \"length\" = 0" \
    "$O1P" prune --presample len0.jsonl --out p4 --model ref --epochs 1 --batch 4 --eval-n 0 --quiet

# Prompt templates and graders: wrong names and placeholders are usage errors; the
# template is recorded in the pre-sample header, the model folder and the eval JSON, and
# followed by default; resuming under another is refused.
usage "an unknown prompt preset" "unknown prompt preset 'marco' (expected default, marco-train, marco-eval, qwq or fast)" \
    presample --prompt marco --model m --data d --k 2 --out o
usage "a user template without {problem}" "--user-template: expected exactly one {problem}" \
    eval --user-template "Solve:" --model m --data d --out o
usage "a user template with two" "found 2" sft --user-template "{problem} {problem}" --data d --out o
usage "prune --prompt" "unknown prompt preset 'x'" prune --prompt x --model m --presample p --out o
usage "generate --prompt is the preset" "unknown prompt preset 'Start'" generate --model m --problem p --prompt Start
usage "presample --grader" "--grader must be paper or lenient (got 'strict')" \
    presample --grader strict --model m --data d --k 2 --out o
usage "eval --grader" "--grader must be paper or lenient (got 'x')" eval --grader x --model m --data d --out o
header() { /usr/bin/python3 -c "import json, sys; h = json.loads(open(sys.argv[1]).readline()); sys.exit(not ($2))" "$1"; }
check "the header records the default template and grader" header ps.jsonl \
    "h['system'].startswith('You are a helpful assistant.') and h['user_template'] == '{problem}' and h['grader'] == 'paper'"
ps_ref --out me.jsonl --limit 2 --prompt marco-eval --grader lenient
check "... and the ones given" header me.jsonl \
    "h['user_template'] == 'Solve the problem: {problem}' and h['grader'] == 'lenient'"
check "another template samples other text" bash -c "! cmp -s <(sed -n 2p me.jsonl) <(sed -n 2p ps.jsonl)"
cp me.jsonl me.orig
expect_fail "resume under another template names the file and both" 1 \
    "me.jsonl was sampled with the prompt marco-eval, this run asks for default" ps_ref --out me.jsonl --grader lenient
expect_fail "resume under another grader" 1 "me.jsonl was graded with --grader lenient, this run asks for paper" \
    ps_ref --out me.jsonl --prompt marco-eval
check "... the file is untouched" cmp me.jsonl me.orig
ps_ref --out me.jsonl --prompt marco-eval --grader lenient
check "resume under the same completes the file" test "$(grep -c '"summary"' me.jsonl)" -eq 6
sed '1s/, "system": .*, "grader": "paper"//' ps.orig >nofield.jsonl
check "(an older header: no template, no grader)" bash -c "! grep -q user_template nofield.jsonl"
expect_fail "an older file reads as the default template" 1 "was sampled with the prompt default, this run asks for qwq" \
    ps_ref --out nofield.jsonl --prompt qwq
ps_ref --out nofield.jsonl
check "... and resumes under it to the same samples" cmp <(tail -n +2 nofield.jsonl) <(tail -n +2 ps.jsonl)
# prune trains under the pre-samples' template (pi_ref's log-probs too), or a stated other
prm() { "$O1P" prune --presample me.jsonl --model ref --epochs 1 --batch 4 --eval-n 0 --quiet --out "$@"; }
prm pm
check "prune records the pre-samples' template" /usr/bin/python3 -c "
import json, sys; p = json.load(open('pm/prompt.json'))
sys.exit(not (p['stage'] == 'prune' and p['user_template'] == 'Solve the problem: {problem}' and 'presample' not in p))"
prm pm2 --prompt marco-eval
check "... the same weights as --prompt marco-eval" cmp pm/model.safetensors pm2/model.safetensors
expect_fail "prune under another template says so" 0 "prune: training under the prompt default; me.jsonl was sampled with marco-eval" \
    "$O1P" prune --presample me.jsonl --model ref --epochs 1 --batch 4 --eval-n 0 --out pm3 --prompt marco-train
check "... trains other weights" bash -c "! cmp -s pm/model.safetensors pm3/model.safetensors"
check "... and records both" /usr/bin/python3 -c "
import json, sys; p = json.load(open('pm3/prompt.json'))
sys.exit(not (p['user_template'] == '{problem}' and p['presample']['user_template'] == 'Solve the problem: {problem}'))"
# eval and presample on a model folder follow its record; the eval JSON records template and grader
"$O1P" eval --model pm --data data.jsonl --max-new 10 --limit 2 --out evm.json --quiet >/dev/null
check "eval follows the folder's template" /usr/bin/python3 -c "
import json, sys; r = json.load(open('evm.json'))
sys.exit(not (r['user_template'] == 'Solve the problem: {problem}' and r['grader'] == 'paper'))"
"$O1P" eval --model pm --data data.jsonl --max-new 10 --limit 2 --out evq.json --quiet --prompt qwq --grader lenient >/dev/null
check "... or the one given" /usr/bin/python3 -c "
import json, sys; r = json.load(open('evq.json'))
sys.exit(not (r['system'].startswith('You are a helpful and harmless') and r['grader'] == 'lenient'))"
"$O1P" presample --model pm --data data.jsonl --k 2 --max-new 10 --limit 1 --quiet --out pmps.jsonl
check "presample follows the folder's template" header pmps.jsonl "h['user_template'] == 'Solve the problem: {problem}'"
cp -r ref badp && echo '{"prompt": 1, "system": "s"}' >badp/prompt.json
expect_fail "a damaged prompt.json names the file" 1 'badp/prompt.json: line 1: expected both "system" and "user_template"' \
    "$O1P" generate --model badp --problem "Start with 5." --max-new 5

# eval --table: one table, one dataset.
"$O1P" eval --model ref --data data.jsonl --max-new 10 --out evr.json --quiet >/dev/null
"$O1P" eval --model ref --data data9.jsonl --max-new 10 --out ev9.json --quiet >/dev/null
expect_fail "a table of results on two datasets" 1 "ev9.json holds results on dataset 'data9', evr.json on 'data'" \
    "$O1P" eval --table t.md --results evr.json,ev9.json
expect_fail "a baseline of another dataset" 1 "ev9.json holds results on dataset 'data9', evr.json on 'data'" \
    "$O1P" eval --table t.md --results evr.json --baseline ev9.json
check "results and baseline on one dataset" "$O1P" eval --table t.md --results evr.json --baseline ev.json

# tok train: refuses an empty or non-UTF-8 text naming the file and offset; a dataset
# trains on its texts, not its JSON syntax.
: >empty.txt
expect_fail "tok train on an empty file" 1 "empty.txt: empty" "$O1P" tok train --data empty.txt --vocab 300 --out x.json
printf 'hello \xff world' >bad.txt
expect_fail "tok train on non-UTF-8" 1 "bad.txt: byte offset 6: 0xFF is not valid UTF-8" \
    "$O1P" tok train --data bad.txt --vocab 300 --out x.json
check "... no tokenizer written" test ! -e x.json
check "tok train on a JSONL dataset learns no JSON syntax" /usr/bin/python3 -c "
import json, sys
v = json.load(open('tok.json'))['model']['vocab']
sys.exit(any('\":' in k or 'Ġ\"' in k for k in v))"
python3 - <<'PY'
import json
t = json.load(open('tok.json'))
t['added_tokens'].append({'id': 5, 'content': '<|x|>', 'single_word': False, 'lstrip': False, 'rstrip': False,
                          'normalized': False, 'special': True})
json.dump(t, open('collide.json', 'w'))
PY
expect_fail "an added token on a vocab entry's id says what collides" 1 'the added token "<|x|>" has id 5, which the vocab gives to' \
    bash -c "echo 1 | '$O1P' tok decode --tokenizer collide.json"
expect_fail "tok train past the file size limit says why" 1 "write failed: File too large" \
    bash -c "ulimit -f 4; trap '' XFSZ; '$O1P' tok train --data data.jsonl --vocab 300 --out big.json"

summary
