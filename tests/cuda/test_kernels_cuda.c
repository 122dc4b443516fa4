// tests/cuda/test_kernels_cuda.c -- conformance of the CUDA backend against the reference
// backend (kernels/ref, the specification), then against the CPU backend: every
// primitive of kernels/kernels.h on fresh random inputs of several shapes, odd sizes
// included, the whole suite once per host table. Without a usable GPU it prints "SKIP: no
// CUDA device" and exits 0 with no pass count, so the suite never counts it as passed.
//
// Tolerances (fp32; |gpu - host| <= rtol * |host| + arel * max|host| per element, one
// CHECK per primitive and shape, the same for both hosts):
//   exact (0, 0)          memory, copies, add, embedding forward and backward (the same
//                         additions in the same order), kv_cache_write, AdamW's g = 0
//   matmul                rtol 1e-4, arel 1e-5   (cuBLAS sums in another order; no TF32)
//   matmul, cuda-tf32     arel 2e-3 (inputs rounded to 10 mantissa bits)
//   cuda-bf16 weights     the host on the operands as the GPU reads them (weights, bias,
//                         the products' operands rounded to bf16): matmul as fp32;
//                         embedding exact; RMSNorm as fp32; the weights that AdamW and
//                         weights_from_params write: the parameters rounded, bitwise
//   cuda-bf16 product     rmsnorm, swiglu, attention and attention_decode write bf16: the
//   inputs                fp32 tolerance with rtol 4e-3 (the rounding adds at most 2^-8
//                         relative); the attention backward reads the GPU's bf16 out
//   rmsnorm, swiglu, rope rtol 1e-5, arel 1e-6   (reduction order, expf/sqrtf ulps)
//   attention             rtol 1e-4, arel 1e-5 forward (lse 1e-5); backward arel 1e-4
//   attention, cuda-bf16  tensor cores: the host gets q, k, v, dout rounded to bf16 as the
//                         products do; arel 4e-3 out, 1e-4 lse, 6e-3 dqkv (P and dS enter
//                         products in bf16; the emulation's worst: 1.4e-3, <1e-5, 2.5e-3)
//   cross-entropy         rtol 1e-5, arel 1e-6, in vocabulary chunks too (chunked on
//                         both); one chunk of V: the GPU's whole-row functions, bitwise
//   sum_squares           rtol 1e-10             (both in double, different orders)
//   KV cache, cuda-bf16   the cache's bits the host's values rounded to bf16; attention_decode
//                         over them as for fp32
//   argmax_logprob        the argmax exact; the log-prob 1e-14 x (|max| + 1) (double sums)
//   sampling_candidates   the same candidates (top-p, top-k) and logits; z 1e-12 relative,
//                         lse1 1e-14 x (|max| + 1) (double sums in another order)
//   temperature_draws     the same tokens; the log-prob 1e-14 x (|max| + 1)
//   AdamW                 rtol 1e-5, arel 1e-6   (fused multiply-adds on the GPU)
// Determinism is checked bitwise: the same call twice on the GPU, and a sequence's
// attention whatever the other sequences of the batch.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../base/rng.h"
#include "../../kernels/kernels.h"
#include "../bf16.h"
#include "../sampling_rows.h"
#include "../test.h"

// kernels/cuda/: the same backend with tf32 / bf16 tensor-core matmuls.
const Kernels *kernels_cuda_tf32_get(void);
const Kernels *kernels_cuda_bf16_get(void);

static const Kernels *host, *gpu;  // host: kernels_ref, then kernels_cpu
static Rng rng;

// ---- helpers ------------------------------------------------------------------------------

static float *rand_floats(size_t n, float lo, float hi) {
    float *a = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng_float(&rng);
    return a;
}

static int *rand_ints(size_t n, int lo, int hi) {  // in [lo, hi]
    int *a = malloc((n ? n : 1) * sizeof(int));
    for (size_t i = 0; i < n; i++) a[i] = lo + (int)rng_below(&rng, (uint64_t)(hi - lo + 1));
    return a;
}

static void *clone(const void *a, size_t bytes) {
    void *b = malloc(bytes ? bytes : 1);
    memcpy(b, a, bytes);
    return b;
}

// A GPU copy of host memory.
static void *up(const void *host, size_t bytes) {
    void *d = gpu->alloc(bytes);
    if (!d) {
        fprintf(stderr, "out of GPU memory\n");
        exit(1);
    }
    gpu->upload(d, host, bytes);
    return d;
}

// Host copy of GPU memory; frees the GPU buffer.
static float *down(void *d, size_t n) {
    float *h = malloc((n ? n : 1) * sizeof(float));
    gpu->download(h, d, n * sizeof(float));
    gpu->free(d);
    return h;
}

// One CHECK: every element within rtol * |want| + arel * max|want|.
static void expect_close(const char *what, const float *got, const float *want, size_t n,
                         double rtol, double arel) {
    double maxabs = 0.0;
    for (size_t i = 0; i < n; i++) maxabs = fmax(maxabs, fabs(want[i]));
    size_t worst = 0;
    double worst_excess = -1.0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]), tol = rtol * fabs(want[i]) + arel * maxabs;
        if (!(err <= tol)) bad++;  // NaN counts as bad
        double excess = isnan(err) ? INFINITY : err - tol;
        if (excess > worst_excess) worst_excess = excess, worst = i;
    }
    CHECK(bad == 0, "%s vs %s: %d of %zu elements off; worst [%zu] gpu %.9g host %.9g "
          "(max|host| %g)", what, host->name, bad, n, worst, n ? got[worst] : 0.0,
          n ? want[worst] : 0.0, maxabs);
}

static void expect_same(const char *what, const void *a, const void *b, size_t bytes) {
    CHECK(memcmp(a, b, bytes) == 0, "%s vs %s: not bitwise equal", what, host->name);
}

static float *rounded_bf16(const float *x, size_t n) {
    float *r = malloc((n ? n : 1) * 4);
    for (size_t i = 0; i < n; i++) r[i] = isnan(x[i]) ? x[i] : round_bf16(x[i]);
    return r;
}

// n floats on the device as elements of `bytes` (4: float; 2: bf16 bits, rounded), as the
// weights or a KV cache hold them; and back, widened to floats (the device's copy kept).
static void *elems_up(const float *x, size_t n, int bytes) {
    if (bytes == 4) return up(x, n * 4);
    uint16_t *b = malloc((n ? n : 1) * 2);
    for (size_t i = 0; i < n; i++) b[i] = bf16_bits(x[i]);
    void *d = up(b, n * 2);
    free(b);
    return d;
}
static float *elems_down(const void *d, size_t n, int bytes) {
    float *x = malloc((n ? n : 1) * 4);
    if (bytes == 4) {
        gpu->download(x, d, n * 4);
        return x;
    }
    uint16_t *b = malloc((n ? n : 1) * 2);
    gpu->download(b, d, n * 2);
    for (size_t i = 0; i < n; i++) x[i] = bf16_float(b[i]);
    free(b);
    return x;
}

// What the host computes with for an operand the GPU table reads in bf16 (its weights, and
// the operands of their products): x rounded to bf16; fp32: x itself (a copy).
// rtol of a product input the GPU writes: fp32's, or with bf16 elements 4e-3 (rounding to
// nearest adds at most 2^-8 relative).
static double act_rtol(double fp32_rtol) { return gpu->act_elem_bytes == 2 ? 4e-3 : fp32_rtol; }
static float *as_gpu_reads(const float *x, size_t n, int bf16) {
    return bf16 ? rounded_bf16(x, n) : clone(x, (n ? n : 1) * 4);
}

// ---- memory -------------------------------------------------------------------------------

static void test_memory(void) {
    size_t n = 1000003;
    float *z = calloc(n, sizeof(float)), *a = rand_floats(n, -1, 1);
    float *d = gpu->alloc(n * sizeof(float));
    float *h = down(d, n);
    expect_same("alloc is zero-filled", h, z, n * sizeof(float));
    free(h);
    d = up(a, n * sizeof(float));
    float *e = gpu->alloc(n * sizeof(float));
    gpu->copy(e, d, n * sizeof(float));
    gpu->zero(d, 17 * sizeof(float));
    h = down(e, n);
    expect_same("upload, copy, download", h, a, n * sizeof(float));
    free(h);
    h = down(d, n);
    CHECK(memcmp(h, z, 17 * sizeof(float)) == 0 && memcmp(h + 17, a + 17, (n - 17) * 4) == 0,
          "zero clears exactly its bytes");
    free(h), free(a), free(z);
}

// ---- matmul -------------------------------------------------------------------------------

// Matmul on the GPU table `gpu` within rtol, arel of the host's. With bf16 weights the
// host computes on the operands as the GPU reads them (w, bias and every product's
// operands rounded to bf16), so the tolerance bounds the order of the fp32 sums only.
static void test_matmul_tol(int N, int C, int OC, int with_bias, double rtol, double arel) {
    char what[128];
    int wb = gpu->weight_elem_bytes, bf16 = wb == 2;
    float *inp = rand_floats((size_t)N * C, -1, 1), *w = rand_floats((size_t)OC * C, -1, 1);
    float *bias = with_bias ? rand_floats(OC, -1, 1) : NULL;
    float *out = rand_floats((size_t)N * OC, -9, 9);
    float *h_inp = as_gpu_reads(inp, (size_t)N * C, bf16), *h_w = as_gpu_reads(w, (size_t)OC * C, bf16);
    float *h_bias = bias ? as_gpu_reads(bias, OC, bf16) : NULL;
    void *d_inp = elems_up(inp, (size_t)N * C, gpu->act_elem_bytes);
    void *d_w = elems_up(w, (size_t)OC * C, wb), *d_bias = bias ? elems_up(bias, OC, wb) : NULL;
    float *d_out = up(out, (size_t)N * OC * 4);
    host->matmul_forward(out, h_inp, h_w, h_bias, N, C, OC);
    gpu->matmul_forward(d_out, d_inp, d_w, d_bias, N, C, OC);
    float *g_out = down(d_out, (size_t)N * OC);
    snprintf(what, sizeof what, "%s matmul_forward N=%d C=%d OC=%d bias=%d", gpu->name, N, C, OC,
             with_bias);
    expect_close(what, g_out, out, (size_t)N * OC, rtol, arel);

    // backward: dinp overwritten (starts as garbage), dw and dbias accumulate
    float *dout = rand_floats((size_t)N * OC, -1, 1);
    float *dinp = rand_floats((size_t)N * C, -9, 9), *dw = rand_floats((size_t)OC * C, -1, 1);
    float *dbias = rand_floats(OC, -1, 1);
    float *d_dout = up(dout, (size_t)N * OC * 4), *d_dinp = up(dinp, (size_t)N * C * 4);
    float *d_dw = up(dw, (size_t)OC * C * 4), *d_dbias = up(dbias, OC * 4);
    float *h_dout = as_gpu_reads(dout, (size_t)N * OC, bf16);
    host->matmul_backward(dinp, dw, NULL, h_dout, h_inp, h_w, N, C, OC);
    host->matmul_backward(NULL, NULL, with_bias ? dbias : NULL, dout, inp, w, N, C, OC);
    gpu->matmul_backward(d_dinp, d_dw, with_bias ? d_dbias : NULL, d_dout, d_inp, d_w, N, C, OC);
    float *g_dinp = down(d_dinp, (size_t)N * C), *g_dw = down(d_dw, (size_t)OC * C);
    float *g_dbias = down(d_dbias, OC);
    snprintf(what, sizeof what, "%s matmul_backward dinp N=%d C=%d OC=%d", gpu->name, N, C, OC);
    expect_close(what, g_dinp, dinp, (size_t)N * C, rtol, arel);
    snprintf(what, sizeof what, "%s matmul_backward dw N=%d C=%d OC=%d", gpu->name, N, C, OC);
    expect_close(what, g_dw, dw, (size_t)OC * C, rtol, arel);
    snprintf(what, sizeof what, "matmul_backward dbias N=%d OC=%d (untouched when NULL)", N, OC);
    expect_close(what, g_dbias, dbias, OC, 1e-5, 1e-6);  // a column sum, fp32 in every table
    // dw only: dinp may be NULL
    float *d_dw2 = up(dw, (size_t)OC * C * 4);
    gpu->matmul_backward(NULL, d_dw2, NULL, d_dout, d_inp, d_w, N, C, OC);
    host->matmul_backward(NULL, dw, NULL, h_dout, h_inp, h_w, N, C, OC);
    float *g_dw2 = down(d_dw2, (size_t)OC * C);
    snprintf(what, sizeof what, "%s matmul_backward dw only N=%d C=%d OC=%d", gpu->name, N, C,
             OC);
    expect_close(what, g_dw2, dw, (size_t)OC * C, rtol, arel);

    gpu->free(d_inp), gpu->free(d_w), gpu->free(d_dout);
    if (d_bias) gpu->free(d_bias);
    free(inp), free(w), free(bias), free(out), free(g_out), free(dout), free(dinp), free(dw);
    free(dbias), free(g_dinp), free(g_dw), free(g_dbias), free(g_dw2);
    free(h_inp), free(h_w), free(h_bias), free(h_dout);
}

static void test_matmul(int N, int C, int OC, int with_bias) {
    test_matmul_tol(N, C, OC, with_bias, 1e-4, 1e-5);
}

// ---- embedding ----------------------------------------------------------------------------

static void test_embedding(int N, int C, int V) {
    char what[96];
    float *wte = rand_floats((size_t)V * C, -1, 1), *out = malloc((size_t)N * C * 4);
    int *tok = rand_ints(N, 0, V - 1);  // V small: many repeats
    float *h_wte = as_gpu_reads(wte, (size_t)V * C, gpu->weight_elem_bytes == 2);
    void *d_wte = elems_up(wte, (size_t)V * C, gpu->weight_elem_bytes);
    float *d_out = gpu->alloc((size_t)N * C * 4);
    int *d_tok = up(tok, N * sizeof(int));
    host->embedding_forward(out, tok, h_wte, N, C);
    gpu->embedding_forward(d_out, d_tok, d_wte, N, C);
    float *g_out = down(d_out, (size_t)N * C);
    snprintf(what, sizeof what, "%s embedding_forward N=%d C=%d", gpu->name, N, C);
    expect_same(what, g_out, out, (size_t)N * C * 4);

    float *dout = rand_floats((size_t)N * C, -1, 1), *dwte = rand_floats((size_t)V * C, -1, 1);
    float *d_dout = up(dout, (size_t)N * C * 4), *d_dwte = up(dwte, (size_t)V * C * 4);
    host->embedding_backward(dwte, dout, tok, N, C);
    gpu->embedding_backward(d_dwte, d_dout, d_tok, N, C);
    float *g_dwte = down(d_dwte, (size_t)V * C);
    snprintf(what, sizeof what, "embedding_backward N=%d C=%d V=%d (bitwise)", N, C, V);
    expect_same(what, g_dwte, dwte, (size_t)V * C * 4);
    gpu->free(d_wte), gpu->free(d_tok), gpu->free(d_dout);
    free(wte), free(h_wte), free(out), free(tok), free(g_out), free(dout), free(dwte), free(g_dwte);
}

// ---- RMSNorm ------------------------------------------------------------------------------

static void test_rmsnorm(int N, int C) {
    char what[96];
    float *inp = rand_floats((size_t)N * C, -2, 2), *w0 = rand_floats(C, 0.5f, 1.5f);
    float *w = as_gpu_reads(w0, C, gpu->weight_elem_bytes == 2);  // the host's weights
    float *out = malloc((size_t)N * C * 4), *rstd = malloc(N * 4);
    float *d_inp = up(inp, (size_t)N * C * 4);
    void *d_w = elems_up(w0, C, gpu->weight_elem_bytes);
    float *d_out = gpu->alloc((size_t)N * C * 4), *d_rstd = gpu->alloc(N * 4);
    host->rmsnorm_forward(out, rstd, inp, w, 1e-5f, N, C);
    gpu->rmsnorm_forward(d_out, d_rstd, d_inp, d_w, 1e-5f, N, C);
    float *g_out = elems_down(d_out, (size_t)N * C, gpu->act_elem_bytes), *g_rstd = down(d_rstd, N);
    snprintf(what, sizeof what, "rmsnorm_forward rstd N=%d C=%d", N, C);
    expect_close(what, g_rstd, rstd, N, 1e-5, 1e-6);
    snprintf(what, sizeof what, "%s rmsnorm_forward out N=%d C=%d", gpu->name, N, C);
    expect_close(what, g_out, out, (size_t)N * C, act_rtol(1e-5), 1e-6);

    // backward: dinp and dw accumulate into what they hold
    float *dout = rand_floats((size_t)N * C, -1, 1), *dinp = rand_floats((size_t)N * C, -1, 1);
    float *dw = rand_floats(C, -1, 1);
    float *d_dout = up(dout, (size_t)N * C * 4), *d_dinp = up(dinp, (size_t)N * C * 4);
    float *d_dw = up(dw, C * 4);
    d_rstd = up(rstd, N * 4);  // the host's, so only the backward is compared
    host->rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N, C);
    gpu->rmsnorm_backward(d_dinp, d_dw, d_dout, d_inp, d_w, d_rstd, N, C);
    float *g_dinp = down(d_dinp, (size_t)N * C), *g_dw = down(d_dw, C);
    snprintf(what, sizeof what, "%s rmsnorm_backward dinp (+=) N=%d C=%d", gpu->name, N, C);
    expect_close(what, g_dinp, dinp, (size_t)N * C, 1e-5, 1e-6);
    snprintf(what, sizeof what, "rmsnorm_backward dw (+=) N=%d C=%d", N, C);
    expect_close(what, g_dw, dw, C, 1e-5, 1e-6);
    gpu->free(d_inp), gpu->free(d_w), gpu->free(d_out), gpu->free(d_rstd), gpu->free(d_dout);
    free(inp), free(w0), free(w), free(out), free(rstd), free(g_out), free(g_rstd), free(dout);
    free(dinp), free(dw);
    free(g_dinp), free(g_dw);
}

// ---- RoPE ---------------------------------------------------------------------------------

static void test_rope(int N, int n_heads, int D, int extra, float theta) {
    char what[96];
    int stride = n_heads * D + extra;  // columns past the heads must stay untouched
    size_t n = (size_t)N * stride;
    float *x = rand_floats(n, -1, 1), *x0 = clone(x, n * 4);
    int *pos = rand_ints(N, 0, 5000);
    float *d_x = up(x, n * 4);
    int *d_pos = up(pos, N * sizeof(int));
    host->rope_forward(x, pos, N, stride, n_heads, D, theta);
    gpu->rope_forward(d_x, d_pos, N, stride, n_heads, D, theta);
    float *g_x = malloc(n * 4);
    gpu->download(g_x, d_x, n * 4);
    snprintf(what, sizeof what, "rope_forward N=%d heads=%d D=%d theta=%g", N, n_heads, D, theta);
    expect_close(what, g_x, x, n, 1e-5, 1e-6);
    int untouched = 1;
    for (int r = 0; r < N; r++)
        for (int c = n_heads * D; c < stride; c++)
            untouched &= g_x[(size_t)r * stride + c] == x0[(size_t)r * stride + c];
    CHECK(untouched, "rope_forward leaves the columns past n_heads*D alone");
    host->rope_backward(x, pos, N, stride, n_heads, D, theta);
    gpu->rope_backward(d_x, d_pos, N, stride, n_heads, D, theta);
    free(g_x);
    g_x = down(d_x, n);
    snprintf(what, sizeof what, "rope_backward N=%d heads=%d D=%d", N, n_heads, D);
    expect_close(what, g_x, x, n, 1e-5, 1e-6);
    expect_close("rope_backward undoes rope_forward", g_x, x0, n, 1e-4, 1e-5);
    gpu->free(d_pos);
    free(x), free(x0), free(pos), free(g_x);
}

// ---- attention ----------------------------------------------------------------------------

// Random qkv with NaN in every padding row: a backend that reads padding fails loudly.
static float *attention_input(int B, int T, int W, const int *lens, float lo, float hi) {
    float *a = rand_floats((size_t)B * T * W, lo, hi);
    for (int b = 0; b < B; b++)
        for (int t = lens[b]; t < T; t++)
            for (int c = 0; c < W; c++) a[((size_t)b * T + t) * W + c] = NAN;
    return a;
}

// Tolerances of one table's attention (arel of forward out, lse, backward dqkv; rtol 1e-4
// forward). bf16_inputs: the host sees q, k, v and dout rounded to bf16 as the kernels'
// products do, so the tolerances bound what the kernels add (P and dS rounded, fp32 sums).
typedef struct {
    double out, lse, dqkv;
    int bf16_inputs;
} AttentionTol;
static const AttentionTol fp32_attention = {1e-5, 1e-5, 1e-4, 0};

static void test_attention_tol(int B, int T, int H, int KV, int D, const int *lens,
                               AttentionTol tol) {
    char what[128];
    int W = (H + 2 * KV) * D;
    size_t nq = (size_t)B * T * W, no = (size_t)B * T * H * D, nl = (size_t)B * T * H;
    float *qkv = attention_input(B, T, W, lens, -2, 2);
    float *out = malloc(no * 4), *lse = malloc(nl * 4);
    float *d_qkv = up(qkv, nq * 4), *d_out = gpu->alloc(no * 4), *d_lse = gpu->alloc(nl * 4);
    int *d_lens = up(lens, B * sizeof(int));
    float *host_qkv = tol.bf16_inputs ? rounded_bf16(qkv, nq) : qkv;
    host->attention_forward(out, lse, host_qkv, lens, B, T, H, KV, D);
    gpu->attention_forward(d_out, d_lse, d_qkv, d_lens, B, T, H, KV, D);
    float *g_out = elems_down(d_out, no, gpu->act_elem_bytes), *g_lse = malloc(nl * 4);
    gpu->download(g_lse, d_lse, nl * 4);
    snprintf(what, sizeof what, "%s attention_forward out B=%d T=%d H=%d KV=%d D=%d", gpu->name,
             B, T, H, KV, D);
    expect_close(what, g_out, out, no, act_rtol(1e-4), tol.out);
    snprintf(what, sizeof what, "%s attention_forward lse B=%d T=%d H=%d KV=%d D=%d", gpu->name,
             B, T, H, KV, D);
    expect_close(what, g_lse, lse, nl, 1e-5, tol.lse);

    // The first sequence alone gives bitwise the same rows as inside the batch.
    if (B > 1) {
        int *d_len1 = up(lens, sizeof(int));
        float *d_o1 = gpu->alloc((size_t)T * H * D * 4), *d_l1 = gpu->alloc((size_t)T * H * 4);
        gpu->attention_forward(d_o1, d_l1, d_qkv, d_len1, 1, T, H, KV, D);
        float *o1 = elems_down(d_o1, (size_t)T * H * D, gpu->act_elem_bytes);
        snprintf(what, sizeof what, "%s attention_forward B=%d: sequence 0 alone, bitwise",
                 gpu->name, B);
        expect_same(what, o1, g_out, (size_t)T * H * D * 4);
        gpu->free(d_len1), gpu->free(d_o1), gpu->free(d_l1);
        free(o1);
    }

    // backward: dqkv overwritten (starts as garbage); dout NaN at padding rows
    float *dout = attention_input(B, T, H * D, lens, -1, 1);
    float *dqkv = rand_floats(nq, -9, 9);
    float *d_dout = up(dout, no * 4), *d_dqkv = up(dqkv, nq * 4);
    float *host_dout = tol.bf16_inputs ? rounded_bf16(dout, no) : dout;
    // the out the GPU reads: bf16 product inputs are the GPU's own
    const float *host_out = gpu->act_elem_bytes == 2 ? g_out : out;
    host->attention_backward(dqkv, host_dout, host_qkv, host_out, lse, lens, B, T, H, KV, D);
    gpu->attention_backward(d_dqkv, d_dout, d_qkv, d_out, d_lse, d_lens, B, T, H, KV, D);
    float *g_dqkv = malloc(nq * 4);
    gpu->download(g_dqkv, d_dqkv, nq * 4);
    snprintf(what, sizeof what, "%s attention_backward dqkv B=%d T=%d H=%d KV=%d D=%d", gpu->name,
             B, T, H, KV, D);
    expect_close(what, g_dqkv, dqkv, nq, 1e-4, tol.dqkv);
    gpu->zero(d_dqkv, nq * 4);
    gpu->attention_backward(d_dqkv, d_dout, d_qkv, d_out, d_lse, d_lens, B, T, H, KV, D);
    float *g_dqkv2 = down(d_dqkv, nq);
    snprintf(what, sizeof what, "%s attention_backward twice, bitwise B=%d T=%d", gpu->name, B,
             T);
    expect_same(what, g_dqkv2, g_dqkv, nq * 4);

    gpu->free(d_qkv), gpu->free(d_out), gpu->free(d_lse), gpu->free(d_lens), gpu->free(d_dout);
    free(qkv), free(out), free(lse), free(g_out), free(g_lse), free(dout), free(dqkv);
    free(g_dqkv), free(g_dqkv2);
    if (tol.bf16_inputs) free(host_qkv), free(host_dout);
}

static void test_attention(int B, int T, int H, int KV, int D, const int *lens) {
    test_attention_tol(B, T, H, KV, D, lens, fp32_attention);
}

// ---- KV cache -----------------------------------------------------------------------------

// n_slots slots of max_T positions: a prefill of P positions into slot 0, then a step
// of one token per slot at a later position, the odd slots reading positions 0..P-1 from
// slot 0 (a shared prompt). With a bf16 cache the host's cache is rounded to bf16 after
// each write: the GPU's must hold those bits, and attend over them as the host does.
static void test_decode(int n_slots, int max_T, int H, int KV, int D, int P) {
    char what[128];
    int W = (H + 2 * KV) * D, bf16 = gpu->kv_elem_bytes == 2;
    size_t nc = (size_t)n_slots * max_T * KV * D;
    float *kc = rand_floats(nc, -1, 1), *vc = rand_floats(nc, -1, 1);
    void *d_kc = elems_up(kc, nc, gpu->kv_elem_bytes), *d_vc = elems_up(vc, nc, gpu->kv_elem_bytes);
    int rounds[2] = {P, n_slots};  // tokens in the prefill, then in the step
    for (int round = 0; round < 2; round++) {
        int N = rounds[round];
        int *slots = malloc(N * sizeof(int)), *pos = malloc(N * sizeof(int));
        int *pslots = calloc(N, sizeof(int)), *plens = calloc(N, sizeof(int));
        for (int n = 0; n < N; n++) {
            slots[n] = round == 0 ? 0 : n;
            pos[n] = round == 0 ? n : P + (int)rng_below(&rng, (uint64_t)(max_T - P));
            plens[n] = round == 1 && n % 2 ? P : 0;
        }
        float *qkv = rand_floats((size_t)N * W, -2, 2), *out = malloc((size_t)N * H * D * 4);
        float *d_qkv = up(qkv, (size_t)N * W * 4), *d_out = gpu->alloc((size_t)N * H * D * 4);
        int *d_slots = up(slots, N * sizeof(int)), *d_pos = up(pos, N * sizeof(int));
        int *d_pslots = up(pslots, N * sizeof(int)), *d_plens = up(plens, N * sizeof(int));
        host->kv_cache_write(kc, vc, qkv, slots, pos, N, H, KV, D, max_T);
        for (size_t i = 0; bf16 && i < nc; i++) kc[i] = round_bf16(kc[i]), vc[i] = round_bf16(vc[i]);
        gpu->kv_cache_write(d_kc, d_vc, d_qkv, d_slots, d_pos, N, H, KV, D, max_T);
        host->attention_decode(out, qkv, kc, vc, slots, pos, pslots, plens, N, H, KV, D, max_T);
        gpu->attention_decode(d_out, d_qkv, d_kc, d_vc, d_slots, d_pos, d_pslots, d_plens, N, H, KV, D,
                              max_T);
        float *g_out = elems_down(d_out, (size_t)N * H * D, gpu->act_elem_bytes),
              *g_kc = elems_down(d_kc, nc, gpu->kv_elem_bytes),
              *g_vc = elems_down(d_vc, nc, gpu->kv_elem_bytes);
        snprintf(what, sizeof what, "%s kv_cache_write N=%d H=%d KV=%d D=%d (bitwise)", gpu->name, N, H, KV, D);
        expect_same(what, g_kc, kc, nc * 4);
        expect_same(what, g_vc, vc, nc * 4);
        snprintf(what, sizeof what, "%s attention_decode N=%d H=%d KV=%d D=%d%s", gpu->name, N, H, KV, D,
                 round ? " (shared prompt)" : "");
        expect_close(what, g_out, out, (size_t)N * H * D, act_rtol(1e-4), 1e-5);
        gpu->free(d_qkv), gpu->free(d_out), gpu->free(d_slots), gpu->free(d_pos), gpu->free(d_pslots);
        gpu->free(d_plens);
        free(slots), free(pos), free(pslots), free(plens), free(qkv), free(out), free(g_out), free(g_kc);
        free(g_vc);
    }
    gpu->free(d_kc), gpu->free(d_vc);
    free(kc), free(vc);
}

// ---- SwiGLU, add --------------------------------------------------------------------------

static void test_swiglu(int N, int I) {
    char what[96];
    size_t n = (size_t)N * I;
    float *gu = rand_floats(2 * n, -4, 4), *out = malloc(n * 4), *dout = rand_floats(n, -1, 1);
    float *dgu = rand_floats(2 * n, -9, 9);
    float *d_gu = up(gu, 2 * n * 4), *d_out = gpu->alloc(n * 4), *d_dout = up(dout, n * 4);
    float *d_dgu = up(dgu, 2 * n * 4);
    host->swiglu_forward(out, gu, N, I);
    gpu->swiglu_forward(d_out, d_gu, N, I);
    host->swiglu_backward(dgu, dout, gu, N, I);
    gpu->swiglu_backward(d_dgu, d_dout, d_gu, N, I);
    float *g_out = elems_down(d_out, n, gpu->act_elem_bytes), *g_dgu = down(d_dgu, 2 * n);
    snprintf(what, sizeof what, "%s swiglu_forward N=%d I=%d", gpu->name, N, I);
    expect_close(what, g_out, out, n, act_rtol(1e-5), 1e-6);
    snprintf(what, sizeof what, "swiglu_backward N=%d I=%d", N, I);
    expect_close(what, g_dgu, dgu, 2 * n, 1e-5, 1e-6);
    gpu->free(d_gu), gpu->free(d_out), gpu->free(d_dout);
    free(gu), free(out), free(dout), free(dgu), free(g_out), free(g_dgu);
}

static void test_add(size_t n) {
    float *a = rand_floats(n, -1, 1), *b = rand_floats(n, -1, 1), *out = malloc(n * 4);
    float *d_a = up(a, n * 4), *d_b = up(b, n * 4);
    host->add(out, a, b, n);
    gpu->add(d_a, d_a, d_b, n);  // out aliasing a
    float *g = down(d_a, n);
    expect_same("add (out aliases a), bitwise", g, out, n * 4);
    gpu->free(d_b);
    free(a), free(b), free(out), free(g);
}

// ---- cross-entropy ------------------------------------------------------------------------

static void test_crossentropy(int N, int V) {
    char what[96];
    size_t n = (size_t)N * V;
    float *logits = rand_floats(n, -8, 8), *w = rand_floats(N, 0, 2);
    int *tgt = rand_ints(N, 0, V - 1);
    for (int i = 0; i < N; i += 5) tgt[i] = -1;  // ignored rows
    for (int i = 2; i < N; i += 7) w[i] = 0.0f;  // zero weight
    float *lp = malloc(N * 4), *lse = malloc(N * 4), *dl = malloc(n * 4);
    float *d_logits = up(logits, n * 4), *d_w = up(w, N * 4), *d_lp = gpu->alloc(N * 4);
    float *d_lse = gpu->alloc(N * 4);
    int *d_tgt = up(tgt, N * sizeof(int));
    host->crossentropy_forward(lp, lse, logits, tgt, N, V);
    gpu->crossentropy_forward(d_lp, d_lse, d_logits, d_tgt, N, V);
    float *g_lp = down(d_lp, N), *g_lse = malloc(N * 4);
    gpu->download(g_lse, d_lse, N * 4);
    snprintf(what, sizeof what, "crossentropy_forward logprob N=%d V=%d", N, V);
    expect_close(what, g_lp, lp, N, 1e-5, 1e-6);
    snprintf(what, sizeof what, "crossentropy_forward lse N=%d V=%d", N, V);
    expect_close(what, g_lse, lse, N, 1e-5, 1e-6);
    host->crossentropy_backward(dl, logits, lse, tgt, w, N, V);
    gpu->crossentropy_backward(d_logits, d_logits, d_lse, d_tgt, d_w, N, V);  // in place
    float *g_dl = down(d_logits, n);
    snprintf(what, sizeof what, "crossentropy_backward in place N=%d V=%d", N, V);
    expect_close(what, g_dl, dl, n, 1e-5, 1e-6);
    gpu->free(d_w), gpu->free(d_lse), gpu->free(d_tgt);
    free(logits), free(w), free(tgt), free(lp), free(lse), free(dl), free(g_lp), free(g_lse);
    free(g_dl);
}

// Columns [v0, v0 + n) of x[N, V] into chunk[N, n], or back (to_full).
static void columns(float *x, float *chunk, int N, int V, int v0, int n, int to_full) {
    for (int i = 0; i < N; i++) {
        float *full = x + (size_t)i * V + v0, *c = chunk + (size_t)i * n;
        memcpy(to_full ? full : c, to_full ? c : full, n * sizeof(float));
    }
}

// The cross-entropy of host logits[N, V] in chunks of Vc on K (host or gpu: each chunk
// staged through backend memory): the forward's logprob, lse (host), then dl[N, V] from
// the chunks' gradients (in place) at that lse.
static void chunked_ce(const Kernels *K, float *lp, float *lse, float *dl, float *logits,
                       const int *tgt, const float *w, int N, int V, int Vc) {
    float *chunk = malloc((size_t)N * Vc * 4), *d_chunk = K->alloc((size_t)N * Vc * 4);
    float *d_lp = K->alloc(N * 4), *d_lse = K->alloc(N * 4), *d_sum = K->alloc(N * 4);
    float *d_w = K->alloc(N * 4);
    int *d_tgt = K->alloc(N * sizeof(int));
    K->upload(d_tgt, tgt, N * sizeof(int));
    K->upload(d_w, w, N * 4);
    for (int pass = 0; pass < 2; pass++)  // forward, backward
        for (int v0 = 0; v0 < V; v0 += Vc) {
            int n = V - v0 < Vc ? V - v0 : Vc;
            columns(logits, chunk, N, V, v0, n, 0);
            K->upload(d_chunk, chunk, (size_t)N * n * 4);
            if (pass == 0) {
                K->crossentropy_chunk_forward(d_lp, d_lse, d_sum, d_chunk, d_tgt, N, V, v0, n);
                continue;
            }
            K->crossentropy_chunk_backward(d_chunk, d_chunk, d_lse, d_tgt, d_w, N, v0, n);
            K->download(chunk, d_chunk, (size_t)N * n * 4);
            columns(dl, chunk, N, V, v0, n, 1);
        }
    K->download(lp, d_lp, N * 4);
    K->download(lse, d_lse, N * 4);
    K->free(d_chunk), K->free(d_lp), K->free(d_lse), K->free(d_sum), K->free(d_w), K->free(d_tgt);
    free(chunk);
}

// In chunks of Vc, the GPU against the host in chunks, under cross-entropy's tolerances;
// one chunk of V: the GPU's whole-row functions bit for bit.
static void test_crossentropy_chunks(int N, int V, int Vc) {
    char what[96];
    size_t n = (size_t)N * V;
    float *logits = rand_floats(n, -8, 8), *w = rand_floats(N, 0, 2);
    int *tgt = rand_ints(N, 0, V - 1);
    for (int i = 0; i < N; i += 5) tgt[i] = -1;
    for (int i = 2; i < N; i += 7) w[i] = 0.0f;
    float *lp[2], *lse[2], *dl[2];  // [host, gpu]
    for (int k = 0; k < 2; k++) {
        lp[k] = malloc(N * 4), lse[k] = malloc(N * 4), dl[k] = malloc(n * 4);
        chunked_ce(k ? gpu : host, lp[k], lse[k], dl[k], logits, tgt, w, N, V, Vc);
    }
    snprintf(what, sizeof what, "crossentropy_chunk_forward logprob N=%d V=%d Vc=%d", N, V, Vc);
    expect_close(what, lp[1], lp[0], N, 1e-5, 1e-6);
    snprintf(what, sizeof what, "crossentropy_chunk_forward lse N=%d V=%d Vc=%d", N, V, Vc);
    expect_close(what, lse[1], lse[0], N, 1e-5, 1e-6);
    snprintf(what, sizeof what, "crossentropy_chunk_backward N=%d V=%d Vc=%d", N, V, Vc);
    expect_close(what, dl[1], dl[0], n, 1e-5, 1e-6);
    if (Vc >= V) {  // the whole-row functions on the GPU
        float *d_logits = up(logits, n * 4), *d_w = up(w, N * 4), *d_lp = gpu->alloc(N * 4);
        float *d_lse = gpu->alloc(N * 4);
        int *d_tgt = up(tgt, N * sizeof(int));
        gpu->crossentropy_forward(d_lp, d_lse, d_logits, d_tgt, N, V);
        gpu->crossentropy_backward(d_logits, d_logits, d_lse, d_tgt, d_w, N, V);
        float *g_lp = down(d_lp, N), *g_lse = down(d_lse, N), *g_dl = down(d_logits, n);
        snprintf(what, sizeof what, "crossentropy_chunk_* one chunk of V=%d == whole rows", V);
        CHECK(!memcmp(g_lp, lp[1], N * 4) && !memcmp(g_lse, lse[1], N * 4) &&
                  !memcmp(g_dl, dl[1], n * 4), "%s", what);
        gpu->free(d_w), gpu->free(d_tgt);
        free(g_lp), free(g_lse), free(g_dl);
    }
    for (int k = 0; k < 2; k++) free(lp[k]), free(lse[k]), free(dl[k]);
    free(logits), free(w), free(tgt);
}

// ---- greedy decoding ----------------------------------------------------------------------
// The first V of ld columns; a tie for the max in row 0 (the lower column wins); the same
// argmax as the host's, the log-prob within double rounding at the max's scale.
static void test_argmax_logprob(int N, int V, int ld) {
    float *logits = rand_floats((size_t)N * ld, -4, 4);
    for (int n = 0; n < N; n++) logits[(size_t)n * ld + V - 1] = 9.0f + (float)n;
    for (int j = V; j < ld; j++) logits[j] = 100.0f;  // past V: never read
    logits[V / 2] = logits[V - 1];
    float *d = up(logits, (size_t)N * ld * 4);
    int *am = malloc(N * sizeof(int)), *g_am = malloc(N * sizeof(int));
    double *lp = malloc(N * sizeof(double)), *g_lp = malloc(N * sizeof(double));
    host->argmax_logprob(am, lp, logits, N, V, ld);
    gpu->argmax_logprob(g_am, g_lp, d, N, V, ld);
    int bad = 0;
    for (int n = 0; n < N; n++) {
        double scale = fabs(logits[(size_t)n * ld + V - 1]) + 1;
        bad += g_am[n] != am[n] || !(fabs(g_lp[n] - lp[n]) <= 1e-14 * scale);
    }
    CHECK(bad == 0, "argmax_logprob N=%d V=%d ld=%d vs %s: %d rows off", N, V, ld, host->name, bad);
    gpu->free(d);
    free(logits), free(am), free(g_am), free(lp), free(g_lp);
}

// ---- top-p and top-k sampling's candidates -------------------------------------------------
// The rows of sampling_rows.h (the flat one: the packed output at its largest).
static void test_sampling_candidates(int N, int V, int ld) {
    float *logits = rand_floats((size_t)N * ld, -4, 4);
    double *inv_t = malloc(N * sizeof(double)), *cut = malloc(N * sizeof(double));
    int *top_k = malloc(N * sizeof(int));
    sampling_rows(logits, inv_t, cut, top_k, N, V, ld);
    float *d = up(logits, (size_t)N * ld * 4);
    int *count[2], *ids[2];
    float *cand[2];
    double *z[2], *lse1[2];
    for (int b = 0; b < 2; b++) {
        count[b] = malloc(N * sizeof(int)), ids[b] = malloc((size_t)N * ld * sizeof(int));
        cand[b] = malloc((size_t)N * ld * sizeof(float));
        z[b] = malloc(N * sizeof(double)), lse1[b] = malloc(N * sizeof(double));
    }
    host->sampling_candidates(count[0], ids[0], cand[0], z[0], lse1[0], logits, inv_t, cut, top_k, N, V, ld);
    gpu->sampling_candidates(count[1], ids[1], cand[1], z[1], lse1[1], d, inv_t, cut, top_k, N, V, ld);
    int bad = 0;
    for (int n = 0; n < N; n++) {
        size_t o = (size_t)n * ld, c = (size_t)count[0][n];
        float mx = logits[o];
        for (int j = 1; j < V; j++) mx = logits[o + j] > mx ? logits[o + j] : mx;
        bad += count[1][n] != count[0][n] || memcmp(ids[0] + o, ids[1] + o, c * sizeof(int)) ||
               memcmp(cand[0] + o, cand[1] + o, c * sizeof(float)) ||
               !(fabs(z[1][n] - z[0][n]) <= 1e-12 * z[0][n]) ||
               !(fabs(lse1[1][n] - lse1[0][n]) <= 1e-14 * (fabs(mx) + 1));
    }
    CHECK(bad == 0, "sampling_candidates N=%d V=%d ld=%d vs %s: %d rows off", N, V, ld, host->name, bad);
    gpu->free(d);
    for (int b = 0; b < 2; b++) free(count[b]), free(ids[b]), free(cand[b]), free(z[b]), free(lse1[b]);
    free(logits), free(inv_t), free(cut), free(top_k);
}

// ---- the draw at a temperature alone -------------------------------------------------------
// n_draws draws from N rows (the first V of ld columns; row 1 flat), several from one row
// at different temperatures and uniforms, u = 0 among them (the first column with mass).
static void test_temperature_draws(int N, int V, int ld, int n_draws) {
    float *logits = rand_floats((size_t)N * ld, -4, 4);
    for (int j = 0; N > 1 && j < V; j++) logits[(size_t)ld + j] = 0.5f;
    for (int j = V; j < ld; j++) logits[j] = 100.0f;  // past V: never read
    float *d = up(logits, (size_t)N * ld * 4);
    int *rows = malloc(n_draws * sizeof(int)), *tok = malloc(n_draws * sizeof(int));
    int *g_tok = malloc(n_draws * sizeof(int));
    double *inv_t = malloc(n_draws * sizeof(double)), *u = malloc(n_draws * sizeof(double));
    double *lp = malloc(n_draws * sizeof(double)), *g_lp = malloc(n_draws * sizeof(double));
    for (int i = 0; i < n_draws; i++) {
        rows[i] = i % N;
        inv_t[i] = 1.0 / (0.3 + 0.4 * (i % 3));
        u[i] = i == 0 ? 0.0 : rng_double(&rng);
    }
    host->temperature_draws(tok, lp, logits, rows, inv_t, u, n_draws, V, ld);
    gpu->temperature_draws(g_tok, g_lp, d, rows, inv_t, u, n_draws, V, ld);
    int bad = 0;
    for (int i = 0; i < n_draws; i++) {
        const float *x = logits + (size_t)rows[i] * ld;
        float mx = x[0];
        for (int j = 1; j < V; j++) mx = x[j] > mx ? x[j] : mx;
        bad += g_tok[i] != tok[i] || !(fabs(g_lp[i] - lp[i]) <= 1e-14 * (fabs(mx) + 1));
    }
    CHECK(bad == 0, "temperature_draws N=%d V=%d ld=%d, %d draws vs %s: %d off", N, V, ld, n_draws,
          host->name, bad);
    gpu->free(d);
    free(logits), free(rows), free(tok), free(g_tok), free(inv_t), free(u), free(lp), free(g_lp);
}

// ---- optimizer ----------------------------------------------------------------------------

static void test_sum_squares(size_t n) {
    char what[96];
    float *g = rand_floats(n, -3, 3), *d_g = up(g, n * 4);
    double want = host->sum_squares(g, n), got = gpu->sum_squares(d_g, n);
    double again = gpu->sum_squares(d_g, n);
    snprintf(what, sizeof what, "sum_squares n=%zu", n);
    CHECK_NEAR(got, want, 1e-10, 0.0, what);
    CHECK(memcmp(&got, &again, sizeof got) == 0, "sum_squares n=%zu twice: bitwise", n);
    gpu->free(d_g);
    free(g);
}

// The GPU's AdamW writing its weights: they must be its updated parameters as
// weights_from_params makes them (bf16: rounded, bitwise).
static void test_adamw(size_t n, size_t n_decay) {
    char what[96];
    int wb = gpu->weight_elem_bytes;
    float *p = rand_floats(n, -1, 1), *m = rand_floats(n, -0.1f, 0.1f);
    float *v = rand_floats(n, 0, 0.01f), *zero = calloc(n, 4);
    float *d_p = up(p, n * 4), *d_m = up(m, n * 4), *d_v = up(v, n * 4);
    float *d_g = gpu->alloc(n * 4);
    void *d_w = gpu->alloc(n * wb);
    for (int step = 1; step <= 3; step++) {
        float *g = rand_floats(n, -2, 2);
        gpu->upload(d_g, g, n * 4);
        host->adamw(p, NULL, g, m, v, n, n_decay, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, step);
        gpu->adamw(d_p, d_w, d_g, d_m, d_v, n, n_decay, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, step);
        free(g);
    }
    float *g_w = elems_down(d_w, n, wb);
    gpu->free(d_w);
    float *g_p = down(d_p, n), *g_m = down(d_m, n), *g_v = down(d_v, n), *g_g = down(d_g, n);
    float *want_w = as_gpu_reads(g_p, n, wb == 2);
    snprintf(what, sizeof what, "%s adamw's weights n=%zu: its parameters (bitwise)", gpu->name, n);
    expect_same(what, g_w, want_w, n * 4);
    free(g_w), free(want_w);
    snprintf(what, sizeof what, "adamw p n=%zu n_decay=%zu", n, n_decay);
    expect_close(what, g_p, p, n, 1e-5, 1e-6);
    snprintf(what, sizeof what, "adamw m n=%zu", n);
    expect_close(what, g_m, m, n, 1e-5, 1e-6);
    snprintf(what, sizeof what, "adamw v n=%zu", n);
    expect_close(what, g_v, v, n, 1e-5, 1e-6);
    expect_same("adamw zeroes g", g_g, zero, n * 4);
    free(p), free(m), free(v), free(zero), free(g_p), free(g_m), free(g_v), free(g_g);
}

// weights_from_params: the parameters as the GPU's weights, bit for bit the host's rounding
// (bf16: to nearest, ties to even; fp32: a copy). The values include exact ties.
static void test_weights_from_params(size_t n) {
    char what[96];
    float *p = rand_floats(n, -3, 3);
    static const float ties[] = {1.00390625f, 1.01171875f, -1.00390625f, 3.0e38f, -0.0f, 1e-39f};
    for (size_t i = 0; i < sizeof ties / sizeof ties[0] && i < n; i++) p[i] = ties[i];
    float *d_p = up(p, n * 4);
    void *d_w = gpu->alloc(n * gpu->weight_elem_bytes);
    gpu->weights_from_params(d_w, d_p, n);
    float *g_w = elems_down(d_w, n, gpu->weight_elem_bytes), *want = as_gpu_reads(p, n, gpu->weight_elem_bytes == 2);
    snprintf(what, sizeof what, "%s weights_from_params n=%zu (bitwise)", gpu->name, n);
    expect_same(what, g_w, want, n * 4);
    gpu->free(d_p), gpu->free(d_w);
    free(p), free(g_w), free(want);
}

// Every primitive on the GPU against `host`.
static void test_all(void) {
    static const int Ns[] = {1, 3, 17, 64};
    for (int i = 0; i < 4; i++) {
        int N = Ns[i];
        test_matmul(N, 64, 17, 1);
        test_matmul(N, 128, 96, 0);
        test_matmul(N, 77, 128, 1);
        test_embedding(N, 64, 5);
        test_embedding(N, 257, 100);
        test_rmsnorm(N, 64);
        test_rmsnorm(N, 1000);
        test_rope(N, 3, 64, 17, 10000.0f);
        test_rope(N, 2, 128, 0, 1e6f);
        test_swiglu(N, 173);
        test_crossentropy(N, 17);
        test_crossentropy(N, 5003);
        test_crossentropy_chunks(N, 5003, 1024);  // chunks that do not divide V
        test_crossentropy_chunks(N, 5003, 5003);  // one chunk
    }
    test_crossentropy_chunks(64, 4096, 512);  // chunks that divide V
    test_matmul(300, 768, 2304, 1);  // a real layer's shape

    // The tensor-core tables: their matmuls, and cuda-bf16's attention (below).
    const Kernels *fp32 = gpu;
    gpu = kernels_cuda_tf32_get();
    test_matmul_tol(64, 768, 300, 1, 0.0, 2e-3);
    // cuda-bf16's bf16 weights and product inputs: their products (the host on the rounded
    // operands), the layers that read and write them, AdamW and weights_from_params writing
    // the weights
    gpu = kernels_cuda_bf16_get();
    test_matmul_tol(64, 768, 300, 1, 1e-4, 1e-5);
    test_matmul_tol(3, 77, 128, 1, 1e-4, 1e-5);
    test_embedding(17, 257, 100);
    test_rmsnorm(17, 1000);
    test_swiglu(17, 173);
    test_adamw(100003, 60000);
    test_weights_from_params(1000);
    gpu = fp32;
    test_weights_from_params(1000);
    test_add(1);
    test_add(1000003);

    // attention: odd lengths, len 1, a full row, GQA (KV = 1, 2, H), D = 64, 128 and 80
    static const int l1[] = {1}, l2[] = {17, 5}, l3[] = {64, 1, 33}, l4[] = {40, 39};
    static const int l5[] = {130, 77}, l6[] = {3};
    test_attention(1, 1, 1, 1, 64, l1);
    test_attention(2, 17, 4, 2, 64, l2);
    test_attention(3, 64, 4, 1, 128, l3);
    test_attention(2, 40, 2, 2, 128, l4);
    test_attention(2, 130, 6, 2, 64, l5);
    test_attention(1, 3, 2, 1, 80, l6);
    gpu = kernels_cuda_bf16_get();
    const AttentionTol bf16_attention = {4e-3, 1e-4, 6e-3, 1};
    test_attention_tol(1, 1, 1, 1, 64, l1, bf16_attention);
    test_attention_tol(2, 17, 4, 2, 64, l2, bf16_attention);
    test_attention_tol(3, 64, 4, 1, 128, l3, bf16_attention);
    test_attention_tol(2, 40, 2, 2, 128, l4, bf16_attention);
    test_attention_tol(2, 130, 6, 2, 64, l5, bf16_attention);
    test_attention_tol(1, 3, 2, 1, 80, l6, bf16_attention);
    test_attention_tol(2, 130, 4, 2, 8, l5, bf16_attention);   // head_dim padded to 16
    test_attention_tol(2, 17, 3, 3, 32, l2, bf16_attention);
    test_decode(3, 40, 4, 2, 64, 17);  // its bf16 KV cache
    test_decode(2, 200, 2, 1, 128, 150);
    gpu = fp32;

    test_decode(3, 40, 4, 2, 64, 17);
    test_decode(2, 200, 2, 1, 128, 150);
    test_decode(4, 9, 3, 3, 64, 1);

    for (int i = 0; i < 3; i++) {
        const SamplingShape *s = &sampling_shapes[i];
        test_argmax_logprob(s->N, s->V, s->ld);
        test_sampling_candidates(s->N, s->V, s->ld);
        test_temperature_draws(s->N, s->V, s->ld, s->n_draws);
    }
    test_sum_squares(1);
    test_sum_squares(1000);
    test_sum_squares((1 << 20) + 3);
    test_adamw(1, 1);
    test_adamw(100003, 60000);
}

int main(void) {
    gpu = kernels_by_name("cuda");
    if (!gpu) {
        printf("SKIP: no CUDA device\n");
        return 0;
    }
    rng = rng_seed(20250131);
    const Kernels *tables[3] = {gpu, kernels_cuda_tf32_get(), kernels_cuda_bf16_get()};
    for (int i = 0; i < 3; i++) {
        int e = i == 2 ? 2 : 4;  // cuda-bf16: bf16 elements
        CHECK(tables[i]->weight_elem_bytes == e && tables[i]->act_elem_bytes == e &&
                  tables[i]->kv_elem_bytes == e,
              "%s: weights, product inputs and KV cache of %d bytes", tables[i]->name, e);
    }
    test_memory();
    const char *hosts[2] = {"ref", "cpu"};
    for (int i = 0; i < 2; i++) {
        host = kernels_by_name(hosts[i]);
        test_all();
    }
    return test_summary();
}
