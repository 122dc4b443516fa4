// kernels/cpu/attention.c -- causal, grouped-query attention; KV-cache decoding.
//
// Per query row i and head h, over the keys j it may see (j <= i in its sequence):
//   s_j = q . k_j / sqrt(D),   p_j = exp(s_j - lse),   lse = log sum_j exp(s_j)
//   o   = sum_j p_j v_j
// The backward recomputes p from the stored lse (flash attention). With dO the output
// gradient and Di = dO . o:
//   dp_j = dO . v_j,   ds_j = p_j (dp_j - Di)
//   dq   = sum_j ds_j k_j / sqrt(D),  dk_j += ds_j q / sqrt(D),  dv_j += p_j dO
// Query head h reads key/value head h / (H / KV). Rows past a sequence's length are
// never read and get zeros. kernels/ref/attention.c is the same math row by row; here the
// keys go in blocks (online softmax) and runs copied into L1.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"

// Keys per softmax block of the forward (attend_rows): a row's scores for one block sit
// in a stack buffer.
enum { ATT_BLOCK = 256 };

// exp(x) = 2^k exp(f), k = round(x / ln 2), f = x - k ln 2 in [-ln2/2, ln2/2] (ln 2 in
// two parts, Cody-Waite, so f is exact to float precision), exp(f) = 1 + f + f^2 P(f) with
// Cephes' degree-5 minimax P (expf.c; tests/test_kernels_cpu.c measures < 1 ulp), and 2^k
// put into a float's exponent field. A plain loop of elementwise operations: GCC vectorises
// it, and every element gets the same bits whether it lands in a vector or in the scalar
// tail. Below -87.33 the result would be subnormal: it is 0 instead (softmax weights that
// small vanish next to the maximum's 1 anyway); above 88, exp(88) (attention only passes
// x <~ 0).
void cpu_exp(float *y, const float *x, int n) {
    for (int i = 0; i < n; i++) {
        float xi = x[i];
        float c = xi > 88.0f ? 88.0f : xi;
        c = c < -87.33f ? -87.33f : c;
        // round(c / ln 2) by the 1.5 * 2^23 shift: k lands in the low mantissa bits of t
        float t = fmaf(c, 1.44269504088896341f, 12582912.0f), k = t - 12582912.0f;
        float f = fmaf(k, -0.693359375f, c);
        f = fmaf(k, 2.12194440e-4f, f);
        float p = 1.9875691500e-4f;
        p = fmaf(p, f, 1.3981999507e-3f);
        p = fmaf(p, f, 8.3334519073e-3f);
        p = fmaf(p, f, 4.1665795894e-2f);
        p = fmaf(p, f, 1.6666665459e-1f);
        p = fmaf(p, f, 5.0000001201e-1f);
        p = fmaf(p, f * f, f) + 1.0f;
        uint32_t bits;  // 2^k: k + 127 in the exponent field (k from t's bits, no UB on NaN)
        memcpy(&bits, &t, sizeof bits);
        bits = (bits - 0x4B400000u + 127u) << 23;
        float two_k;
        memcpy(&two_k, &bits, sizeof two_k);
        float e = p * two_k;
        // 0 below the range by a mask, not a branch: a select of floats would keep GCC
        // (trapping math) from vectorising the loop. NaN fails the test and stays NaN.
        memcpy(&bits, &e, sizeof bits);
        bits &= -(uint32_t)!(xi < -87.33f);
        memcpy(&y[i], &bits, sizeof bits);
    }
}

// s[j] = a . k_j for the n keys k_j = k + j*stride, DOT_KEYS keys per pass sharing each
// load of a. Every key has its own 8-lane accumulator, reduced the same way in a group
// or alone, so s[j] depends only on a and k_j.
enum { DOT_KEYS = 8 };

static inline __attribute__((always_inline)) void dot_keys(float *s, const float *a,
                                                           const float *k, size_t stride,
                                                           int D, int nk) {
    int d8 = D / 8 * 8;
    cpu_v8 acc[DOT_KEYS] = {{0}};
    for (int d = 0; d < d8; d += 8) {
        cpu_v8 av, kv;
        memcpy(&av, a + d, sizeof av);
#pragma GCC unroll 8
        for (int j = 0; j < nk; j++) {
            memcpy(&kv, k + j * stride + d, sizeof kv);
            cpu_fma8(&acc[j], &av, &kv);
        }
    }
    int j = 0;
    for (; j + 4 <= nk; j += 4) cpu_hsum8x4(acc + j, s + j);
    for (; j < nk; j++) s[j] = cpu_hsum8(&acc[j]);
    for (j = 0; j < nk; j++)
        for (int d = d8; d < D; d++) s[j] = fmaf(a[d], k[j * stride + d], s[j]);
}

static void dots(float *s, const float *a, const float *k, size_t stride, int n, int D) {
    int j = 0;
    for (; j + DOT_KEYS <= n; j += DOT_KEYS)
        dot_keys(s + j, a, k + j * stride, stride, D, DOT_KEYS);
    for (; j < n; j++) dot_keys(s + j, a, k + j * stride, stride, D, 1);
}

// o[d] += sum_j p[j] v_j[d] over n vectors v_j = v + j*stride, the keys in order: for each
// element one fmaf per key, as cpu_axpy key by key would do, but with NV vectors of o held
// in registers across the keys (NV independent chains) instead of a load and a store of o
// per key.
static inline __attribute__((always_inline)) void pv_chunk(float *o, const float *p,
                                                           const float *v, size_t stride,
                                                           int n, int nv) {
    cpu_v8 acc[8];
    for (int c = 0; c < nv; c++) memcpy(&acc[c], o + 8 * c, sizeof acc[c]);
    for (int j = 0; j < n; j++) {
        cpu_v8 pj = {p[j], p[j], p[j], p[j], p[j], p[j], p[j], p[j]}, vj;
#pragma GCC unroll 8
        for (int c = 0; c < nv; c++) {
            memcpy(&vj, v + j * stride + 8 * c, sizeof vj);
            cpu_fma8(&acc[c], &pj, &vj);
        }
    }
    for (int c = 0; c < nv; c++) memcpy(o + 8 * c, &acc[c], sizeof acc[c]);
}

// 64 elements per pass over the keys, then the remaining whole vectors in one more pass
// (D = 48: one pass of 6 chains, not 32 + 8 + 8 in three), then the scalar tail.
static void pv(float *o, const float *p, const float *v, size_t stride, int n, int D) {
    int d = 0;
    for (; d + 64 <= D; d += 64) pv_chunk(o + d, p, v + d, stride, n, 8);
    switch ((D - d) / 8) {  // a constant nv per case, so each pass is unrolled
    case 7: pv_chunk(o + d, p, v + d, stride, n, 7); break;
    case 6: pv_chunk(o + d, p, v + d, stride, n, 6); break;
    case 5: pv_chunk(o + d, p, v + d, stride, n, 5); break;
    case 4: pv_chunk(o + d, p, v + d, stride, n, 4); break;
    case 3: pv_chunk(o + d, p, v + d, stride, n, 3); break;
    case 2: pv_chunk(o + d, p, v + d, stride, n, 2); break;
    case 1: pv_chunk(o + d, p, v + d, stride, n, 1); break;
    default: break;
    }
    d += (D - d) / 8 * 8;
    for (; d < D; d++)
        for (int j = 0; j < n; j++) o[d] = fmaf(p[j], v[j * stride + d], o[d]);
}

// max and sum of x[0..n), eight lanes at a time: lane l takes the elements j = l (mod 8)
// of the first n/8*8, the lanes are combined, then the tail (the max is exact in any
// order; the sum's order is fixed by this code). Elementwise updates of eight partial
// results vectorise where a running scalar would not.
static float max_of(const float *x, int n) {
    float m[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
                  -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) m[l] = x[j + l] > m[l] ? x[j + l] : m[l];
    for (; j < n; j++) m[0] = x[j] > m[0] ? x[j] : m[0];
    for (int l = 1; l < 8; l++) m[0] = m[l] > m[0] ? m[l] : m[0];
    return m[0];
}

static float sum_of(const float *x, int n) {
    cpu_v8 acc = {0}, xv;
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        memcpy(&xv, x + j, sizeof xv);
        acc += xv;
    }
    float s = cpu_hsum8(&acc);
    for (; j < n; j++) s += x[j];
    return s;
}

// Where the keys of one attention row live: key j is k0 + j*stride for j < split, else
// k1 + j*stride (values likewise), e.g. a shared prompt's slot, then the sample's own.
typedef struct {
    const float *k0, *v0, *k1, *v1;
    int split;
} Keys;

// Runs of keys and values are copied into buffers of COPY_FLOATS floats (16 KB, in L1
// with the rest), in whole groups of DOT_KEYS keys; for D above COPY_FLOATS / DOT_KEYS
// a key is many whole cache lines already, and is read in place.
enum { COPY_FLOATS = 4096 };

// How many keys a run copied holds for head size D; 0: none copied.
static int copy_run(int D, int most) {
    int n = COPY_FLOATS / D / DOT_KEYS * DOT_KEYS;
    return n < most ? n : most;
}

// Row j < n of D floats from src + j * src_stride to dst + j * dst_stride: a strided run
// of keys (or values) made contiguous, so that the rows that read it next find it in L1
// in few cache lines (and gradients copied back).
static void copy_rows(float *restrict dst, size_t dst_stride, const float *restrict src,
                      size_t src_stride, int n, int D) {
    for (int j = 0; j < n; j++)
        for (int d = 0; d < D; d++) dst[j * dst_stride + d] = src[j * src_stride + d];
}

enum { FWD_ROWS = 16 };  // query rows attended together (attend_rows)

// One pass of R rows over the keys j0 + c, c < nb[R-1], of a block, run by run (a run
// never crosses kk->split, so it lies in one slot; `copied` keys at most, copied into
// `run`, or 0: read in place): with values = 0 each row scores the keys it sees
// (scores[r][c]), with values = 1 it adds them to its output weighted by scores[r][c].
static void block_pass(int values, float (*scores)[ATT_BLOCK], float *const *o,
                       const float *const *q, const Keys *kk, size_t stride, int j0,
                       const int *nb, int R, int D, int copied, float *run) {
    for (int c = 0; c < nb[R - 1];) {
        int j = j0 + c, most = copied ? copied : ATT_BLOCK;
        int n = nb[R - 1] - c < most ? nb[R - 1] - c : most;
        if (j < kk->split && kk->split - j < n) n = kk->split - j;
        const float *src = values ? (j < kk->split ? kk->v0 : kk->v1)
                                  : (j < kk->split ? kk->k0 : kk->k1);
        src += (size_t)j * stride;
        size_t st = stride;
        if (copied) {
            copy_rows(run, (size_t)D, src, stride, n, D);
            src = run, st = (size_t)D;
        }
        for (int r = 0; r < R; r++) {
            int m = nb[r] - c < n ? nb[r] - c : n;  // of the run, the keys row r sees
            if (m <= 0) continue;
            if (values) pv(o[r], scores[r] + c, src, st, m, D);
            else dots(scores[r] + c, q[r], src, st, m, D);
        }
        c += n;
    }
}

// For R <= FWD_ROWS query rows of one head, row r seeing keys 0..n_keys[r]-1 (n_keys
// non-decreasing): o_r[D] = softmax(scale * K q_r) V, and lse[r] = the log-sum-exp of the
// scaled scores. Keys go in blocks of ATT_BLOCK, with the running maximum and sum
// rescaled between blocks (online softmax), so any length works. Within a block the keys
// (then the values) are taken in runs: with several rows each run is copied once and
// read by all of them from L1 (copy_run); one row (a decode step) reads it in place. A
// row's result is the same whatever R: its keys' scores, its softmax and its sum over
// the values run in the same order. Shared by the training forward and the decode step,
// so a cached decode reproduces the forward exactly.
static void attend_rows(float *const *o, float *lse, const float *const *q, const Keys *kk,
                        size_t stride, const int *n_keys, int R, int D, float scale) {
    float scores[FWD_ROWS][ATT_BLOCK], max[FWD_ROWS], sum[FWD_ROWS], run[COPY_FLOATS];
    int copied = R > 1 ? copy_run(D, ATT_BLOCK) : 0;
    for (int r = 0; r < R; r++) {
        max[r] = -INFINITY, sum[r] = 0.0f;
        memset(o[r], 0, (size_t)D * sizeof(float));
    }
    for (int j0 = 0; j0 < n_keys[R - 1]; j0 += ATT_BLOCK) {
        int nb[FWD_ROWS];  // the keys of this block that row r sees
        for (int r = 0; r < R; r++)
            nb[r] = n_keys[r] - j0 < 0 ? 0 : n_keys[r] - j0 < ATT_BLOCK ? n_keys[r] - j0 : ATT_BLOCK;
        block_pass(0, scores, o, q, kk, stride, j0, nb, R, D, copied, run);
        for (int r = 0; r < R; r++) {  // each row's softmax over its part of the block
            if (!nb[r]) continue;
            for (int j = 0; j < nb[r]; j++) scores[r][j] *= scale;
            float block_max = max_of(scores[r], nb[r]);
            if (block_max > max[r]) {  // rescale what was summed under the old maximum
                float f = expf(max[r] - block_max);
                sum[r] *= f;
                for (int d = 0; d < D; d++) o[r][d] *= f;
                max[r] = block_max;
            }
            for (int j = 0; j < nb[r]; j++) scores[r][j] -= max[r];
            cpu_exp(scores[r], scores[r], nb[r]);
            sum[r] += sum_of(scores[r], nb[r]);
        }
        block_pass(1, scores, o, q, kk, stride, j0, nb, R, D, copied, run);
    }
    for (int r = 0; r < R; r++) {
        float inv = 1.0f / sum[r];
        for (int d = 0; d < D; d++) o[r][d] *= inv;
        lse[r] = max[r] + logf(sum[r]);
    }
}

// out[B*T, H*D], lse[B*T, H]; parallel over (sequence, head, group of FWD_ROWS query rows).
void cpu_attention_forward(void *out_act, float *lse, const float *qkv, const int *lens, int B,
                           int T, int H, int KV, int D) {
    float *out = out_act;  // fp32 activations
    int group = H / KV, n_groups = (T + FWD_ROWS - 1) / FWD_ROWS;
    size_t row = (size_t)(H + 2 * KV) * D;  // qkv row width
    float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for collapse(3) schedule(dynamic, 1)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            for (int g = 0; g < n_groups; g++) {
                int t0 = g * FWD_ROWS, R = 0;
                float *o[FWD_ROWS], l[FWD_ROWS];
                const float *q[FWD_ROWS];
                int n_keys[FWD_ROWS];
                for (int t = t0; t < T && t < t0 + FWD_ROWS; t++) {
                    size_t n = (size_t)b * T + t;
                    float *ot = out + n * H * D + (size_t)h * D;
                    if (t >= lens[b]) {  // padding: zeros
                        memset(ot, 0, (size_t)D * sizeof(float));
                        lse[n * H + h] = 0.0f;
                        continue;
                    }
                    o[R] = ot, q[R] = qkv + n * row + (size_t)h * D, n_keys[R++] = t + 1;
                }
                if (!R) continue;
                const float *k = qkv + (size_t)b * T * row + (size_t)(H + h / group) * D;
                const float *v = k + (size_t)KV * D;
                Keys kk = {k, v, k, v, 0};
                attend_rows(o, l, q, &kk, row, n_keys, R, D, scale);
                for (int r = 0; r < R; r++) lse[((size_t)b * T + t0 + r) * H + h] = l[r];
            }
        }
    }
}

// y[d] += sum_r c[r] x_r[d] for r = 0..n-1 in order (n <= BWD_ROWS), y loaded and stored
// once for the n updates.
enum { BWD_ROWS = 4 };

static inline __attribute__((always_inline)) void
rows_update_n(float *restrict y, const float *c, const float *const *x, int n, int D) {
    int d = 0;
    for (; d + 8 <= D; d += 8) {
        cpu_v8 acc, xv;
        memcpy(&acc, y + d, sizeof acc);
#pragma GCC unroll 8
        for (int r = 0; r < n; r++) {
            cpu_v8 cr = {c[r], c[r], c[r], c[r], c[r], c[r], c[r], c[r]};
            memcpy(&xv, x[r] + d, sizeof xv);
            cpu_fma8(&acc, &cr, &xv);
        }
        memcpy(y + d, &acc, sizeof acc);
    }
    for (; d < D; d++)
        for (int r = 0; r < n; r++) y[d] = fmaf(c[r], x[r][d], y[d]);
}

// (the full group, by far the most common, with its row loop unrolled)
static inline void rows_update(float *restrict y, const float *c, const float *const *x, int n,
                               int D) {
    if (n == BWD_ROWS) rows_update_n(y, c, x, BWD_ROWS, D);
    else rows_update_n(y, c, x, n, D);
}

// Parallel over (sequence, key/value head): one task owns dk and dv of its head in its
// sequence and dq of the query heads that share it, so nothing races and every sum
// runs in a fixed order: dk_j and dv_j add their rows by query head, then row; dq_i adds
// its keys in order. Keys go in chunks of up to BWD_KEYS (copy_run): the chunk's keys,
// values and their gradients are copied contiguous, where they stay in L1 while every
// row that sees the chunk passes, BWD_ROWS rows at a time (so each dk_j, dv_j is updated
// once per group of rows), and the gradients are copied back after.
enum { BWD_KEYS = 64 };

void cpu_attention_backward(float *dqkv, const float *dout, const float *qkv, const void *out_act,
                            const float *lse, const int *lens, int B, int T, int H, int KV,
                            int D) {
    const float *out = out_act;  // fp32 activations
    int group = H / KV, copied = copy_run(D, BWD_KEYS), chunk = copied ? copied : DOT_KEYS;
    size_t row = (size_t)(H + 2 * KV) * D;
    float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
    for (int b = 0; b < B; b++) {
        for (int kh = 0; kh < KV; kh++) {
            size_t n0 = (size_t)b * T;
            int len = lens[b];
            size_t koff = (size_t)(H + kh) * D, voff = koff + (size_t)KV * D;
            for (int t = 0; t < T; t++) {  // zero dq, dk, dv of this task's heads
                float *r = dqkv + (n0 + t) * row;
                memset(r + (size_t)kh * group * D, 0, (size_t)group * D * sizeof(float));
                memset(r + koff, 0, (size_t)D * sizeof(float));
                memset(r + voff, 0, (size_t)D * sizeof(float));
            }
            float kc[COPY_FLOATS], vc[COPY_FLOATS], dkc[COPY_FLOATS], dvc[COPY_FLOATS];
            for (int h = kh * group; h < (kh + 1) * group; h++) {
                for (int j0 = 0; j0 < len; j0 += chunk) {
                    int nk = len - j0 < chunk ? len - j0 : chunk;
                    // the chunk's k_j, v_j, dk_j, dv_j: key j at pointer + j * st
                    const float *k = qkv + (n0 + j0) * row + koff, *v = k + (size_t)KV * D;
                    float *dk = dqkv + (n0 + j0) * row + koff, *dv = dk + (size_t)KV * D;
                    size_t st = row;
                    if (copied) {
                        copy_rows(kc, (size_t)D, k, row, nk, D);
                        copy_rows(vc, (size_t)D, v, row, nk, D);
                        copy_rows(dkc, (size_t)D, dk, row, nk, D);
                        copy_rows(dvc, (size_t)D, dv, row, nk, D);
                        k = kc, v = vc, dk = dkc, dv = dvc, st = (size_t)D;
                    }
                    // the rows i >= j0, which see at least the chunk's first key
                    for (int i0 = j0; i0 < len; i0 += BWD_ROWS) {
                        int nr = len - i0 < BWD_ROWS ? len - i0 : BWD_ROWS;
                        const float *q[BWD_ROWS], *dO[BWD_ROWS];
                        float p[BWD_ROWS][BWD_KEYS], ds[BWD_ROWS][BWD_KEYS];
                        // per row i = i0 + r (keys j <= i of the chunk): the probabilities
                        // and score gradients, dq; then dk and dv of each key from the rows
                        // that see it
                        for (int r = 0; r < nr; r++) {
                            size_t n = n0 + i0 + r;
                            int m = i0 + r + 1 - j0 < nk ? i0 + r + 1 - j0 : nk;
                            q[r] = qkv + n * row + (size_t)h * D;
                            dO[r] = dout + n * H * D + (size_t)h * D;
                            float l = lse[n * H + h];
                            float di = cpu_dot(dO[r], out + n * H * D + (size_t)h * D, D);
                            dots(p[r], q[r], k, st, m, D);
                            dots(ds[r], dO[r], v, st, m, D);
                            for (int j = 0; j < m; j++) p[r][j] = p[r][j] * scale - l;
                            cpu_exp(p[r], p[r], m);
                            for (int j = 0; j < m; j++) ds[r][j] = p[r][j] * (ds[r][j] - di) * scale;
                            pv(dqkv + n * row + (size_t)h * D, ds[r], k, st, m, D);
                        }
                        for (int j = 0; j < nk && j0 + j < i0 + nr; j++) {
                            int r0 = j0 + j - i0 > 0 ? j0 + j - i0 : 0;  // first row seeing j
                            float cp[BWD_ROWS], cs[BWD_ROWS];
                            for (int r = r0; r < nr; r++)
                                cp[r - r0] = p[r][j], cs[r - r0] = ds[r][j];
                            rows_update(dk + j * st, cs, q + r0, nr - r0, D);
                            rows_update(dv + j * st, cp, dO + r0, nr - r0, D);
                        }
                    }
                    if (copied) {  // the gradients back
                        float *dkv = dqkv + (n0 + j0) * row;
                        copy_rows(dkv + koff, row, dkc, (size_t)D, nk, D);
                        copy_rows(dkv + voff, row, dvc, (size_t)D, nk, D);
                    }
                }
            }
        }
    }
}

// kcache/vcache[slot, t, KV*D] <- the key/value parts of qkv row n.
void cpu_kv_cache_write(void *kcache, void *vcache, const float *qkv, const int *slots,
                        const int *pos, int N, int H, int KV, int D, int max_T) {
    size_t row = (size_t)(H + 2 * KV) * D, kv = (size_t)KV * D;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        size_t at = ((size_t)slots[n] * max_T + pos[n]) * kv;
        const float *k = qkv + n * row + (size_t)H * D;
        memcpy((float *)kcache + at, k, kv * sizeof(float));
        memcpy((float *)vcache + at, k + kv, kv * sizeof(float));
    }
}

// out[N, H*D]: token n's heads attend to positions 0..pos[n]: below prefix_lens[n] in slot
// prefix_slots[n], the rest in slot slots[n].
void cpu_attention_decode(void *out_act, const float *qkv, const void *kcache,
                          const void *vcache, const int *slots, const int *pos,
                          const int *prefix_slots, const int *prefix_lens, int N, int H, int KV,
                          int D, int max_T) {
    float *out = out_act;  // fp32 activations
    int group = H / KV;
    size_t row = (size_t)(H + 2 * KV) * D, kv = (size_t)KV * D;
    float scale = 1.0f / sqrtf((float)D);
    const float *kc = kcache, *vc = vcache;
#pragma omp parallel for collapse(2) schedule(dynamic, 4)
    for (int n = 0; n < N; n++) {
        for (int h = 0; h < H; h++) {
            size_t head = (size_t)(h / group) * D, own = (size_t)slots[n] * max_T * kv + head;
            size_t shared = prefix_lens ? (size_t)prefix_slots[n] * max_T * kv + head : own;
            Keys kk = {kc + shared, vc + shared, kc + own, vc + own,
                       prefix_lens ? prefix_lens[n] : 0};
            float *o = out + (size_t)n * H * D + (size_t)h * D, lse;
            const float *q = qkv + n * row + (size_t)h * D;
            int n_keys = pos[n] + 1;
            attend_rows(&o, &lse, &q, &kk, kv, &n_keys, 1, D, scale);
        }
    }
}
