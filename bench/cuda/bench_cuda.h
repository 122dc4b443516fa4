// bench/cuda/bench_cuda.h -- what the CUDA benchmarks share: filled backend
// buffers, and the matmul timing the peaks (the denominators of MFU) are measured with.
#ifndef O1P_BENCH_CUDA_H
#define O1P_BENCH_CUDA_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../../kernels/kernels.h"
#include "../bench.h"

// kernels/cuda/: the same backend with tf32 / bf16 tensor-core matmuls.
const Kernels *kernels_cuda_tf32_get(void);
const Kernels *kernels_cuda_bf16_get(void);

static float *filled(const Kernels *k, size_t n, float value) {
    float *h = malloc(n * sizeof(float)), *d = k->alloc(n * sizeof(float));
    if (!h || !d) {
        fprintf(stderr, "out of memory (%zu floats on %s)\n", n, k->name);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) h[i] = value * (float)((i * 2654435761u) % 1000) / 1000.0f;
    k->upload(d, h, n * sizeof(float));
    free(h);
    return d;
}

// Seconds per call of a matmul forward + backward (dinp, dw) on backend k.
static double time_matmul(const Kernels *k, int N, int C, int OC, int reps) {
    float *inp = filled(k, (size_t)N * C, 1), *w = filled(k, (size_t)OC * C, 0.02f);
    float *out = filled(k, (size_t)N * OC, 0), *dinp = filled(k, (size_t)N * C, 0);
    float *dw = filled(k, (size_t)OC * C, 0);
    k->matmul_forward(out, inp, w, NULL, N, C, OC);  // warm-up
    k->synchronize();
    double t0 = now();
    for (int r = 0; r < reps; r++) {
        k->matmul_forward(out, inp, w, NULL, N, C, OC);
        k->matmul_backward(dinp, dw, NULL, out, inp, w, N, C, OC);
    }
    k->synchronize();
    double t = (now() - t0) / reps;
    k->free(inp), k->free(w), k->free(out), k->free(dinp), k->free(dw);
    return t;
}

// FLOP/s of an n^3 matmul on k (forward + backward: 3 GEMMs a call): the peak a table's
// MFU is measured against.
static double matmul_peak(const Kernels *k, int n, int reps) {
    return 2.0 * n * n * (double)n / (time_matmul(k, n, n, n, reps) / 3);
}

#endif
