#!/usr/bin/env bash
# scripts/test_cross.sh -- o1p on other CPUs, under qemu-user (make test-cross).
#
#   scripts/test_cross.sh NATIVE_BUILD ARCH...      (ARCH: aarch64, riscv64)
#
# NATIVE_BUILD/o1p runs the quick demo once natively. Then for each ARCH, whose build is
# build-ARCH/ (make CROSS=ARCH-linux-gnu-): the C test programs under qemu-ARCH
# (tests/run.sh; PROGRAMS names a subset), and the quick demo under qemu-ARCH, whose
# outputs must equal the native run's bit for bit: every weight file, data file,
# tokenizer and pre-sample (less its header, which holds timings) and every eval JSON
# less its timings. Each part prints its time; the last line is "N passed, N failed".
#
# The demo is the quick one cut down (every size below can be overridden from the
# environment, e.g. N_TRAIN=64 for demo.sh's own): qemu emulates each fused multiply-add
# in software, so a training step runs ~50x slower than natively and the quick demo's
# 320 SFT steps would take hours. Its tiny reference solves nothing, so the demo stops at
# the sft-shortest baseline (which needs a correct sample), natively as under qemu; what
# ran before that is compared.
set -u
native=${1:?usage: scripts/test_cross.sh NATIVE_BUILD ARCH...}
shift
# qemu's threads share the host's cores with everything else: passive OpenMP waits keep a
# spinning thread from starving the one that works (the bits do not depend on it).
export OMP_WAIT_POLICY=passive
export N_TRAIN=${N_TRAIN:-16} N_TEST=${N_TEST:-8} N_HELDOUT=${N_HELDOUT:-4} K=${K:-2} \
    SFT_OPTS=${SFT_OPTS:-"--epochs 4 --batch 8 --lr 5e-3 --eval-frac 0"} N_PRESAMPLE=${N_PRESAMPLE:-8} \
    MAX_NEW=${MAX_NEW:-48} EVAL_EVERY=${EVAL_EVERY:-4} MAX_NEW_EVAL=${MAX_NEW_EVAL:-48}
. tests/lib.sh "$native"
out=$native/cross
rm -rf "$out"
mkdir -p "$out"

timed() {  # label, log, command...: runs it into log, prints "label: N s", returns its status
    local label=$1 log=$2 t0=$SECONDS rc
    shift 2
    "$@" >"$log" 2>&1
    rc=$?
    echo "$label: $((SECONDS - t0)) s"
    return $rc
}

# same_demo A B: one check per output file of A's demo against B's.
same_demo() {
    local a=$1/work b=$2/work f
    for f in $(cd "$a" && find . \( -name '*.safetensors' -o -name '*.jsonl' -o -name tokenizer.json \) \
        ! -name '*metrics*' | sort); do
        if [[ $f == *presample*.jsonl ]]; then
            check "$f identical" cmp -s <(tail -n +2 "$a/$f") <(tail -n +2 "$b/$f")
        else
            check "$f identical" cmp -s "$a/$f" "$b/$f"
        fi
    done
    for f in $(cd "$a" && ls eval_*.json); do
        check "$f identical but for timings" python3 - "$a/$f" "$b/$f" <<'PY'
import json, sys
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items()
                if not any(t in k for t in ('time', 'sec', 'latency', 'tok_per', 'wall', '_s'))}
    if isinstance(o, list): return [strip(x) for x in o]
    return o
a, b = (strip(json.load(open(p))) for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
PY
    done
}

timed "x86-64 quick demo" "$out/native.log" env O1P="$O1P" bash scripts/demo.sh quick "$out/native"
native_rc=$?
for arch in "$@"; do
    echo "== $arch"
    qemu=(qemu-"$arch" -L /usr/"$arch"-linux-gnu)
    wrapper=$out/o1p-$arch  # demo.sh takes one program: qemu and the binary in a script
    printf '#!/bin/sh\nexec %s %s "$@"\n' "${qemu[*]}" "$(pwd)/build-$arch/o1p" >"$wrapper"
    chmod +x "$wrapper"
    t0=$SECONDS
    RUNNER="${qemu[*]}" tests/run.sh "build-$arch" programs >"$out/tests-$arch.log" 2>&1
    grep -E '^(!!|FAIL|failed suites)' "$out/tests-$arch.log"
    line=$(tail -n 1 "$out/tests-$arch.log")
    echo "$arch C tests: $line, $((SECONDS - t0)) s"
    if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        pass=$((pass + BASH_REMATCH[1]))
        fail=$((fail + BASH_REMATCH[2]))
    else
        echo "FAIL: $arch C tests printed no summary (log: $out/tests-$arch.log)"
        fail=$((fail + 1))
    fi
    timed "$arch quick demo" "$out/demo-$arch.log" env O1P="$wrapper" bash scripts/demo.sh quick "$out/$arch"
    rc=$?
    check "$arch quick demo exits as the native one ($rc, $native_rc; log: $out/demo-$arch.log)" \
        test $rc -eq $native_rc
    same_demo "$out/native" "$out/$arch"
done
summary
