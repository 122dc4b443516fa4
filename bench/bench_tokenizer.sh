#!/usr/bin/env bash
# bench/bench_tokenizer.sh -- tokenizer speed next to Hugging Face's Rust tokenizers
# (@anush008/tokenizers, tokenizers 0.22, single-threaded: RAYON_NUM_THREADS=1) in the
# same run: encode MB/s on the GPT-2, Llama 3 and Qwen3 tokenizer.json files, and BPE
# training time (4k merges on ~10 MB). Text: datasets/*.json (math problems and
# solutions, ~2 MB), repeated to 10 MB for training. Usage: bench/bench_tokenizer.sh BUILD
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
nm=$here/tests/node/node_modules
[ -d "$nm/@anush008/tokenizers" ] || { echo "bench_tokenizer: run 'npm ci --prefix tests/node' first"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat "$here"/datasets/*.json > "$work/text.txt"
for _ in 1 2 3 4 5; do cat "$work/text.txt"; done | head -c 10000000 > "$work/train.txt"
export RAYON_NUM_THREADS=1 RAYON_RS_NUM_CPUS=1 OMP_NUM_THREADS=1
RAYON_NUM_THREADS=1 node "$here/bench/bench_tokenizer.mjs" "$nm" "$work" "$build/bench/bench_tokenizer"
