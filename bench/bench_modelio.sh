#!/usr/bin/env bash
# bench/bench_modelio.sh -- model folders at disk speed: `o1p init`, then load and save
# (bench/bench_modelio.c, each its own process, peak RSS included) beside the time of
# `cat FILE > /dev/null` (page cache warm: read twice first, as the load then finds it)
# and `dd conv=fsync` (a copy written and flushed, as a save is), on the same file. The
# model: Qwen2.5-0.5B's shape (configs/qwen2.5-0.5b.json) cut to LAYERS layers (default
# 2: 166 M parameters, 664 MB). Usage: bench/bench_modelio.sh BUILD [LAYERS]
set -eu
build=${1:-build}
layers=${2:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/o1p_bench_modelio.XXXXXX")
trap 'rm -rf "$work"' EXIT
sed "s/\"num_hidden_layers\": 24/\"num_hidden_layers\": $layers/" "$here/configs/qwen2.5-0.5b.json" > "$work/config.json"
secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); awk "BEGIN { print $t1 - $t0 }"; }
t=$(secs "$build/o1p" init --config "$work/config.json" --out "$work/m")
file=$work/m/model.safetensors
mb=$(( $(stat -c %s "$file") / 1000000 ))
printf 'init  %6.2f s  (o1p init: random weights, then the save)  file %d MB\n' "$t" "$mb"
cat "$file" > /dev/null; cat "$file" > /dev/null
printf 'cat   %6.2f s  (cat FILE > /dev/null, page cache warm)\n' "$(secs sh -c "cat '$file' > /dev/null")"
"$build/bench/bench_modelio" load "$work/m"
printf 'dd    %6.2f s  (dd FILE to a new file, bs=4M conv=fsync)\n' \
    "$(secs dd if="$file" of="$work/copy" bs=4M conv=fsync status=none)"
rm -f "$work/copy"
"$build/bench/bench_modelio" save "$work/m" "$work/saved"
cmp -s "$file" "$work/saved/model.safetensors" && echo "saved file: the same bytes as the loaded one"
