// kernels/ref/optimizer.c -- global gradient norm and AdamW.
#include <math.h>

#include "ref.h"

// sum_i g[i]^2, in double, i in order.
double ref_sum_squares(const float *g, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    return s;
}

// torch.optim.AdamW (foreach=False) at 1-based step t, with g <- g * grad_scale first:
//   p -= lr * wd * p                          (decoupled decay, [0, n_decay) only)
//   m += (1 - b1) (g - m)                      (torch's lerp)
//   v  = b2 v + (1 - b2) g^2
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// The bias corrections in double, rounded to float once; g is zeroed afterwards, and
// weights w (when given) get the new p.
void ref_adamw(float *p, void *weight, float *g, float *m, float *v, size_t n, size_t n_decay,
               float lr, float beta1, float beta2, float eps, float weight_decay,
               float grad_scale, int step) {
    float *w = weight;  // NULL, or fp32 weights
    float step_size = (float)(lr / (1.0 - pow(beta1, step)));
    float bc2_sqrt = (float)sqrt(1.0 - pow(beta2, step));
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * grad_scale;
        if (i < n_decay) p[i] *= 1.0f - lr * weight_decay;
        m[i] += (1.0f - beta1) * (gi - m[i]);
        v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        p[i] -= step_size * (m[i] / (sqrtf(v[i]) / bc2_sqrt + eps));
        if (w) w[i] = p[i];
        g[i] = 0.0f;
    }
}
