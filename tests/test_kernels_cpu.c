// tests/test_kernels_cpu.c -- the CPU backend against the reference backend (kernels/ref,
// the specification), and the CPU backend's own promises.
//
// Conformance: every primitive on the same random inputs of odd shapes, run on kernels_ref
// and kernels_cpu. Padding rows hold NaN (never read), outputs start as garbage (must be
// overwritten) and accumulated gradients as random values. One CHECK per primitive and
// shape: |cpu - ref| <= rtol |ref| + arel max|ref| for every element (max over the
// tensor; NaN fails). Tolerances, fp32 (the worst seen is under a tenth of them):
//   bitwise              memory, add, embedding, kv_cache_write, cross-entropy, AdamW, the
//                        matmul backward and its forward above CPU_ROWWISE_MAX rows (one
//                        fmaf chain in k order on both)
//   rtol 1e-5 arel 1e-5  matmul forward up to CPU_ROWWISE_MAX rows (8-lane sums), attention
//                        forward and backward (blocked online softmax, cpu_exp)
//   rtol 1e-5 arel 1e-6  attention's lse, RMSNorm, RoPE, SwiGLU (cpu_exp within 2 ulp)
//   rtol 1e-12           sum_squares (double, another order)
//   bitwise              argmax_logprob, sampling_candidates, temperature_draws (the spec's row
//                        functions, a row or draw per thread)
// The CPU's own: bitwise the same at 1 and 2 threads; a row's bits the same in calls of
// up to max_rows_invariant rows; a sequence's attention alone or in a batch; the KV-cache
// decode equal to the training forward; cpu_gemm equal to its fmaf chain; cpu_exp within
// 2 ulp; 64-byte aligned memory.
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../base/rng.h"
#include "../kernels/cpu/cpu.h"
#include "../kernels/kernels.h"
#include "sampling_rows.h"
#include "test.h"

static const Kernels *ref, *cpu;
static Rng rng;

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) abort();
    return p;
}
static float *fvec(size_t n) { return xcalloc(n, sizeof(float)); }
static int *ivec(size_t n) { return xcalloc(n, sizeof(int)); }

// uniform in [-a, a)
static void fill(float *x, size_t n, float a) {
    for (size_t i = 0; i < n; i++) x[i] = (2.0f * rng_float(&rng) - 1.0f) * a;
}
static float *clone(const float *x, size_t n) {
    float *y = fvec(n);
    memcpy(y, x, n * sizeof(float));
    return y;
}

// One CHECK for n values: |got - want| <= rtol |want| + arel max|want| everywhere (NaN
// fails); the message names the worst element.
static void check_close(const char *what, const float *got, const float *want, size_t n,
                        double rtol, double arel) {
    double max_want = 0.0, worst_excess = -1.0;
    // (not fmax(): GCC 12 for aarch64 crashes vectorising that reduction here)
    for (size_t i = 0; i < n; i++)
        if (fabs(want[i]) > max_want) max_want = fabs(want[i]);
    size_t worst = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]), tol = rtol * fabs(want[i]) + arel * max_want;
        if (!(err <= tol)) bad++;
        double excess = isnan(err) ? INFINITY : err - tol;
        if (excess > worst_excess) worst_excess = excess, worst = i;
    }
    CHECK(bad == 0, "%s: %zu of %zu elements off; worst [%zu] cpu %.9g ref %.9g (max|ref| %g)",
          what, bad, n, worst, n ? got[worst] : 0.0, n ? want[worst] : 0.0, max_want);
}

static void check_same(const char *what, const float *got, const float *want, size_t n) {
    CHECK(!memcmp(got, want, n * sizeof(float)), "%s: cpu and ref not bitwise equal", what);
}

static void set_padding(float *x, size_t row, const int *lens, int B, int T, float value) {
    for (int b = 0; b < B; b++)
        for (int t = lens[b]; t < T; t++)
            for (size_t c = 0; c < row; c++) x[((size_t)b * T + t) * row + c] = value;
}

// ---- memory and the residual add -----------------------------------------------------

static void test_memory(const Kernels *K) {
    size_t n = 1000;
    float *a = K->alloc(n * sizeof(float));
    int zero = 1;
    for (size_t i = 0; i < n; i++) zero &= a[i] == 0.0f;
    CHECK(zero, "%s alloc: zero-filled", K->name);
    float *h = fvec(n), *back = fvec(n), *b = K->alloc(n * sizeof(float));
    fill(h, n, 1.0f);
    K->upload(a, h, n * sizeof(float));
    K->copy(b, a, n * sizeof(float));
    K->synchronize();
    K->download(back, b, n * sizeof(float));
    CHECK(!memcmp(back, h, n * sizeof(float)), "%s: upload/copy/download round trip", K->name);
    K->zero(b, n * sizeof(float));
    K->download(back, b, n * sizeof(float));
    zero = 1;
    for (size_t i = 0; i < n; i++) zero &= back[i] == 0.0f;
    CHECK(zero, "%s zero", K->name);
    K->free(a);
    K->free(b);
    void *empty = K->alloc(0);
    CHECK(empty != NULL, "%s alloc(0): not NULL (NULL means out of memory)", K->name);
    K->free(empty);
    free(h), free(back);
}

static void test_add(size_t n) {
    float *x = fvec(n), *y = fvec(n), *r = fvec(n), *c = fvec(n);
    fill(x, n, 1.0f);
    fill(y, n, 1.0f);
    ref->add(r, x, y, n);
    cpu->add(c, x, y, n);
    check_same("add", c, r, n);
    cpu->add(x, x, y, n);
    check_same("add with out == a", x, r, n);
    free(x), free(y), free(r), free(c);
}

// ---- matmul --------------------------------------------------------------------------

static void test_matmul(int N, int C, int OC, int with_bias) {
    char what[128];
    size_t ni = (size_t)N * C, nw = (size_t)OC * C, no = (size_t)N * OC;
    float *inp = fvec(ni), *w = fvec(nw), *bias = with_bias ? fvec(OC) : NULL, *dout = fvec(no);
    float *out_r = fvec(no), *out_c = fvec(no), *dw0 = fvec(nw), *db0 = fvec(OC);
    fill(inp, ni, 1.0f), fill(w, nw, 1.0f), fill(dout, no, 1.0f);
    fill(dw0, nw, 1.0f), fill(db0, OC, 1.0f);
    if (bias) fill(bias, OC, 1.0f);
    fill(out_c, no, 9.0f);  // garbage, overwritten
    ref->matmul_forward(out_r, inp, w, bias, N, C, OC);
    cpu->matmul_forward(out_c, inp, w, bias, N, C, OC);
    snprintf(what, sizeof what, "matmul_forward N=%d C=%d OC=%d bias=%d", N, C, OC, with_bias);
    if (N > CPU_ROWWISE_MAX) check_same(what, out_c, out_r, no);
    else check_close(what, out_c, out_r, no, 1e-5, 1e-5);

    // dinp overwritten (NaN before), dw and dbias accumulate onto random values
    float *g[2][3];  // [ref, cpu][dinp, dw, dbias]
    for (int k = 0; k < 2; k++) {
        g[k][0] = fvec(ni), g[k][1] = clone(dw0, nw), g[k][2] = clone(db0, OC);
        for (size_t i = 0; i < ni; i++) g[k][0][i] = NAN;
        (k ? cpu : ref)->matmul_backward(g[k][0], g[k][1], g[k][2], dout, inp, w, N, C, OC);
    }
    snprintf(what, sizeof what, "matmul_backward dinp N=%d C=%d OC=%d", N, C, OC);
    check_same(what, g[1][0], g[0][0], ni);
    snprintf(what, sizeof what, "matmul_backward dw N=%d C=%d OC=%d", N, C, OC);
    check_same(what, g[1][1], g[0][1], nw);
    snprintf(what, sizeof what, "matmul_backward dbias N=%d OC=%d", N, OC);
    check_same(what, g[1][2], g[0][2], OC);
    // NULL gradients are skipped
    cpu->matmul_backward(NULL, NULL, NULL, dout, inp, w, N, C, OC);
    ref->matmul_backward(NULL, NULL, NULL, dout, inp, w, N, C, OC);
    for (int k = 0; k < 2; k++) free(g[k][0]), free(g[k][1]), free(g[k][2]);
    free(inp), free(w), free(bias), free(dout), free(out_r), free(out_c), free(dw0), free(db0);
}

// ---- embedding -----------------------------------------------------------------------

static void test_embedding(int N, int C, int V) {
    char what[96];
    float *wte = fvec((size_t)V * C), *dout = fvec((size_t)N * C), *dwte = fvec((size_t)V * C);
    float *out_r = fvec((size_t)N * C), *out_c = fvec((size_t)N * C);
    int *tok = ivec(N);
    fill(wte, (size_t)V * C, 1.0f), fill(dout, (size_t)N * C, 1.0f);
    fill(dwte, (size_t)V * C, 1.0f);
    for (int n = 0; n < N; n++) tok[n] = (int)rng_below(&rng, V);  // repeats when N > V
    ref->embedding_forward(out_r, tok, wte, N, C);
    cpu->embedding_forward(out_c, tok, wte, N, C);
    snprintf(what, sizeof what, "embedding_forward N=%d C=%d", N, C);
    check_same(what, out_c, out_r, (size_t)N * C);
    float *dwte_c = clone(dwte, (size_t)V * C);
    ref->embedding_backward(dwte, dout, tok, N, C);
    cpu->embedding_backward(dwte_c, dout, tok, N, C);
    snprintf(what, sizeof what, "embedding_backward N=%d C=%d V=%d", N, C, V);
    check_same(what, dwte_c, dwte, (size_t)V * C);
    free(wte), free(dout), free(dwte), free(out_r), free(out_c), free(tok), free(dwte_c);
}

// ---- RMSNorm -------------------------------------------------------------------------

static void test_rmsnorm(int N, int C) {
    char what[96];
    size_t n = (size_t)N * C;
    float *inp = fvec(n), *w = fvec(C), *dout = fvec(n), *dinp0 = fvec(n), *dw0 = fvec(C);
    fill(inp, n, 2.0f), fill(w, C, 1.5f), fill(dout, n, 1.0f), fill(dinp0, n, 1.0f);
    fill(dw0, C, 1.0f);
    float *out[2], *rstd[2], *dinp[2], *dw[2];  // [ref, cpu]
    for (int k = 0; k < 2; k++) {
        const Kernels *K = k ? cpu : ref;
        out[k] = fvec(n), rstd[k] = fvec(N), dinp[k] = clone(dinp0, n), dw[k] = clone(dw0, C);
        K->rmsnorm_forward(out[k], rstd[k], inp, w, 1e-5f, N, C);
        K->rmsnorm_backward(dinp[k], dw[k], dout, inp, w, rstd[0], N, C);  // ref's rstd
    }
    snprintf(what, sizeof what, "rmsnorm_forward N=%d C=%d", N, C);
    check_close(what, out[1], out[0], n, 1e-5, 1e-6);
    snprintf(what, sizeof what, "rmsnorm_forward rstd N=%d C=%d", N, C);
    check_close(what, rstd[1], rstd[0], N, 1e-5, 1e-6);
    snprintf(what, sizeof what, "rmsnorm_backward dinp (+=) N=%d C=%d", N, C);
    check_close(what, dinp[1], dinp[0], n, 1e-5, 1e-6);
    snprintf(what, sizeof what, "rmsnorm_backward dw (+=) N=%d C=%d", N, C);
    check_close(what, dw[1], dw[0], C, 1e-5, 1e-6);
    for (int k = 0; k < 2; k++) free(out[k]), free(rstd[k]), free(dinp[k]), free(dw[k]);
    free(inp), free(w), free(dout), free(dinp0), free(dw0);
}

// ---- RoPE ----------------------------------------------------------------------------

// The first nh heads of rows stride wide (stride > nh * D: the rest must stay untouched).
static void test_rope(int N, int nh, int D, int stride) {
    char what[96];
    size_t n = (size_t)N * stride;
    float *x0 = fvec(n);
    int *pos = ivec(N);
    fill(x0, n, 1.0f);
    for (int i = 0; i < N; i++) pos[i] = i == 0 ? 0 : (int)rng_below(&rng, 5000);
    float *x[2], *dx[2];  // [ref, cpu]
    for (int k = 0; k < 2; k++) {
        x[k] = clone(x0, n), dx[k] = clone(x0, n);
        (k ? cpu : ref)->rope_forward(x[k], pos, N, stride, nh, D, 10000.0f);
        (k ? cpu : ref)->rope_backward(dx[k], pos, N, stride, nh, D, 10000.0f);
    }
    snprintf(what, sizeof what, "rope_forward N=%d heads=%d D=%d", N, nh, D);
    check_close(what, x[1], x[0], n, 1e-5, 1e-6);
    snprintf(what, sizeof what, "rope_backward N=%d heads=%d D=%d", N, nh, D);
    check_close(what, dx[1], dx[0], n, 1e-5, 1e-6);
    int untouched = 1;
    for (int i = 0; i < N; i++)
        for (int j = nh * D; j < stride; j++)
            untouched &= x[1][(size_t)i * stride + j] == x0[(size_t)i * stride + j];
    CHECK(untouched, "rope_forward leaves the heads past n_heads alone");
    // the backward (the transposed rotation) inverts the forward
    ref->rope_backward(x[0], pos, N, stride, nh, D, 10000.0f);
    check_close("ref rope_backward(rope_forward(x)) == x", x[0], x0, n, 1e-6, 1e-6);
    for (int k = 0; k < 2; k++) free(x[k]), free(dx[k]);
    free(x0), free(pos);
}

// ---- attention -----------------------------------------------------------------------

// Replays the (B, T) grid through the KV cache of backend K: every sequence in its own
// slot (in reverse order, slot 0 unused), a prefill step of the first half of every
// sequence, then one step per position carrying one token of each sequence still
// running. With `shared`, the prefill goes to slots B+1.. and the later steps read it
// from there (the prefix slots of a shared prompt). Returns whether every row equals
// K's training forward `out` bitwise.
static int decode_matches(const Kernels *K, const float *qkv, const float *out, const int *lens,
                          int B, int T, int H, int KV, int D, int shared) {
    size_t row = (size_t)(H + 2 * KV) * D, ow = (size_t)H * D;
    int max_T = T + 3, n_slots = 2 * B + 1, half = (T + 1) / 2;
    float *kc = fvec((size_t)n_slots * max_T * KV * D);
    float *vc = fvec((size_t)n_slots * max_T * KV * D);
    float *sq = fvec((size_t)B * T * row), *so = fvec((size_t)B * T * ow);
    int *slots = ivec((size_t)B * T), *pos = ivec((size_t)B * T), *src = ivec((size_t)B * T);
    int *pslots = ivec((size_t)B * T), *plens = ivec((size_t)B * T);
    int same = 1;
    for (int t0 = 0; t0 < T;) {  // first step: positions [0, half) of every sequence
        int t1 = t0 == 0 ? half : t0 + 1, N = 0;
        for (int b = 0; b < B; b++)
            for (int t = t0; t < t1 && t < lens[b]; t++) {
                src[N] = b * T + t, pos[N] = t;
                slots[N] = shared && t0 == 0 ? B + 1 + b : B - b;
                pslots[N] = B + 1 + b, plens[N] = shared && t0 > 0 ? half : 0;
                memcpy(sq + (size_t)N * row, qkv + (size_t)src[N] * row, row * sizeof(float));
                N++;
            }
        if (N) {
            K->kv_cache_write(kc, vc, sq, slots, pos, N, H, KV, D, max_T);
            K->attention_decode(so, sq, kc, vc, slots, pos, pslots, plens, N, H, KV, D, max_T);
        }
        for (int i = 0; i < N; i++)
            same &= !memcmp(so + (size_t)i * ow, out + (size_t)src[i] * ow, ow * sizeof(float));
        t0 = t1;
    }
    free(kc), free(vc), free(sq), free(so), free(slots), free(pos), free(src), free(pslots), free(plens);
    return same;
}

static void test_attention(int B, int T, int H, int KV, int D, const int *lens) {
    char what[128], shape[64];
    snprintf(shape, sizeof shape, "B=%d T=%d H=%d KV=%d D=%d", B, T, H, KV, D);
    size_t row = (size_t)(H + 2 * KV) * D, ow = (size_t)H * D, N = (size_t)B * T;
    float *qkv = fvec(N * row), *dout = fvec(N * ow);
    fill(qkv, N * row, 1.5f);
    fill(dout, N * ow, 1.0f);
    set_padding(qkv, row, lens, B, T, NAN);  // never read
    set_padding(dout, ow, lens, B, T, NAN);
    float *out[2], *lse[2], *dqkv[2];  // [ref, cpu]
    for (int k = 0; k < 2; k++) {
        const Kernels *K = k ? cpu : ref;
        out[k] = fvec(N * ow), lse[k] = fvec(N * H), dqkv[k] = fvec(N * row);
        fill(out[k], N * ow, 9.0f);  // garbage: padding rows must be overwritten with zeros
        fill(lse[k], N * H, 9.0f);
        fill(dqkv[k], N * row, 9.0f);
        K->attention_forward(out[k], lse[k], qkv, lens, B, T, H, KV, D);
        float *out_nan = clone(out[k], N * ow);  // the backward never reads padding either
        set_padding(out_nan, ow, lens, B, T, NAN);
        K->attention_backward(dqkv[k], dout, qkv, out_nan, lse[k], lens, B, T, H, KV, D);
        free(out_nan);
        CHECK(decode_matches(K, qkv, out[k], lens, B, T, H, KV, D, 0),
              "%s: kv_cache_write + attention_decode == attention_forward bitwise (%s)", K->name,
              shape);
        CHECK(decode_matches(K, qkv, out[k], lens, B, T, H, KV, D, 1),
              "%s: attention_decode reading a shared prompt's slot == attention_forward bitwise "
              "(%s)", K->name, shape);
    }
    snprintf(what, sizeof what, "attention_forward out %s", shape);
    check_close(what, out[1], out[0], N * ow, 1e-5, 1e-5);
    snprintf(what, sizeof what, "attention_forward lse %s", shape);
    check_close(what, lse[1], lse[0], N * H, 1e-5, 1e-6);
    snprintf(what, sizeof what, "attention_backward dqkv %s", shape);
    check_close(what, dqkv[1], dqkv[0], N * row, 1e-5, 1e-5);
    for (int k = 0; k < 2; k++) free(out[k]), free(lse[k]), free(dqkv[k]);
    free(qkv), free(dout);
}

// N tokens into distinct (slot, position) cells of a cache of 3 slots x max_T.
static void test_kv_cache_write(int N, int H, int KV, int D) {
    int max_T = (N + 2) / 3 + 1, *slots = ivec(N), *pos = ivec(N);
    size_t row = (size_t)(H + 2 * KV) * D, nc = (size_t)3 * max_T * KV * D;
    float *qkv = fvec(N * row), *kc[2], *vc[2];  // [ref, cpu]
    fill(qkv, N * row, 1.0f);
    for (int n = 0; n < N; n++) slots[n] = (n * 2) % 3, pos[n] = n / 3;
    for (int k = 0; k < 2; k++) {
        kc[k] = fvec(nc), vc[k] = fvec(nc);
        (k ? cpu : ref)->kv_cache_write(kc[k], vc[k], qkv, slots, pos, N, H, KV, D, max_T);
    }
    check_same("kv_cache_write k", kc[1], kc[0], nc);
    check_same("kv_cache_write v", vc[1], vc[0], nc);
    for (int k = 0; k < 2; k++) free(kc[k]), free(vc[k]);
    free(qkv), free(slots), free(pos);
}

// ---- SwiGLU --------------------------------------------------------------------------

static void test_swiglu(int N, int I) {
    char what[96];
    size_t n = (size_t)N * I;
    float *gu = fvec(2 * n), *dout = fvec(n), *out[2], *dgu[2];  // [ref, cpu]
    fill(gu, 2 * n, 4.0f);
    fill(dout, n, 1.0f);
    for (int k = 0; k < 2; k++) {
        out[k] = fvec(n), dgu[k] = fvec(2 * n);
        (k ? cpu : ref)->swiglu_forward(out[k], gu, N, I);
        (k ? cpu : ref)->swiglu_backward(dgu[k], dout, gu, N, I);
    }
    snprintf(what, sizeof what, "swiglu_forward N=%d I=%d", N, I);
    check_close(what, out[1], out[0], n, 1e-5, 1e-6);
    snprintf(what, sizeof what, "swiglu_backward N=%d I=%d", N, I);
    check_close(what, dgu[1], dgu[0], 2 * n, 1e-5, 1e-6);
    for (int k = 0; k < 2; k++) free(out[k]), free(dgu[k]);
    free(gu), free(dout);
}

// ---- cross-entropy -------------------------------------------------------------------

static void test_crossentropy(int N, int V) {
    char what[96];
    size_t n = (size_t)N * V;
    float *logits = fvec(n), *w = fvec(N);
    int *tg = ivec(N);
    fill(logits, n, 3.0f);
    for (int v = 0; v < V; v++) logits[v] += 80.0f;  // row 0: large logits (stability)
    fill(w, N, 2.0f);                               // signed weights
    for (int i = 0; i < N; i++) tg[i] = (int)rng_below(&rng, V);
    if (N > 1) tg[1] = -1;  // no target
    if (N > 2) w[2] = 0.0f;
    float *lp[2], *lse[2], *dl[2];  // [ref, cpu]
    for (int k = 0; k < 2; k++) {
        const Kernels *K = k ? cpu : ref;
        lp[k] = fvec(N), lse[k] = fvec(N), dl[k] = clone(logits, n);
        K->crossentropy_forward(lp[k], lse[k], logits, tg, N, V);
        K->crossentropy_backward(dl[k], dl[k], lse[k], tg, w, N, V);  // in place
    }
    snprintf(what, sizeof what, "crossentropy_forward logprob N=%d V=%d", N, V);
    check_same(what, lp[1], lp[0], N);
    snprintf(what, sizeof what, "crossentropy_forward lse N=%d V=%d", N, V);
    check_same(what, lse[1], lse[0], N);
    snprintf(what, sizeof what, "crossentropy_backward in place N=%d V=%d", N, V);
    check_same(what, dl[1], dl[0], n);
    float *dl2 = fvec(n);
    cpu->crossentropy_backward(dl2, logits, lse[1], tg, w, N, V);
    CHECK(!memcmp(dl2, dl[1], n * sizeof(float)), "crossentropy_backward: in place == not");
    int zero = 1;
    for (int i = 1; i < N && i < 3; i++)  // target -1, weight 0
        for (int v = 0; v < V; v++) zero &= dl[0][(size_t)i * V + v] == 0.0f;
    CHECK(zero, "crossentropy_backward: rows without target or weight are zero");
    for (int k = 0; k < 2; k++) free(lp[k]), free(lse[k]), free(dl[k]);
    free(logits), free(w), free(tg), free(dl2);
}

// Columns [v0, v0 + n) of x[N, V] into chunk[N, n], or back (to_full).
static void columns(float *x, float *chunk, int N, int V, int v0, int n, int to_full) {
    for (int i = 0; i < N; i++) {
        float *full = x + (size_t)i * V + v0, *c = chunk + (size_t)i * n;
        memcpy(to_full ? full : c, to_full ? c : full, n * sizeof(float));
    }
}

// The cross-entropy in chunks of Vc on backend K: forward (lp, lse), or with backward set
// dl[N, V] from the chunks' gradients (each chunk in place) at the given lse.
static void chunked_ce(const Kernels *K, int backward, float *lp, float *lse, float *dl,
                       float *logits, const int *tg, const float *w, int N, int V, int Vc) {
    float *chunk = fvec((size_t)N * Vc), *sum = fvec(N);
    for (int v0 = 0; v0 < V; v0 += Vc) {
        int n = V - v0 < Vc ? V - v0 : Vc;
        columns(logits, chunk, N, V, v0, n, 0);
        if (!backward) {
            K->crossentropy_chunk_forward(lp, lse, sum, chunk, tg, N, V, v0, n);
            continue;
        }
        K->crossentropy_chunk_backward(chunk, chunk, lse, tg, w, N, v0, n);
        columns(dl, chunk, N, V, v0, n, 1);
    }
    free(chunk), free(sum);
}

// Chunks of Vc against whole rows: cpu == ref bitwise; the chunked forward within rtol
// 1e-6 of whole rows' (the running state is rounded to float after each chunk); one chunk
// of V bitwise the whole-row forward; the chunks' gradients at the same lse bitwise
// crossentropy_backward's.
static void test_crossentropy_chunks(int N, int V, int Vc) {
    char what[96];
    size_t n = (size_t)N * V;
    float *logits = fvec(n), *w = fvec(N);
    int *tg = ivec(N);
    fill(logits, n, 3.0f);
    for (int v = V / 2; v < V; v++) logits[v] += 80.0f;  // row 0: the max in a later chunk
    fill(w, N, 2.0f);
    for (int i = 0; i < N; i++) tg[i] = (int)rng_below(&rng, V);
    if (N > 1) tg[1] = -1;
    if (N > 2) w[2] = 0.0f;
    float *lp[3], *lse[3], *dl[3];  // [ref chunked, cpu chunked, ref whole rows]
    for (int k = 0; k < 3; k++) lp[k] = fvec(N), lse[k] = fvec(N), dl[k] = fvec(n);
    for (int k = 0; k < 2; k++) {
        chunked_ce(k ? cpu : ref, 0, lp[k], lse[k], NULL, logits, tg, w, N, V, Vc);
        chunked_ce(k ? cpu : ref, 1, NULL, lse[k], dl[k], logits, tg, w, N, V, Vc);
    }
    ref->crossentropy_forward(lp[2], lse[2], logits, tg, N, V);
    ref->crossentropy_backward(dl[2], logits, lse[2], tg, w, N, V);
    snprintf(what, sizeof what, "crossentropy_chunk_forward logprob N=%d V=%d Vc=%d", N, V, Vc);
    check_same(what, lp[1], lp[0], N);
    check_close(what, lp[0], lp[2], N, 1e-6, 1e-7);
    snprintf(what, sizeof what, "crossentropy_chunk_forward lse N=%d V=%d Vc=%d", N, V, Vc);
    check_same(what, lse[1], lse[0], N);
    check_close(what, lse[0], lse[2], N, 1e-6, 0.0);
    if (Vc >= V)
        CHECK(!memcmp(lp[0], lp[2], N * 4) && !memcmp(lse[0], lse[2], N * 4),
              "crossentropy_chunk_forward, one chunk of V=%d: crossentropy_forward bitwise", V);
    snprintf(what, sizeof what, "crossentropy_chunk_backward N=%d V=%d Vc=%d", N, V, Vc);
    check_same(what, dl[1], dl[0], n);
    chunked_ce(ref, 1, NULL, lse[2], dl[0], logits, tg, w, N, V, Vc);
    CHECK(!memcmp(dl[0], dl[2], n * 4),
          "crossentropy_chunk_backward N=%d V=%d Vc=%d at the same lse: crossentropy_backward "
          "bitwise", N, V, Vc);
    for (int k = 0; k < 3; k++) free(lp[k]), free(lse[k]), free(dl[k]);
    free(logits), free(w), free(tg);
}

// argmax_logprob over the first V of ld columns: bitwise ref's; ties to the lower column
// (row 0 has its max twice); ref's log-prob against a sum in long double, within double's
// rounding at the max's scale.
static void test_argmax_logprob(int N, int V, int ld) {
    float *logits = fvec((size_t)N * ld);
    fill(logits, (size_t)N * ld, 4.0f);
    for (int n = 0; n < N; n++) logits[(size_t)n * ld + V - 1] = 9.0f + (float)n;  // the max at the end
    for (size_t i = V; i < (size_t)ld; i++) logits[i] = 100.0f;                      // past V: never read
    logits[V / 2] = logits[V - 1];                                                   // row 0: a tie
    int *am[2] = {ivec(N), ivec(N)};
    double *lp[2] = {xcalloc(N, sizeof(double)), xcalloc(N, sizeof(double))};
    ref->argmax_logprob(am[0], lp[0], logits, N, V, ld);
    cpu->argmax_logprob(am[1], lp[1], logits, N, V, ld);
    CHECK(!memcmp(am[0], am[1], N * sizeof(int)) && !memcmp(lp[0], lp[1], N * sizeof(double)),
          "argmax_logprob N=%d V=%d ld=%d: cpu bitwise ref", N, V, ld);
    int bad = 0;
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * ld;
        long double z = 0;
        for (int j = 0; j < V; j++) z += expl((long double)x[j] - x[V - 1]);
        int want = n == 0 && V > 2 ? V / 2 : V - 1;
        // lse = max + log z rounds at the max's scale; lp = max - lse keeps that error
        bad += am[0][n] != want || !(fabsl(lp[0][n] + logl(z)) <= 1e-14L * (fabsl(x[V - 1]) + 1));
    }
    CHECK(bad == 0, "argmax_logprob N=%d V=%d ld=%d: %d rows off the argmax (ties: the lower) or "
          "the log-prob", N, V, ld, bad);
    free(logits), free(am[0]), free(am[1]), free(lp[0]), free(lp[1]);
}

static int float_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

// sampling_candidates over the first V of ld columns: bitwise ref's; ref's against the
// definition: the candidates in column order with their logits; top-p rows: every column
// with w >= cut * z and none below (w recomputed here); top-k rows: every column at least
// the k-th largest logit (found here by sorting) and none below; z and lse1 against sums
// in long double. The rows of sampling_rows.h.
static void test_sampling_candidates(int N, int V, int ld) {
    float *logits = fvec((size_t)N * ld), *sorted = fvec(V);
    fill(logits, (size_t)N * ld, 4.0f);
    double *inv_t = xcalloc(N, sizeof(double)), *cut = xcalloc(N, sizeof(double));
    int *top_k = ivec(N);
    sampling_rows(logits, inv_t, cut, top_k, N, V, ld);
    int *count[2], *ids[2];
    float *cand[2];
    double *z[2], *lse1[2];
    for (int b = 0; b < 2; b++) {
        count[b] = ivec(N), ids[b] = ivec((size_t)N * ld), cand[b] = fvec((size_t)N * ld);
        z[b] = xcalloc(N, sizeof(double)), lse1[b] = xcalloc(N, sizeof(double));
        (b ? cpu : ref)->sampling_candidates(count[b], ids[b], cand[b], z[b], lse1[b], logits, inv_t, cut, top_k,
                                             N, V, ld);
    }
    int same = !memcmp(count[0], count[1], N * sizeof(int)) && !memcmp(z[0], z[1], N * sizeof(double)) &&
               !memcmp(lse1[0], lse1[1], N * sizeof(double));
    for (int n = 0; same && n < N; n++)
        same = !memcmp(ids[0] + (size_t)n * ld, ids[1] + (size_t)n * ld, count[0][n] * sizeof(int)) &&
               !memcmp(cand[0] + (size_t)n * ld, cand[1] + (size_t)n * ld, count[0][n] * sizeof(float));
    CHECK(same, "sampling_candidates N=%d V=%d ld=%d: cpu bitwise ref", N, V, ld);
    int bad = 0;
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * ld;
        const int *id = ids[0] + (size_t)n * ld;
        float mx = x[0];
        for (int j = 1; j < V; j++) mx = x[j] > mx ? x[j] : mx;
        memcpy(sorted, x, V * sizeof(float));
        qsort(sorted, V, sizeof(float), float_desc);
        float least = top_k[n] > 0 ? sorted[(top_k[n] < V ? top_k[n] : V) - 1] : 0.0f;
        long double zt = 0, z1 = 0;
        for (int j = 0; j < V; j++) zt += expl(((long double)x[j] - mx) * inv_t[n]), z1 += expl((long double)x[j] - mx);
        bad += fabsl(z[0][n] - zt) > 1e-12L * zt || fabsl(lse1[0][n] - (mx + logl(z1))) > 1e-14L * (fabsl(mx) + 1);
        int c = 0;
        for (int j = 0; j < V; j++) {
            int is = c < count[0][n] && id[c] == j;
            if (is) bad += cand[0][(size_t)n * ld + c++] != x[j];
            bad += is != (top_k[n] > 0 ? x[j] >= least : exp(((double)x[j] - mx) * inv_t[n]) >= cut[n] * z[0][n]);
        }
        bad += c != count[0][n];
    }
    CHECK(bad == 0, "sampling_candidates N=%d V=%d ld=%d: %d entries off the definition", N, V, ld, bad);
    CHECK(count[0][1] == V && count[0][2] == 1 && count[0][3] == 5 && count[0][4] == V,
          "sampling_candidates: a flat row keeps all %d columns (%d), a dominant logit only itself (%d), top-k 4 "
          "of five tied largest keeps the five (%d), top-k above V every column (%d)", V, count[0][1], count[0][2],
          count[0][3], count[0][4]);
    for (int b = 0; b < 2; b++) free(count[b]), free(ids[b]), free(cand[b]), free(z[b]), free(lse1[b]);
    free(logits), free(sorted), free(inv_t), free(cut), free(top_k);
}

// temperature_draws: bitwise ref's (T = 1 among the draws, u = 0 and u just below 1, the
// ends of cpu's blocks); ref's tokens against the definition (the first column whose
// cumulative mass, summed here in long double, passes u * z; checked where u * z is not
// within 1e-12 of a boundary) and the extreme u = 0 (the first column with mass).
static void test_temperature_draws(int N, int V, int ld, int n_draws) {
    float *logits = fvec((size_t)N * ld);
    fill(logits, (size_t)N * ld, 3.0f);
    int *rows = ivec(n_draws), *tok[2] = {ivec(n_draws), ivec(n_draws)};
    double *inv_t = xcalloc(n_draws, sizeof(double)), *u = xcalloc(n_draws, sizeof(double));
    double *lp[2] = {xcalloc(n_draws, sizeof(double)), xcalloc(n_draws, sizeof(double))};
    Rng r = rng_seed(17);
    for (int d = 0; d < n_draws; d++) {
        rows[d] = d % N;
        inv_t[d] = d % 4 == 3 ? 1.0 : 1.0 / (0.3 + 0.4 * (d % 3));
        u[d] = d == 0 ? 0.0 : d == 1 ? nextafter(1.0, 0.0) : rng_double(&r);
    }
    ref->temperature_draws(tok[0], lp[0], logits, rows, inv_t, u, n_draws, V, ld);
    cpu->temperature_draws(tok[1], lp[1], logits, rows, inv_t, u, n_draws, V, ld);
    CHECK(!memcmp(tok[0], tok[1], n_draws * sizeof(int)) && !memcmp(lp[0], lp[1], n_draws * sizeof(double)),
          "temperature_draws N=%d V=%d ld=%d: cpu bitwise ref", N, V, ld);
    int bad = 0, checked = 0;
    for (int d = 0; d < n_draws; d++) {
        const float *x = logits + (size_t)rows[d] * ld;
        float mx = x[0];
        for (int j = 1; j < V; j++) mx = x[j] > mx ? x[j] : mx;
        long double z = 0, z1 = 0, cum = 0;
        for (int j = 0; j < V; j++) z += expl(((long double)x[j] - mx) * inv_t[d]), z1 += expl((long double)x[j] - mx);
        long double target = u[d] * z, gap = z;
        int want = V - 1;
        for (int j = 0; j < V; j++) {
            cum += expl(((long double)x[j] - mx) * inv_t[d]);
            gap = fminl(gap, fabsl(cum - target));
            if (cum > target && want == V - 1) want = j;
        }
        if (gap < 1e-12L * z && d > 0) continue;
        checked++;
        bad += tok[0][d] != want || fabsl(lp[0][d] - ((long double)x[want] - mx - logl(z1))) > 1e-14L * (fabsl(mx) + 1);
    }
    CHECK(bad == 0 && checked > n_draws / 2, "temperature_draws N=%d V=%d ld=%d: %d of %d draws off the definition",
          N, V, ld, bad, checked);
    free(logits), free(rows), free(tok[0]), free(tok[1]), free(inv_t), free(u), free(lp[0]), free(lp[1]);
}

// ---- optimizer -----------------------------------------------------------------------

static void test_sum_squares(size_t n) {
    float *g = fvec(n);
    fill(g, n, 3.0f);
    double want = ref->sum_squares(g, n), got = cpu->sum_squares(g, n);
    CHECK(fabs(got - want) <= 1e-12 * want, "sum_squares n=%zu: %.17g vs %.17g", n, got, want);
    free(g);
}

// By hand, step 1 from m = v = 0: mhat = g, vhat = g^2, so p <- p (1 - lr wd) - lr g/|g|.
// p = 1, g = 0.5 * grad_scale 2 = 1, lr = 0.1, wd = 0.1: decayed 0.99 - 0.1 = 0.89,
// undecayed 1 - 0.1 = 0.9; m = 0.1 g, v = 0.001 g^2.
static void test_adamw_step1(const Kernels *K) {
    float p[3] = {1, 1, -2}, g[3] = {0.5f, 0.5f, -0.25f}, m[3] = {0}, v[3] = {0};
    K->adamw(p, NULL, g, m, v, 3, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.1f, 2.0f, 1);
    CHECK_NEAR(p[0], 0.89, 0, 1e-6, "adamw step 1, decayed");
    CHECK_NEAR(p[1], 0.9, 0, 1e-6, "adamw step 1, not decayed");
    CHECK_NEAR(p[2], -2 + 0.1, 0, 1e-6, "adamw step 1, negative gradient");
    CHECK_NEAR(m[0], 0.1, 1e-6, 0, "adamw m");
    CHECK_NEAR(v[0], 0.001, 2e-5, 0, "adamw v");  // 1 - 0.999f = 0.000999987
    CHECK(g[0] == 0 && g[1] == 0 && g[2] == 0, "%s adamw zeroes the gradient", K->name);
}

// 3 steps on random values, large enough for the CPU's threads; ref without weights, the
// CPU writing its (fp32) weights, which must end equal to its parameters.
static void test_adamw(size_t n, size_t n_decay) {
    char what[96];
    float *p0 = fvec(n), *m0 = fvec(n), *v0 = fvec(n), *g = fvec(n), *zero = fvec(n), *w = fvec(n);
    fill(p0, n, 1.0f), fill(m0, n, 0.1f), fill(v0, n, 0.01f);
    for (size_t i = 0; i < n; i++) v0[i] = fabsf(v0[i]);
    float *p[2], *m[2], *v[2];  // [ref, cpu]
    for (int k = 0; k < 2; k++) p[k] = clone(p0, n), m[k] = clone(m0, n), v[k] = clone(v0, n);
    for (int step = 1; step <= 3; step++) {
        fill(g, n, 2.0f);
        float *gc = clone(g, n);
        ref->adamw(p[0], NULL, g, m[0], v[0], n, n_decay, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, step);
        cpu->adamw(p[1], w, gc, m[1], v[1], n, n_decay, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, step);
        CHECK(!memcmp(gc, zero, n * sizeof(float)), "adamw zeroes g");
        free(gc);
    }
    snprintf(what, sizeof what, "adamw p, m, v n=%zu n_decay=%zu", n, n_decay);
    check_same(what, p[1], p[0], n);
    check_same(what, m[1], m[0], n);
    check_same(what, v[1], v[0], n);
    check_same("adamw's weights", w, p[1], n);
    // weights_from_params: fp32 weights are a copy
    memset(w, 0, n * sizeof(float));
    cpu->weights_from_params(w, p0, n);
    check_same("weights_from_params", w, p0, n);
    for (int k = 0; k < 2; k++) free(p[k]), free(m[k]), free(v[k]);
    free(p0), free(m0), free(v0), free(g), free(zero), free(w);
}

// ---- the CPU backend's own: determinism ------------------------------------------------

// Every kernel on fixed inputs (from `seed`), large enough for OpenMP to split
// the work; the outputs go to segs[], named. Returns the number of segments.
typedef struct {
    const char *name;
    float *x;
    size_t n;
} Seg;

static Seg *segs;
static int ns;
static float *SEG(const char *name, size_t n) {
    segs[ns] = (Seg){name, fvec(n), n};
    return segs[ns++].x;
}

static void run_matmul(void) {
    int N = 96, C = 256, OC = 320;
    float *inp = fvec((size_t)N * C), *w = fvec((size_t)OC * C), *b = fvec(OC);
    float *dout = fvec((size_t)N * OC);
    fill(inp, (size_t)N * C, 1), fill(w, (size_t)OC * C, 1), fill(b, OC, 1);
    fill(dout, (size_t)N * OC, 1);
    cpu->matmul_forward(SEG("matmul_forward", (size_t)N * OC), inp, w, b, N, C, OC);
    float *dinp = SEG("matmul_backward dinp", (size_t)N * C);
    float *dw = SEG("matmul_backward dw", (size_t)OC * C), *db = SEG("matmul dbias", OC);
    cpu->matmul_backward(dinp, dw, db, dout, inp, w, N, C, OC);
    free(inp), free(w), free(b), free(dout);
}

// The matmul's row-wise path (N <= 64).
static void run_matmul_rows(void) {
    int N = 21, C = 300, OC = 200;
    float *inp = fvec((size_t)N * C), *w = fvec((size_t)OC * C), *b = fvec(OC);
    fill(inp, (size_t)N * C, 1), fill(w, (size_t)OC * C, 1), fill(b, OC, 1);
    cpu->matmul_forward(SEG("matmul_forward N=21", (size_t)N * OC), inp, w, b, N, C, OC);
    free(inp), free(w), free(b);
}

static void run_embedding(void) {
    int N = 500, C = 600, V = 40;
    int *tok = ivec(N);
    float *wte = fvec((size_t)V * C), *dout = fvec((size_t)N * C);
    for (int i = 0; i < N; i++) tok[i] = (int)rng_below(&rng, V);
    fill(wte, (size_t)V * C, 1), fill(dout, (size_t)N * C, 1);
    cpu->embedding_forward(SEG("embedding_forward", (size_t)N * C), tok, wte, N, C);
    cpu->embedding_backward(SEG("embedding_backward", (size_t)V * C), dout, tok, N, C);
    free(tok), free(wte), free(dout);
}

static void run_norm_rope_swiglu(void) {
    int N = 200, C = 700;
    float *x = fvec((size_t)N * C), *w = fvec(C), *dout = fvec((size_t)N * C);
    int *pos = ivec(N);
    fill(x, (size_t)N * C, 1), fill(w, C, 1), fill(dout, (size_t)N * C, 1);
    for (int i = 0; i < N; i++) pos[i] = (int)rng_below(&rng, 3000);
    float *rstd = SEG("rmsnorm_forward rstd", N);
    cpu->rmsnorm_forward(SEG("rmsnorm_forward", (size_t)N * C), rstd, x, w, 1e-6f, N, C);
    cpu->rmsnorm_backward(SEG("rmsnorm_backward dinp", (size_t)N * C),
                          SEG("rmsnorm_backward dw", C), dout, x, w, rstd, N, C);
    float *r = SEG("rope_forward", (size_t)N * C);
    memcpy(r, x, (size_t)N * C * sizeof(float));
    cpu->rope_forward(r, pos, N, C, 10, 64, 1e6f);
    cpu->swiglu_forward(SEG("swiglu_forward", (size_t)N * C / 2), x, N, C / 2);
    cpu->swiglu_backward(SEG("swiglu_backward", (size_t)N * C), dout, x, N, C / 2);
    free(x), free(w), free(dout), free(pos);
}

// Attention forward and backward, then decoding from a KV cache of the same qkv.
static void run_attention(void) {
    int B = 3, T = 70, H = 4, KV = 2, D = 16, lens[3] = {70, 17, 41};
    size_t row = (size_t)(H + 2 * KV) * D, N = (size_t)B * T;
    float *qkv = fvec(N * row), *dout = fvec(N * H * D);
    fill(qkv, N * row, 1.5f), fill(dout, N * H * D, 1);
    float *out = SEG("attention_forward", N * H * D), *lse = SEG("attention lse", N * H);
    cpu->attention_forward(out, lse, qkv, lens, B, T, H, KV, D);
    cpu->attention_backward(SEG("attention_backward", N * row), dout, qkv, out, lse, lens,
                            B, T, H, KV, D);
    int *slots = ivec(N), *pos = ivec(N), max_T = T;
    float *kc = fvec(N * KV * D), *vc = fvec(N * KV * D);
    for (size_t i = 0; i < N; i++) slots[i] = (int)(i / T), pos[i] = (int)(i % T);
    cpu->kv_cache_write(kc, vc, qkv, slots, pos, (int)N, H, KV, D, max_T);
    cpu->attention_decode(SEG("attention_decode", N * H * D), qkv, kc, vc, slots, pos, NULL,
                          NULL, (int)N, H, KV, D, max_T);
    free(qkv), free(dout), free(slots), free(pos), free(kc), free(vc);
}

static void run_crossentropy(void) {
    int N = 64, V = 3000;
    float *logits = fvec((size_t)N * V), *w = fvec(N);
    int *tg = ivec(N);
    fill(logits, (size_t)N * V, 5), fill(w, N, 1);
    for (int i = 0; i < N; i++) tg[i] = (int)rng_below(&rng, V);
    float *lp = SEG("crossentropy_forward", N), *lse = SEG("crossentropy lse", N);
    cpu->crossentropy_forward(lp, lse, logits, tg, N, V);
    cpu->crossentropy_backward(SEG("crossentropy_backward", (size_t)N * V), logits, lse, tg,
                               w, N, V);
    float *clp = SEG("crossentropy_chunk_forward", N), *clse = SEG("chunk lse", N), *sum = fvec(N);
    for (int v0 = 0; v0 < V; v0 += 1000)  // logits' first N x 1000 floats as every chunk
        cpu->crossentropy_chunk_forward(clp, clse, sum, logits, tg, N, V, v0, 1000);
    cpu->crossentropy_chunk_backward(SEG("crossentropy_chunk_backward", (size_t)N * 1000), logits,
                                     clse, tg, w, N, 1000, 1000);
    free(sum);
    free(logits), free(w), free(tg);
}

static void run_adamw(void) {
    size_t n = 3 * 65536 + 7;
    float *p = SEG("adamw p", n), *g = fvec(n), *m = SEG("adamw m", n), *v = SEG("adamw v", n);
    fill(p, n, 1), fill(g, n, 1);
    double ss = cpu->sum_squares(g, n);
    memcpy(SEG("sum_squares", 2), &ss, sizeof ss);
    cpu->adamw(p, NULL, g, m, v, n, n / 2, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, 3);
    free(g);
}

static int run_all(Seg *out, uint64_t seed) {
    Rng saved = rng;
    rng = rng_seed(seed);
    segs = out, ns = 0;
    run_matmul();
    run_matmul_rows();
    run_embedding();
    run_norm_rope_swiglu();
    run_attention();
    run_crossentropy();
    run_adamw();
    rng = saved;
    return ns;
}

static void test_threads(void) {
    Seg a[40], b[40];
    omp_set_num_threads(1);
    int na = run_all(a, 7);
    omp_set_num_threads(2);
    int nb = run_all(b, 7);
    CHECK(na == nb, "same segments");
    for (int i = 0; i < na && i < nb; i++) {
        CHECK(!memcmp(a[i].x, b[i].x, a[i].n * sizeof(float)), "%s: 1 vs 2 threads differ",
              a[i].name);
        free(a[i].x), free(b[i].x);
    }
}

// cpu_exp (attention's softmax): within 2 ulp of exp over its range, 0 below it (and at
// -inf), NaN kept; each element's bits the same whether computed in a vector or alone.
static void test_exp(void) {
    int n = 200003;
    float *x = fvec(n), *y = fvec(n), *y1 = fvec(1);
    for (int i = 0; i < n; i++) x[i] = -87.3f + (88.0f + 87.3f) * i / (n - 1);
    cpu_exp(y, x, n);
    double worst = 0;
    int same = 1;
    for (int i = 0; i < n; i++) {
        double want = exp((double)x[i]);
        double ulp = ldexp(1.0, ilogb(want) - 23);
        double e = fabs(y[i] - want) / ulp;
        if (!(e <= worst)) worst = e;
        if (i % 97 == 0) {
            cpu_exp(y1, x + i, 1);
            same &= !memcmp(y1, y + i, sizeof(float));
        }
    }
    printf("cpu_exp: max error %.3f ulp\n", worst);
    CHECK(worst <= 2.0, "cpu_exp: max error %.3g ulp on [-87.3, 88] (want <= 2)", worst);
    CHECK(same, "cpu_exp: an element alone == the same element in a vector");
    float sx[6] = {-INFINITY, -1e30f, -87.34f, 0.0f, NAN, 1.0f}, sy[6];
    cpu_exp(sy, sx, 6);
    CHECK(sy[0] == 0.0f && sy[1] == 0.0f && sy[2] == 0.0f && sy[3] == 1.0f && isnan(sy[4]) &&
              fabs(sy[5] - 2.718281828) < 3e-7,
          "cpu_exp: -inf, -1e30, -87.34 -> 0; 0 -> 1; NaN -> NaN; 1 -> e (got %g %g %g %g %g %g)",
          sy[0], sy[1], sy[2], sy[3], sy[4], sy[5]);
    free(x), free(y), free(y1);
}

// ---- gemm -----------------------------------------------------------------------------
// cpu_gemm against its definition -- every element one fmaf chain over k in order --
// bitwise, for both transpositions of each operand, overwrite and accumulate, on shapes
// that leave partial micro-tiles (M % 6, N % 16 and N % 32), cross K blocks (256) and
// column blocks (4096), and thread splits; for each micro-kernel this CPU has.
static void test_gemm_kernel(const char *name) {
    int shapes[][3] = {{1, 1, 1},   {5, 7, 3},     {6, 16, 256}, {13, 33, 257},
                       {97, 65, 600}, {200, 31, 40}, {7, 4200, 19}, {3, 5, 0}};
    for (int s = 0; s < 8; s++) {
        int M = shapes[s][0], N = shapes[s][1], Kd = shapes[s][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int acc = 0; acc < 2; acc++) {
                    int lda = (ta ? M : Kd) + 3, ldb = (tb ? Kd : N) + 2, ldc = N + 5;
                    size_t na = (size_t)(ta ? Kd : M) * lda, nb = (size_t)(tb ? N : Kd) * ldb;
                    float *A = fvec(na), *B = fvec(nb), *C = fvec((size_t)M * ldc);
                    float *want = fvec((size_t)M * ldc);
                    fill(A, na, 1), fill(B, nb, 1), fill(C, (size_t)M * ldc, 1);
                    memcpy(want, C, (size_t)M * ldc * sizeof(float));
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++) {
                            float c = acc ? want[(size_t)i * ldc + j] : 0.0f;
                            for (int k = 0; k < Kd; k++)
                                c = fmaf(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k],
                                         tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j], c);
                            want[(size_t)i * ldc + j] = c;
                        }
                    int same = 1;
                    for (int threads = 1; threads <= 2; threads++) {
                        float *got = fvec((size_t)M * ldc);
                        memcpy(got, C, (size_t)M * ldc * sizeof(float));
                        omp_set_num_threads(threads);
                        cpu_gemm(ta, tb, M, N, Kd, A, lda, B, ldb, acc, got, ldc);
                        same &= !memcmp(got, want, (size_t)M * ldc * sizeof(float));
                        free(got);
                    }
                    CHECK(same, "cpu_gemm (%s) M=%d N=%d K=%d trans %d%d accumulate=%d: bitwise "
                          "the fmaf chain, the padding of each row untouched, at 1 and 2 threads",
                          name, M, N, Kd, ta, tb, acc);
                    free(A), free(B), free(C), free(want);
                }
    }
}

static void test_gemm(void) {
    CHECK(cpu_gemm_select(CPU_GEMM_V8), "cpu_gemm_select(V8): the 8-lane kernel runs anywhere");
    test_gemm_kernel("8 lanes");
    if (cpu_gemm_select(CPU_GEMM_V16)) test_gemm_kernel("AVX-512");
    else printf("SKIP cpu_gemm's AVX-512 kernel: this CPU lacks AVX-512F\n");
    if (cpu_gemm_select(CPU_GEMM_NEON)) test_gemm_kernel("NEON");
    else printf("SKIP cpu_gemm's NEON kernel: not an Arm CPU\n");
    CHECK(cpu_gemm_select(CPU_GEMM_AUTO), "cpu_gemm_select(AUTO)");
    omp_set_num_threads(2);
}

// A matmul of N rows, and its rows recomputed in calls of 3, 2 and 1 rows (every partial
// group of the row-wise tiles): returns whether all agree bitwise.
static int matmul_rows_agree(const Kernels *K, int N, int C, int OC) {
    float *inp = fvec((size_t)N * C), *w = fvec((size_t)OC * C), *bias = fvec(OC);
    float *all = fvec((size_t)N * OC), *part = fvec((size_t)N * OC);
    fill(inp, (size_t)N * C, 1), fill(w, (size_t)OC * C, 1), fill(bias, OC, 1);
    K->matmul_forward(all, inp, w, bias, N, C, OC);
    int same = 1;
    for (int step = 1; step <= 3; step++)
        for (int n0 = 0; n0 < N; n0 += step) {
            int m = N - n0 < step ? N - n0 : step;
            K->matmul_forward(part, inp + (size_t)n0 * C, w, bias, m, C, OC);
            same &= !memcmp(part, all + (size_t)n0 * OC, (size_t)m * OC * sizeof(float));
        }
    free(inp), free(w), free(bias), free(all), free(part);
    return same;
}

// Rows per call up to K's max_rows_invariant (0: any, 100 tried) agree bitwise.
static void test_matmul_rows(const Kernels *K, int C, int OC) {
    int N = K->max_rows_invariant > 0 ? K->max_rows_invariant : 100;
    CHECK(matmul_rows_agree(K, N, C, OC), "%s matmul_forward C=%d OC=%d: a row's bits the same "
          "in calls of %d, 3, 2 and 1 rows (max_rows_invariant %d)", K->name, C, OC, N,
          K->max_rows_invariant);
}

// A sequence's attention rows (and their decode) do not depend on the rest of the batch
// or on the padded width T of the grid.
static void test_attention_rows(const Kernels *K) {
    int H = 4, KV = 2, D = 16, T = 16, len = 11;
    size_t row = (size_t)(H + 2 * KV) * D, ow = (size_t)H * D;
    int lens3[3] = {16, len, 5};
    float *qkv3 = fvec(3 * T * row), *out3 = fvec(3 * T * ow), *lse3 = fvec(3 * T * H);
    float *out1 = fvec(len * ow), *lse1 = fvec(len * H);
    fill(qkv3, 3 * T * row, 1.5f);
    K->attention_forward(out3, lse3, qkv3, lens3, 3, T, H, KV, D);
    K->attention_forward(out1, lse1, qkv3 + T * row, &len, 1, len, H, KV, D);
    CHECK(!memcmp(out1, out3 + T * ow, len * ow * sizeof(float)) &&
              !memcmp(lse1, lse3 + T * H, len * H * sizeof(float)),
          "%s attention rows: a sequence alone (B=1, T=len) == in a batch (B=3, T=16)", K->name);
    // decode: token n of a 16-token step == the same token in a 1-token step
    int n_slots = 3, max_T = T, slots[16], pos[16];
    float *kc = fvec((size_t)n_slots * max_T * KV * D);
    float *vc = fvec((size_t)n_slots * max_T * KV * D);
    float *o16 = fvec(16 * ow), *o1 = fvec(ow);
    for (int n = 0; n < 16; n++) slots[n] = n % 3, pos[n] = n / 3;
    K->kv_cache_write(kc, vc, qkv3, slots, pos, 16, H, KV, D, max_T);
    K->attention_decode(o16, qkv3, kc, vc, slots, pos, NULL, NULL, 16, H, KV, D, max_T);
    int same = 1;
    for (int n = 0; n < 16; n++) {
        K->attention_decode(o1, qkv3 + n * row, kc, vc, slots + n, pos + n, NULL, NULL, 1, H, KV, D, max_T);
        same &= !memcmp(o1, o16 + n * ow, ow * sizeof(float));
    }
    CHECK(same, "%s attention_decode rows: N=1 == N=16", K->name);
    free(qkv3), free(out3), free(lse3), free(out1), free(lse1), free(kc), free(vc), free(o16);
    free(o1);
}

int main(void) {
    ref = kernels_by_name("ref");
    cpu = kernels_by_name("cpu");
    CHECK(ref == &kernels_ref && cpu == &kernels_cpu && !strcmp(ref->name, "ref") &&
              !strcmp(cpu->name, "cpu"), "kernels_by_name(\"ref\"), (\"cpu\")");
    for (int i = 0; i < 2; i++) {
        const Kernels *k = i ? cpu : ref;
        CHECK(k->weight_elem_bytes == 4 && k->act_elem_bytes == 4 && k->kv_elem_bytes == 4,
              "%s: fp32 weights, product inputs and KV cache", k->name);
    }
    rng = rng_seed(1234);
    omp_set_num_threads(2);

    // conformance: cpu against ref
    test_memory(ref);
    test_memory(cpu);
    float *a = cpu->alloc(1000);
    CHECK((uintptr_t)a % 64 == 0, "cpu alloc: 64-byte aligned");
    cpu->free(a);
    test_add(1);
    test_add(100003);
    // up to CPU_ROWWISE_MAX = 64 rows the row-wise kernels, above it cpu_gemm
    int mm[][3] = {{1, 5, 3}, {3, 64, 17}, {17, 33, 64}, {16, 128, 5}, {64, 300, 40},
                   {65, 64, 33}, {131, 7, 257}};
    for (int i = 0; i < 7; i++) {
        test_matmul(mm[i][0], mm[i][1], mm[i][2], 1);
        test_matmul(mm[i][0], mm[i][1], mm[i][2], 0);
    }
    test_embedding(1, 5, 3);
    test_embedding(17, 64, 5);
    test_embedding(300, 600, 7);
    int nc[][2] = {{1, 5}, {3, 64}, {17, 5}, {17, 300}, {5, 3001}};
    for (int i = 0; i < 5; i++) {
        test_rmsnorm(nc[i][0], nc[i][1]);
        test_swiglu(nc[i][0], nc[i][1]);
        test_crossentropy(nc[i][0], nc[i][1]);
    }
    // chunks that divide V, that do not, one of V
    int ch[][3] = {{1, 5, 2}, {3, 64, 16}, {17, 300, 7}, {5, 3001, 1000}, {5, 3001, 3001}, {70, 517, 128}};
    for (int i = 0; i < 6; i++) test_crossentropy_chunks(ch[i][0], ch[i][1], ch[i][2]);
    for (int i = 0; i < 3; i++) {
        const SamplingShape *s = &sampling_shapes[i];
        test_argmax_logprob(s->N, s->V, s->ld);
        test_sampling_candidates(s->N, s->V, s->ld);
        test_temperature_draws(s->N, s->V, s->ld, s->n_draws);
    }
    test_rope(1, 1, 8, 8);
    test_rope(3, 4, 16, 80);    // 4 of 5 heads
    test_rope(17, 3, 8, 40);    // 3 of 5 heads
    test_rope(5, 2, 300, 600);  // D/2 > one frequency chunk

    int l1[] = {1}, l2[] = {7, 1}, l3[] = {17, 1, 9}, l4[] = {3, 5};
    test_attention(1, 1, 4, 4, 8, l1);
    test_attention(2, 7, 4, 2, 8, l2);
    test_attention(3, 17, 4, 1, 16, l3);
    test_attention(2, 5, 4, 4, 16, l4);
    int l5[] = {600, 300};  // past several online-softmax blocks of 256 keys
    test_attention(2, 600, 2, 1, 8, l5);
    int l6[] = {259};  // backward: a group of query rows past the first block of keys
    test_attention(1, 259, 2, 1, 8, l6);
    // keys copied in runs of 24 (D = 130, a vector tail): runs and chunks cut blocks and
    // the 16-row groups; D = 520: keys read in place
    int l7[] = {75, 60};
    test_attention(2, 75, 2, 1, 130, l7);
    int l8[] = {19};
    test_attention(1, 19, 2, 2, 520, l8);
    test_kv_cache_write(1, 4, 2, 8);
    test_kv_cache_write(40, 3, 3, 20);

    test_sum_squares(0);
    test_sum_squares(1);
    test_sum_squares(3 * 65536 + 11);
    test_adamw_step1(ref);
    test_adamw_step1(cpu);
    test_adamw(37, 20);
    test_adamw(3 * 65536 + 7, 100000);

    // the CPU backend's own promises (and ref's rows, which hold in calls of any size)
    test_threads();
    test_matmul_rows(cpu, 64, 96);
    test_matmul_rows(cpu, 256, 384);
    test_matmul_rows(cpu, 5, 3);
    test_matmul_rows(cpu, 1027, 512);
    test_matmul_rows(ref, 300, 200);
    test_attention_rows(cpu);
    test_attention_rows(ref);
    test_exp();
    test_gemm();
    return test_summary();
}
