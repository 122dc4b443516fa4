#!/usr/bin/env bash
# tests/test_faults.sh -- crash and I/O-error injection (base/io.h's O1P_FAULT) into sft,
# prune and presample on a tiny model. For every rename and write of a run's checkpoint
# and output protocol, N = 1.. until a run gets past its last one:
#   (a) the run killed (or failed) at the Nth call exits non-zero,
#   (b) the same command again (--resume when the folder holds a completed checkpoint)
#       succeeds with the same bytes as an uninterrupted run, and no temporary file stays,
#   (c) once a crash point leaves a completed checkpoint, every later one does too.
# Also: outputs that are not regular files, Ctrl-C exit codes, folder locks, --force.
# Usage: tests/test_faults.sh BUILD_DIR   (the o1p binary in $O1P, default BUILD_DIR/o1p)
set -u
. tests/lib.sh "${1:-build}"
passive_threads 1
work_in_temp
tiny_data data.jsonl 8 1
tiny_tokenizer data.jsonl
tiny_config cfg.json num_hidden_layers=1
tiny_model model cfg.json
sft() { "$O1P" sft --model model --data data.jsonl --batch 2 --steps 5 --save-every 2 --eval-frac 0 \
    --quiet "$@"; }
psm() { "$O1P" presample --model model --data data.jsonl --k 2 --max-new 24 --slots 4 --quiet "$@"; }
prune() { "$O1P" prune --model model --presample ps.jsonl --data data.jsonl --batch 2 --epochs 0.5 \
    --save-every 2 --quiet "$@"; }
sft --out sft_ref 2>/dev/null
psm --out ps.jsonl 2>/dev/null
prune --out prune_ref 2>/dev/null
check "uninterrupted runs" test -s sft_ref/model.safetensors -a -s ps.jsonl -a -s prune_ref/model.safetensors

# A folder holds a completed checkpoint (trainer.h's rule).
has_run() { [ -e "$1/train_state.bin" ] || { [ -e "$1/train_state.next.bin" ] && [ -e "$1/config.json" ] &&
    [ -e "$1/model.safetensors" ]; }; }

# The logs of a training folder match the reference's, step for step (no duplicates).
same_logs() {
    local f
    [ -d "$2" ] || return 0
    for f in metrics.jsonl prune_metrics.jsonl; do
        [ -e "$1/$f" ] || continue
        cmp -s <(cut -d, -f1-3 "$1/$f") <(cut -d, -f1-3 "$2/$f") || return 1
    done
}

# crash_loop NAME FUNC FOLDER-OR-FILE REFERENCE FAULT-MODE OPS: FUNC --out TARGET is the run.
crash_loop() {
    local name=$1 fn=$2 out=$3 ref=$4 mode=$5 ops=$6 op n rc bad total ran had
    for op in $ops; do
        bad=0 total=0 had=0
        for ((n = 1; n < 200; n++)); do
            rm -rf "$out"
            O1P_FAULT=$op:$n$mode "$fn" --out "$out" >/dev/null 2>&1
            rc=$?
            [ $rc -eq 0 ] && break  # past the last call: the run is uninterrupted
            total=$((total + 1))
            if [ -d "$out" ] && has_run "$out"; then
                had=1
                "$fn" --out "$out" --resume >/dev/null 2>err
            else
                [ $had -eq 1 ] && { echo "  $name $op:$n$mode: the earlier checkpoint is lost"; bad=$((bad + 1)); }
                "$fn" --out "$out" >/dev/null 2>err
            fi
            ran=$?
            local got=$out
            [ -d "$out" ] && got=$out/model.safetensors
            if [ $ran -ne 0 ] || ! cmp -s "$got" "$ref" || ls "$(dirname "$got")" | grep -q '\.tmp\.' ||
                ! same_logs "$(dirname "$ref")" "$out"; then
                echo "  $name $op:$n$mode: rerun rc $ran: $(head -c 300 err)"
                bad=$((bad + 1))
            fi
        done
        check "$name: a crash at each of $total ${op}s$mode, then the same command: same bytes" \
            test $bad -eq 0 -a $total -gt 0 -a $n -lt 200
    done
}
crash_loop sft sft sft_out sft_ref/model.safetensors :abort "rename write"
crash_loop presample psm ps_out.jsonl ps.jsonl :abort "write fsync"
crash_loop prune prune prune_out prune_ref/model.safetensors :abort "rename write"
crash_loop "sft (I/O errors)" sft sft_out sft_ref/model.safetensors "" "rename write fsync"
expect_fail "an fsync error fails the run" 1 "write failed" env O1P_FAULT=fsync:1 "$O1P" data synth --n 2 --out x.jsonl

# ---- outputs that are not regular files are refused, and left as they were -----------
mkfifo fifo
ln -s data.jsonl link
mkdir folder
for t in fifo link folder; do
    expect_fail "data synth --out $t refused" 1 "$t: is a" "$O1P" data synth --n 2 --out $t
    expect_fail "tok train --out $t refused" 1 "$t: is a" "$O1P" tok train --data data.jsonl --vocab 300 --out $t
    expect_fail "presample --out $t refused" 1 "$t: is a" psm --out $t
done
check "the fifo, link and folder are untouched" test -p fifo -a -L link -a -d folder
cp sft_ref/metrics.jsonl m.jsonl
expect_fail "plot --out fifo refused" 1 "fifo: is a fifo" "$O1P" plot --metrics m.jsonl --out fifo
ln -s nowhere e.json
expect_fail "eval --out symlink refused before decoding" 1 "e.json: is a symbolic link" \
    "$O1P" eval --model model --data data.jsonl --out e.json --max-new 8
check "eval wrote no stray .md" test ! -e e.md
mkfifo f.md
expect_fail "eval refuses a .md that is a fifo" 1 "f.md: is a fifo" "$O1P" eval --model model --data data.jsonl \
    --out f.json --max-new 8
check "eval wrote no f.json" test ! -e f.json

# ---- init and fresh runs do not replace a model without --force -------------------------
cp -r sft_ref trained
expect_fail "init into a trained folder refused" 1 "--force to start over" "$O1P" init --config cfg.json --out trained
check "the weights are untouched" cmp trained/model.safetensors sft_ref/model.safetensors
expect_fail "sft --config into a model folder refused" 1 "holds a model" "$O1P" sft --config cfg.json \
    --tokenizer tok.json --data data.jsonl --out model --steps 1 --quiet
"$O1P" init --config cfg.json --out trained --force >/dev/null
check "init --force replaces the model and drops the run's state" test ! -e trained/train_state.bin
check "init --force: a plain model folder, not a run" test -s trained/model.safetensors

# ---- a second run on the same folder fails at once ------------------------------------
"$O1P" sft --model model --data data.jsonl --batch 2 --steps 3000 --eval-frac 0 --quiet --out locked 2>/dev/null &
pid=$!
for _ in $(seq 100); do [ -s locked/metrics.jsonl ] && break; sleep 0.05; done
expect_fail "a second sft on a folder in use fails, naming it" 1 "locked: another o1p run" sft --out locked --force
expect_fail "init on a folder in use fails" 1 "locked" "$O1P" init --config cfg.json --out locked --force

# ---- Ctrl-C: exit 130, a resumable checkpoint -----------------------------------------
kill -INT $pid
wait $pid
check "sft interrupted by SIGINT exits 130" test $? -eq 130
check "the interrupted sft left a checkpoint to resume" test -s locked/train_state.bin
"$O1P" prune --model model --presample ps.jsonl --data data.jsonl --batch 2 --epochs 300 --quiet --out pint \
    2>/dev/null &
pid=$!
for _ in $(seq 100); do [ -s pint/metrics.jsonl ] && break; sleep 0.05; done
kill -INT $pid
wait $pid
check "prune interrupted by SIGINT exits 130" test $? -eq 130
summary
