#!/usr/bin/env bash
# bench/bench_modelio.sh -- model folders at disk speed: `o1p init`, then load and save
# (bench/bench_modelio.c, each its own process, peak RSS included) beside the time of
# `cat FILE > /dev/null` (page cache warm: read twice first, as the load then finds it)
# and `dd conv=fsync` (a copy written and flushed, as a save is), on the same file. Then
# the same weights as a BF16 checkpoint in up to 4 shards with an index (bench/shard_bf16.py,
# as large models are published): cat of the shards and the load. The model: Qwen2.5-0.5B's
# shape (configs/qwen2.5-0.5b.json) cut to LAYERS layers (default 2: 166 M parameters,
# 664 MB). Usage: bench/bench_modelio.sh BUILD [LAYERS]
set -eu
build=${1:-build}
layers=${2:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/o1p_bench_modelio.XXXXXX")
trap 'rm -rf "$work"' EXIT
sed "s/\"num_hidden_layers\": 24/\"num_hidden_layers\": $layers/" "$here/configs/qwen2.5-0.5b.json" > "$work/config.json"
# "WALL s  cpu CPU s" of a command (bash's time: real, user + sys), its output dropped
timed() { local t; t=$( { TIMEFORMAT='%R %U %S'; time "$@" > /dev/null; } 2>&1 | tail -n 1);
    echo "$t" | awk '{ printf "%6.2f s  cpu %5.2f s", $1, $2 + $3 }'; }
t=$(timed "$build/o1p" init --config "$work/config.json" --out "$work/m")
file=$work/m/model.safetensors
mb=$(( $(stat -c %s "$file") / 1000000 ))
echo "init  $t  (o1p init: random weights, then the save; file $mb MB)"
cat "$file" > /dev/null; cat "$file" > /dev/null
echo "cat   $(timed cat "$file")  (cat FILE > /dev/null, page cache warm)"
"$build/bench/bench_modelio" load "$work/m"
echo "dd    $(timed dd if="$file" of="$work/copy" bs=4M conv=fsync status=none)  (dd FILE to a new file, bs=4M conv=fsync)"
rm -f "$work/copy"
"$build/bench/bench_modelio" save "$work/m" "$work/saved"
cmp -s "$file" "$work/saved/model.safetensors" && echo "saved file: the same bytes as the loaded one"
/usr/bin/python3 "$here/bench/shard_bf16.py" "$work/m" "$work/bf16" 4
shards=("$work"/bf16/model-*.safetensors)
mb=$(( $(cat "${shards[@]}" | wc -c) / 1000000 ))
cat "${shards[@]}" > /dev/null
echo "cat   $(timed cat "${shards[@]}")  (the ${#shards[@]} BF16 shards, $mb MB, page cache warm)"
"$build/bench/bench_modelio" load "$work/bf16"
