// tests/cuda/emu/cublas_v2.h -- the emulation's cuBLAS: a plain column-major sgemm.
#pragma once
#include "cuda_runtime.h"

typedef int cublasStatus_t;
typedef void *cublasHandle_t;
#define CUBLAS_STATUS_SUCCESS 0
enum cublasOperation_t { CUBLAS_OP_N, CUBLAS_OP_T };
enum { CUBLAS_DEFAULT_MATH };
enum cublasComputeType_t { CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_FAST_TF32 };
typedef enum { CUDA_R_32F, CUDA_R_16BF } cudaDataType_t;
enum { CUBLAS_GEMM_DEFAULT };

static inline cublasStatus_t cublasCreate(cublasHandle_t *h) {
    *h = (void *)1;
    return CUBLAS_STATUS_SUCCESS;
}
static inline cublasStatus_t cublasSetMathMode(cublasHandle_t, int) { return 0; }
static inline cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return 0; }
static inline cublasStatus_t cublasSetWorkspace(cublasHandle_t, void *, size_t) { return 0; }
static inline const char *cublasGetStatusString(cublasStatus_t) { return "emulated cuBLAS error"; }

// The tensor cores' tf32 input rounding (to nearest even): 10 mantissa bits kept.
static inline float emu_round(float x, int compute) {
    if (compute == CUBLAS_COMPUTE_32F) return x;
    unsigned u, drop = 13;
    memcpy(&u, &x, 4);
    u += ((1u << (drop - 1)) - 1) + ((u >> drop) & 1);
    u &= ~((1u << drop) - 1);
    memcpy(&x, &u, 4);
    return x;
}

// Element i of an fp32 or bf16 (bits) matrix.
static inline float emu_elem(const void *M, cudaDataType_t type, size_t i) {
    if (type == CUDA_R_32F) return ((const float *)M)[i];
    unsigned u = (unsigned)((const unsigned short *)M)[i] << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

// C[m,n] = alpha op(A)[m,k] op(B)[k,n] + beta C, column-major; beta == 0 ignores C. A and
// B are fp32 or bf16, C fp32 (as cuBLAS allows: bf16 inputs go with CUBLAS_COMPUTE_32F).
static inline cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t ta,
                                          cublasOperation_t tb, int m, int n, int k,
                                          const float *alpha, const void *A,
                                          cudaDataType_t atype, int lda, const void *B,
                                          cudaDataType_t btype, int ldb, const float *beta,
                                          float *C, cudaDataType_t, int ldc,
                                          cublasComputeType_t compute, int) {
    float al = *alpha, be = *beta;  // host scalars: read at the call, as cuBLAS does
    emu_call([=] {
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                float s = 0.0f;
                for (int p = 0; p < k; p++) {
                    float a = emu_elem(
                        A, atype, ta == CUBLAS_OP_N ? i + (size_t)p * lda : p + (size_t)i * lda);
                    float b = emu_elem(
                        B, btype, tb == CUBLAS_OP_N ? p + (size_t)j * ldb : j + (size_t)p * ldb);
                    s += emu_round(a, compute) * emu_round(b, compute);
                }
                float *c = &C[i + (size_t)j * ldc];
                *c = al * s + (be == 0.0f ? 0.0f : be * *c);
            }
    });
    return CUBLAS_STATUS_SUCCESS;
}
