#!/usr/bin/env bash
# bench/run.sh -- every benchmark; each prints ratios against baselines measured in
# the same run. Usage: bench/run.sh BUILD_DIR
set -u
build=${1:-build}
echo "== training step (bench/bench_train.c)"
"$build/bench/bench_train"
echo
echo "== tokenizer (bench/bench_tokenizer.sh)"
bash bench/bench_tokenizer.sh "$build"
echo
echo "== sampler: prefill and decode (bench/bench_sampler.c)"
"$build/bench/bench_sampler"
echo
echo "== model folders: load and save vs cat and dd (bench/bench_modelio.sh)"
bash bench/bench_modelio.sh "$build"
echo
echo "== MPI: 1 process vs 2 ranks (bench/bench_mpi.sh)"
bash bench/bench_mpi.sh "$build"
echo
echo "== training memory: --recompute and --vocab-chunk (bench/bench_memory.sh)"
bash bench/bench_memory.sh "$build"
