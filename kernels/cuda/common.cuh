// kernels/cuda/common.cuh -- what the CUDA backend's files share: error checks, the
// cuBLAS handle, warp/block reductions, and the primitives each file defines.
//
// Every launch goes to the backend's one stream (cuda_stream), cuBLAS included, so calls
// run in the order they are made. It is a blocking stream: the synchronous copies of the
// legacy default stream (upload, download) wait for its work, and it for theirs. Its work
// between graph_begin and graph_end is recorded as a CUDA graph instead of run.
//
// Errors: the contract's functions return nothing, and a CUDA error here is a bug or a
// lost device, never bad user input (shapes come from the model's own plan). So a failed
// CUDA or cuBLAS call reports its place and aborts; only alloc() reports out-of-memory,
// by returning NULL, as the contract asks.
#ifndef O1P_CUDA_COMMON_CUH
#define O1P_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>

extern "C" {
#include "../kernels.h"
}

void cuda_fail(const char *what, const char *file, int line);

#define CUDA_CHECK(call)                                                              \
    do {                                                                              \
        cudaError_t e_ = (call);                                                      \
        if (e_ != cudaSuccess) cuda_fail(cudaGetErrorString(e_), __FILE__, __LINE__); \
    } while (0)
#define CUBLAS_CHECK(call)                                                                         \
    do {                                                                                           \
        cublasStatus_t s_ = (call);                                                                \
        if (s_ != CUBLAS_STATUS_SUCCESS) cuda_fail(cublasGetStatusString(s_), __FILE__, __LINE__); \
    } while (0)
// After a kernel launch: a bad configuration shows here, an execution fault later.
#define LAUNCH_CHECK() CUDA_CHECK(cudaGetLastError())

static inline int ceil_div(long a, long b) { return (int)((a + b - 1) / b); }

// Raises a kernel's dynamic shared-memory limit past the default 48 KB.
template <typename K>
static void cuda_allow_smem(K kernel, size_t bytes) {
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    (int)bytes));
}

// cuBLAS handle and stream of the backend (created by kernels_cuda_get).
extern cublasHandle_t cuda_cublas;
extern cudaStream_t cuda_stream;

// ---- reductions ---------------------------------------------------------------------
// Fixed shuffle trees: the same inputs give the same sum, bit for bit.
template <typename F>
__device__ __forceinline__ F warp_sum(F x) {
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}
__device__ __forceinline__ float warp_max(float x) {
    for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}
// Sum over a block of blockDim.x threads (a multiple of 32, at most 1024); every thread
// gets the result. `shared` holds 32 elements; the function may be called repeatedly.
template <typename F>
__device__ F block_sum(F x, F *shared) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    x = warp_sum(x);
    __syncthreads();  // `shared` may still be read from a previous call
    if (lane == 0) shared[warp] = x;
    __syncthreads();
    x = lane < nwarps ? shared[lane] : (F)0;
    return warp_sum(x);
}
// Exclusive prefix sum over a block in thread order (blockDim.x as for block_sum): returns
// the sum of x over the threads before this one; *total gets the block's sum. `shared`
// holds 32 elements; the function may be called repeatedly.
template <typename F>
__device__ F block_scan(F x, F *shared, F *total) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    F inclusive = x;  // the warp's inclusive scan (Hillis-Steele)
    for (int d = 1; d < 32; d *= 2) {
        F y = __shfl_sync(0xffffffffu, inclusive, lane >= d ? lane - d : lane);
        if (lane >= d) inclusive += y;
    }
    __syncthreads();  // `shared` may still be read from a previous call
    if (lane == 31) shared[warp] = inclusive;
    __syncthreads();
    F before = 0, all = 0;
    for (int w = 0; w < nwarps; w++) {
        if (w < warp) before += shared[w];
        all += shared[w];
    }
    *total = all;
    return before + inclusive - x;
}
__device__ __forceinline__ float block_max(float x, float *shared) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    x = warp_max(x);
    __syncthreads();
    if (lane == 0) shared[warp] = x;
    __syncthreads();
    x = lane < nwarps ? shared[lane] : -INFINITY;
    return warp_max(x);
}

// ---- storage elements: float, or bf16 bits (unsigned short) -------------------------
// The bf16 weights and KV cache (kernels.h); mma.cuh's operands.
// fp32 -> bf16 bits, rounded to nearest even (inputs are finite: padding is never read).
__device__ __forceinline__ unsigned bf16_bits(float x) {
    unsigned u = __float_as_uint(x);
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}
__device__ __forceinline__ float bf16_lo(unsigned w) { return __uint_as_float(w << 16); }
__device__ __forceinline__ void store_elem(float *p, float x) { *p = x; }
__device__ __forceinline__ void store_elem(unsigned short *p, float x) {
    *p = (unsigned short)bf16_bits(x);
}
__device__ __forceinline__ float load_elem(const float *p) { return *p; }
__device__ __forceinline__ float load_elem(const unsigned short *p) { return bf16_lo(*p); }

// ---- the primitives, one file each group ----------------------------------------------
// layers.cu; Weight: the weights' element, float or bf16 bits (unsigned short), which the
// product inputs share (kernels.h: act_elem_bytes = weight_elem_bytes)
template <typename Weight>
void cuda_weights_from_params(void *w, const float *p, size_t n);
template <typename Weight>
void cuda_embedding_forward(float *out, const int *tokens, const void *wte, int N, int C);
void cuda_embedding_backward(float *dwte, const float *dout, const int *tokens, int N, int C);
template <typename Weight>
void cuda_rmsnorm_forward(void *out, float *rstd, const float *inp, const void *w, float eps,
                          int N, int C);
template <typename Weight>
void cuda_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                           const void *w, const float *rstd, int N, int C);
void cuda_rope_forward(float *x, const int *pos, int N, int row_stride, int n_heads, int D,
                       float theta);
void cuda_rope_backward(float *dx, const int *pos, int N, int row_stride, int n_heads, int D,
                        float theta);
template <typename Weight>
void cuda_swiglu_forward(void *out, const float *gu, int N, int I);
void cuda_swiglu_backward(float *dgu, const float *dout, const float *gu, int N, int I);
void cuda_add(float *out, const float *a, const float *b, size_t n);
void cuda_crossentropy_forward(float *logprob, float *lse, const float *logits,
                               const int *targets, int N, int V);
void cuda_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                                const int *targets, const float *weights, int N, int V);
void cuda_crossentropy_chunk_forward(float *logprob, float *lse, float *sum, const float *logits,
                                     const int *targets, int N, int V, int v0, int Vc);
void cuda_crossentropy_chunk_backward(float *dlogits, const float *logits, const float *lse,
                                      const int *targets, const float *weights, int N, int v0,
                                      int Vc);
double cuda_sum_squares(const float *g, size_t n);
template <typename Weight>
void cuda_adamw(float *p, void *w, float *g, float *m, float *v, size_t n, size_t n_decay,
                float lr, float beta1, float beta2, float eps, float weight_decay,
                float grad_scale, int step);
// Column sums for the matmul's dbias: dbias[OC] += sum_n dout[n, :] (fixed order).
void cuda_bias_backward(float *dbias, const float *dout, int N, int OC);
template <typename Weight>
void cuda_bias_forward(float *out, const void *bias, int N, int OC);

// sampling.cu
void cuda_argmax_logprob(int *argmax, double *logprob, const float *logits, int N, int V,
                         int ld);
void cuda_sampling_candidates(int *count, int *ids, float *cand, double *z, double *lse1,
                              const float *logits, const double *inv_t, const double *cut,
                              const int *top_k, int N, int V, int ld);
void cuda_temperature_draws(int *tok, double *logprob, const float *logits, const int *rows,
                            const double *inv_t, const double *u, int n_draws, int V, int ld);

// attention.cu (fp32 out: the fp32 tables')
void cuda_attention_forward(void *out, float *lse, const float *qkv, const int *lens, int B,
                            int T, int H, int KV, int D);
void cuda_attention_backward(float *dqkv, const float *dout, const float *qkv,
                             const void *out, const float *lse, const int *lens, int B, int T,
                             int H, int KV, int D);
// The KV cache's element: float, or bf16 bits (unsigned short).
template <typename Cache>
void cuda_kv_cache_write(void *kcache, void *vcache, const float *qkv, const int *slots,
                         const int *pos, int N, int H, int KV, int D, int max_T);
// Weight: out's element (the table's product inputs)
template <typename Cache, typename Weight>
void cuda_attention_decode(void *out, const float *qkv, const void *kcache,
                           const void *vcache, const int *slots, const int *pos,
                           const int *prefix_slots, const int *prefix_lens, int N, int H, int KV,
                           int D, int max_T);

// attention_mma.cu: the same contract on tensor cores (bf16 products, bf16 out), the
// cuda-bf16 table's
void cuda_attention_mma_forward(void *out, float *lse, const float *qkv, const int *lens,
                                int B, int T, int H, int KV, int D);
void cuda_attention_mma_backward(float *dqkv, const float *dout, const float *qkv,
                                 const void *out, const float *lse, const int *lens, int B,
                                 int T, int H, int KV, int D);

#endif
