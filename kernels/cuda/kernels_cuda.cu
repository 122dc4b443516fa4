// kernels/cuda/kernels_cuda.cu -- the CUDA backend's tables: memory, matmuls (cuBLAS), and
// the lookups kernels_cuda_get() (fp32, matching ref), kernels_cuda_tf32_get() (tensor-
// core matmuls) and kernels_cuda_bf16_get() (tensor-core matmuls and attention). The other
// primitives live in layers.cu, attention.cu and attention_mma.cu.
#include <stdio.h>
#include <stdlib.h>

#include "common.cuh"

cublasHandle_t cuda_cublas;
cudaStream_t cuda_stream;

// While a graph is being recorded an error only fails the recording (graph_end returns
// NULL); 0 not recording, 1 recording, 2 recording failed.
static int capture_state;

void cuda_fail(const char *what, const char *file, int line) {
    if (capture_state) {
        capture_state = 2;
        return;
    }
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
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, cuda_stream));
    return p;
}

// The device's free memory (cudaMemGetInfo).
static size_t cuda_memory_available(void) {
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    return free_b;
}

static void cuda_free(void *p) {
    if (p) CUDA_CHECK(cudaFree(p));
}

static void cuda_zero(void *p, size_t bytes) {
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, cuda_stream));
}

// Host copies are synchronous: the host buffer may be reused as soon as they return.
static void cuda_upload(void *dst, const void *host_src, size_t bytes) {
    CUDA_CHECK(cudaMemcpy(dst, host_src, bytes, cudaMemcpyHostToDevice));
}

static void cuda_download(void *host_dst, const void *src, size_t bytes) {
    CUDA_CHECK(cudaMemcpy(host_dst, src, bytes, cudaMemcpyDeviceToHost));
}

static void cuda_copy(void *dst, const void *src, size_t bytes) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_stream));
}

static void cuda_synchronize(void) { CUDA_CHECK(cudaDeviceSynchronize()); }

// ---- matmul ---------------------------------------------------------------------------
// cuBLAS is column-major. A row-major [R, C] matrix is the column-major [C, R] matrix, its
// transpose, so each row-major product below is computed as its transpose:
//   out[N,OC] = inp[N,C] @ w[OC,C]^T   <=>   out^T[OC,N] = w[OC,C] @ inp^T[C,N],
// which in column-major terms is op(w_cm)=T of the [C,OC] view, times the [C,N] view.
// Outputs are fp32. Weight is the element of the weights and of the product inputs
// (kernels.h). COMPUTE is cuBLAS's compute type: CUBLAS_COMPUTE_32F is plain fp32 FMA, no
// TF32 (the "cuda" table, matching ref within rounding); CUBLAS_COMPUTE_32F_FAST_TF32
// rounds the fp32 operands to tf32 inside cuBLAS for the tensor cores ("cuda-tf32").
// With bf16 elements ("cuda-bf16", CUBLAS_COMPUTE_32F) every product is cuBLAS's
// bf16 x bf16 -> fp32 on the tensor cores, the backward's output gradient rounded to bf16
// first (gradient_operand).

// An operand of a product: its cuBLAS type and pointer.
struct Operand {
    cudaDataType_t type;
    const void *p;
};
static Operand fp32(const float *p) { return {CUDA_R_32F, p}; }
// A weight or a product input, in the table's element.
template <typename Weight>
static Operand stored(const void *p) {
    return {sizeof(Weight) == 2 ? CUDA_R_16BF : CUDA_R_32F, p};
}

static void gemm(cublasComputeType_t compute, cublasOperation_t ta, cublasOperation_t tb, int m,
                 int n, int k, Operand A, int lda, Operand B, int ldb, float beta, float *C,
                 int ldc) {
    const float one = 1.0f;
    CUBLAS_CHECK(cublasGemmEx(cuda_cublas, ta, tb, m, n, k, &one, A.p, A.type, lda, B.p, B.type,
                              ldb, &beta, C, CUDA_R_32F, ldc, compute, CUBLAS_GEMM_DEFAULT));
}

// An output gradient x[0, n) as an operand beside stored ones: itself with fp32 elements;
// with bf16 ones rounded to bf16 into a buffer that grows to the largest such gradient
// (2 bytes an element; model/ counts it in its memory plans) and lives until the process
// ends.
template <typename Weight>
static Operand gradient_operand(const float *x, size_t n) {
    if (sizeof(Weight) == 4) return fp32(x);
    static unsigned short *buf;
    static size_t cap;
    if (n > cap) {
        if (buf) CUDA_CHECK(cudaFree(buf));
        buf = NULL;
        if (cudaMalloc(&buf, n * sizeof *buf) != cudaSuccess)
            cuda_fail("out of GPU memory for the bf16 gradient of a product", __FILE__, __LINE__);
        cap = n;
    }
    cuda_weights_from_params<unsigned short>(buf, x, n);  // rounded as the weights are
    return {CUDA_R_16BF, buf};
}

template <cublasComputeType_t COMPUTE, typename Weight>
static void cuda_matmul_forward(float *out, const void *inp, const void *w, const void *bias,
                                int N, int C, int OC) {
    gemm(COMPUTE, CUBLAS_OP_T, CUBLAS_OP_N, OC, N, C, stored<Weight>(w), C, stored<Weight>(inp), C,
         0.0f, out, OC);
    if (bias) cuda_bias_forward<Weight>(out, bias, N, OC);
}

template <cublasComputeType_t COMPUTE, typename Weight>
static void cuda_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                                 const void *inp, const void *w, int N, int C, int OC) {
    Operand g = dinp || dw ? gradient_operand<Weight>(dout, (size_t)N * OC) : fp32(dout);
    // dinp[N,C] = dout[N,OC] @ w[OC,C]   <=>   dinp^T[C,N] = w^T[C,OC] @ dout^T[OC,N]
    if (dinp) gemm(COMPUTE, CUBLAS_OP_N, CUBLAS_OP_N, C, N, OC, stored<Weight>(w), C, g, OC, 0.0f, dinp, C);
    // dw[OC,C] += dout^T[OC,N] @ inp[N,C]   <=>   dw^T[C,OC] += inp^T[C,N] @ dout[N,OC]
    // (an fp32 gradient whatever the operands)
    if (dw) gemm(COMPUTE, CUBLAS_OP_N, CUBLAS_OP_T, C, OC, N, stored<Weight>(inp), C, g, OC, 1.0f, dw, C);
    if (dbias) cuda_bias_backward(dbias, dout, N, OC);
}

// ---- graphs: the stream's work recorded once, replayed with one launch ----------------------

static int cuda_graph_begin(void) {
    if (cudaStreamBeginCapture(cuda_stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
        (void)cudaGetLastError();
        return -1;
    }
    capture_state = 1;
    return 0;
}

static void *cuda_graph_end(void) {
    cudaGraph_t graph = NULL;
    cudaGraphExec_t exec = NULL;
    bool ok = cudaStreamEndCapture(cuda_stream, &graph) == cudaSuccess && capture_state == 1 &&
              cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
    if (graph) (void)cudaGraphDestroy(graph);
    (void)cudaGetLastError();  // a failed recording leaves nothing behind
    capture_state = 0;
    return ok ? (void *)exec : NULL;
}

static void cuda_graph_run(void *graph) {
    CUDA_CHECK(cudaGraphLaunch((cudaGraphExec_t)graph, cuda_stream));
}

static void cuda_graph_free(void *graph) {
    if (graph) CUDA_CHECK(cudaGraphExecDestroy((cudaGraphExec_t)graph));
}

// ---- the tables ---------------------------------------------------------------------------

// max_rows_invariant -1: cuBLAS picks its GEMM algorithm (split-K or not) by shape, so a
// row's bits may change with the row count; the other kernels work row by row.
// host_memory 0: device memory, which model IO stages through upload and download.
// WEIGHT, CACHE: the elements of the weights (and the product inputs) and of the KV cache,
// float or bf16 bits (unsigned short).
#define CUDA_TABLE(NAME, COMPUTE, ATTN, WEIGHT, CACHE)                                             \
    {                                                                                              \
        NAME, -1, cuda_alloc, cuda_free, cuda_zero, cuda_upload, cuda_download, cuda_copy,         \
            cuda_synchronize, cuda_weights_from_params<WEIGHT>,                                    \
            cuda_matmul_forward<COMPUTE, WEIGHT>, cuda_matmul_backward<COMPUTE, WEIGHT>,           \
            cuda_embedding_forward<WEIGHT>, cuda_embedding_backward, cuda_rmsnorm_forward<WEIGHT>, \
            cuda_rmsnorm_backward<WEIGHT>, cuda_rope_forward, cuda_rope_backward, ATTN##_forward,  \
            ATTN##_backward, cuda_kv_cache_write<CACHE>, cuda_attention_decode<CACHE, WEIGHT>,     \
            cuda_swiglu_forward<WEIGHT>, cuda_swiglu_backward, cuda_add,                           \
            cuda_crossentropy_forward, cuda_crossentropy_backward,                                 \
            cuda_crossentropy_chunk_forward, cuda_crossentropy_chunk_backward,                     \
            cuda_argmax_logprob, cuda_sampling_candidates, cuda_temperature_draws,                 \
            cuda_sum_squares, cuda_adamw<WEIGHT>, 0, sizeof(WEIGHT), sizeof(WEIGHT),               \
            sizeof(CACHE), cuda_graph_begin, cuda_graph_end, cuda_graph_run, cuda_graph_free,      \
            cuda_memory_available                                                                  \
    }

static const Kernels kernels_cuda =
    CUDA_TABLE("cuda", CUBLAS_COMPUTE_32F, cuda_attention, float, float);
static const Kernels kernels_cuda_tf32 =
    CUDA_TABLE("cuda-tf32", CUBLAS_COMPUTE_32F_FAST_TF32, cuda_attention, float, float);
// bf16 weights (fp32 master parameters), product inputs, products, attention and KV
// cache; fp32 gradients and the other activations
static const Kernels kernels_cuda_bf16 =
    CUDA_TABLE("cuda-bf16", CUBLAS_COMPUTE_32F, cuda_attention_mma, unsigned short, unsigned short);

// The GPU the first cuda_ready takes, modulo the GPU count (kernels_cuda_use_device).
static int cuda_device_index;

extern "C" void kernels_cuda_use_device(int i) { cuda_device_index = i; }

// cuBLAS's workspace, set once so that a recorded product never allocates one (32 MiB, what
// cuBLAS asks for on Hopper).
enum { CUBLAS_WORKSPACE = 32 << 20 };

// The first call picks the device and creates the stream and the cuBLAS handle on it;
// false when there is no usable GPU (no driver, no device, or the context cannot be
// created).
static bool cuda_ready(void) {
    static int state;  // 0 unknown, 1 ready, -1 unusable
    if (state == 0) {
        int count = 0;
        void *workspace = NULL;
        state = -1;
        if (cudaGetDeviceCount(&count) == cudaSuccess && count > 0 &&
            cudaSetDevice(cuda_device_index % count) == cudaSuccess && cudaFree(0) == cudaSuccess &&
            cudaStreamCreate(&cuda_stream) == cudaSuccess &&
            cudaMalloc(&workspace, CUBLAS_WORKSPACE) == cudaSuccess &&
            cublasCreate(&cuda_cublas) == CUBLAS_STATUS_SUCCESS &&
            cublasSetStream(cuda_cublas, cuda_stream) == CUBLAS_STATUS_SUCCESS &&
            cublasSetWorkspace(cuda_cublas, workspace, CUBLAS_WORKSPACE) == CUBLAS_STATUS_SUCCESS &&
            cublasSetMathMode(cuda_cublas, CUBLAS_DEFAULT_MATH) == CUBLAS_STATUS_SUCCESS)
            state = 1;
        (void)cudaGetLastError();
    }
    return state == 1;
}

// fp32 throughout: the table that matches ref. NULL without a usable GPU.
extern "C" const Kernels *kernels_cuda_get(void) { return cuda_ready() ? &kernels_cuda : NULL; }

// The same table with tensor-core matmuls, fp32 accumulation: tf32 (fp32 operands rounded
// inside cuBLAS), or bf16 (weights, product inputs and KV cache stored in bf16, attention on
// tensor cores too: attention_mma.cu). The other primitives compute in fp32.
extern "C" const Kernels *kernels_cuda_tf32_get(void) {
    return cuda_ready() ? &kernels_cuda_tf32 : NULL;
}
extern "C" const Kernels *kernels_cuda_bf16_get(void) {
    return cuda_ready() ? &kernels_cuda_bf16 : NULL;
}
