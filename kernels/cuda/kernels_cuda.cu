// kernels/cuda/kernels_cuda.cu -- the CUDA backend's table: memory, matmuls (cuBLAS), and
// the lookup kernels_cuda_get(). The other primitives live in layers.cu and attention.cu.
#include <stdio.h>
#include <stdlib.h>

#include "common.cuh"

cublasHandle_t cuda_cublas;

void cuda_fail(const char *what, const char *file, int line) {
    fprintf(stderr, "o1p: CUDA error at %s:%d: %s\n", file, line, what);
    abort();
}

// ---- memory -----------------------------------------------------------------------------

static void *cuda_alloc(size_t bytes) {
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) {
        (void)cudaGetLastError();  // clear the error: out of memory is reported by NULL
        return NULL;
    }
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, 0));
    return p;
}

static void cuda_free(void *p) {
    if (p) CUDA_CHECK(cudaFree(p));
}

static void cuda_zero(void *p, size_t bytes) { CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, 0)); }

// Host copies are synchronous: the host buffer may be reused as soon as they return.
static void cuda_upload(void *dst, const void *host_src, size_t bytes) {
    CUDA_CHECK(cudaMemcpy(dst, host_src, bytes, cudaMemcpyHostToDevice));
}

static void cuda_download(void *host_dst, const void *src, size_t bytes) {
    CUDA_CHECK(cudaMemcpy(host_dst, src, bytes, cudaMemcpyDeviceToHost));
}

static void cuda_copy(void *dst, const void *src, size_t bytes) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0));
}

static void cuda_synchronize(void) { CUDA_CHECK(cudaDeviceSynchronize()); }

// ---- matmul ---------------------------------------------------------------------------
// cuBLAS is column-major. A row-major [R, C] matrix is the column-major [C, R] matrix, its
// transpose, so each row-major product below is computed as its transpose:
//   out[N,OC] = inp[N,C] @ w[OC,C]^T   <=>   out^T[OC,N] = w[OC,C] @ inp^T[C,N],
// which in column-major terms is op(w_cm)=T of the [C,OC] view, times the [C,N] view.
// The handle's math mode is CUBLAS_DEFAULT_MATH: plain fp32 FMA, no TF32, so the results
// match the CPU's fp32 within rounding.

static void cuda_matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                                int N, int C, int OC) {
    const float one = 1.0f, zero = 0.0f;
    CUBLAS_CHECK(cublasSgemm(cuda_cublas, CUBLAS_OP_T, CUBLAS_OP_N, OC, N, C, &one, w, C, inp, C,
                             &zero, out, OC));
    if (bias) cuda_bias_forward(out, bias, N, OC);
}

static void cuda_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                                 const float *inp, const float *w, int N, int C, int OC) {
    const float one = 1.0f, zero = 0.0f;
    // dinp[N,C] = dout[N,OC] @ w[OC,C]   <=>   dinp^T[C,N] = w^T[C,OC] @ dout^T[OC,N]
    if (dinp)
        CUBLAS_CHECK(cublasSgemm(cuda_cublas, CUBLAS_OP_N, CUBLAS_OP_N, C, N, OC, &one, w, C,
                                 dout, OC, &zero, dinp, C));
    // dw[OC,C] += dout^T[OC,N] @ inp[N,C]   <=>   dw^T[C,OC] += inp^T[C,N] @ dout[N,OC]
    if (dw)
        CUBLAS_CHECK(cublasSgemm(cuda_cublas, CUBLAS_OP_N, CUBLAS_OP_T, C, OC, N, &one, inp, C,
                                 dout, OC, &one, dw, C));
    if (dbias) cuda_bias_backward(dbias, dout, N, OC);
}

// ---- the table --------------------------------------------------------------------------

static const Kernels kernels_cuda = {
    "cuda",
    cuda_alloc,
    cuda_free,
    cuda_zero,
    cuda_upload,
    cuda_download,
    cuda_copy,
    cuda_synchronize,
    cuda_matmul_forward,
    cuda_matmul_backward,
    cuda_embedding_forward,
    cuda_embedding_backward,
    cuda_rmsnorm_forward,
    cuda_rmsnorm_backward,
    cuda_rope_forward,
    cuda_rope_backward,
    cuda_attention_forward,
    cuda_attention_backward,
    cuda_kv_cache_write,
    cuda_attention_decode,
    cuda_swiglu_forward,
    cuda_swiglu_backward,
    cuda_add,
    cuda_crossentropy_forward,
    cuda_crossentropy_backward,
    cuda_sum_squares,
    cuda_adamw,
};

// The first call picks device 0 and creates the cuBLAS handle; NULL when there is no
// usable GPU (no driver, no device, or the context cannot be created).
extern "C" const Kernels *kernels_cuda_get(void) {
    static int state;  // 0 unknown, 1 ready, -1 unusable
    if (state == 0) {
        int count = 0;
        state = -1;
        if (cudaGetDeviceCount(&count) == cudaSuccess && count > 0 &&
            cudaSetDevice(0) == cudaSuccess && cudaFree(0) == cudaSuccess &&
            cublasCreate(&cuda_cublas) == CUBLAS_STATUS_SUCCESS &&
            cublasSetMathMode(cuda_cublas, CUBLAS_DEFAULT_MATH) == CUBLAS_STATUS_SUCCESS)
            state = 1;
        (void)cudaGetLastError();
    }
    return state == 1 ? &kernels_cuda : NULL;
}
