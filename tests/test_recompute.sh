#!/usr/bin/env bash
# tests/test_recompute.sh -- --recompute and the training memory plan end to end: `o1p
# sft` and `o1p prune` with and without --recompute give bit-identical weights (a
# Qwen2-shaped model with GQA and biases; all layers and --train-layers 1; ref and cpu),
# --recompute may change across --resume (it is no part of the run); with --vocab-chunk
# it is --vocab-chunk's run bit for bit and the full head's within the chunked head's
# tolerances; the start line's plan shows the activations both ways, the chunked head's
# smaller, and prunes the context to --cutoff; prune's counts its held-out sampler's KV
# cache; a run that does not fit (a huge batch, a huge config) is refused before
# allocating, naming the plan's parts, and writes nothing.
# Usage: tests/test_recompute.sh BUILD_DIR   (the o1p binary in $O1P, default BUILD_DIR/o1p)
set -u
. tests/lib.sh "${1:-build}"
passive_threads
work_in_temp
tiny_qwen2_run
differ() { ! cmp -s "$1" "$2"; }
same_losses() { diff <(sed 's/,"elapsed":[0-9.]*//' "$1") <(sed 's/,"elapsed":[0-9.]*//' "$2"); }  # metrics.jsonl but the times

sft=(sft --model model --data data.jsonl --batch 4 --accum 2 --seq 128 --lr 1e-2 --steps 3 --eval-frac 0.2)
for dev in ref cpu; do
    for tl in 0 1; do
        "$O1P" "${sft[@]}" --device "$dev" --train-layers "$tl" --out "a_${dev}_$tl" 2>"a_${dev}_$tl.err"
        "$O1P" "${sft[@]}" --device "$dev" --train-layers "$tl" --recompute --out "b_${dev}_$tl" 2>"b_${dev}_$tl.err"
        check "sft --device $dev --train-layers $tl: --recompute gives the same weights" \
            cmp "a_${dev}_$tl/model.safetensors" "b_${dev}_$tl/model.safetensors"
        check "sft --device $dev --train-layers $tl: the same losses" \
            same_losses "a_${dev}_$tl/metrics.jsonl" "b_${dev}_$tl/metrics.jsonl"
    done
done
check "sft trained (the weights moved)" differ model/model.safetensors a_cpu_0/model.safetensors

# The plan: the activations as planned, and the other way in parentheses.
acts() { sed -nE "s/.*activations ([0-9.]+ [kMG]B) \\($2: ([0-9.]+ [kMG]B)\\).*/\\$3/p" "$1"; }
full=$(acts a_cpu_0.err --recompute 1) rec=$(acts a_cpu_0.err --recompute 2)
check "sft's plan: activations $full, $rec with --recompute" test -n "$full" -a -n "$rec"
check "sft --recompute's plan: activations $rec ($full without)" \
    test "$(acts b_cpu_0.err "without --recompute" 1) $(acts b_cpu_0.err "without --recompute" 2)" = "$rec $full"
check "the plan has a total" grep -qE "memory: parameters .*, total [0-9.]+ [kMG]B$" a_cpu_0.err

# ---- with the head in vocabulary chunks -----------------------------------------------
# Recomputation leaves the head alone: --recompute --vocab-chunk 64 (not dividing V = 300)
# is --vocab-chunk 64 bit for bit, and --recompute with the full head within the chunked
# head's tolerances: the losses 1e-5 relative (tests/test_sft.sh), each weight tensor
# after 3 AdamW steps 1e-3 of its max|w| (tests/cuda/test_model_cuda.c: Adam moves an
# element whose gradient is rounding noise by up to lr; measured 1.4e-4).
weights_close() {  # A B: each tensor's max|a - b| <= 1e-3 max|a|
    /usr/bin/python3 - "$1/model.safetensors" "$2/model.safetensors" <<'EOF'
import json, struct, sys
def tensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: struct.unpack("<%df" % ((v["data_offsets"][1] - v["data_offsets"][0]) // 4),
                             b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
            for k, v in h.items() if k != "__metadata__"}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
assert a.keys() == b.keys()
for k in a:
    assert max(abs(x - y) for x, y in zip(a[k], b[k])) <= 1e-3 * max(abs(x) for x in a[k]), k
EOF
}
"$O1P" "${sft[@]}" --vocab-chunk 64 --out c64 --quiet
"$O1P" "${sft[@]}" --vocab-chunk 64 --recompute --out d64 2>d64.err
check "sft --recompute --vocab-chunk 64 == --vocab-chunk 64, bit for bit" cmp c64/model.safetensors d64/model.safetensors
check "... --recompute's weights (the full head) within 1e-3 of each tensor's max" weights_close b_cpu_0 d64
check "... --recompute's 3 losses within 1e-5 relative" \
    awk -F'"loss":' 'NR == FNR { a[FNR] = $2 + 0; next }
        { d = ($2 + 0) - a[FNR]; if (d < 0) d = -d; if (d > 1e-5 * a[FNR]) bad++; n++ }
        END { exit !(n == 3 && !bad) }' b_cpu_0/metrics.jsonl d64/metrics.jsonl
# the plan counts the chunk's logits [N, 64] and running sums [N], not [N, 300]: N = 4 x 128
# rows, 512 x 235 floats = 0.481 MB fewer, each side rounded to 3 digits (the exact count:
# tests/test_recompute.c)
mb() { acts "$1" "without --recompute" "$2" | sed 's/ MB//'; }
check "the plan of --vocab-chunk 64: $(mb d64.err 1) MB of activations, $(mb b_cpu_0.err 1) MB with the full head" \
    awk -v a="$(mb b_cpu_0.err 1)" -v b="$(mb d64.err 1)" -v c="$(mb b_cpu_0.err 2)" -v d="$(mb d64.err 2)" \
    'BEGIN { exit !(a - b > 0.47 && a - b < 0.495 && c - d > 0.47 && c - d < 0.495) }'

# --recompute is no part of the run's state: stopped without it, resumed with it
"$O1P" "${sft[@]}" --out half --stop-at 1 --quiet 2>/dev/null
"$O1P" "${sft[@]}" --out half --resume --recompute --quiet
check "1 step, then resume with --recompute == 3 straight" cmp half/model.safetensors a_cpu_0/model.safetensors

# ---- prune ---------------------------------------------------------------------------
"$O1P" presample --model model --data data.jsonl --k 2 --max-new 40 --temperature 1 --top-p 0.95 --quiet \
    --out ps.jsonl
prune=(prune --model model --presample ps.jsonl --batch 4 --accum 2 --lr 1e-2 --cutoff 200)
"$O1P" "${prune[@]}" --out pa 2>pa.err
"$O1P" "${prune[@]}" --recompute --out pb --quiet
check "prune: --recompute gives the same weights" cmp pa/model.safetensors pb/model.safetensors
check "prune trained (the weights moved)" differ model/model.safetensors pa/model.safetensors
# prune's rows are at most --cutoff tokens: its activations are those of sft's 4 x 200
"$O1P" sft --model model --data data.jsonl --batch 4 --seq 200 --steps 1 --eval-frac 0 --out s200 2>s200.err
check "prune plans rows of --cutoff 200 tokens, not the context's 256: activations $(acts pa.err --recompute 1)" \
    test "$(acts pa.err --recompute 1)" = "$(acts s200.err --recompute 1)"

# The plan counts the held-out evaluation's sampler: --eval-max-new past the context gives
# it 16 slots of the context's 256 positions, a KV cache of keys and values x 3 layers x
# 2 KV heads x 8 dims in floats (1.57 MB), and its step buffers (<= 0.5 MB); without
# --eval-data no sampler.
"$O1P" "${prune[@]}" --eval-data data.jsonl --eval-n 2 --eval-max-new 1000 --stop-at 1 --out pe 2>pe.err
samp=$(sed -nE 's/.*, sampler \(KV cache, step buffers\) ([0-9.]+) MB, total.*/\1/p' pe.err)
check "prune --eval-data plans its sampler: $samp MB, the KV cache's 1.57 MB + step buffers" \
    awk -v s="$samp" 'BEGIN { exit !(s >= 1.57 && s <= 2.07) }'
check "... without --eval-data, no sampler in the plan" bash -c "grep -q memory: pa.err && ! grep -q sampler pa.err"

# ---- refused before allocating ---------------------------------------------------------
# peak_rss OUT ERR command...: runs the command, its peak resident kB into OUT
peak_rss() {
    local out=$1 err=$2
    shift 2
    python3 -c "
import resource, subprocess, sys
rc = subprocess.run(sys.argv[3:], stdout=subprocess.DEVNULL, stderr=open(sys.argv[2], 'w')).returncode
open(sys.argv[1], 'w').write('%d %d' % (rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))" "$out" "$err" "$@"
}
# activations of a million rows of 256 tokens: about 2 TB
peak_rss big.rss big.err "$O1P" sft --model model --data data.jsonl --batch 1000000 --seq 256 --steps 1 --out big
read -r rc rss <big.rss
check "a batch that does not fit: exit 1 (got $rc)" test "$rc" -eq 1
check "... names the plan's parts and what shrinks it" grep -qE "o1p: the run does not fit: parameters .*, \
gradients .*, optimizer state .*, activations [0-9.]+ TB .*, total .*; beyond the loaded parameters it needs .* \
but .* of cpu memory is available: try --recompute \(activations .*\), --train-layers N or a smaller --batch" big.err
check "... refused before allocating: peak RSS ${rss} kB < 64 MB" test "$rss" -lt 65536
check "... nothing written" test ! -e big
# a config whose parameters alone exceed the machine: 64 layers of width 65536 (4 TB)
tiny_config huge.json hidden_size=65536 intermediate_size=65536 num_hidden_layers=64 num_attention_heads=512 \
    num_key_value_heads=512
peak_rss huge.rss huge.err "$O1P" sft --config huge.json --tokenizer tok.json --data data.jsonl --steps 1 --out huge
read -r rc rss <huge.rss
check "a config that does not fit: exit 1 (got $rc)" test "$rc" -eq 1
check "... says so" grep -qE "o1p: the [0-9]+ parameters \(.* GB\) of a llama model with hidden_size 65536, 64 layers, \
vocab_size 300 do not fit in the .* GB of cpu memory available" huge.err
check "... refused before allocating: peak RSS ${rss} kB < 64 MB" test "$rss" -lt 65536
check "... nothing written" test ! -e huge
summary
