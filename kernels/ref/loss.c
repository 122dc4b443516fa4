// kernels/ref/loss.c -- softmax cross-entropy with per-token weights.
//
// Per row of logits[N,V] with a target t >= 0:
//   lse = max + log sum_v exp(logit_v - max)     (the sum in double: V can be 10^5 terms)
//   logprob = logit_t - lse
// The backward of sum_n w_n * -logprob_n is w_n * (softmax - onehot(t)), with
// softmax = exp(logit - lse).
#include <math.h>

#include "ref.h"

void ref_crossentropy_forward(float *logprob, float *lse, const float *logits,
                              const int *targets, int N, int V) {
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * V;
        if (targets[n] < 0) {
            logprob[n] = lse[n] = 0.0f;
            continue;
        }
        float max = -INFINITY;
        for (int v = 0; v < V; v++) max = fmaxf(max, x[v]);
        double sum = 0.0;
        for (int v = 0; v < V; v++) sum += expf(x[v] - max);
        lse[n] = max + (float)log(sum);
        logprob[n] = x[targets[n]] - lse[n];
    }
}

// Rows with target < 0 or weight 0 get zeros. dlogits may alias logits: each element is
// read before it is written.
void ref_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                               const int *targets, const float *weights, int N, int V) {
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * V;
        float *d = dlogits + (size_t)n * V, w = weights[n];
        int t = targets[n];
        for (int v = 0; v < V; v++) d[v] = t < 0 || w == 0.0f ? 0.0f : w * expf(x[v] - lse[n]);
        if (t >= 0) d[t] -= w;
    }
}
