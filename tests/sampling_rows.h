// tests/sampling_rows.h -- the shapes and rows the sampler's row reductions are tested on
// (test_kernels_cpu, test_kernels_cuda). The shapes: each of argmax_logprob,
// sampling_candidates and temperature_draws at a tiny row, the first 300 of 317 columns,
// and a large vocabulary. The sampling_candidates rows: over random logits[N, ld] (N >= 5), row 1 flat (every column a
// candidate), row 2 one dominant logit, row 3 five tied largest logits at top-k 4 (the
// five kept), row 4 top-k above V (every column), then top-k 7 and top-p 0.8 in turn;
// columns past V at 100 (never read); temperatures 0.4 to 1.3.
#ifndef O1P_TEST_SAMPLING_ROWS_H
#define O1P_TEST_SAMPLING_ROWS_H

#include <stddef.h>

typedef struct {
    int N, V, ld, n_draws;  // rows, columns read, row stride, temperature draws
} SamplingShape;
static const SamplingShape sampling_shapes[3] = {{5, 7, 7, 3}, {9, 300, 317, 40}, {6, 5003, 5003, 9}};

static void sampling_rows(float *logits, double *inv_t, double *cut, int *top_k, int N, int V, int ld) {
    for (int j = 0; j < V; j++) logits[(size_t)ld + j] = 1.5f;
    logits[(size_t)2 * ld + V / 3] = 40.0f;
    for (int j = 1; j < 6; j++) logits[(size_t)3 * ld + j * (V - 1) / 5] = 9.0f;
    for (int j = V; j < ld; j++) logits[j] = 100.0f;
    for (int n = 0; n < N; n++) {
        inv_t[n] = 1.0 / (0.4 + 0.3 * (n % 4));
        cut[n] = (1.0 - 0.8) / (2.0 * V);
        top_k[n] = n == 3 ? 4 : n == 4 ? V + 3 : n >= 5 && n % 2 ? 7 : 0;
    }
}

#endif
