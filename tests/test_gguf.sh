#!/usr/bin/env bash
# tests/test_gguf.sh -- `o1p export --format gguf` run by the real llama.cpp; see
# tests/gguf.mjs. Models: the quick demo's reference (its data, toy config and SFT
# settings, fewer epochs); a Llama with grouped-query attention, a head size other than
# dim / heads, q/k/v biases and an embedding padded past the tokenizer; a Qwen2 with
# q/k/v biases and an untied head. The last two get a few SFT steps so that no weight is
# still at its initial value. Needs the npm packages of tests/node (npm ci); without
# them it fails, never skips.
set -u
. tests/lib.sh "${1:-build}"
need_node_modules node-llama-cpp
make_temp

tiny_config "$tmp/toy.json" vocab_size=384 hidden_size=64 intermediate_size=176 num_key_value_heads=4
tiny_config "$tmp/llama.json" vocab_size=400 hidden_size=48 intermediate_size=128 head_dim=16 \
    rope_theta=500000.0 rms_norm_eps=1e-06 attention_bias=true
tiny_config "$tmp/qwen2.json" 'architectures=["Qwen2ForCausalLM"]' model_type=qwen2 vocab_size=384 hidden_size=64 \
    intermediate_size=160 rope_theta=1000000.0 rms_norm_eps=1e-06 tie_word_embeddings=false
sft() { setup "$O1P" sft --data "$tmp/train.jsonl" --eval-frac 0 --seed 1 "$@"; }
tiny_data "$tmp/train.jsonl" 64 1 1
sft --config "$tmp/toy.json" --out "$tmp/demo-ref" --epochs 4 --batch 8 --lr 5e-3
sft --config "$tmp/llama.json" --tokenizer "$tmp/demo-ref/tokenizer.json" --out "$tmp/llama" --steps 3 --batch 4 --lr 1e-2
sft --config "$tmp/qwen2.json" --tokenizer "$tmp/demo-ref/tokenizer.json" --out "$tmp/qwen2" --steps 3 --batch 4 --lr 1e-2
node tests/gguf.mjs "$O1P" "$tmp" "$tmp/demo-ref" "$tmp/llama" "$tmp/qwen2"
