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

// The specification's draws (kernels/ref/loss.c), a draw per thread: the same bits with
// one exp fewer a column. Pass 1 sums both masses in column order, as ref does, and keeps
// the tempered running sum at each block's end. The sum only grows, so the token is in the
// first block whose end passes u * z; pass 2 adds that block's terms again from the same
// start. At inv_t = 1 the two masses' terms are the same exp.
enum { DRAW_BLOCKS = 1024 };

void cpu_temperature_draws(int *tok, double *logprob, const float *logits, const int *rows, const double *inv_t,
                           const double *u, int n_draws, int V, int ld) {
    int width = (V + DRAW_BLOCKS - 1) / DRAW_BLOCKS, n_blocks = (V + width - 1) / width;
#pragma omp parallel for schedule(static)
    for (int d = 0; d < n_draws; d++) {
        const float *x = logits + (size_t)rows[d] * ld;
        float mx = x[0];  // ref's scan, NaN included
        for (int j = 1; j < V; j++)
            if (x[j] > mx) mx = x[j];
        double it = inv_t[d], z1 = 0.0, zt = 0.0;
        double ends[DRAW_BLOCKS];  // [n_blocks] zt after each block
        // pass 1: z1 = sum_j exp(l_j - mx), zt = sum_j exp((l_j - mx) / T)
        for (int b = 0, j = 0; b < n_blocks; b++) {
            for (int end = j + width < V ? j + width : V; j < end; j++) {
                double e = (double)x[j] - mx, w1 = exp(e);
                z1 += w1;
                zt += it == 1.0 ? w1 : exp(e * it);
            }
            ends[b] = zt;
        }
        // pass 2: the first column whose running sum passes u * zt, in its block
        double target = u[d] * zt;
        int b = 0, t = V - 1;
        while (b < n_blocks && !(ends[b] > target)) b++;
        if (b < n_blocks) {
            double cum = b > 0 ? ends[b - 1] : 0.0;
            for (int j = b * width; j < V; j++) {
                cum += exp(((double)x[j] - mx) * it);
                if (cum > target) {
                    t = j;
                    break;
                }
            }
        }
        tok[d] = t;
        logprob[d] = (double)x[t] - (mx + log(z1));
    }
}
