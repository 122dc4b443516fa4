#!/usr/bin/env bash
# tests/test_tok_parity.sh -- tokenizer parity with Hugging Face's Rust tokenizers (and
# js-tiktoken) on GPT-2, Llama 3 and Qwen3; see tests/tok_parity.mjs. Needs the npm
# packages of tests/node (cd tests/node && npm ci); without them it fails, never skips.
set -u
build=${1:-build}
o1p=${O1P:-$build/o1p}
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/node/node_modules/@anush008/tokenizers" ]; then
    echo "tests/node/node_modules is missing: run 'npm ci --prefix tests/node'"
    echo "0 passed, 1 failed"
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node "$here/tok_parity.mjs" "$(cd "$(dirname "$o1p")" && pwd)/$(basename "$o1p")" "$work"
