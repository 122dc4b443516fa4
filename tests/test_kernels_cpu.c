// tests/test_kernels_cpu.c -- the CPU backend against double-precision references.
//
// Forward: every primitive against a naive double implementation written here, on random
// inputs of odd shapes. Backward: against central differences (h = 1e-4, in double) of a
// random linear functional L = sum r . out of the *double reference* forward, so each check
// measures only the float kernel's error. A check passes when |got - want| <= atol +
// rtol |want| for every element; the tolerances are stated where they are used. Also:
// padding rows are zero and never read (NaN there stays out of every result), the KV cache
// decode reproduces the training forward, AdamW matches a hand-computed step, and every
// kernel is bitwise identical at 1 and 2 threads and whatever other rows share the call.
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../base/rng.h"
#include "../kernels/cpu/cpu.h"
#include "../kernels/kernels.h"
#include "test.h"

static const Kernels *K;
static Rng rng;

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) abort();
    return p;
}
static float *fvec(size_t n) { return xcalloc(n, sizeof(float)); }
static double *dvec(size_t n) { return xcalloc(n, sizeof(double)); }
static int *ivec(size_t n) { return xcalloc(n, sizeof(int)); }

// uniform in [-a, a)
static void fill(float *x, size_t n, float a) {
    for (size_t i = 0; i < n; i++) x[i] = (2.0f * rng_float(&rng) - 1.0f) * a;
}
static double *to_double(const float *x, size_t n) {
    double *d = dvec(n);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

// One CHECK for n values: |got - want| <= atol + rtol |want| everywhere (NaN fails);
// the message names the worst element.
static void check_close(const char *what, const float *got, const double *want, size_t n,
                        double rtol, double atol) {
    size_t worst = 0;
    double worst_ratio = 0.0;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        double err = fabs(got[i] - want[i]), tol = atol + rtol * fabs(want[i]);
        if (!(err <= tol)) {
            double ratio = isnan(err) ? INFINITY : err / tol;
            if (ok || ratio > worst_ratio) worst = i, worst_ratio = ratio;
            ok = 0;
        }
    }
    CHECK(ok, "%s: element %zu of %zu: got %.9g, want %.9g", what, worst, n,
          n ? got[worst] : 0.0, n ? want[worst] : 0.0);
}

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

static int rows_zero(const float *x, size_t row, const int *lens, int B, int T) {
    for (int b = 0; b < B; b++)
        for (int t = lens[b]; t < T; t++)
            for (size_t c = 0; c < row; c++)
                if (x[((size_t)b * T + t) * row + c] != 0.0f) return 0;
    return 1;
}

// Gradient check: grad[k] against (f(x + h e_k) - f(x - h e_k)) / 2h for every
// stride-th element k of x (a double array f reads through ctx).
typedef double (*LossFn)(void *ctx);
static void check_grad(const char *what, LossFn f, void *ctx, double *x, size_t n,
                       const float *grad, size_t stride, double rtol, double atol) {
    const double h = 1e-4;
    size_t m = 0;
    float *got = fvec(n);
    double *want = dvec(n);
    for (size_t k = rng_below(&rng, stride); k < n; k += stride) {
        double x0 = x[k];
        x[k] = x0 + h;
        double lp = f(ctx);
        x[k] = x0 - h;
        double lm = f(ctx);
        x[k] = x0;
        got[m] = grad[k];
        want[m++] = (lp - lm) / (2 * h);
    }
    check_close(what, got, want, m, rtol, atol);
    free(got);
    free(want);
}

// ---- double references ---------------------------------------------------------------

static void ref_matmul(double *out, const double *inp, const double *w, const double *bias,
                       int N, int C, int OC) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int c = 0; c < C; c++) s += inp[(size_t)n * C + c] * w[(size_t)o * C + c];
            out[(size_t)n * OC + o] = s;
        }
}

static void ref_rmsnorm(double *out, double *rstd, const double *inp, const double *w,
                        double eps, int N, int C) {
    for (int n = 0; n < N; n++) {
        const double *x = inp + (size_t)n * C;
        double ss = 0.0;
        for (int c = 0; c < C; c++) ss += x[c] * x[c];
        double r = 1.0 / sqrt(ss / C + eps);
        for (int c = 0; c < C; c++) out[(size_t)n * C + c] = x[c] * r * w[c];
        if (rstd) rstd[n] = r;
    }
}

static void ref_rope(double *x, const int *pos, int N, int stride, int nh, int D, double theta) {
    for (int n = 0; n < N; n++)
        for (int h = 0; h < nh; h++)
            for (int i = 0; i < D / 2; i++) {
                double f = pos[n] * (1.0 / pow(theta, 2.0 * i / D));
                double *a = x + (size_t)n * stride + (size_t)h * D + i, *b = a + D / 2;
                double xa = *a, xb = *b;
                *a = xa * cos(f) - xb * sin(f);
                *b = xb * cos(f) + xa * sin(f);
            }
}

static void ref_attention(double *out, double *lse, const double *qkv, const int *lens, int B,
                          int T, int H, int KV, int D) {
    size_t row = (size_t)(H + 2 * KV) * D;
    double *s = dvec(T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                size_t n = (size_t)b * T + t;
                double *o = out + n * H * D + (size_t)h * D;
                memset(o, 0, (size_t)D * sizeof(double));
                if (lse) lse[n * H + h] = 0.0;
                if (t >= lens[b]) continue;
                const double *q = qkv + n * row + (size_t)h * D;
                size_t koff = (size_t)(H + h / (H / KV)) * D, voff = koff + (size_t)KV * D;
                double max = -INFINITY, sum = 0.0;
                for (int j = 0; j <= t; j++) {
                    const double *k = qkv + ((size_t)b * T + j) * row + koff;
                    double d = 0.0;
                    for (int i = 0; i < D; i++) d += q[i] * k[i];
                    s[j] = d / sqrt(D);
                    if (s[j] > max) max = s[j];
                }
                for (int j = 0; j <= t; j++) sum += exp(s[j] - max);
                for (int j = 0; j <= t; j++) {
                    const double *v = qkv + ((size_t)b * T + j) * row + voff;
                    double p = exp(s[j] - max) / sum;
                    for (int i = 0; i < D; i++) o[i] += p * v[i];
                }
                if (lse) lse[n * H + h] = max + log(sum);
            }
    free(s);
}

static void ref_swiglu(double *out, const double *gu, int N, int I) {
    for (int n = 0; n < N; n++)
        for (int i = 0; i < I; i++) {
            double g = gu[(size_t)n * 2 * I + i], u = gu[(size_t)n * 2 * I + I + i];
            out[(size_t)n * I + i] = g / (1.0 + exp(-g)) * u;
        }
}

static void ref_crossentropy(double *logprob, double *lse, const double *logits,
                             const int *targets, int N, int V) {
    for (int n = 0; n < N; n++) {
        logprob[n] = lse[n] = 0.0;
        if (targets[n] < 0) continue;
        const double *x = logits + (size_t)n * V;
        double max = -INFINITY, sum = 0.0;
        for (int v = 0; v < V; v++) max = x[v] > max ? x[v] : max;
        for (int v = 0; v < V; v++) sum += exp(x[v] - max);
        lse[n] = max + log(sum);
        logprob[n] = x[targets[n]] - lse[n];
    }
}

static double dot_d(const double *a, const double *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

// ---- memory and the residual add -----------------------------------------------------

static void test_memory(void) {
    size_t n = 1000;
    float *a = K->alloc(n * sizeof(float));
    CHECK(a != NULL && (uintptr_t)a % 64 == 0, "alloc: 64-byte aligned");
    int zero = 1;
    for (size_t i = 0; i < n; i++) zero &= a[i] == 0.0f;
    CHECK(zero, "alloc: zero-filled");
    float *h = fvec(n), *back = fvec(n), *b = K->alloc(n * sizeof(float));
    fill(h, n, 1.0f);
    K->upload(a, h, n * sizeof(float));
    K->copy(b, a, n * sizeof(float));
    K->synchronize();
    K->download(back, b, n * sizeof(float));
    CHECK(!memcmp(back, h, n * sizeof(float)), "upload/copy/download round trip");
    K->zero(b, n * sizeof(float));
    K->download(back, b, n * sizeof(float));
    zero = 1;
    for (size_t i = 0; i < n; i++) zero &= back[i] == 0.0f;
    CHECK(zero, "zero");

    // add, out-of-place and aliased (out == a)
    float *x = fvec(n), *y = fvec(n), *z = fvec(n);
    fill(x, n, 1.0f);
    fill(y, n, 1.0f);
    K->add(z, x, y, n);
    int exact = 1;
    for (size_t i = 0; i < n; i++) exact &= z[i] == x[i] + y[i];
    CHECK(exact, "add");
    K->add(x, x, y, n);
    CHECK(!memcmp(x, z, n * sizeof(float)), "add with out == a");
    K->free(a);
    K->free(b);
    K->free(K->alloc(0));
    free(h), free(back), free(x), free(y), free(z);
}

// ---- matmul --------------------------------------------------------------------------

typedef struct {
    int N, C, OC;
    double *inp, *w, *bias, *r, *out;
} MatmulCtx;

static double matmul_loss(void *p) {
    MatmulCtx *c = p;
    ref_matmul(c->out, c->inp, c->w, c->bias, c->N, c->C, c->OC);
    return dot_d(c->r, c->out, (size_t)c->N * c->OC);
}

static void test_matmul(int N, int C, int OC, int with_bias) {
    char what[128];
    size_t ni = (size_t)N * C, nw = (size_t)OC * C, no = (size_t)N * OC;
    float *inp = fvec(ni), *w = fvec(nw), *bias = with_bias ? fvec(OC) : NULL;
    float *out = fvec(no), *dout = fvec(no), *dinp = fvec(ni), *dw = fvec(nw), *db = fvec(OC);
    fill(inp, ni, 1.0f);
    fill(w, nw, 1.0f);
    if (bias) fill(bias, OC, 1.0f);
    fill(dout, no, 1.0f);
    MatmulCtx c = {N, C, OC, to_double(inp, ni), to_double(w, nw),
                   bias ? to_double(bias, OC) : NULL, to_double(dout, no), dvec(no)};

    // forward: float dot products of C terms of size <= 1: rtol 1e-5, atol 1e-6 C
    K->matmul_forward(out, inp, w, bias, N, C, OC);
    double *want = dvec(no);
    ref_matmul(want, c.inp, c.w, c.bias, N, C, OC);
    snprintf(what, sizeof what, "matmul_forward N=%d C=%d OC=%d bias=%d", N, C, OC, with_bias);
    check_close(what, out, want, no, 1e-5, 1e-6 * C);

    // backward: dinp overwritten (NaN before), dw and dbias accumulate onto random values
    for (size_t i = 0; i < ni; i++) dinp[i] = NAN;
    float *dw0 = fvec(nw), *db0 = fvec(OC);
    fill(dw0, nw, 1.0f);
    fill(db0, OC, 1.0f);
    memcpy(dw, dw0, nw * sizeof(float));
    memcpy(db, db0, OC * sizeof(float));
    K->matmul_backward(dinp, dw, db, dout, inp, w, N, C, OC);
    for (size_t i = 0; i < nw; i++) dw[i] -= dw0[i];
    for (int i = 0; i < OC; i++) db[i] -= db0[i];
    // rtol 1e-4, atol 1e-5 * (terms summed): float sums of products of size <= 1
    snprintf(what, sizeof what, "matmul_backward dinp N=%d C=%d OC=%d", N, C, OC);
    check_grad(what, matmul_loss, &c, c.inp, ni, dinp, 1 + ni / 300, 1e-4, 1e-5 * OC);
    snprintf(what, sizeof what, "matmul_backward dw N=%d C=%d OC=%d", N, C, OC);
    check_grad(what, matmul_loss, &c, c.w, nw, dw, 1 + nw / 300, 1e-4, 1e-5 * (N + 2));
    if (bias) {
        snprintf(what, sizeof what, "matmul_backward dbias N=%d C=%d OC=%d", N, C, OC);
        check_grad(what, matmul_loss, &c, c.bias, OC, db, 1, 1e-4, 1e-5 * (N + 2));
    }
    // NULL gradients are skipped
    K->matmul_backward(NULL, NULL, NULL, dout, inp, w, N, C, OC);
    free(inp), free(w), free(bias), free(out), free(dout), free(dinp), free(dw), free(db);
    free(dw0), free(db0), free(want);
    free(c.inp), free(c.w), free(c.bias), free(c.r), free(c.out);
}

// ---- embedding -----------------------------------------------------------------------

static void test_embedding(int N, int C, int V) {
    char what[96];
    float *wte = fvec((size_t)V * C), *out = fvec((size_t)N * C), *dout = fvec((size_t)N * C);
    float *dwte = fvec((size_t)V * C);
    int *tok = ivec(N);
    fill(wte, (size_t)V * C, 1.0f);
    fill(dout, (size_t)N * C, 1.0f);
    fill(dwte, (size_t)V * C, 1.0f);
    for (int n = 0; n < N; n++) tok[n] = (int)rng_below(&rng, V);  // repeats when N > V
    K->embedding_forward(out, tok, wte, N, C);
    int exact = 1;
    for (int n = 0; n < N; n++)
        exact &= !memcmp(out + (size_t)n * C, wte + (size_t)tok[n] * C, C * sizeof(float));
    snprintf(what, sizeof what, "embedding_forward N=%d C=%d", N, C);
    CHECK(exact, "%s", what);
    double *want = to_double(dwte, (size_t)V * C);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) want[(size_t)tok[n] * C + c] += dout[(size_t)n * C + c];
    K->embedding_backward(dwte, dout, tok, N, C);
    snprintf(what, sizeof what, "embedding_backward N=%d C=%d V=%d", N, C, V);
    check_close(what, dwte, want, (size_t)V * C, 1e-6, 1e-5);  // float sums of N terms
    free(wte), free(out), free(dout), free(dwte), free(tok), free(want);
}

// ---- RMSNorm -------------------------------------------------------------------------

typedef struct {
    int N, C;
    double *inp, *w, *r, *out;
} NormCtx;

static double rmsnorm_loss(void *p) {
    NormCtx *c = p;
    ref_rmsnorm(c->out, NULL, c->inp, c->w, 1e-5, c->N, c->C);
    return dot_d(c->r, c->out, (size_t)c->N * c->C);
}

static void test_rmsnorm(int N, int C) {
    char what[96];
    size_t n = (size_t)N * C;
    float *inp = fvec(n), *w = fvec(C), *out = fvec(n), *rstd = fvec(N), *dout = fvec(n);
    float *dinp = fvec(n), *dinp0 = fvec(n), *dw = fvec(C), *dw0 = fvec(C);
    fill(inp, n, 2.0f);
    fill(w, C, 1.5f);
    fill(dout, n, 1.0f);
    fill(dinp0, n, 1.0f);
    fill(dw0, C, 1.0f);
    NormCtx c = {N, C, to_double(inp, n), to_double(w, C), to_double(dout, n), dvec(n)};
    double *want = dvec(n), *want_r = dvec(N);
    ref_rmsnorm(want, want_r, c.inp, c.w, 1e-5, N, C);
    K->rmsnorm_forward(out, rstd, inp, w, 1e-5f, N, C);
    snprintf(what, sizeof what, "rmsnorm_forward N=%d C=%d", N, C);
    check_close(what, out, want, n, 1e-5, 1e-6);
    check_close("rmsnorm_forward rstd", rstd, want_r, N, 1e-5, 0.0);

    // dinp and dw accumulate onto random values
    memcpy(dinp, dinp0, n * sizeof(float));
    memcpy(dw, dw0, C * sizeof(float));
    K->rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N, C);
    for (size_t i = 0; i < n; i++) dinp[i] -= dinp0[i];
    for (int i = 0; i < C; i++) dw[i] -= dw0[i];
    snprintf(what, sizeof what, "rmsnorm_backward dinp N=%d C=%d", N, C);
    check_grad(what, rmsnorm_loss, &c, c.inp, n, dinp, 1 + n / 300, 1e-4, 1e-5);
    snprintf(what, sizeof what, "rmsnorm_backward dw N=%d C=%d", N, C);
    check_grad(what, rmsnorm_loss, &c, c.w, C, dw, 1, 1e-4, 1e-5 * N);
    free(inp), free(w), free(out), free(rstd), free(dout), free(dinp), free(dinp0), free(dw);
    free(dw0), free(want), free(want_r), free(c.inp), free(c.w), free(c.r), free(c.out);
}

// ---- RoPE ----------------------------------------------------------------------------

typedef struct {
    int N, stride, nh, D;
    const int *pos;
    double *x, *r, *out;
} RopeCtx;

static double rope_loss(void *p) {
    RopeCtx *c = p;
    size_t n = (size_t)c->N * c->stride;
    memcpy(c->out, c->x, n * sizeof(double));
    ref_rope(c->out, c->pos, c->N, c->stride, c->nh, c->D, 10000.0);
    return dot_d(c->r, c->out, n);
}

// The first nh heads of rows stride wide (stride > nh * D: the rest must stay untouched).
static void test_rope(int N, int nh, int D, int stride) {
    char what[96];
    size_t n = (size_t)N * stride;
    float *x = fvec(n), *x0 = fvec(n), *dx = fvec(n);
    int *pos = ivec(N);
    fill(x0, n, 1.0f);
    fill(dx, n, 1.0f);
    for (int i = 0; i < N; i++) pos[i] = i == 0 ? 0 : (int)rng_below(&rng, 5000);
    RopeCtx c = {N, stride, nh, D, pos, to_double(x0, n), to_double(dx, n), dvec(n)};
    double *want = to_double(x0, n);
    ref_rope(want, pos, N, stride, nh, D, 10000.0);
    memcpy(x, x0, n * sizeof(float));
    K->rope_forward(x, pos, N, stride, nh, D, 10000.0f);
    // cos and sin rounded to float once, then two float products and a sum
    snprintf(what, sizeof what, "rope_forward N=%d heads=%d D=%d", N, nh, D);
    check_close(what, x, want, n, 1e-6, 3e-7);
    int untouched = 1;
    for (int i = 0; i < N; i++)
        for (int j = nh * D; j < stride; j++)
            untouched &= x[(size_t)i * stride + j] == x0[(size_t)i * stride + j];
    CHECK(untouched, "rope_forward leaves the heads past n_heads alone");
    // backward of the rotation: the gradient of sum r . rope(x) is rope_backward(r)
    K->rope_backward(dx, pos, N, stride, nh, D, 10000.0f);
    snprintf(what, sizeof what, "rope_backward N=%d heads=%d D=%d", N, nh, D);
    check_grad(what, rope_loss, &c, c.x, n, dx, 1 + n / 400, 1e-5, 1e-6);
    // and it inverts the forward
    K->rope_backward(x, pos, N, stride, nh, D, 10000.0f);
    double *orig = to_double(x0, n);
    check_close("rope_backward(rope_forward(x)) == x", x, orig, n, 1e-6, 1e-6);
    free(x), free(x0), free(dx), free(pos), free(want), free(orig);
    free(c.x), free(c.r), free(c.out);
}

// ---- attention -----------------------------------------------------------------------

typedef struct {
    int B, T, H, KV, D;
    const int *lens;
    double *qkv, *r, *out;
} AttCtx;

// sum over valid rows of r . out (r is NaN at padding rows, like dout in the test)
static double attention_loss(void *p) {
    AttCtx *c = p;
    ref_attention(c->out, NULL, c->qkv, c->lens, c->B, c->T, c->H, c->KV, c->D);
    size_t w = (size_t)c->H * c->D;
    double s = 0.0;
    for (int b = 0; b < c->B; b++)
        for (int t = 0; t < c->lens[b]; t++)
            s += dot_d(c->r + ((size_t)b * c->T + t) * w, c->out + ((size_t)b * c->T + t) * w, w);
    return s;
}

static void set_padding(float *x, size_t row, const int *lens, int B, int T, float value) {
    for (int b = 0; b < B; b++)
        for (int t = lens[b]; t < T; t++)
            for (size_t c = 0; c < row; c++) x[((size_t)b * T + t) * row + c] = value;
}

// Replays the (B, T) grid through the KV cache: every sequence in its own slot (in
// reverse order, slot 0 unused), a prefill step of the first half of every sequence,
// then one step per position carrying one token of each sequence still running. With
// `shared`, the prefill goes to slots B+1.. and the later steps read it from there (the
// prefix slots of a shared prompt). Returns whether every row equals the training
// forward bitwise.
static int decode_matches(const float *qkv, const float *out, const int *lens, int B, int T,
                          int H, int KV, int D, int shared) {
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

static void test_attention(int B, int T, int H, int KV, int D, const int *lens, int grad) {
    char what[128], shape[64];
    snprintf(shape, sizeof shape, "B=%d T=%d H=%d KV=%d D=%d", B, T, H, KV, D);
    size_t row = (size_t)(H + 2 * KV) * D, ow = (size_t)H * D, N = (size_t)B * T;
    float *qkv = fvec(N * row), *out = fvec(N * ow), *lse = fvec(N * H);
    float *dout = fvec(N * ow), *dqkv = fvec(N * row);
    fill(qkv, N * row, 1.5f);
    fill(dout, N * ow, 1.0f);
    fill(out, N * ow, 9.0f);  // garbage: padding rows must be overwritten with zeros
    fill(lse, N * H, 9.0f);
    set_padding(qkv, row, lens, B, T, NAN);  // never read
    set_padding(dout, ow, lens, B, T, NAN);
    AttCtx c = {B, T, H, KV, D, lens, to_double(qkv, N * row), to_double(dout, N * ow),
                dvec(N * ow)};
    double *want = dvec(N * ow), *want_lse = dvec(N * H);
    ref_attention(want, want_lse, c.qkv, lens, B, T, H, KV, D);

    K->attention_forward(out, lse, qkv, lens, B, T, H, KV, D);
    snprintf(what, sizeof what, "attention_forward out %s", shape);
    check_close(what, out, want, N * ow, 1e-5, 2e-6);
    snprintf(what, sizeof what, "attention_forward lse %s", shape);
    check_close(what, lse, want_lse, N * H, 1e-6, 1e-6);
    CHECK(rows_zero(out, ow, lens, B, T) && rows_zero(lse, H, lens, B, T),
          "attention_forward: padding rows zero (%s)", shape);
    CHECK(decode_matches(qkv, out, lens, B, T, H, KV, D, 0),
          "kv_cache_write + attention_decode == attention_forward bitwise (%s)", shape);
    CHECK(decode_matches(qkv, out, lens, B, T, H, KV, D, 1),
          "attention_decode reading a shared prompt's slot == attention_forward bitwise (%s)", shape);

    if (grad) {
        float *out_nan = fvec(N * ow);
        memcpy(out_nan, out, N * ow * sizeof(float));
        set_padding(out_nan, ow, lens, B, T, NAN);
        fill(dqkv, N * row, 9.0f);  // overwritten
        K->attention_backward(dqkv, dout, qkv, out_nan, lse, lens, B, T, H, KV, D);
        CHECK(all_finite(dqkv, N * row) && rows_zero(dqkv, row, lens, B, T),
              "attention_backward: finite, padding rows zero (%s)", shape);
        // float scores and probabilities, sums of up to T * H/KV terms: rtol 1e-4, atol 1e-5
        snprintf(what, sizeof what, "attention_backward dqkv %s", shape);
        check_grad(what, attention_loss, &c, c.qkv, N * row, dqkv, 1 + N * row / 400, 1e-4,
                   1e-5);
        free(out_nan);
    }
    free(qkv), free(out), free(lse), free(dout), free(dqkv), free(want), free(want_lse);
    free(c.qkv), free(c.r), free(c.out);
}

// ---- SwiGLU --------------------------------------------------------------------------

typedef struct {
    int N, I;
    double *gu, *r, *out;
} SwigluCtx;

static double swiglu_loss(void *p) {
    SwigluCtx *c = p;
    ref_swiglu(c->out, c->gu, c->N, c->I);
    return dot_d(c->r, c->out, (size_t)c->N * c->I);
}

static void test_swiglu(int N, int I) {
    char what[96];
    size_t n = (size_t)N * I;
    float *gu = fvec(2 * n), *out = fvec(n), *dout = fvec(n), *dgu = fvec(2 * n);
    fill(gu, 2 * n, 4.0f);
    fill(dout, n, 1.0f);
    SwigluCtx c = {N, I, to_double(gu, 2 * n), to_double(dout, n), dvec(n)};
    double *want = dvec(n);
    ref_swiglu(want, c.gu, N, I);
    K->swiglu_forward(out, gu, N, I);
    snprintf(what, sizeof what, "swiglu_forward N=%d I=%d", N, I);
    check_close(what, out, want, n, 1e-6, 1e-7);
    K->swiglu_backward(dgu, dout, gu, N, I);
    snprintf(what, sizeof what, "swiglu_backward N=%d I=%d", N, I);
    check_grad(what, swiglu_loss, &c, c.gu, 2 * n, dgu, 1 + n / 300, 1e-5, 1e-6);
    free(gu), free(out), free(dout), free(dgu), free(want), free(c.gu), free(c.r), free(c.out);
}

// ---- cross-entropy -------------------------------------------------------------------

typedef struct {
    int N, V;
    const int *targets;
    const float *weights;
    double *logits, *logprob, *lse;
} CeCtx;

static double ce_loss(void *p) {  // sum_n w_n * -logprob_n
    CeCtx *c = p;
    ref_crossentropy(c->logprob, c->lse, c->logits, c->targets, c->N, c->V);
    double s = 0.0;
    for (int n = 0; n < c->N; n++) s -= c->weights[n] * c->logprob[n];
    return s;
}

static void test_crossentropy(int N, int V) {
    char what[96];
    size_t n = (size_t)N * V;
    float *logits = fvec(n), *logprob = fvec(N), *lse = fvec(N), *w = fvec(N);
    float *dlogits = fvec(n), *inplace = fvec(n);
    int *tg = ivec(N);
    fill(logits, n, 3.0f);
    for (int v = 0; v < V; v++) logits[v] += 80.0f;  // row 0: large logits (stability)
    fill(w, N, 2.0f);                               // signed weights
    for (int i = 0; i < N; i++) tg[i] = (int)rng_below(&rng, V);
    if (N > 1) tg[1] = -1;  // no target
    if (N > 2) w[2] = 0.0f;
    CeCtx c = {N, V, tg, w, to_double(logits, n), dvec(N), dvec(N)};
    double *want_lp = dvec(N), *want_lse = dvec(N);
    ref_crossentropy(want_lp, want_lse, c.logits, tg, N, V);
    K->crossentropy_forward(logprob, lse, logits, tg, N, V);
    snprintf(what, sizeof what, "crossentropy_forward logprob N=%d V=%d", N, V);
    check_close(what, logprob, want_lp, N, 1e-5, 1e-5);
    snprintf(what, sizeof what, "crossentropy_forward lse N=%d V=%d", N, V);
    check_close(what, lse, want_lse, N, 1e-6, 1e-6);

    K->crossentropy_backward(dlogits, logits, lse, tg, w, N, V);
    snprintf(what, sizeof what, "crossentropy_backward N=%d V=%d", N, V);
    check_grad(what, ce_loss, &c, c.logits, n, dlogits, 1 + n / 400, 1e-4, 2e-6);
    int zero = 1;
    for (int i = 1; i < N && i < 3; i++)  // target -1, weight 0
        for (int v = 0; v < V; v++) zero &= dlogits[(size_t)i * V + v] == 0.0f;
    CHECK(zero, "crossentropy_backward: rows without target or weight are zero");
    memcpy(inplace, logits, n * sizeof(float));
    K->crossentropy_backward(inplace, inplace, lse, tg, w, N, V);
    CHECK(!memcmp(inplace, dlogits, n * sizeof(float)), "crossentropy_backward in place");
    free(logits), free(logprob), free(lse), free(w), free(dlogits), free(inplace), free(tg);
    free(want_lp), free(want_lse), free(c.logits), free(c.logprob), free(c.lse);
}

// ---- optimizer -----------------------------------------------------------------------

static void test_sum_squares(size_t n) {
    float *g = fvec(n);
    fill(g, n, 3.0f);
    double want = 0.0;
    for (size_t i = 0; i < n; i++) want += (double)g[i] * g[i];
    double got = K->sum_squares(g, n);
    CHECK(fabs(got - want) <= 1e-12 * want, "sum_squares n=%zu: %.17g vs %.17g", n, got, want);
    free(g);
}

static void test_adamw(void) {
    // By hand, step 1 from m = v = 0: mhat = g, vhat = g^2, so p <- p (1 - lr wd) - lr g/|g|.
    // p = 1, g = 0.5 * grad_scale 2 = 1, lr = 0.1, wd = 0.1: decayed 0.99 - 0.1 = 0.89,
    // undecayed 1 - 0.1 = 0.9; m = 0.1 g, v = 0.001 g^2.
    float p[3] = {1, 1, -2}, g[3] = {0.5f, 0.5f, -0.25f}, m[3] = {0}, v[3] = {0};
    K->adamw(p, g, m, v, 3, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.1f, 2.0f, 1);
    CHECK_NEAR(p[0], 0.89, 0, 1e-6, "adamw step 1, decayed");
    CHECK_NEAR(p[1], 0.9, 0, 1e-6, "adamw step 1, not decayed");
    CHECK_NEAR(p[2], -2 + 0.1, 0, 1e-6, "adamw step 1, negative gradient");
    CHECK_NEAR(m[0], 0.1, 1e-6, 0, "adamw m");
    CHECK_NEAR(v[0], 0.001, 2e-5, 0, "adamw v");  // 1 - 0.999f = 0.000999987
    CHECK(g[0] == 0 && g[1] == 0 && g[2] == 0, "adamw zeroes the gradient");

    // several steps against torch's formula in double, on random values
    enum { n = 37, n_decay = 20, steps = 5 };
    float fp[n], fg[n], fm[n] = {0}, fv[n] = {0};
    double dp[n], dm[n] = {0}, dv[n] = {0};
    fill(fp, n, 1.0f);
    for (int i = 0; i < n; i++) dp[i] = fp[i];
    const double lr = 3e-3, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1, scale = 0.5;
    for (int t = 1; t <= steps; t++) {
        fill(fg, n, 1.0f);
        for (int i = 0; i < n; i++) {
            double gi = fg[i] * scale;
            if (i < n_decay) dp[i] *= 1 - lr * wd;
            dm[i] = b1 * dm[i] + (1 - b1) * gi;
            dv[i] = b2 * dv[i] + (1 - b2) * gi * gi;
            double mhat = dm[i] / (1 - pow(b1, t)), vhat = dv[i] / (1 - pow(b2, t));
            dp[i] -= lr * mhat / (sqrt(vhat) + eps);
        }
        K->adamw(fp, fg, fm, fv, n, n_decay, (float)lr, (float)b1, (float)b2, (float)eps,
                 (float)wd, (float)scale, t);
    }
    check_close("adamw 5 steps vs double", fp, dp, n, 1e-5, 1e-6);
}

// ---- determinism ---------------------------------------------------------------------

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

static int run_all(Seg *out, uint64_t seed) {
    Rng saved = rng;
    rng = rng_seed(seed);
    segs = out, ns = 0;
    {  // matmul
        int N = 96, C = 256, OC = 320;
        float *inp = fvec((size_t)N * C), *w = fvec((size_t)OC * C), *b = fvec(OC);
        float *dout = fvec((size_t)N * OC);
        fill(inp, (size_t)N * C, 1), fill(w, (size_t)OC * C, 1), fill(b, OC, 1);
        fill(dout, (size_t)N * OC, 1);
        K->matmul_forward(SEG("matmul_forward", (size_t)N * OC), inp, w, b, N, C, OC);
        float *dinp = SEG("matmul_backward dinp", (size_t)N * C);
        float *dw = SEG("matmul_backward dw", (size_t)OC * C), *db = SEG("matmul dbias", OC);
        K->matmul_backward(dinp, dw, db, dout, inp, w, N, C, OC);
        free(inp), free(w), free(b), free(dout);
    }
    {  // matmul, row-wise path (N <= 64)
        int N = 21, C = 300, OC = 200;
        float *inp = fvec((size_t)N * C), *w = fvec((size_t)OC * C), *b = fvec(OC);
        fill(inp, (size_t)N * C, 1), fill(w, (size_t)OC * C, 1), fill(b, OC, 1);
        K->matmul_forward(SEG("matmul_forward N=21", (size_t)N * OC), inp, w, b, N, C, OC);
        free(inp), free(w), free(b);
    }
    {  // embedding
        int N = 500, C = 600, V = 40;
        int *tok = ivec(N);
        float *wte = fvec((size_t)V * C), *dout = fvec((size_t)N * C);
        for (int i = 0; i < N; i++) tok[i] = (int)rng_below(&rng, V);
        fill(wte, (size_t)V * C, 1), fill(dout, (size_t)N * C, 1);
        K->embedding_forward(SEG("embedding_forward", (size_t)N * C), tok, wte, N, C);
        K->embedding_backward(SEG("embedding_backward", (size_t)V * C), dout, tok, N, C);
        free(tok), free(wte), free(dout);
    }
    {  // RMSNorm, RoPE, SwiGLU
        int N = 200, C = 700;
        float *x = fvec((size_t)N * C), *w = fvec(C), *dout = fvec((size_t)N * C);
        int *pos = ivec(N);
        fill(x, (size_t)N * C, 1), fill(w, C, 1), fill(dout, (size_t)N * C, 1);
        for (int i = 0; i < N; i++) pos[i] = (int)rng_below(&rng, 3000);
        float *rstd = SEG("rmsnorm_forward rstd", N);
        K->rmsnorm_forward(SEG("rmsnorm_forward", (size_t)N * C), rstd, x, w, 1e-6f, N, C);
        K->rmsnorm_backward(SEG("rmsnorm_backward dinp", (size_t)N * C),
                            SEG("rmsnorm_backward dw", C), dout, x, w, rstd, N, C);
        float *r = SEG("rope_forward", (size_t)N * C);
        memcpy(r, x, (size_t)N * C * sizeof(float));
        K->rope_forward(r, pos, N, C, 10, 64, 1e6f);
        K->swiglu_forward(SEG("swiglu_forward", (size_t)N * C / 2), x, N, C / 2);
        K->swiglu_backward(SEG("swiglu_backward", (size_t)N * C), dout, x, N, C / 2);
        free(x), free(w), free(dout), free(pos);
    }
    {  // attention and decode
        int B = 3, T = 70, H = 4, KV = 2, D = 16, lens[3] = {70, 17, 41};
        size_t row = (size_t)(H + 2 * KV) * D, N = (size_t)B * T;
        float *qkv = fvec(N * row), *dout = fvec(N * H * D);
        fill(qkv, N * row, 1.5f), fill(dout, N * H * D, 1);
        float *out = SEG("attention_forward", N * H * D), *lse = SEG("attention lse", N * H);
        K->attention_forward(out, lse, qkv, lens, B, T, H, KV, D);
        K->attention_backward(SEG("attention_backward", N * row), dout, qkv, out, lse, lens, B,
                              T, H, KV, D);
        int *slots = ivec(N), *pos = ivec(N), max_T = T;
        float *kc = fvec(N * KV * D), *vc = fvec(N * KV * D);
        for (size_t i = 0; i < N; i++) slots[i] = (int)(i / T), pos[i] = (int)(i % T);
        K->kv_cache_write(kc, vc, qkv, slots, pos, (int)N, H, KV, D, max_T);
        K->attention_decode(SEG("attention_decode", N * H * D), qkv, kc, vc, slots, pos, NULL, NULL,
                            (int)N, H, KV, D, max_T);
        free(qkv), free(dout), free(slots), free(pos), free(kc), free(vc);
    }
    {  // cross-entropy
        int N = 64, V = 3000;
        float *logits = fvec((size_t)N * V), *w = fvec(N);
        int *tg = ivec(N);
        fill(logits, (size_t)N * V, 5), fill(w, N, 1);
        for (int i = 0; i < N; i++) tg[i] = (int)rng_below(&rng, V);
        float *lp = SEG("crossentropy_forward", N), *lse = SEG("crossentropy lse", N);
        K->crossentropy_forward(lp, lse, logits, tg, N, V);
        K->crossentropy_backward(SEG("crossentropy_backward", (size_t)N * V), logits, lse, tg, w,
                                 N, V);
        free(logits), free(w), free(tg);
    }
    {  // optimizer
        size_t n = 3 * 65536 + 7;
        float *p = SEG("adamw p", n), *g = fvec(n), *m = SEG("adamw m", n), *v = SEG("adamw v", n);
        fill(p, n, 1), fill(g, n, 1);
        double ss = K->sum_squares(g, n);
        memcpy(SEG("sum_squares", 2), &ss, sizeof ss);
        K->adamw(p, g, m, v, n, n / 2, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, 3);
        free(g);
    }
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
    CHECK(cpu_gemm_select(CPU_GEMM_AUTO), "cpu_gemm_select(AUTO)");
    omp_set_num_threads(2);
}

// Rows of a matmul computed in calls of 16, 3, 2 and 1 rows; returns whether all agree bitwise.
static int matmul_rows_agree(int C, int OC) {
    int N = 16;
    float *inp = fvec((size_t)N * C), *w = fvec((size_t)OC * C), *bias = fvec(OC);
    float *all = fvec((size_t)N * OC), *part = fvec((size_t)N * OC);
    fill(inp, (size_t)N * C, 1), fill(w, (size_t)OC * C, 1), fill(bias, OC, 1);
    K->matmul_forward(all, inp, w, bias, N, C, OC);
    int same = 1;
    for (int step = 2; step <= 3; step++)  // every partial group of 4 rows: 1, 2, 3
        for (int n0 = 0; n0 < N; n0 += step) {
            int m = N - n0 < step ? N - n0 : step;
            K->matmul_forward(part, inp + (size_t)n0 * C, w, bias, m, C, OC);
            same &= !memcmp(part, all + (size_t)n0 * OC, (size_t)m * OC * sizeof(float));
        }
    for (int n = 0; n < N; n++) {
        K->matmul_forward(part, inp + (size_t)n * C, w, bias, 1, C, OC);
        same &= !memcmp(part, all + (size_t)n * OC, (size_t)OC * sizeof(float));
    }
    free(inp), free(w), free(bias), free(all), free(part);
    return same;
}

// A sequence's attention rows (and their decode) do not depend on the rest of the batch
// or on the padded width T of the grid.
static void test_attention_rows(void) {
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
          "attention rows: a sequence alone (B=1, T=len) == in a batch (B=3, T=16)");
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
    CHECK(same, "attention_decode rows: N=1 == N=16");
    free(qkv3), free(out3), free(lse3), free(out1), free(lse1), free(kc), free(vc), free(o16);
    free(o1);
}

int main(void) {
    K = kernels_by_name("cpu");
    CHECK(K && K == &kernels_cpu && !strcmp(K->name, "cpu"), "kernels_by_name(\"cpu\")");
    rng = rng_seed(1234);
    omp_set_num_threads(2);

    test_memory();
    test_gemm();
    // N <= 64 takes the row-wise path, larger N cpu_gemm
    int mm[][3] = {{1, 5, 3}, {3, 64, 17}, {17, 33, 64}, {16, 128, 5}, {131, 7, 257}};
    for (int i = 0; i < 5; i++) {
        test_matmul(mm[i][0], mm[i][1], mm[i][2], 1);
        test_matmul(mm[i][0], mm[i][1], mm[i][2], 0);
    }
    test_embedding(1, 5, 3);
    test_embedding(17, 64, 5);
    test_embedding(300, 600, 7);
    int nc[][2] = {{1, 5}, {3, 64}, {17, 5}, {17, 300}};
    for (int i = 0; i < 4; i++) {
        test_rmsnorm(nc[i][0], nc[i][1]);
        test_swiglu(nc[i][0], nc[i][1]);
        test_crossentropy(nc[i][0], nc[i][1]);
    }
    test_rope(1, 1, 8, 8);
    test_rope(3, 4, 16, 80);    // 4 of 5 heads
    test_rope(17, 3, 8, 40);    // 3 of 5 heads
    test_rope(5, 2, 300, 600);  // D/2 > one frequency chunk

    int l1[] = {1}, l2[] = {7, 1}, l3[] = {17, 1, 9}, l4[] = {3, 5};
    test_attention(1, 1, 4, 4, 8, l1, 1);
    test_attention(2, 7, 4, 2, 8, l2, 1);
    test_attention(3, 17, 4, 1, 16, l3, 1);
    test_attention(2, 5, 4, 4, 16, l4, 1);
    int l5[] = {600, 300};  // past several online-softmax blocks of 256 keys
    test_attention(2, 600, 2, 1, 8, l5, 0);
    int l6[] = {259};  // backward: a group of query rows past the first block of keys
    test_attention(1, 259, 2, 1, 8, l6, 1);
    // keys copied in runs of 24 (D = 130, a vector tail): runs and chunks cut blocks and
    // the 16-row groups; D = 520: keys read in place
    int l7[] = {75, 60};
    test_attention(2, 75, 2, 1, 130, l7, 1);
    int l8[] = {19};
    test_attention(1, 19, 2, 2, 520, l8, 1);

    test_sum_squares(0);
    test_sum_squares(1);
    test_sum_squares(3 * 65536 + 11);
    test_adamw();

    test_threads();
    int rows_ok = matmul_rows_agree(64, 96) & matmul_rows_agree(256, 384) &
                  matmul_rows_agree(5, 3) & matmul_rows_agree(1027, 512);
    CHECK(rows_ok, "matmul_forward rows: bitwise equal in calls of N = 16, 3, 2 and 1");
    test_attention_rows();
    test_exp();
    return test_summary();
}
