// kernels/cpu/loss.c -- softmax cross-entropy with per-token weights, whole rows or in
// vocabulary chunks: kernels/ref/loss.c's operations, threads splitting the rows.
#include <math.h>

#include "../ref/ref.h"
#include "cpu.h"

void cpu_crossentropy_chunk_forward(float *logprob, float *lse, float *sum, const float *logits,
                                    const int *targets, int N, int V, int v0, int Vc) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        int t = targets[n];
        if (t < 0) {
            logprob[n] = lse[n] = 0.0f;
            continue;
        }
        const float *x = logits + (size_t)n * Vc;
        float m_old = v0 > 0 ? lse[n] : -INFINITY, m = m_old;
#pragma omp simd reduction(max : m)
        for (int j = 0; j < Vc; j++) m = x[j] > m ? x[j] : m;  // a max is exact in any order
        double s = 0.0;  // double, in order: V can be 10^5 terms
        for (int j = 0; j < Vc; j++) s += expf(x[j] - m);
        if (v0 > 0) s += sum[n] * exp((double)m_old - m);
        if (t >= v0 && t < v0 + Vc) logprob[n] = x[t - v0];
        if (v0 + Vc < V) {  // not the last chunk: keep the running state
            lse[n] = m;
            sum[n] = (float)s;
            continue;
        }
        float l = m + (float)log(s);
        lse[n] = l;
        logprob[n] = logprob[n] - l;
    }
}

void cpu_crossentropy_forward(float *logprob, float *lse, const float *logits,
                              const int *targets, int N, int V) {
    cpu_crossentropy_chunk_forward(logprob, lse, NULL, logits, targets, N, V, 0, V);
}

// In place allowed (dlogits == logits): each element is read before it is written.
void cpu_crossentropy_chunk_backward(float *dlogits, const float *logits, const float *lse,
                                     const int *targets, const float *weights, int N, int v0,
                                     int Vc) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *d = dlogits + (size_t)n * Vc;
        const float *x = logits + (size_t)n * Vc;
        float w = weights[n], l = lse[n];
        int t = targets[n];
        if (t < 0 || w == 0.0f) {
            for (int j = 0; j < Vc; j++) d[j] = 0.0f;
            continue;
        }
        for (int j = 0; j < Vc; j++) d[j] = w * expf(x[j] - l);
        if (t >= v0 && t < v0 + Vc) d[t - v0] -= w;
    }
}

void cpu_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                               const int *targets, const float *weights, int N, int V) {
    cpu_crossentropy_chunk_backward(dlogits, logits, lse, targets, weights, N, 0, V);
}

// The specification's scan and sum (kernels/ref/loss.c), a row per thread: the same bits.
void cpu_argmax_logprob(int *argmax, double *logprob, const float *logits, int N, int V, int ld) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) ref_argmax_logprob(argmax + n, logprob + n, logits + (size_t)n * ld, 1, V, ld);
}

// The specification's row function (kernels/ref/loss.c), a row per thread: the same bits.
void cpu_sampling_candidates(int *count, int *ids, float *cand, double *z, double *lse1, const float *logits,
                             const double *inv_t, const double *cut, const int *top_k, int N, int V, int ld) {
    size_t r = (size_t)ld;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        ref_sampling_candidates(count + n, ids + n * r, cand + n * r, z + n, lse1 + n, logits + n * r, inv_t + n,
                                cut + n, top_k + n, 1, V, ld);
}

// The specification's row function, a draw per thread: the same bits.
void cpu_temperature_draws(int *tok, double *logprob, const float *logits, const int *rows, const double *inv_t,
                           const double *u, int n_draws, int V, int ld) {
#pragma omp parallel for schedule(static)
    for (int d = 0; d < n_draws; d++)
        ref_temperature_draws(tok + d, logprob + d, logits, rows + d, inv_t + d, u + d, 1, V, ld);
}
