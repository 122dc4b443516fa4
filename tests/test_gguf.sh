#!/usr/bin/env bash
# tests/test_gguf.sh -- `o1p export --format gguf` run by the real llama.cpp; see
# tests/gguf.mjs. Models: the quick demo's reference (its data, toy config and SFT
# settings, fewer epochs); a Llama with grouped-query attention, a head size other than
# dim / heads, q/k/v biases and an embedding padded past the tokenizer; a Qwen2 with
# q/k/v biases and an untied head. The last two get a few SFT steps so that no weight is
# still at its initial value. Needs the npm packages of tests/node (npm ci); without
# them it fails, never skips.
set -u
build=${1:-build}
o1p=${O1P:-$build/o1p}
o1p=$(cd "$(dirname "$o1p")" && pwd)/$(basename "$o1p")
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/node/node_modules/node-llama-cpp" ]; then
    echo "tests/node/node_modules is missing: run 'make deps' (npm ci --prefix tests/node)"
    echo "0 passed, 1 failed"
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL $*"; echo "0 passed, 1 failed"; exit 1; }

cat >"$work/toy.json" <<'JSON'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 384,
 "hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 4, "max_position_embeddings": 256,
 "rope_theta": 10000.0, "rms_norm_eps": 1e-05, "tie_word_embeddings": true}
JSON
cat >"$work/llama.json" <<'JSON'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 400,
 "hidden_size": 48, "intermediate_size": 128, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
 "max_position_embeddings": 256, "rope_theta": 500000.0, "rms_norm_eps": 1e-06,
 "tie_word_embeddings": true, "attention_bias": true}
JSON
cat >"$work/qwen2.json" <<'JSON'
{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 384,
 "hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
 "rope_theta": 1000000.0, "rms_norm_eps": 1e-06, "tie_word_embeddings": false}
JSON
sft() { "$o1p" sft --data "$work/train.jsonl" --eval-frac 0 --seed 1 "$@" >"$work/sft.log" 2>&1 ||
    fail "o1p sft $*: $(tail -3 "$work/sft.log")"; }
"$o1p" data synth --n 64 --levels 1 --seed 1 --out "$work/train.jsonl" >/dev/null 2>&1 || fail "o1p data synth"
sft --config "$work/toy.json" --out "$work/demo-ref" --epochs 4 --batch 8 --lr 5e-3
sft --config "$work/llama.json" --tokenizer "$work/demo-ref/tokenizer.json" --out "$work/llama" --steps 3 --batch 4 --lr 1e-2
sft --config "$work/qwen2.json" --tokenizer "$work/demo-ref/tokenizer.json" --out "$work/qwen2" --steps 3 --batch 4 --lr 1e-2
node "$here/gguf.mjs" "$o1p" "$work" "$work/demo-ref" "$work/llama" "$work/qwen2"
