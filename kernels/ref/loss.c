// kernels/ref/loss.c -- softmax cross-entropy with per-token weights; the sampler's row
// reductions (argmax_logprob, sampling_candidates, temperature_draws).
//
// Per row of logits[N,V] with a target t >= 0:
//   lse = max + log sum_v exp(logit_v - max)     (the sum in double: V can be 10^5 terms)
//   logprob = logit_t - lse
// The backward of sum_n w_n * -logprob_n is w_n * (softmax - onehot(t)), with
// softmax = exp(logit - lse).
//
// In vocabulary chunks the forward is an online softmax: each chunk's max m_c and its
// sum s_c = sum_j exp(logit_j - m) at the new running max m = max(m_old, m_c) merge as
//   sum = s_c + sum_old * exp(m_old - m)       (in double, stored as float between chunks)
// and after the last chunk lse = m + log(sum). The full-row functions are the one-chunk
// case: the same operations, so the same bits.
#include <math.h>

#include "ref.h"

void ref_crossentropy_chunk_forward(float *logprob, float *lse, float *sum, const float *logits,
                                    const int *targets, int N, int V, int v0, int Vc) {
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * Vc;
        int t = targets[n];
        if (t < 0) {
            logprob[n] = lse[n] = 0.0f;
            continue;
        }
        float m_old = v0 > 0 ? lse[n] : -INFINITY, m = m_old;
        for (int j = 0; j < Vc; j++) m = fmaxf(m, x[j]);
        double s = 0.0;
        for (int j = 0; j < Vc; j++) s += expf(x[j] - m);
        if (v0 > 0) s += sum[n] * exp((double)m_old - m);
        if (t >= v0 && t < v0 + Vc) logprob[n] = x[t - v0];
        if (v0 + Vc < V) {  // not the last chunk: keep the running state
            lse[n] = m;
            sum[n] = (float)s;
            continue;
        }
        lse[n] = m + (float)log(s);
        logprob[n] = logprob[n] - lse[n];
    }
}

void ref_crossentropy_forward(float *logprob, float *lse, const float *logits,
                              const int *targets, int N, int V) {
    ref_crossentropy_chunk_forward(logprob, lse, NULL, logits, targets, N, V, 0, V);
}

// Rows with target < 0 or weight 0 get zeros. dlogits may alias logits: each element is
// read before it is written.
void ref_crossentropy_chunk_backward(float *dlogits, const float *logits, const float *lse,
                                     const int *targets, const float *weights, int N, int v0,
                                     int Vc) {
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * Vc;
        float *d = dlogits + (size_t)n * Vc, w = weights[n];
        int t = targets[n];
        for (int j = 0; j < Vc; j++) d[j] = t < 0 || w == 0.0f ? 0.0f : w * expf(x[j] - lse[n]);
        if (t >= v0 && t < v0 + Vc) d[t - v0] -= w;
    }
}

void ref_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                               const int *targets, const float *weights, int N, int V) {
    ref_crossentropy_chunk_backward(dlogits, logits, lse, targets, weights, N, 0, V);
}

// The max in a strict left-to-right scan (ties keep the first); the sum of exp in double,
// in column order.
void ref_argmax_logprob(int *argmax, double *logprob, const float *logits, int N, int V, int ld) {
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * ld;
        int best = 0;
        for (int j = 1; j < V; j++)
            if (x[j] > x[best]) best = j;
        float mx = x[best];
        double z = 0.0;
        for (int j = 0; j < V; j++) z += exp((double)x[j] - mx);
        argmax[n] = best;
        logprob[n] = (double)mx - (mx + log(z));
    }
}

// The largest of x[0..V), in a scan.
static float row_max(const float *x, int V) {
    float mx = x[0];
    for (int j = 1; j < V; j++)
        if (x[j] > mx) mx = x[j];
    return mx;
}

// Restores the min-heap h[0..n) below i.
static void heap_sift_down(float *h, int n, int i) {
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) return;
        if (c + 1 < n && h[c + 1] < h[c]) c++;
        if (!(h[c] < h[i])) return;
        float t = h[i];
        h[i] = h[c];
        h[c] = t;
        i = c;
    }
}

// The k-th largest of x[0..V) (0 < k <= V), by a min-heap of the k largest so far in h.
static float kth_largest(float *h, const float *x, int V, int k) {
    for (int j = 0; j < k; j++) h[j] = x[j];
    for (int i = k / 2 - 1; i >= 0; i--) heap_sift_down(h, k, i);
    for (int j = k; j < V; j++)
        if (x[j] > h[0]) {
            h[0] = x[j];
            heap_sift_down(h, k, 0);
        }
    return h[0];
}

// The max in a scan; both sums in double, in column order; the candidates in column order.
// Top-p in one pass over the row: z grows as it is summed and is at least 1 (the max's own
// w), so a column with w < cut * max(1, z so far) is no candidate; the rest are kept for
// now and checked against the final z. Top-k: the k-th largest logit from a heap kept in
// cand, then the columns at least as large.
void ref_sampling_candidates(int *count, int *ids, float *cand, double *z, double *lse1, const float *logits,
                             const double *inv_t, const double *cut, const int *top_k, int N, int V, int ld) {
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * ld;
        int *id = ids + (size_t)n * ld, k = top_k[n] < V ? top_k[n] : V;
        float *c = cand + (size_t)n * ld, mx = row_max(x, V);
        float least = k > 0 ? kth_largest(c, x, V, k) : 0.0f;
        double z1 = 0.0, zt = 0.0;
        int m = 0;
        for (int j = 0; j < V; j++) {
            double w = exp(((double)x[j] - mx) * inv_t[n]);
            z1 += exp((double)x[j] - mx);
            zt += w;
            if (k > 0 ? x[j] >= least : w >= cut[n] * (zt > 1.0 ? zt : 1.0)) id[m] = j, c[m++] = x[j];
        }
        if (k == 0) {  // top-p: what was kept, against the final z
            double at_least = cut[n] * zt;
            int kept = 0;
            for (int i = 0; i < m; i++)
                if (exp(((double)c[i] - mx) * inv_t[n]) >= at_least) id[kept] = id[i], c[kept++] = c[i];
            m = kept;
        }
        count[n] = m;
        z[n] = zt;
        lse1[n] = mx + log(z1);
    }
}

// The max in a scan; the sums and the cumulative mass in column order.
void ref_temperature_draws(int *tok, double *logprob, const float *logits, const int *rows, const double *inv_t,
                           const double *u, int n_draws, int V, int ld) {
    for (int d = 0; d < n_draws; d++) {
        const float *x = logits + (size_t)rows[d] * ld;
        float mx = row_max(x, V);
        double z1 = 0.0, zt = 0.0;
        for (int j = 0; j < V; j++) {
            z1 += exp((double)x[j] - mx);
            zt += exp(((double)x[j] - mx) * inv_t[d]);
        }
        double target = u[d] * zt, cum = 0.0;
        int t = V - 1;
        for (int j = 0; j < V; j++) {
            cum += exp(((double)x[j] - mx) * inv_t[d]);
            if (cum > target) {
                t = j;
                break;
            }
        }
        tok[d] = t;
        logprob[d] = (double)x[t] - (mx + log(z1));
    }
}
