#!/usr/bin/env bash
# tests/test_tok_parity.sh -- tokenizer parity with Hugging Face's Rust tokenizers (and
# js-tiktoken) on GPT-2, Llama 3 and Qwen3; see tests/tok_parity.mjs. Needs the npm
# packages of tests/node (cd tests/node && npm ci); without them it fails, never skips.
set -u
. tests/lib.sh "${1:-build}"
need_node_modules @anush008/tokenizers
make_temp
node tests/tok_parity.mjs "$O1P" "$tmp"
