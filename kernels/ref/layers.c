// kernels/ref/layers.c -- RMSNorm, rotary embedding and SwiGLU, forward and backward.
#include <math.h>

#include "ref.h"

// ---- RMSNorm ------------------------------------------------------------------------
// Per row x[C]: r = 1 / sqrt(mean(x^2) + eps), out = (x * r) * w (Hugging Face's order);
// rstd[N] keeps r.
void ref_rmsnorm_forward(void *out_act, float *rstd, const float *inp, const void *weight,
                         float eps, int N, int C) {
    const float *w = weight;
    float *out = out_act;  // fp32 activations
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float r = 1.0f / sqrtf(ref_dot(x, x, C) / C + eps);
        for (int c = 0; c < C; c++) out[(size_t)n * C + c] = (x[c] * r) * w[c];
        rstd[n] = r;
    }
}

// With dy the output gradient and k = r^3 / C * sum_j dy_j w_j x_j (dr/dx_c = -r^3 x_c / C):
//   dx_c += r w_c dy_c - k x_c
//   dw_c += sum_n dy_nc (x_nc r_n)    (rows in order)
void ref_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                          const void *weight, const float *rstd, int N, int C) {
    const float *w = weight;
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        float r = rstd[n], d = 0.0f;
        for (int c = 0; c < C; c++) d += dy[c] * w[c] * x[c];
        float k = r * r * r * d / C;
        for (int c = 0; c < C; c++) {
            if (dinp) dinp[(size_t)n * C + c] += r * w[c] * dy[c] - k * x[c];
            if (dw) dw[c] += dy[c] * (x[c] * r);
        }
    }
}

// ---- rotary embedding ---------------------------------------------------------------
// Rotates the pairs (x_i, x_{i+D/2}), i < D/2, of the first n_heads heads of each row by
// the angle f = sign * pos * theta^(-2i/D) (HF "rotate_half"): the angle, its cosine and
// sine in double, each rounded to float once.
static void rope(float *x, const int *pos, int N, int row_stride, int n_heads, int D,
                 float theta, double sign) {
    for (int n = 0; n < N; n++)
        for (int i = 0; i < D / 2; i++) {
            double f = pos[n] * (1.0 / pow((double)theta, 2.0 * i / D));
            float cs = (float)cos(f), sn = (float)(sign * sin(f));
            for (int h = 0; h < n_heads; h++) {
                float *a = x + (size_t)n * row_stride + (size_t)h * D + i, *b = a + D / 2;
                float xa = *a, xb = *b;
                *a = xa * cs - xb * sn;
                *b = xb * cs + xa * sn;
            }
        }
}

// x[N, row_stride], rotated in place.
void ref_rope_forward(float *x, const int *pos, int N, int row_stride, int n_heads, int D,
                      float theta) {
    rope(x, pos, N, row_stride, n_heads, D, theta, 1.0);
}

// The rotation is orthogonal: its transpose, applied to the gradient, is the rotation by -f.
void ref_rope_backward(float *dx, const int *pos, int N, int row_stride, int n_heads, int D,
                       float theta) {
    rope(dx, pos, N, row_stride, n_heads, D, theta, -1.0);
}

// ---- SwiGLU -------------------------------------------------------------------------
// Each row gu[n] = [g | u], `hidden` wide each: out = silu(g) * u, silu(g) = g sigmoid(g).
void ref_swiglu_forward(void *out_act, const float *gu, int N, int hidden) {
    float *out = out_act;  // fp32 activations
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * hidden, *u = g + hidden;
        for (int i = 0; i < hidden; i++)
            out[(size_t)n * hidden + i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

// With s = sigmoid(g): du = dy silu(g), dg = dy u s (1 + g (1 - s)).
void ref_swiglu_backward(float *dgu, const float *dout, const float *gu, int N, int hidden) {
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * hidden, *u = g + hidden;
        const float *dy = dout + (size_t)n * hidden;
        float *dg = dgu + (size_t)n * 2 * hidden, *du = dg + hidden;
        for (int i = 0; i < hidden; i++) {
            float s = 1.0f / (1.0f + expf(-g[i]));
            du[i] = dy[i] * g[i] * s;
            dg[i] = dy[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
        }
    }
}
