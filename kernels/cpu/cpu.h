// kernels/cpu/cpu.h -- the CPU backend's functions (C + OpenMP) and the vector helpers
// they share. Only kernels/cpu/*.c and the CPU backend's own tests and benchmarks include
// this; everyone else goes through the table kernels_cpu (kernels/kernels.h). What each
// function computes is kernels/ref's (the specification); tests/test_kernels_cpu.c holds
// this backend to it.
//
// Determinism: every result is computed by the same code in the same order whatever
// the thread count and whatever the CPU: no summation order is left to the compiler's
// vectoriser or the vector width (docs/porting.md). Reductions over rows (dbias, dw of RMSNorm, embedding gradients)
// run serially in row order for each output element, with the threads splitting the
// output columns; sum_squares combines fixed-size chunks in chunk order. Each row's
// forward result depends only on that row (and, in attention, its sequence).
#ifndef O1P_KERNELS_CPU_H
#define O1P_KERNELS_CPU_H

#include <math.h>
#include <stddef.h>
#include <string.h>

// memory.c: memory, residual add, embedding
void *cpu_alloc(size_t bytes);
void cpu_free(void *p);
void cpu_zero(void *p, size_t bytes);
void cpu_upload(void *dst, const void *host_src, size_t bytes);
void cpu_download(void *host_dst, const void *src, size_t bytes);
void cpu_copy(void *dst, const void *src, size_t bytes);
void cpu_synchronize(void);
void cpu_add(float *out, const float *a, const float *b, size_t n);
void cpu_embedding_forward(float *out, const int *tokens, const void *wte, int N, int C);
void cpu_embedding_backward(float *dwte, const float *dout, const int *tokens, int N, int C);

// gemm.c: C[M,N] = op(A)[M,K] op(B)[K,N] (+ C when accumulate), every element one fmaf
// chain over k in order (op(A)[i,k] = trans_a ? A[k*lda+i] : A[i*lda+k], op(B) alike).
void cpu_gemm(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda,
              const float *B, int ldb, int accumulate, float *C, int ldc);
// The GEMM's micro-kernel: AUTO (the default) takes the widest this CPU runs: V16
// (AVX-512), NEON (aarch64) or V8 (portable C, 8 lanes). All give the same bits; tests and
// benchmarks pick each in turn. Returns 0 if the CPU lacks it.
typedef enum { CPU_GEMM_AUTO, CPU_GEMM_V8, CPU_GEMM_V16, CPU_GEMM_NEON } CpuGemmKernel;
int cpu_gemm_select(CpuGemmKernel kernel);

// matmul.c. A forward of at most CPU_ROWWISE_MAX rows takes the decode kernels, a larger
// one the GEMM: two summation orders, each the same for a row whatever N, so a row's
// bits hold in calls of up to this many rows (kernels_cpu.max_rows_invariant).
enum { CPU_ROWWISE_MAX = 64 };
void cpu_matmul_forward(float *out, const void *inp, const void *w, const void *bias, int N,
                        int C, int OC);
void cpu_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                         const void *inp, const void *w, int N, int C, int OC);

// layers.c: RMSNorm, RoPE, SwiGLU
void cpu_rmsnorm_forward(void *out, float *rstd, const float *inp, const void *w, float eps,
                         int N, int C);
void cpu_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                          const void *w, const float *rstd, int N, int C);
void cpu_rope_forward(float *x, const int *pos, int N, int row_stride, int n_heads, int D,
                      float theta);
void cpu_rope_backward(float *dx, const int *pos, int N, int row_stride, int n_heads, int D,
                       float theta);
void cpu_swiglu_forward(void *out, const float *gu, int N, int hidden);
void cpu_swiglu_backward(float *dgu, const float *dout, const float *gu, int N, int hidden);

// attention.c (and cpu_exp, the vectorisable exp of a block of values)
void cpu_attention_forward(void *out, float *lse, const float *qkv, const int *lens, int B,
                           int T, int H, int KV, int D);
void cpu_attention_backward(float *dqkv, const float *dout, const float *qkv, const void *out,
                            const float *lse, const int *lens, int B, int T, int H, int KV,
                            int D);
void cpu_kv_cache_write(void *kcache, void *vcache, const float *qkv, const int *slots,
                        const int *pos, int N, int H, int KV, int D, int max_T);
void cpu_attention_decode(void *out, const float *qkv, const void *kcache,
                          const void *vcache, const int *slots, const int *pos,
                          const int *prefix_slots, const int *prefix_lens, int N, int H, int KV,
                          int D, int max_T);
// y[i] = exp(x[i]) within 2 ulp for x in [-87.33, 88]; x < -87.33 (and -inf) gives 0,
// x > 88 gives exp(88), NaN stays NaN. y may alias x.
void cpu_exp(float *y, const float *x, int n);

// loss.c: softmax cross-entropy
void cpu_crossentropy_forward(float *logprob, float *lse, const float *logits,
                              const int *targets, int N, int V);
void cpu_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                               const int *targets, const float *weights, int N, int V);
// in vocabulary chunks (kernels.h); the full-row functions are their one-chunk case
void cpu_crossentropy_chunk_forward(float *logprob, float *lse, float *sum, const float *logits,
                                    const int *targets, int N, int V, int v0, int Vc);
void cpu_crossentropy_chunk_backward(float *dlogits, const float *logits, const float *lse,
                                     const int *targets, const float *weights, int N, int v0,
                                     int Vc);

// optimizer.c
void cpu_argmax_logprob(int *argmax, double *logprob, const float *logits, int N, int V, int ld);
void cpu_temperature_draws(int *tok, double *logprob, const float *logits, const int *rows, const double *inv_t,
                           const double *u, int n_draws, int V, int ld);
void cpu_sampling_candidates(int *count, int *ids, float *cand, double *z, double *lse1, const float *logits,
                             const double *inv_t, const double *cut, const int *top_k, int N, int V, int ld);
double cpu_sum_squares(const float *g, size_t n);
void cpu_adamw(float *p, void *w, float *g, float *m, float *v, size_t n, size_t n_decay,
               float lr, float beta1, float beta2, float eps, float weight_decay,
               float grad_scale, int step);

// Column-parallel row reductions split the output columns into blocks of this many.
#define CPU_COL_BLOCK 256

// dot.c: sum_i a[i] * b[i] and sum_i a[i] * b[i] * c[i], each product rounded, added in
// eight lanes in a fixed order (the same bits on every CPU and compiler).
float cpu_dot(const float *a, const float *b, int n);
float cpu_dot3(const float *a, const float *b, const float *c, int n);

// y += alpha * x, each element rounded once (fmaf)
static inline void cpu_axpy(float *restrict y, float alpha, const float *restrict x, int n) {
#pragma omp simd
    for (int i = 0; i < n; i++) y[i] = fmaf(alpha, x[i], y[i]);
}

// 8 lanes whatever the target ISA, so a summation order is fixed by the code that uses
// them, not by the vector width the compiler picks.
typedef float cpu_v8 __attribute__((vector_size(32)));

// *acc += a * b lane by lane, rounded once (fmaf: one vfmadd on FMA hardware, the same
// bits everywhere else).
static inline void cpu_fma8(cpu_v8 *acc, const cpu_v8 *a, const cpu_v8 *b) {
    cpu_v8 x = *a, y = *b, r = *acc;  // (on copies: GCC then keeps it one vector op)
    for (int l = 0; l < 8; l++) r[l] = fmaf(x[l], y[l], r[l]);
    *acc = r;
}

// The lanes of *acc added pairwise. (Vectors go by pointer: by value their ABI would
// depend on the -march flags.)
static inline float cpu_hsum8(const cpu_v8 *acc) {
    const float *a = (const float *)acc;
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

// s[i] = cpu_hsum8(&acc[i]) for i < 4, bitwise, in three vector adds: each level adds
// neighbouring lanes of two vectors (their even lanes to their odd ones).
static inline void cpu_hsum8x4(const cpu_v8 *acc, float *s) {
    typedef float v4 __attribute__((vector_size(16)));
#define EVEN(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14)
#define ODD(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15)
    cpu_v8 ab = EVEN(acc[0], acc[1]) + ODD(acc[0], acc[1]);  // a0+a1 a2+a3 a4+a5 a6+a7 b..
    cpu_v8 cd = EVEN(acc[2], acc[3]) + ODD(acc[2], acc[3]);
    cpu_v8 x = EVEN(ab, cd) + ODD(ab, cd);  // (a0+a1)+(a2+a3) (a4+a5)+(a6+a7) b.. c.. d..
#undef EVEN
#undef ODD
    v4 y = __builtin_shufflevector(x, x, 0, 2, 4, 6) + __builtin_shufflevector(x, x, 1, 3, 5, 7);
    memcpy(s, &y, sizeof y);
}

#endif
