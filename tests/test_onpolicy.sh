#!/usr/bin/env bash
# tests/test_onpolicy.sh -- prune --rounds (iterative O1-Pruner) and --online on a random
# tiny model: round 2's samples come from the weights after round 1 (the bytes `o1p
# presample` gives on that checkpoint with the pre-samples' options), 2 rounds of 1 epoch
# differ from 1 round of 2, same seed same bits, a resume at the round's start or inside
# it (or with a partial round file) gives the bits of an uninterrupted run, --baseline
# changes the advantages. --online: same bits twice, other weights than offline from
# step 1 on, and a resume after step 1 gives the uninterrupted bits (step 2 samples from
# the weights step 1 left).
# Usage: tests/test_onpolicy.sh BUILD_DIR   (the o1p binary in $O1P, default BUILD_DIR/o1p)
set -u
build=${1:-build}
. tests/lib.sh "$build"
passive_threads
work_in_temp
tiny_data data.jsonl 8 1
tiny_tokenizer data.jsonl
tiny_config cfg.json num_hidden_layers=1
tiny_model model cfg.json
psm() { "$O1P" presample --data data.jsonl --k 3 --max-new 24 --temperature 1 --seed 5 --slots 4 --quiet "$@"; }
# 16 units (8 problems x m 2), 4 a step: 4 steps a round
prune() { "$O1P" prune --model model --presample ps.jsonl --data data.jsonl --batch 2 --accum 2 --lr 1e-2 \
    --warmup 0 --quiet "$@"; }
samples() { tail -n +2 "$1"; }  # a pre-sample file less its header
psm --model model --out ps.jsonl

prune --rounds 2 --out r2 2>/dev/null
check "2 rounds: round 2's samples in the output folder" test -s r2/round_2.presample.jsonl -a -s r2/round_2.ref_logprobs.json
check "round 2's samples differ from the pre-samples" bash -c "! cmp -s <(tail -n +2 ps.jsonl) <(tail -n +2 r2/round_2.presample.jsonl)"
# 8 problems x K 3: round 2's first step logs the 24 samples it drew, no other step any
drew_at() { grep -o '"step":[0-9]*,.*"sampled":[0-9]*' "$1" | sed 's/"step":\([0-9]*\),.*"sampled":/\1:/' | tr '\n' ' '; }
check "2 rounds: step 5 logs round 2's 24 samples" test "$(drew_at r2/prune_metrics.jsonl)" = "5:24 "
prune --rounds 2 --stop-at 4 --out r2b 2>/dev/null
psm --model r2b --out after1.jsonl
check "round 2's samples = o1p presample on the round-1 checkpoint" \
    cmp <(samples after1.jsonl) <(samples r2/round_2.presample.jsonl)
prune --rounds 2 --resume --out r2b 2>/dev/null
check "resumed at round 2's start = uninterrupted" cmp r2/model.safetensors r2b/model.safetensors
check "resumed at round 2's start: its samples logged once" test "$(drew_at r2b/prune_metrics.jsonl)" = "5:24 "
prune --rounds 2 --stop-at 4 --out r2e 2>/dev/null
psm --model r2e --limit 3 --out r2e/round_2.presample.jsonl  # as if stopped while sampling round 2
prune --rounds 2 --resume --out r2e 2>/dev/null
check "a partial round 2 file continued = uninterrupted" cmp r2/model.safetensors r2e/model.safetensors
prune --rounds 2 --stop-at 6 --out r2c 2>/dev/null
prune --rounds 2 --resume --out r2c 2>/dev/null
check "resumed inside round 2 = uninterrupted" cmp r2/model.safetensors r2c/model.safetensors
check "resumed inside round 2: its samples file reused" cmp <(samples r2/round_2.presample.jsonl) <(samples r2c/round_2.presample.jsonl)
prune --rounds 2 --out r2d 2>/dev/null
check "same seed, same bits" cmp r2/model.safetensors r2d/model.safetensors
prune --epochs 2 --out e2 2>/dev/null
check "2 rounds of 1 epoch differ from 1 round of 2 epochs" bash -c "! cmp -s r2/model.safetensors e2/model.safetensors"
check "1 round writes no round files" bash -c "! ls e2/round_* 2>/dev/null"
prune --rounds 2 --baseline current --out cur 2>/dev/null
check "--baseline current: round 2 samples the same" cmp <(samples r2/round_2.presample.jsonl) <(samples cur/round_2.presample.jsonl)
check "--baseline current: other weights" bash -c "! cmp -s r2/model.safetensors cur/model.safetensors"
prune --rounds 3 --epochs 0.5 --out r3 2>/dev/null
check "3 rounds of half an epoch: rounds 2 and 3 sampled" test -s r3/round_2.presample.jsonl -a -s r3/round_3.presample.jsonl
check "round 3's samples differ from round 2's" \
    bash -c "! cmp -s <(tail -n +2 r3/round_2.presample.jsonl) <(tail -n +2 r3/round_3.presample.jsonl)"
prune --online --out o1 2>/dev/null
prune --online --out o2 2>/dev/null
check "--online: same seed, same bits" cmp o1/model.safetensors o2/model.safetensors
check "--online: every step logs its 2 problems x 3 samples" test "$(drew_at o1/prune_metrics.jsonl)" = "1:6 2:6 3:6 4:6 "
prune --online --stop-at 1 --out o3 2>/dev/null
prune --stop-at 1 --out off1 2>/dev/null
check "--online: step 1 trains other samples than offline" bash -c "! cmp -s o3/model.safetensors off1/model.safetensors"
prune --online --resume --out o3 2>/dev/null
check "--online: resumed after step 1 = uninterrupted" cmp o1/model.safetensors o3/model.safetensors
prune --out off 2>/dev/null
check "--online: other weights than offline" bash -c "! cmp -s o1/model.safetensors off/model.safetensors"
OMP_NUM_THREADS=2 prune --online --out o5 2>/dev/null
check "--online: 2 threads, same bits" cmp o1/model.safetensors o5/model.safetensors
OMP_NUM_THREADS=2 prune --rounds 2 --out r2t 2>/dev/null
check "2 rounds: 2 threads, same bits" cmp r2/model.safetensors r2t/model.safetensors
prune --online --baseline current --out o4 2>/dev/null
check "--online --baseline current: other weights" bash -c "! cmp -s o1/model.safetensors o4/model.safetensors"
check "--online: 3 problems a step of 8 (an epoch of 2 steps)" prune --online --accum 3 --out o6
check "--online --difficulty harder" prune --online --difficulty harder --out o7
cp -r r3 r3f
prune --rounds 2 --force --out r3f 2>/dev/null
check "a fresh run drops an earlier run's round files" test ! -e r3f/round_3.presample.jsonl
check "... and samples its own" cmp r2/model.safetensors r3f/model.safetensors
expect_fail "--online: a step of part of a problem's samples refused" 1 "not a whole number of problems'" \
    prune --online --batch 3 --accum 1 --out x
expect_fail "--online with --rounds refused" 2 "one or the other" prune --online --rounds 2 --out x
expect_fail "--rounds with dpo refused" 2 "--rounds and --online are for ppo" prune --rounds 2 --objective dpo --out x
expect_fail "--baseline other refused" 2 "--baseline: expected ref or current" prune --baseline pi --out x
expect_fail "resume with other --rounds refused" 1 "started with other options" prune --rounds 3 --resume --out r2c
summary
