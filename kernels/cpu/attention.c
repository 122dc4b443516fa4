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
// never read and get zeros.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"

// Keys are scored in blocks of this many (a stack buffer), with the running maximum
// and sum rescaled between blocks (online softmax), so any length works.
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

// o[D] = softmax(scale * K q) V over n_keys keys; returns the log-sum-exp of the scaled
// scores. Shared by the training forward and the decode step, so a cached decode
// reproduces the forward exactly.
static float attend(float *restrict o, const float *restrict q, const Keys *kk, size_t stride,
                    int n_keys, int D, float scale) {
    float scores[ATT_BLOCK];
    float max = -INFINITY, sum = 0.0f;
    memset(o, 0, (size_t)D * sizeof(float));
    for (int j0 = 0; j0 < n_keys; j0 += ATT_BLOCK) {
        int nb = n_keys - j0 < ATT_BLOCK ? n_keys - j0 : ATT_BLOCK;
        // the block's first n0 keys lie before the split; dots and pv treat keys one by
        // one, so cutting a block there does not change a bit
        int n0 = kk->split - j0 < 0 ? 0 : kk->split - j0 < nb ? kk->split - j0 : nb;
        dots(scores, q, kk->k0 + (size_t)j0 * stride, stride, n0, D);
        dots(scores + n0, q, kk->k1 + (size_t)(j0 + n0) * stride, stride, nb - n0, D);
        for (int j = 0; j < nb; j++) scores[j] *= scale;
        float block_max = max_of(scores, nb);
        if (block_max > max) {  // rescale what was summed under the old maximum
            float r = expf(max - block_max);
            sum *= r;
            for (int d = 0; d < D; d++) o[d] *= r;
            max = block_max;
        }
        for (int j = 0; j < nb; j++) scores[j] -= max;
        cpu_exp(scores, scores, nb);
        sum += sum_of(scores, nb);
        pv(o, scores, kk->v0 + (size_t)j0 * stride, stride, n0, D);
        pv(o, scores + n0, kk->v1 + (size_t)(j0 + n0) * stride, stride, nb - n0, D);
    }
    float inv = 1.0f / sum;
    for (int d = 0; d < D; d++) o[d] *= inv;
    return max + logf(sum);
}

// out[B*T, H*D], lse[B*T, H]; parallel over (sequence, head, query row).
void cpu_attention_forward(float *out, float *lse, const float *qkv, const int *lens, int B,
                           int T, int H, int KV, int D) {
    int group = H / KV;
    size_t row = (size_t)(H + 2 * KV) * D;  // qkv row width
    float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for collapse(3) schedule(dynamic, 8)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            for (int t = 0; t < T; t++) {
                size_t n = (size_t)b * T + t;
                float *o = out + n * H * D + (size_t)h * D;
                if (t >= lens[b]) {
                    memset(o, 0, (size_t)D * sizeof(float));
                    lse[n * H + h] = 0.0f;
                    continue;
                }
                const float *q = qkv + n * row + (size_t)h * D;
                const float *k = qkv + (size_t)b * T * row + (size_t)(H + h / group) * D;
                const float *v = k + (size_t)KV * D;
                Keys kk = {k, v, k, v, 0};
                lse[n * H + h] = attend(o, q, &kk, row, t + 1, D, scale);
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
// runs in a fixed order (query head, then query row, then key). Query rows go BWD_ROWS
// at a time so that each dk_j, dv_j is read and written once per group of rows (their
// contributions still added in row order).
void cpu_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
                            const float *lse, const int *lens, int B, int T, int H, int KV,
                            int D) {
    int group = H / KV;
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
            for (int h = kh * group; h < (kh + 1) * group; h++) {
                for (int i0 = 0; i0 < len; i0 += BWD_ROWS) {
                    int nr = len - i0 < BWD_ROWS ? len - i0 : BWD_ROWS, last = i0 + nr - 1;
                    const float *q[BWD_ROWS], *dO[BWD_ROWS];
                    float l[BWD_ROWS], di[BWD_ROWS];
                    for (int r = 0; r < nr; r++) {
                        size_t n = n0 + i0 + r;
                        q[r] = qkv + n * row + (size_t)h * D;
                        dO[r] = dout + n * H * D + (size_t)h * D;
                        l[r] = lse[n * H + h];
                        di[r] = cpu_dot(dO[r], out + n * H * D + (size_t)h * D, D);
                    }
                    // per block of keys and per row i = i0 + r (keys j <= i): the
                    // probabilities and score gradients, dq; then dk and dv of each key
                    // from the rows that see it
                    for (int j0 = 0; j0 <= last; j0 += ATT_BLOCK) {
                        int nb = last + 1 - j0 < ATT_BLOCK ? last + 1 - j0 : ATT_BLOCK;
                        float p[BWD_ROWS][ATT_BLOCK], ds[BWD_ROWS][ATT_BLOCK];
                        const float *kv = qkv + (n0 + j0) * row;
                        for (int r = 0; r < nr; r++) {
                            int m = i0 + r + 1 - j0 < nb ? i0 + r + 1 - j0 : nb;  // keys seen
                            if (m <= 0) continue;
                            dots(p[r], q[r], kv + koff, row, m, D);
                            dots(ds[r], dO[r], kv + voff, row, m, D);
                            for (int j = 0; j < m; j++) p[r][j] = p[r][j] * scale - l[r];
                            cpu_exp(p[r], p[r], m);
                            for (int j = 0; j < m; j++)
                                ds[r][j] = p[r][j] * (ds[r][j] - di[r]) * scale;
                            pv(dqkv + (n0 + i0 + r) * row + (size_t)h * D, ds[r], kv + koff,
                               row, m, D);
                        }
                        for (int j = 0; j < nb; j++) {
                            int r0 = j0 + j - i0 > 0 ? j0 + j - i0 : 0;  // first row seeing j
                            float cp[BWD_ROWS], cs[BWD_ROWS];
                            for (int r = r0; r < nr; r++)
                                cp[r - r0] = p[r][j], cs[r - r0] = ds[r][j];
                            float *dkv = dqkv + (n0 + j0 + j) * row;
                            rows_update(dkv + koff, cs, q + r0, nr - r0, D);
                            rows_update(dkv + voff, cp, dO + r0, nr - r0, D);
                        }
                    }
                }
            }
        }
    }
}

// kcache/vcache[slot, t, KV*D] <- the key/value parts of qkv row n.
void cpu_kv_cache_write(float *kcache, float *vcache, const float *qkv, const int *slots,
                        const int *pos, int N, int H, int KV, int D, int max_T) {
    size_t row = (size_t)(H + 2 * KV) * D, kv = (size_t)KV * D;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        size_t at = ((size_t)slots[n] * max_T + pos[n]) * kv;
        const float *k = qkv + n * row + (size_t)H * D;
        memcpy(kcache + at, k, kv * sizeof(float));
        memcpy(vcache + at, k + kv, kv * sizeof(float));
    }
}

// out[N, H*D]: token n's heads attend to positions 0..pos[n]: below prefix_lens[n] in slot
// prefix_slots[n], the rest in slot slots[n].
void cpu_attention_decode(float *out, const float *qkv, const float *kcache,
                          const float *vcache, const int *slots, const int *pos,
                          const int *prefix_slots, const int *prefix_lens, int N, int H, int KV,
                          int D, int max_T) {
    int group = H / KV;
    size_t row = (size_t)(H + 2 * KV) * D, kv = (size_t)KV * D;
    float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for collapse(2) schedule(dynamic, 4)
    for (int n = 0; n < N; n++) {
        for (int h = 0; h < H; h++) {
            size_t head = (size_t)(h / group) * D, own = (size_t)slots[n] * max_T * kv + head;
            size_t shared = prefix_lens ? (size_t)prefix_slots[n] * max_T * kv + head : own;
            Keys kk = {kcache + shared, vcache + shared, kcache + own, vcache + own,
                       prefix_lens ? prefix_lens[n] : 0};
            attend(out + (size_t)n * H * D + (size_t)h * D, qkv + n * row + (size_t)h * D, &kk, kv,
                   pos[n] + 1, D, scale);
        }
    }
}
