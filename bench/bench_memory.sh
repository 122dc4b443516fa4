#!/usr/bin/env bash
# bench/bench_memory.sh -- training memory: `o1p sft` for STEPS steps on the CPU backend,
# each run its own process, with and without --recompute (a deep model: 8 blocks of width
# 256) and with and without --vocab-chunk (a wide head: Qwen2.5's 151936 entries on 2
# blocks of width 128); 8 sequences a step of the synthetic task's levels 1-3 (T: the
# longest of a batch, at most 512). Per run: peak resident memory (GNU
# time's %M), wall time, the activations the plan printed, the last step's loss; ratios
# against the plain run of the same model in the same invocation.
# Usage: bench/bench_memory.sh BUILD [STEPS, default 4]   (threads: OMP_NUM_THREADS, default all cores)
set -eu
build=${1:-build}
steps=${2:-4}
o1p=$build/o1p
work=$(mktemp -d "${TMPDIR:-/tmp}/o1p_bench_memory.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$o1p" data synth --n 96 --seed 1 --levels 1-3 --out "$work/data.jsonl" >/dev/null 2>&1
"$o1p" tok train --data "$work/data.jsonl" --vocab 512 --out "$work/tok.json" >/dev/null 2>&1
# config NAME VOCAB WIDTH HIDDEN LAYERS: a Qwen2-shaped config.json (GQA 4:2, biases)
config() {
    cat >"$work/$1.json" <<EOF
{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": $2,
 "hidden_size": $3, "intermediate_size": $4, "num_hidden_layers": $5,
 "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
 "rope_theta": 10000.0, "rms_norm_eps": 1e-06, "tie_word_embeddings": false}
EOF
}
config deep 512 256 704 8
config wide 151936 128 352 2
base_rss=0 base_wall=0
# run CONFIG LABEL [OPTIONS]: one sft run and its line; the first of a model (LABEL
# empty) is the baseline of the ratios
run() {
    local cfg=$1 label=$2
    shift 2
    local out=$work/run
    rm -rf "$out"
    /usr/bin/time -f "%M %e" -o "$work/time" "$o1p" sft --config "$work/$cfg.json" --tokenizer "$work/tok.json" \
        --data "$work/data.jsonl" --out "$out" --steps "$steps" --batch 8 --seq 512 --eval-frac 0 \
        --log-every 1000 "$@" >/dev/null 2>"$work/err"
    local rss wall acts loss
    read -r rss wall <"$work/time"
    acts=$(grep -o 'activations [0-9.]* [kMGT]*B' "$work/err" | head -n 1 | cut -d' ' -f2-)
    loss=$(tail -n 1 "$out/metrics.jsonl" | grep -o '"loss":[0-9.e+-]*' | cut -d: -f2)
    if [ -z "$label" ]; then base_rss=$rss base_wall=$wall label=plain; fi
    awk -v l="$label" -v r="$rss" -v w="$wall" -v br="$base_rss" -v bw="$base_wall" -v a="$acts" -v s="$loss" \
        'BEGIN { printf "  %-22s peak RSS %7.1f MB (%.2fx)  wall %6.2f s (%.2fx)  planned activations %-9s loss %s\n",
                 l, r / 1024, r / br, w, w / bw, a, s }'
}
echo "deep: 8 blocks, width 256, vocab 512; $steps steps of 8 sequences"
run deep ""
run deep --recompute --recompute
echo "wide: 2 blocks, width 128, vocab 151936; $steps steps of 8 sequences (plain: --vocab-chunk 0)"
run wide "" --vocab-chunk 0
run wide "--vocab-chunk 8192" --vocab-chunk 8192
run wide "+ --recompute" --vocab-chunk 8192 --recompute
