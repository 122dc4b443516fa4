#!/usr/bin/env bash
# tests/test_demo_quick.sh -- the end-to-end test: `scripts/demo.sh quick` (make demo-quick)
# in a temporary folder, then checks that every stage ran and left well-formed outputs:
# model folders, pre-samples, the prune logs (r = 1 at the first step), the eval JSON
# files, the table's rows and the PNG files. It checks the plumbing, not the results.
# Usage: tests/test_demo_quick.sh BUILD_DIR   (O1P: the o1p binary)
set -u
. tests/lib.sh "${1:-build}"

make_temp o1p_demo_quick
out=$tmp/results
log=$tmp/demo.log
O1P=$O1P bash scripts/demo.sh quick "$out" >"$log" 2>&1
rc=$?
check "demo-quick exits 0 (log: last lines below)" test $rc -eq 0
[ $rc -eq 0 ] || tail -n 30 "$log"
work=$out/work

for s in data sft eval_ref presample prune_o1-pruner prune_o1-pruner-per-token prune_sft-shortest prune_dpo \
    eval_o1-pruner eval_o1-pruner-per-token eval_sft-shortest eval_dpo; do
    check "stage $s completed" test -f "$work/$s.done"
done
for d in ref o1-pruner o1-pruner-per-token sft-shortest dpo; do
    for f in config.json model.safetensors tokenizer.json metrics.jsonl train_state.bin; do
        check "$d/$f exists" test -s "$work/$d/$f"
    done
done
check "presample has a header and sample lines" python3 -c "
import json, sys
lines = [json.loads(l) for l in open('$work/presample.jsonl')]
assert lines[0]['presample'] == 1
samples = [l for l in lines if 'sample' in l]
assert len(samples) == lines[0]['k'] * sum(1 for l in lines if l.get('summary'))
assert all(len(s['ids']) == s['length'] + (not s['truncated']) for s in samples)"
check "prune logs every step with r = 1 (to 1e-5) at the first step" python3 -c "
import json
rows = [json.loads(l) for l in open('$work/o1-pruner/prune_metrics.jsonl')]
steps = [r for r in rows if 'loss' in r]
assert steps and steps[0]['step'] == 1 and abs(steps[0]['mean_r'] - 1) < 1e-5
for r in steps:
    for k in ('loss', 'mean_r', 'frac_clipped', 'mean_adv', 'mean_length', 'lr', 'grad_norm'): assert k in r, k
assert any('heldout_acc' in r for r in rows)"
check "the reference log-probs were stored once" test -s "$work/o1-pruner/ref_logprobs.json"
check "dpo starts at log 2" python3 -c "
import json, math
r = next(r for r in map(json.loads, open('$work/dpo/prune_metrics.jsonl')) if r.get('step') == 1)
assert abs(r['loss'] - math.log(2)) < 1e-4, r"
for n in ref o1-pruner o1-pruner-per-token sft-shortest dpo; do
    check "eval_$n.json is a complete eval result" python3 -c "
import json
d = json.load(open('$out/eval_$n.json'))
assert d['n'] == d['n_problems'] == len(d['problems']) > 0
assert 0 <= d['accuracy'] <= 1 and d['mean_length'] > 0
for p in d['problems']: assert p['length'] >= 0 and p['correct'] in (0, 1)"
done
check "table.md has the header and the five rows" python3 -c "
rows = [l for l in open('$out/table.md') if l.startswith('| ')]
names = [r.split('|')[1].strip() for r in rows]
assert names[0] == 'Model' and 'Acc (%)' in rows[0] and 'AES' in rows[0]
for n in ('reference', 'o1-pruner', 'o1-pruner-per-token', 'sft-shortest', 'dpo'): assert n in names, n
assert rows[1].split('|')[4].strip() == '-'"
for p in levels curves; do
    check "$p.png is a PNG" python3 -c "
d = open('$out/$p.png', 'rb').read()
assert d[:8] == b'\x89PNG\r\n\x1a\n' and len(d) > 2000"
done
check "the demo showed its progress" grep -q "== \[" "$log"

# ---- o1p prune on the demo's pre-samples: resume, and --group ------------------------
prune=("$O1P" prune --model "$work/ref" --presample "$work/presample.jsonl" --data "$work/train.jsonl" --batch 8
    --lr 1e-4 --seed 3 --quiet)
"${prune[@]}" --group --m 0 --out "$tmp/straight" 2>/dev/null
"${prune[@]}" --group --m 0 --out "$tmp/halves" --stop-at 3 --threads 2 2>/dev/null
"${prune[@]}" --group --m 0 --out "$tmp/halves" --resume --threads 1 2>/dev/null
check "prune --group: stop at 3, resume (other thread count) == straight: same weights" \
    cmp "$tmp/straight/model.safetensors" "$tmp/halves/model.safetensors"
# Unnormalised, unclipped rewards: lambda (A - Abar) sums to 0 over a problem's K samples,
# so a step of whole problems has the same mean advantage for any lambda; a step of
# scattered samples (no --group) does not, where a problem has right and wrong samples.
mean_adv() {  # mean_adv OUT LAMBDA [options]: every step's mean advantage, one epoch
    local out=$1 lambda=$2
    shift 2
    "${prune[@]}" --m 0 --no-normalize --no-clip --lambda "$lambda" --out "$out" "$@" 2>/dev/null
    python3 -c "import json; print(*[r['mean_adv'] for r in map(json.loads, open('$out/prune_metrics.jsonl')) if 'loss' in r])"
}
# max_diff "A..." "B...": the largest |a_i - b_i| of two equally long, non-empty lists (else 1e9)
max_diff() { python3 -c "import sys; a, b = map(str.split, sys.argv[1:]); print(max(abs(float(x) - float(y)) for x, y in zip(a, b)) if len(a) == len(b) > 0 else 1e9)" "$1" "$2"; }
below() { python3 -c "import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))" "$1" "$2"; }
check "the pre-samples have a problem with right and wrong samples" python3 -c "
import json, collections
c = collections.defaultdict(set)
for l in map(json.loads, open('$work/presample.jsonl')):
    if 'sample' in l: c[l['problem']].add(l['correct'])
assert any(len(v) == 2 for v in c.values())"
d_group=$(max_diff "$(mean_adv "$tmp/g0" 0 --group)" "$(mean_adv "$tmp/g5" 5 --group)")
d_scattered=$(max_diff "$(mean_adv "$tmp/s0" 0)" "$(mean_adv "$tmp/s5" 5)")
check "--group: every step's mean advantage is the same for lambda 0 and 5" below "$d_group" 1e-5
check "without --group it is not (the check above has teeth)" below 1e-3 "$d_scattered"
expect_fail "--group is refused for the baselines" 2 "--group is for --objective ppo" \
    "${prune[@]}" --objective dpo --group --out "$tmp/bad"

# ---- the other papers' objectives: stop, resume (other thread count) == straight --------
for obj in kimi efficient grpo-len dast; do  # a quarter epoch: 4 to 8 steps
    "${prune[@]}" --objective $obj --epochs 0.25 --out "$tmp/${obj}_straight" 2>/dev/null
    "${prune[@]}" --objective $obj --epochs 0.25 --out "$tmp/${obj}_halves" --stop-at 3 --threads 2 2>/dev/null
    "${prune[@]}" --objective $obj --epochs 0.25 --out "$tmp/${obj}_halves" --resume --threads 1 2>/dev/null
    check "prune --objective $obj: stop at 3, resume (other thread count) == straight: same weights" \
        cmp "$tmp/${obj}_straight/model.safetensors" "$tmp/${obj}_halves/model.safetensors"
done
check "kimi trains every pre-sample; dast logs a finite, positive loss" python3 -c "
import json, math
h = json.loads(open('$work/presample.jsonl').readline())
r = json.load(open('$tmp/kimi_straight/ref_logprobs.json'))
assert r['rows'] == h['k'] * h['n_problems'], (r['rows'], h)
d = [x for x in map(json.loads, open('$tmp/dast_straight/prune_metrics.jsonl')) if x.get('step') == 1][0]
assert d['loss'] > 0 and math.isfinite(d['loss'])"

# ---- --ratio per-token: every token's reference log-prob saved, read back on resume ---
"${prune[@]}" --ratio per-token --out "$tmp/pt_straight" 2>/dev/null
"${prune[@]}" --ratio per-token --out "$tmp/pt_halves" --stop-at 3 --threads 2 2>/dev/null
"${prune[@]}" --ratio per-token --out "$tmp/pt_halves" --resume --threads 1 2>/dev/null
check "prune --ratio per-token: stop at 3, resume (other thread count) == straight: same weights" \
    cmp "$tmp/pt_straight/model.safetensors" "$tmp/pt_halves/model.safetensors"
check "per-token reference log-probs: one list per row, summing to the row's sum" python3 -c "
import json
r = json.load(open('$tmp/pt_straight/ref_logprobs.json'))
t = r['token_logprob']
assert len(t) == r['rows'] == len(r['sum_logprob']) > 0
for row, s in zip(t, r['sum_logprob']):
    assert len(row) > 0 and all(x <= 0 for x in row) and abs(sum(row) - s) < 1e-4 * (1 + abs(s)), (sum(row), s)"
check "per-token: the first step's mean ratio is 1" python3 -c "
import json
r = [json.loads(l) for l in open('$tmp/pt_straight/prune_metrics.jsonl')]
assert abs([x for x in r if x.get('step') == 1][0]['mean_r'] - 1) < 1e-5"
# a row cut short in the saved file: resume says which file and row
"${prune[@]}" --ratio per-token --out "$tmp/pt_cut" --stop-at 2 2>/dev/null
python3 -c "
import json
p = '$tmp/pt_cut/ref_logprobs.json'
r = json.load(open(p))
r['token_logprob'][0] = r['token_logprob'][0][:-1]
json.dump(r, open(p, 'w'))"
expect_fail "a resume whose per-token reference row is short" 1 "\"token_logprob\" row 0: expected" \
    "${prune[@]}" --ratio per-token --out "$tmp/pt_cut" --resume
summary
