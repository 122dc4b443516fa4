// kernels/cpu/optimizer.c -- global gradient norm and AdamW.
#include <math.h>

#include "cpu.h"

// Chunks of a fixed size, each summed in double with one accumulator per lane; the
// chunk sums are then added in chunk order, so the result does not depend on the
// thread count. Rounds of SS_ROUND chunks keep the partial sums on the stack.
enum { SS_CHUNK = 1 << 16, SS_LANES = 8, SS_ROUND = 1024 };

static double sum_squares_chunk(const float *g, size_t n) {
    double acc[SS_LANES] = {0};
    size_t i = 0;
    for (; i + SS_LANES <= n; i += SS_LANES)
        for (int k = 0; k < SS_LANES; k++) acc[k] += (double)g[i + k] * g[i + k];
    for (; i < n; i++) acc[0] += (double)g[i] * g[i];
    double s = 0.0;
    for (int k = 0; k < SS_LANES; k++) s += acc[k];
    return s;
}

double cpu_sum_squares(const float *g, size_t n) {
    size_t n_chunks = (n + SS_CHUNK - 1) / SS_CHUNK;
    double total = 0.0, part[SS_ROUND];
    for (size_t c0 = 0; c0 < n_chunks; c0 += SS_ROUND) {
        int nc = (int)(n_chunks - c0 < SS_ROUND ? n_chunks - c0 : SS_ROUND);
#pragma omp parallel for schedule(static) if (nc > 1)
        for (int c = 0; c < nc; c++) {
            size_t i0 = (c0 + c) * SS_CHUNK, i1 = i0 + SS_CHUNK < n ? i0 + SS_CHUNK : n;
            part[c] = sum_squares_chunk(g + i0, i1 - i0);
        }
        for (int c = 0; c < nc; c++) total += part[c];
    }
    return total;
}

// AdamW as kernels/ref/optimizer.c states it (torch.optim.AdamW), the same operations per
// element; threads split the elements.
void cpu_adamw(float *p, void *weight, float *g, float *m, float *v, size_t n, size_t n_decay,
               float lr, float beta1, float beta2, float eps, float weight_decay,
               float grad_scale, int step) {
    float *w = weight;  // NULL, or fp32 weights
    float step_size = (float)(lr / (1.0 - pow(beta1, step)));
    float bc2_sqrt = (float)sqrt(1.0 - pow(beta2, step));
    float decay = 1.0f - lr * weight_decay;
#pragma omp parallel for simd schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * grad_scale;
        float pi = i < n_decay ? p[i] * decay : p[i];
        float mi = m[i] + (1.0f - beta1) * (gi - m[i]);
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        p[i] = pi - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
        if (w) w[i] = p[i];
        m[i] = mi;
        v[i] = vi;
        g[i] = 0.0f;
    }
}
