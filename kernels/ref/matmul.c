// kernels/ref/matmul.c -- the linear layer.
//
// forward   out[N,OC]  = inp[N,C] @ w[OC,C]^T + bias[OC]
// backward  dinp[N,C]  = dout[N,OC] @ w[OC,C]        (overwritten)
//           dw[OC,C]  += dout^T @ inp                 (accumulated)
//           dbias[OC] += sum_n dout[n,:]
// Each element is one fmaf chain over its sum's index in order: over c from the bias (or
// 0) in the forward, over o from 0 for dinp, over n from the old value for dw.
#include <math.h>

#include "ref.h"

void ref_matmul_forward(float *out, const void *inp_act, const void *weight, const void *bias_weight,
                        int N, int C, int OC) {
    const float *inp = inp_act, *w = weight, *bias = bias_weight;  // fp32 elements
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            const float *x = inp + (size_t)n * C, *wo = w + (size_t)o * C;
            float s = bias ? bias[o] : 0.0f;
            for (int c = 0; c < C; c++) s = fmaf(x[c], wo[c], s);
            out[(size_t)n * OC + o] = s;
        }
}

// The loops run n, o, c: each chain takes its terms in order (o for dinp, n for dw and
// dbias), and the innermost loop walks contiguous rows.
void ref_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                         const void *inp_act, const void *weight, int N, int C, int OC) {
    const float *inp = inp_act, *w = weight;
    if (dinp)
        for (size_t i = 0; i < (size_t)N * C; i++) dinp[i] = 0.0f;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            float d = dout[(size_t)n * OC + o];
            const float *x = inp + (size_t)n * C, *wo = w + (size_t)o * C;
            if (dinp) {
                float *dx = dinp + (size_t)n * C;
                for (int c = 0; c < C; c++) dx[c] = fmaf(d, wo[c], dx[c]);
            }
            if (dw) {
                float *dwo = dw + (size_t)o * C;
                for (int c = 0; c < C; c++) dwo[c] = fmaf(d, x[c], dwo[c]);
            }
            if (dbias) dbias[o] += d;
        }
}
