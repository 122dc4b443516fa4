// kernels/cpu/matmul.c -- the linear layer on OpenBLAS sgemm.
//
// forward   out[N,OC]  = inp[N,C] @ w[OC,C]^T + bias[OC]
// backward  dinp[N,C]  = dout[N,OC] @ w[OC,C]        (overwritten)
//           dw[OC,C]  += dout^T @ inp                 (accumulated: beta = 1)
//           dbias[OC] += sum_n dout[n,:]
// OpenBLAS splits a gemm's rows and columns over threads, never the inner dimension K,
// so each output element is one fixed-order dot product whatever the thread count.
#include <cblas.h>

#include "cpu.h"

void cpu_matmul_forward(float *out, const float *inp, const float *w, const float *bias, int N,
                        int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, w, C, 0.0f,
                out, OC);
    if (!bias) return;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * OC;
#pragma omp simd
        for (int j = 0; j < OC; j++) o[j] += bias[j];
    }
}

void cpu_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                         const float *inp, const float *w, int N, int C, int OC) {
    if (N <= 0) return;
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, w, C,
                    0.0f, dinp, C);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C,
                    1.0f, dw, C);
    if (!dbias) return;
    // Column sums: threads split the columns; each column adds its rows in order.
    int n_blocks = (OC + CPU_COL_BLOCK - 1) / CPU_COL_BLOCK;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < n_blocks; blk++) {
        int j0 = blk * CPU_COL_BLOCK;
        int j1 = j0 + CPU_COL_BLOCK < OC ? j0 + CPU_COL_BLOCK : OC;
        for (int n = 0; n < N; n++) {
            const float *d = dout + (size_t)n * OC;
#pragma omp simd
            for (int j = j0; j < j1; j++) dbias[j] += d[j];
        }
    }
}
