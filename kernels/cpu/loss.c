// kernels/cpu/loss.c -- softmax cross-entropy with per-token weights: kernels/ref/loss.c's
// operations, threads splitting the rows.
#include <math.h>

#include "cpu.h"

void cpu_crossentropy_forward(float *logprob, float *lse, const float *logits,
                              const int *targets, int N, int V) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        if (targets[n] < 0) {
            logprob[n] = lse[n] = 0.0f;
            continue;
        }
        const float *x = logits + (size_t)n * V;
        float max = -INFINITY;
#pragma omp simd reduction(max : max)
        for (int v = 0; v < V; v++) max = x[v] > max ? x[v] : max;
        double sum = 0.0;  // double: V can be 10^5 terms
        for (int v = 0; v < V; v++) sum += expf(x[v] - max);
        float l = max + (float)log(sum);
        lse[n] = l;
        logprob[n] = x[targets[n]] - l;
    }
}

// In place allowed (dlogits == logits): each element is read before it is written.
void cpu_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                               const int *targets, const float *weights, int N, int V) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *d = dlogits + (size_t)n * V;
        const float *x = logits + (size_t)n * V;
        float w = weights[n], l = lse[n];
        int t = targets[n];
        if (t < 0 || w == 0.0f) {
            for (int v = 0; v < V; v++) d[v] = 0.0f;
            continue;
        }
        for (int v = 0; v < V; v++) d[v] = w * expf(x[v] - l);
        d[t] -= w;
    }
}
