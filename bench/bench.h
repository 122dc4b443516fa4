// bench/bench.h -- the clock and thread control every benchmark shares.
#ifndef O1P_BENCH_H
#define O1P_BENCH_H

#include <omp.h>
#include <time.h>

void openblas_set_num_threads(int);

// Seconds on a monotonic clock.
static inline double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Our OpenMP loops and OpenBLAS both use t threads.
static inline void set_threads(int t) {
    omp_set_num_threads(t);
    openblas_set_num_threads(t);
}

#endif
