// kernels/ref/ref.h -- the reference backend's functions: the specification of every
// primitive of kernels/kernels.h, in the plainest correct C (serial loops, no SIMD, no
// threads). Only kernels/ref/*.c include this; everyone else uses the table kernels_ref.
//
// Numerics, what the other backends are measured against:
// - float arithmetic, every sum in index order, unless a comment says double;
// - matmuls, dot products (ref_dot) and attention's weighted sums are fmaf chains over k
//   in order: each product added with one rounding; a matmul's chain starts from the bias
//   (or 0). Other expressions are float operations as written (-std=c11 contracts none);
// - exp, log, sqrt: the C library's expf, logf, sqrtf; RoPE's angles in double.
// Every result depends on its own row only (in attention, its sequence's rows), so a
// row's bits never depend on how many rows share a call (max_rows_invariant 0).
#ifndef O1P_KERNELS_REF_H
#define O1P_KERNELS_REF_H

#include <math.h>
#include <stddef.h>

// memory.c: memory, residual add, embedding
void *ref_alloc(size_t bytes);
void ref_free(void *p);
void ref_zero(void *p, size_t bytes);
void ref_upload(void *dst, const void *host_src, size_t bytes);
void ref_download(void *host_dst, const void *src, size_t bytes);
void ref_copy(void *dst, const void *src, size_t bytes);
void ref_synchronize(void);
void ref_add(float *out, const float *a, const float *b, size_t n);
void ref_weights_from_params(void *w, const float *p, size_t n);
void ref_embedding_forward(float *out, const int *tokens, const void *wte, int N, int C);
void ref_embedding_backward(float *dwte, const float *dout, const int *tokens, int N, int C);

// matmul.c
void ref_matmul_forward(float *out, const void *inp, const void *w, const void *bias, int N,
                        int C, int OC);
void ref_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                         const void *inp, const void *w, int N, int C, int OC);

// layers.c: RMSNorm, RoPE, SwiGLU
void ref_rmsnorm_forward(void *out, float *rstd, const float *inp, const void *w, float eps,
                         int N, int C);
void ref_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                          const void *w, const float *rstd, int N, int C);
void ref_rope_forward(float *x, const int *pos, int N, int row_stride, int n_heads, int D,
                      float theta);
void ref_rope_backward(float *dx, const int *pos, int N, int row_stride, int n_heads, int D,
                       float theta);
void ref_swiglu_forward(void *out, const float *gu, int N, int hidden);
void ref_swiglu_backward(float *dgu, const float *dout, const float *gu, int N, int hidden);

// attention.c
void ref_attention_forward(void *out, float *lse, const float *qkv, const int *lens, int B,
                           int T, int H, int KV, int D);
void ref_attention_backward(float *dqkv, const float *dout, const float *qkv, const void *out,
                            const float *lse, const int *lens, int B, int T, int H, int KV,
                            int D);
void ref_kv_cache_write(void *kcache, void *vcache, const float *qkv, const int *slots,
                        const int *pos, int N, int H, int KV, int D, int max_T);
void ref_attention_decode(void *out, const float *qkv, const void *kcache,
                          const void *vcache, const int *slots, const int *pos,
                          const int *prefix_slots, const int *prefix_lens, int N, int H, int KV,
                          int D, int max_T);

// loss.c: softmax cross-entropy
void ref_crossentropy_forward(float *logprob, float *lse, const float *logits,
                              const int *targets, int N, int V);
void ref_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                               const int *targets, const float *weights, int N, int V);
// in vocabulary chunks (kernels.h); the full-row functions are their one-chunk case
void ref_crossentropy_chunk_forward(float *logprob, float *lse, float *sum, const float *logits,
                                    const int *targets, int N, int V, int v0, int Vc);
void ref_crossentropy_chunk_backward(float *dlogits, const float *logits, const float *lse,
                                     const int *targets, const float *weights, int N, int v0,
                                     int Vc);

// optimizer.c
void ref_argmax_logprob(int *argmax, double *logprob, const float *logits, int N, int V, int ld);
void ref_temperature_draws(int *tok, double *logprob, const float *logits, const int *rows, const double *inv_t,
                           const double *u, int n_draws, int V, int ld);
void ref_sampling_candidates(int *count, int *ids, float *cand, double *z, double *lse1, const float *logits,
                             const double *inv_t, const double *cut, const int *top_k, int N, int V, int ld);
double ref_sum_squares(const float *g, size_t n);
void ref_adamw(float *p, void *w, float *g, float *m, float *v, size_t n, size_t n_decay,
               float lr, float beta1, float beta2, float eps, float weight_decay,
               float grad_scale, int step);

// sum_i a[i] * b[i]: one fmaf chain, i in order (attention.c, layers.c)
static inline float ref_dot(const float *a, const float *b, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; i++) s = fmaf(a[i], b[i], s);
    return s;
}

#endif
