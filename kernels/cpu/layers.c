// kernels/cpu/layers.c -- RMSNorm, rotary embedding and SwiGLU, forward and backward.
#include <math.h>

#include "cpu.h"

// ---- RMSNorm ------------------------------------------------------------------------
// out = (x * r) * w with r = 1 / sqrt(mean(x^2) + eps), per row (Hugging Face's order).
void cpu_rmsnorm_forward(void *out_act, float *rstd, const float *inp, const void *weight,
                         float eps, int N, int C) {
    const float *w = weight;
    float *out = out_act;  // fp32 activations
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        float r = 1.0f / sqrtf(cpu_dot(x, x, C) / C + eps);
#pragma omp simd
        for (int c = 0; c < C; c++) o[c] = (x[c] * r) * w[c];
        rstd[n] = r;
    }
}

// With xhat = x r and dy the output gradient, dr/dx_c = -r^3 x_c / C gives
//   dx_c += r w_c dy_c - (r^3 / C) x_c sum_j (dy_j w_j x_j)
//   dw_c += sum_n dy_nc xhat_nc
void cpu_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                          const void *weight, const float *rstd, int N, int C) {
    const float *w = weight;
    int n_blocks = (C + CPU_COL_BLOCK - 1) / CPU_COL_BLOCK;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int n = 0; n < (dinp ? N : 0); n++) {
            const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            float r = rstd[n];
            float k = r * r * r * cpu_dot3(dy, w, x, C) / C;
#pragma omp simd
            for (int c = 0; c < C; c++) dx[c] += r * w[c] * dy[c] - k * x[c];
        }
        // dw: threads split the columns; each column adds its rows in order.
#pragma omp for schedule(static)
        for (int blk = 0; blk < (dw ? n_blocks : 0); blk++) {
            int c0 = blk * CPU_COL_BLOCK;
            int c1 = c0 + CPU_COL_BLOCK < C ? c0 + CPU_COL_BLOCK : C;
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
                float r = rstd[n];
#pragma omp simd
                for (int c = c0; c < c1; c++) dw[c] += dy[c] * (x[c] * r);
            }
        }
    }
}

// ---- rotary embedding ---------------------------------------------------------------
// Rotates the pairs (x_i, x_{i+D/2}), i < D/2, of the first n_heads heads of each row by
// sign * pos * inv_freq_i with inv_freq_i = theta^(-2i/D) (HF "rotate_half"). The angle,
// its cosine and sine are computed in double and rounded to float once. Frequencies go
// in chunks of ROPE_CHUNK so the per-row tables live on the stack for any D.
enum { ROPE_CHUNK = 128 };

static void rope(float *x, const int *pos, int N, int row_stride, int n_heads, int D,
                 float theta, float sign) {
    int half = D / 2;
    for (int i0 = 0; i0 < half; i0 += ROPE_CHUNK) {
        int m = half - i0 < ROPE_CHUNK ? half - i0 : ROPE_CHUNK;
        double inv_freq[ROPE_CHUNK];
        for (int i = 0; i < m; i++) inv_freq[i] = 1.0 / pow((double)theta, 2.0 * (i0 + i) / D);
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) {
            float cs[ROPE_CHUNK], sn[ROPE_CHUNK];
            for (int i = 0; i < m; i++) {
                double f = pos[n] * inv_freq[i];
                cs[i] = (float)cos(f);
                sn[i] = sign * (float)sin(f);
            }
            for (int h = 0; h < n_heads; h++) {
                float *a = x + (size_t)n * row_stride + (size_t)h * D + i0, *b = a + half;
#pragma omp simd
                for (int i = 0; i < m; i++) {
                    float xa = a[i], xb = b[i];
                    a[i] = xa * cs[i] - xb * sn[i];
                    b[i] = xb * cs[i] + xa * sn[i];
                }
            }
        }
    }
}

void cpu_rope_forward(float *x, const int *pos, int N, int row_stride, int n_heads, int D,
                      float theta) {
    rope(x, pos, N, row_stride, n_heads, D, theta, 1.0f);
}

// The rotation is orthogonal, so its transpose is the rotation by -f.
void cpu_rope_backward(float *dx, const int *pos, int N, int row_stride, int n_heads, int D,
                       float theta) {
    rope(dx, pos, N, row_stride, n_heads, D, theta, -1.0f);
}

// ---- SwiGLU -------------------------------------------------------------------------
// out = silu(g) * u with silu(g) = g * sigmoid(g); each row gu[n] = [g | u], each
// `hidden` wide.
void cpu_swiglu_forward(void *out_act, const float *gu, int N, int hidden) {
    float *out = out_act;  // fp32 activations
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * hidden, *u = g + hidden;
        float *o = out + (size_t)n * hidden;
        for (int i = 0; i < hidden; i++) o[i] = -g[i];
        cpu_exp(o, o, hidden);  // exp(-g), vectorised
        for (int i = 0; i < hidden; i++) o[i] = g[i] / (1.0f + o[i]) * u[i];
    }
}

// dsilu/dg = s (1 + g (1 - s)) with s = sigmoid(g).
void cpu_swiglu_backward(float *dgu, const float *dout, const float *gu, int N, int hidden) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * hidden, *u = g + hidden;
        const float *dy = dout + (size_t)n * hidden;
        float *dg = dgu + (size_t)n * 2 * hidden, *du = dg + hidden;
        for (int i = 0; i < hidden; i++) dg[i] = -g[i];
        cpu_exp(dg, dg, hidden);  // exp(-g), vectorised
        for (int i = 0; i < hidden; i++) {
            float s = 1.0f / (1.0f + dg[i]);
            du[i] = dy[i] * g[i] * s;
            dg[i] = dy[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
        }
    }
}
