#!/usr/bin/env bash
# tests/test_sft.sh -- `o1p sft` end to end on a tiny Llama and `o1p data synth` problems:
# the loss falls; --resume is bit-identical (also across thread counts and after a crash
# at any point of the checkpoint protocol); Ctrl-C saves a resumable checkpoint; the head
# in vocabulary chunks trains as the full one; bad input gives clear errors and leaves the
# output folder as it was.
# Usage: tests/test_sft.sh BUILD_DIR   (the o1p binary in $O1P, default BUILD_DIR/o1p)
set -u
. tests/lib.sh "${1:-build}"
same() { cmp -s "$1" "$2"; }

# One thread everywhere except the thread-count check.
passive_threads
work_in_temp
tiny_config tiny.json vocab_size=400 hidden_size=48 intermediate_size=96
tiny_data data.jsonl 160 1-3 7

common=(--config tiny.json --data data.jsonl --batch 4 --seq 160 --lr 3e-3 --threads 1 --quiet)

# ---- the loss falls ----------------------------------------------------------------
"$O1P" sft "${common[@]}" --steps 30 --accum 2 --eval-frac 0.1 --eval-every 10 --threads 1 --out learn 2>"$tmp/err"
check "sft runs" [ $? -eq 0 ]
for f in config.json model.safetensors tokenizer.json train_state.bin metrics.jsonl; do
    check "learn/$f written" [ -s "learn/$f" ]
done
check "no leftover temporary or next-state files" [ -z "$(ls learn | grep -E 'tmp|next')" ]
check "30 metrics lines" [ "$(wc -l <learn/metrics.jsonl)" -eq 30 ]
loss() { sed -n "$2p" "$1" | sed -E 's/.*"loss":([^,]*),.*/\1/'; }
evl() { grep eval_loss "$1" | sed -n "$2p" | sed -E 's/.*"eval_loss":([^,}]*).*/\1/'; }
first=$(loss learn/metrics.jsonl 1)
last=$(loss learn/metrics.jsonl 30)
check "training loss falls ($first -> $last)" awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.75 * a) }'
e1=$(evl learn/metrics.jsonl 1)
e3=$(evl learn/metrics.jsonl 3)
check "held-out loss computed 3 times" [ "$(grep -c eval_loss learn/metrics.jsonl)" -eq 3 ]
check "held-out loss falls ($e1 -> $e3)" awk -v a="$e1" -v b="$e3" 'BEGIN { exit !(b < a) }'

# ---- resume is bit-identical -------------------------------------------------------
run=("${common[@]}" --steps 12 --accum 2)
"$O1P" sft "${run[@]}" --threads 1 --out straight
"$O1P" sft "${run[@]}" --threads 2 --out halves --stop-at 6 2>/dev/null
check "stop-at leaves 6 metrics lines" [ "$(wc -l <halves/metrics.jsonl)" -eq 6 ]
"$O1P" sft "${run[@]}" --threads 1 --out halves --resume
check "6 steps (2 threads) + resume 6 (1 thread) == 12 straight (1 thread): same weights" \
    same straight/model.safetensors halves/model.safetensors
check "same training losses in metrics.jsonl" \
    same <(cut -d, -f1-4 straight/metrics.jsonl) <(cut -d, -f1-4 halves/metrics.jsonl)
expect_fail "resume with other options refused" 1 "other options" "$O1P" sft "${run[@]}" --out halves --resume --lr 1e-3
expect_fail "a fresh run into a run's folder refused" 1 "pass --resume" "$O1P" sft "${run[@]}" --out halves
"$O1P" sft "${run[@]}" --out halves --resume 2>/dev/null

# ---- the head in vocabulary chunks (--vocab-chunk) ----------------------------------
"$O1P" sft "${run[@]}" --out vc400 --vocab-chunk 400
check "--vocab-chunk 400 (one chunk of V): the full head's weights, bit for bit" \
    same straight/model.safetensors vc400/model.safetensors
"$O1P" sft "${run[@]}" --out vc64 --vocab-chunk 64
check "--vocab-chunk 64 (not dividing V): the full head's 12 losses within 1e-5 relative" \
    awk -F'"loss":' 'NR == FNR { a[FNR] = $2 + 0; next }
        { d = ($2 + 0) - a[FNR]; if (d < 0) d = -d; if (d > 1e-5 * a[FNR]) bad++; n++ }
        END { exit !(n == 12 && !bad) }' straight/metrics.jsonl vc64/metrics.jsonl

# ---- the prompt template: recorded in OUT/prompt.json, kept on resume, followed -------
prompt_is() { /usr/bin/python3 -c "import json, sys; p = json.load(open(sys.argv[1])); sys.exit(not ($2))" "$1"; }
check "prompt.json records the default template" prompt_is halves/prompt.json \
    "p['stage'] == 'sft' and p['user_template'] == '{problem}' and p['system'].startswith('You are a helpful')"
"$O1P" sft "${run[@]}" --steps 4 --out tq --stop-at 2 --prompt qwq 2>/dev/null
expect_fail "resume under another template refused" 1 "tq/prompt.json: the run trains under the prompt qwq, not default" \
    "$O1P" sft "${run[@]}" --steps 4 --out tq --resume --prompt default
"$O1P" sft "${run[@]}" --steps 4 --out tq --resume 2>/dev/null
check "resume without prompt options keeps the recorded one" prompt_is tq/prompt.json \
    "p['system'].startswith('You are a helpful and harmless') and p['user_template'] == 'Solve the problem: {problem}'"
"$O1P" sft --model tq --data data.jsonl --batch 4 --seq 160 --steps 1 --threads 1 --quiet --out tq2 \
    --user-template "Q: {problem}"
check "sft from a model folder follows its template, parts replaced" prompt_is tq2/prompt.json \
    "p['system'].startswith('You are a helpful and harmless') and p['user_template'] == 'Q: {problem}'"
check "resuming a finished run does nothing" same straight/model.safetensors halves/model.safetensors

# ---- a crash at any point of the checkpoint protocol resumes consistently ----------
"$O1P" sft "${run[@]}" --out crash --stop-at 4 2>/dev/null
cp crash/model.safetensors m4
cp crash/train_state.bin s4
"$O1P" sft "${run[@]}" --out crash --resume --stop-at 8 2>/dev/null
cp crash/model.safetensors m8
cp crash/train_state.bin s8
# crash between writing the new state and the new weights: old weights, old state, new .next
cp m4 crash/model.safetensors
cp s4 crash/train_state.bin
cp s8 crash/train_state.next.bin
"$O1P" sft "${run[@]}" --out crash --resume
check "crash before the weights: resumes from step 4, identical" same straight/model.safetensors crash/model.safetensors
check "crash before the weights: stale .next removed" [ ! -e crash/train_state.next.bin ]
# crash between the new weights and the rename: new weights, old state, new .next
cp m8 crash/model.safetensors
cp s4 crash/train_state.bin
cp s8 crash/train_state.next.bin
"$O1P" sft "${run[@]}" --out crash --resume
check "crash before the rename: resumes from step 8, identical" same straight/model.safetensors crash/model.safetensors
# weights that belong to no state
cp m8 crash/model.safetensors
cp s4 crash/train_state.bin
cp m8 keep
expect_fail "weights of no state refused" 1 "does not belong" "$O1P" sft "${run[@]}" --out crash --resume
check "... and left as they were" same keep crash/model.safetensors

# ---- Ctrl-C saves; resuming gives the uninterrupted result --------------------------
long=("${common[@]}" --steps 40 --threads 1)
"$O1P" sft "${long[@]}" --out whole
"$O1P" sft "${long[@]}" --out intr --log-every 1 2>intr.err &
pid=$!
for _ in $(seq 200); do
    [ -f intr/metrics.jsonl ] && [ "$(wc -l <intr/metrics.jsonl)" -ge 3 ] && break
    sleep 0.05
done
kill -INT "$pid"
wait "$pid"
check "Ctrl-C: exit 130" [ $? -eq 130 ]
check "Ctrl-C: says so" grep -q "interrupted at step" intr.err
n=$(wc -l <intr/metrics.jsonl)
check "Ctrl-C: stopped early ($n of 40 steps)" [ "$n" -lt 40 ]
check "Ctrl-C: state saved" [ -s intr/train_state.bin ]
"$O1P" sft "${long[@]}" --out intr --resume
check "Ctrl-C + resume == uninterrupted: same weights" same whole/model.safetensors intr/model.safetensors
check "Ctrl-C + resume: 40 metrics lines" [ "$(wc -l <intr/metrics.jsonl)" -eq 40 ]

# ---- fine-tuning from a model folder -----------------------------------------------
"$O1P" sft --model learn --data data.jsonl --batch 4 --seq 160 --steps 3 --quiet --out fromdir
check "sft --model: runs" [ $? -eq 0 ]
check "sft --model: tokenizer.json copied verbatim" same learn/tokenizer.json fromdir/tokenizer.json

# ---- bad input ---------------------------------------------------------------------
mkdir notok
cp learn/config.json learn/model.safetensors notok/
expect_fail "model folder without tokenizer.json" 1 "no tokenizer.json" "$O1P" sft --model notok --data data.jsonl --out x1
tiny_config small_vocab.json hidden_size=48 intermediate_size=96
setup "$O1P" init --config small_vocab.json --out smallv --tokenizer learn/tokenizer.json
expect_fail "tokenizer larger than the model's vocab" 1 "but the model's vocab_size is 300" "$O1P" sft --model smallv --data data.jsonl --out x2
expect_fail "--tokenizer larger than the config's vocab" 1 "the tokenizer has 400 tokens but the model's vocab_size is 300" \
    "$O1P" sft --config small_vocab.json --tokenizer learn/tokenizer.json --data data.jsonl --out x3
printf '{"problem": "1+1?", "answer": "2", "solution": "\\\\boxed{2}"}\n{"problem": "2+2?", "answer": "4"}\n' >nosol.jsonl
expect_fail "dataset without solutions" 1 "example 2 has no \"solution\"" "$O1P" sft "${common[@]}" --data nosol.jsonl --out x4
check "... writes nothing" [ ! -e x4 ]
expect_fail "resume without a state" 1 "nothing to resume" "$O1P" sft "${run[@]}" --out x5 --resume
cp straight/model.safetensors keep
cp straight/metrics.jsonl keepm
printf '\x55' | dd of=straight/train_state.bin bs=1 seek=200 conv=notrunc 2>/dev/null
expect_fail "corrupt training state refused" 1 "checksum" "$O1P" sft "${run[@]}" --out straight --resume
check "... weights untouched" same keep straight/model.safetensors
check "... metrics untouched" same keepm straight/metrics.jsonl
expect_fail "--overlong drop with nothing left" 1 "none of the" "$O1P" sft "${common[@]}" --seq 40 --overlong drop --out x6
"$O1P" sft --config tiny.json --data data.jsonl --batch 4 --seq 130 --overlong drop --steps 1 --out x7 2>x7.err
check "--overlong drop reports the dropped examples" grep -qE "[1-9][0-9]* dropped: --overlong drop" x7.err
expect_fail "--config and --model together" 2 "one of --config" "$O1P" sft --config tiny.json --model learn --data data.jsonl --out x8
expect_fail "--overlong with an unknown policy" 2 "drop or truncate" "$O1P" sft "${common[@]}" --overlong cut --out x9

summary
