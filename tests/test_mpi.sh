#!/usr/bin/env bash
# tests/test_mpi.sh -- o1p on several MPI ranks (docs/distributed.md), on a random tiny
# model: presample and eval on 2 and 3 ranks give the bytes of one process (3: shares of
# unequal size); sft (freeze-tuning too) and prune give the same weights on 2 and 3 ranks,
# and those of one process to float rounding; sft logs comm_s; ZeRO-1: the same moments
# in the checkpoint whatever the slices, 1/N of them per rank, resume across rank counts
# (bit for bit between N >= 2, to 1e-5 where one process takes part); inputs that differ
# across ranks and a killed rank end the job with a clear message. A build without MPI
# must refuse -np > 1.
# Usage: tests/test_mpi.sh BUILD_DIR   (the o1p binary in $O1P, default BUILD_DIR/o1p)
set -u
. tests/lib.sh "${1:-build}"
passive_threads 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0  # MPI's own allocations live to exit
work_in_temp

if ! nm "$(dirname "$O1P")/engine/dist.o" 2>/dev/null | grep -q MPI_Init; then
    expect_fail "a build without MPI refuses -np 2" 1 "needs an MPI build" env OMPI_COMM_WORLD_SIZE=2 "$O1P" eval
    summary
    exit
fi
np() { local n=$1; shift; timeout 120 mpirun -np "$n" "$O1P" "$@"; }

tiny_data data.jsonl 12 1-2
tiny_tokenizer data.jsonl
tiny_config cfg.json
tiny_model model cfg.json
tiny_model base cfg.json 2

# ---- presample: the file of one process, whatever the ranks and the resume point --------
ps() { local n=$1; shift; np "$n" presample --model model --data data.jsonl --k 3 --max-new 40 --temperature 1 \
    --quiet "$@"; }
"$O1P" presample --model model --data data.jsonl --k 3 --max-new 40 --temperature 1 --quiet --out one.jsonl
check "presample on 2 ranks = one process" bash -c "$(declare -f np ps); O1P='$O1P'; ps 2 --out two.jsonl && cmp one.jsonl two.jsonl"
check "presample on 3 ranks, 2 slots (rounds of unequal shares) = one process" \
    bash -c "$(declare -f np ps); O1P='$O1P'; ps 3 --slots 2 --out three.jsonl && cmp one.jsonl three.jsonl"
"$O1P" presample --model model --data data.jsonl --k 3 --max-new 40 --temperature 1 --quiet --limit 2 --out res.jsonl
check "one process to problem 2, resumed on 3 ranks = one process" \
    bash -c "$(declare -f np ps); O1P='$O1P'; ps 3 --out res.jsonl && cmp one.jsonl res.jsonl"
ps 2 --limit 5 --out res2.jsonl >/dev/null 2>&1
check "2 ranks to problem 5, resumed by one process = one process" \
    bash -c "'$O1P' presample --model model --data data.jsonl --k 3 --max-new 40 --temperature 1 --quiet --out res2.jsonl && cmp one.jsonl res2.jsonl"

# ---- eval: the JSON of one process, timings aside --------------------------------------
untimed() { sed -E 's/"seconds": [^,]*,//; s/"sec_per_problem": [^,]*,//' "$1"; }
ev() { local n=$1; shift; np "$n" eval --model model --baseline base --data data.jsonl --k 2 --temperature 1 \
    --max-new 40 --quiet "$@"; }
"$O1P" eval --model model --baseline base --data data.jsonl --k 2 --temperature 1 --max-new 40 --quiet \
    --out one.json >one.md
for n in 2 3; do
    ev "$n" --out ev$n.json >ev$n.md 2>/dev/null
    check "eval on $n ranks (k 2, a baseline folder) = one process" cmp <(untimed one.json) <(untimed ev$n.json)
    check "eval on $n ranks: the tables printed once" test "$(grep -c '^| Model |' ev$n.md)" -eq "$(grep -c '^| Model |' one.md)"
done

# ---- sft and prune: N >= 2 ranks give the same bits for any N; one process agrees to
# float rounding (it accumulates the micro-batches' gradients in place) ------------------
weights_close() {  # a b: the weights agree to 1e-5
    /usr/bin/python3 - "$1/model.safetensors" "$2/model.safetensors" <<'EOF'
import struct, sys
def load(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; d = b[8 + n:]
    return struct.unpack("<%df" % (len(d) // 4), d)
a, b = load(sys.argv[1]), load(sys.argv[2])
sys.exit(0 if len(a) == len(b) and max(abs(x - y) for x, y in zip(a, b)) < 1e-5 else 1)
EOF
}
state_same() {  # a b: the same train_state.bin, the elapsed time (bytes 104..111) and checksum aside
    cmp <(head -c 104 "$1/train_state.bin") <(head -c 104 "$2/train_state.bin") &&
        cmp <(tail -c +113 "$1/train_state.bin" | head -c -8) <(tail -c +113 "$2/train_state.bin" | head -c -8)
}
moment_bytes() {  # log: the optimizer state's bytes printed ("optimizer state 75.2 kB")
    sed -nE 's/.*optimizer state ([0-9.]+) kB.*/\1/p' "$1" | awk '{ print int($1 * 1000 + 0.5) }'
}
S=(sft --data data.jsonl --config cfg.json --tokenizer tok.json --batch 2 --accum 6 --steps 3 --lr 1e-3
   --eval-frac 0)
"$O1P" "${S[@]}" --out s1 >/dev/null 2>s1.log
np 2 "${S[@]}" --out s2 >/dev/null 2>s2.log
np 3 "${S[@]}" --out s3 >/dev/null 2>s3.log
check "sft on 3 ranks = on 2 ranks, bit for bit" cmp s2/model.safetensors s3/model.safetensors
check "sft on 3 ranks: the moments of 2 ranks in train_state.bin (gathered from other slices)" state_same s2 s3
# 28192 parameters: 2 x 28192 x 4 bytes of moments; per rank the largest slice, 14096 and
# 9398 floats (three significant digits printed)
check "moments per rank: 226 kB on 1, 113 kB on 2, 75.2 kB on 3" \
    test "$(moment_bytes s1.log) $(moment_bytes s2.log) $(moment_bytes s3.log)" = "226000 113000 75200"
check "... said to be per rank" grep -q "optimizer state 75.2 kB per rank (sliced over 3 ranks)" s3.log
check "sft on 2 ranks = one process to 1e-5" weights_close s1 s2
check "sft on 2 ranks: the token counts of one process" \
    cmp <(grep -o '"tokens.*"elapsed' s1/metrics.jsonl) <(grep -o '"tokens.*"elapsed' s2/metrics.jsonl)
check "sft on 2 ranks: comm_s, the seconds in the gradient sum, on every step; one process: none" \
    bash -c "test \$(grep -c '\"comm_s\":[0-9.]*[,}]' s2/metrics.jsonl) -eq 3 && ! grep -q comm_s s1/metrics.jsonl"
check "sft on 2 ranks: the first step's loss of one process (the same weights before it)" \
    cmp <(head -1 s1/metrics.jsonl | grep -o '"loss[^,]*') <(head -1 s2/metrics.jsonl | grep -o '"loss[^,]*')
np 2 "${S[@]}" --out sr --stop-at 1 >/dev/null 2>&1
np 3 "${S[@]}" --out sr --resume >/dev/null 2>&1
check "sft stopped on 2 ranks, resumed on 3 = on 2 ranks" cmp s2/model.safetensors sr/model.safetensors
check "... and its moments" state_same s2 sr
np 3 "${S[@]}" --out sr32 --stop-at 2 >/dev/null 2>&1
np 2 "${S[@]}" --out sr32 --resume >/dev/null 2>&1
check "sft stopped on 3 ranks, resumed on 2 = on 2 ranks" cmp s2/model.safetensors sr32/model.safetensors
np 3 "${S[@]}" --out ss --save-every 1 >/dev/null 2>&1
check "sft on 3 ranks, a checkpoint every step = on 2 ranks" cmp s2/model.safetensors ss/model.safetensors
# one process sums the gradients in another order (above): 1e-5
np 2 "${S[@]}" --out sr21 --stop-at 1 >/dev/null 2>&1
"$O1P" "${S[@]}" --out sr21 --resume >/dev/null 2>&1
check "sft stopped on 2 ranks, resumed by one process = one process to 1e-5" weights_close s1 sr21
check "... = 2 ranks to 1e-5" weights_close s2 sr21
"$O1P" "${S[@]}" --out sr12 --stop-at 1 >/dev/null 2>&1
np 3 "${S[@]}" --out sr12 --resume >/dev/null 2>&1
check "sft stopped by one process, resumed on 3 ranks = 3 ranks to 1e-5" weights_close s3 sr12
# freeze-tuning: the slices cut the trained ranges (7 of them) and their weight decay
F=("${S[@]}" --train-layers 1 --quiet)
"$O1P" "${F[@]}" --out f1 >/dev/null 2>&1
np 2 "${F[@]}" --out f2 >/dev/null 2>&1
np 3 "${F[@]}" --out f3 >/dev/null 2>&1
check "sft --train-layers 1 on 3 ranks = on 2 ranks, bit for bit" cmp f2/model.safetensors f3/model.safetensors
check "... = one process to 1e-5" weights_close f1 f2
np 2 "${F[@]}" --out fr --stop-at 1 >/dev/null 2>&1
np 3 "${F[@]}" --out fr --resume >/dev/null 2>&1
check "... stopped on 2 ranks, resumed on 3 = on 2 ranks" cmp f2/model.safetensors fr/model.safetensors
"$O1P" presample --model s1 --data data.jsonl --k 4 --max-new 40 --temperature 1 --quiet --out ps.jsonl
P=(prune --model s1 --data data.jsonl --presample ps.jsonl --batch 2 --accum 4 --lr 1e-3 --quiet --eval-data data.jsonl
   --eval-n 3 --eval-max-new 20)
"$O1P" "${P[@]}" --out p1 >/dev/null 2>&1
np 2 "${P[@]}" --out p2 >/dev/null 2>&1
np 3 "${P[@]}" --out p3 >/dev/null 2>&1
check "prune on 3 ranks = on 2 ranks, bit for bit" cmp p2/model.safetensors p3/model.safetensors
check "prune on 2 ranks = one process to 1e-5" weights_close p1 p2
check "prune on 2 ranks: pi_ref's log-probs of one process" cmp p1/ref_logprobs.json p2/ref_logprobs.json
check "prune on 2 ranks: the held-out log of one process" \
    cmp <(grep -o '"heldout[^}]*' p1/prune_metrics.jsonl) <(grep -o '"heldout[^}]*' p2/prune_metrics.jsonl)
expect_fail "prune --rounds 2 on 2 ranks refused" 1 "--rounds, --online: one process only" \
    np 2 "${P[@]}" --rounds 2 --out pr

# ---- failures: clear messages, no hang -------------------------------------------------
A=(presample --model model --data data.jsonl --k 3 --max-new 40 --quiet --out mm.jsonl)
expect_fail "ranks with different options are refused" 1 "ranks were launched with different presample options" \
    timeout 60 mpirun -np 1 "$O1P" "${A[@]}" --seed 1 : -np 1 "$O1P" "${A[@]}" --seed 2
check "... and write nothing" test ! -e mm.jsonl
expect_fail "ranks with different models are refused" 1 "ranks were launched with different eval options" \
    timeout 60 mpirun -np 1 "$O1P" eval --model model --data data.jsonl --out mm.json : \
    -np 1 "$O1P" eval --model base --data data.jsonl --out mm.json
expect_fail "sft ranks with different options are refused" 1 "ranks were launched with different training options" \
    timeout 60 mpirun -np 1 "$O1P" "${S[@]}" --out mm : -np 1 "$O1P" "${S[@]}" --out mm --lr 2e-3
expect_fail "a one-process command under -np 2 is refused" 2 "runs in one process" np 2 tok train --data data.jsonl \
    --vocab 300 --out t.json

# A rank killed mid-run ends the job within seconds (the launcher reports it); the file
# keeps its complete blocks and resumes to the bytes of one process.
mpirun -np 2 "$O1P" presample --model model --data data.jsonl --k 64 --max-new 200 --quiet --slots 1 \
    --out killed.jsonl >killed.log 2>&1 &
launcher=$!
for _ in $(seq 100); do
    ranks=$(pgrep -P "$launcher" -d ' ' o1p)
    [ "$(wc -w <<<"$ranks")" -eq 2 ] && break
    sleep 0.1
done
sleep 1
kill -9 "${ranks##* }" 2>/dev/null
t0=$(date +%s)
wait "$launcher"
rc=$?
check "a killed rank ends the job with an error" test "$rc" -ne 0
check "... within 20 s" test $(($(date +%s) - t0)) -le 20
check "... and the launcher says a process was killed" grep -qiE "signal 9|killed" killed.log

summary
