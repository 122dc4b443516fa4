// kernels/ref/attention.c -- causal, grouped-query attention; KV-cache decoding.
//
// Per query row i of a sequence and head h, over the keys j <= i (scale = 1/sqrt(D)):
//   s_j = scale q . k_j,   lse = log sum_j exp(s_j),   p_j = exp(s_j - lse)
//   o   = sum_j p_j v_j
// The backward recomputes p_j from the stored lse. With dO the output gradient and
// Di = dO . o:
//   dp_j = dO . v_j,   ds_j = p_j (dp_j - Di)
//   dq   = scale sum_j ds_j k_j,   dk_j += scale ds_j q,   dv_j += p_j dO
// Query head h reads key/value head h / (H / KV). Rows past a sequence's length are
// never read and get zeros.
#include <math.h>
#include <string.h>

#include "ref.h"

// Where the keys of one attention row live: key j at k[0] + j*stride for j < split, else
// at k[1] + j*stride; values likewise (a shared prompt's slot, then the sample's own).
typedef struct {
    const float *k[2], *v[2];
    int split;
    size_t stride;
} Keys;

static const float *key_at(const Keys *kk, int j) {
    return kk->k[j >= kk->split] + j * kk->stride;
}
static const float *value_at(const Keys *kk, int j) {
    return kk->v[j >= kk->split] + j * kk->stride;
}

// One row: o[D] = softmax(scale K q) V over keys 0..n-1; returns the lse. The scores are
// computed twice (for the maximum, then for the sum), the same bits both times.
static float attend(float *o, const float *q, const Keys *kk, int n, int D, float scale) {
    float max = -INFINITY, sum = 0.0f;
    for (int j = 0; j < n; j++) max = fmaxf(max, scale * ref_dot(q, key_at(kk, j), D));
    for (int d = 0; d < D; d++) o[d] = 0.0f;
    for (int j = 0; j < n; j++) {
        float p = expf(scale * ref_dot(q, key_at(kk, j), D) - max);
        const float *v = value_at(kk, j);
        sum += p;
        for (int d = 0; d < D; d++) o[d] = fmaf(p, v[d], o[d]);
    }
    for (int d = 0; d < D; d++) o[d] /= sum;
    return max + logf(sum);
}

// out[B*T, H*D], lse[B*T, H]; qkv[B*T, (H + 2*KV)*D].
void ref_attention_forward(void *out_act, float *lse, const float *qkv, const int *lens, int B,
                           int T, int H, int KV, int D) {
    float *out = out_act;  // fp32 activations
    size_t row = (size_t)(H + 2 * KV) * D;
    float scale = 1.0f / sqrtf((float)D);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++) {
                size_t n = (size_t)b * T + t;
                float *o = out + (n * H + h) * D;
                if (t >= lens[b]) {  // padding: zeros
                    memset(o, 0, (size_t)D * sizeof(float));
                    lse[n * H + h] = 0.0f;
                    continue;
                }
                const float *k = qkv + (size_t)b * T * row + (size_t)(H + h / (H / KV)) * D;
                Keys kk = {{k, k}, {k + (size_t)KV * D, k + (size_t)KV * D}, 0, row};
                lse[n * H + h] = attend(o, qkv + n * row + (size_t)h * D, &kk, t + 1, D, scale);
            }
}

// dqkv[B*T, (H + 2*KV)*D] is zeroed, then every (sequence, head, query row i, key j <= i)
// adds its terms in that loop order.
void ref_attention_backward(float *dqkv, const float *dout, const float *qkv, const void *out_act,
                            const float *lse, const int *lens, int B, int T, int H, int KV,
                            int D) {
    const float *out = out_act;  // fp32 activations
    size_t row = (size_t)(H + 2 * KV) * D;
    float scale = 1.0f / sqrtf((float)D);
    memset(dqkv, 0, (size_t)B * T * row * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            size_t koff = (size_t)(H + h / (H / KV)) * D, voff = koff + (size_t)KV * D;
            for (int i = 0; i < lens[b]; i++) {
                size_t n = (size_t)b * T + i;
                const float *q = qkv + n * row + (size_t)h * D;
                const float *dO = dout + (n * H + h) * D, *o = out + (n * H + h) * D;
                float *dq = dqkv + n * row + (size_t)h * D, l = lse[n * H + h];
                float di = ref_dot(dO, o, D);
                for (int j = 0; j <= i; j++) {
                    size_t m = (size_t)b * T + j;
                    const float *k = qkv + m * row + koff, *v = qkv + m * row + voff;
                    float *dk = dqkv + m * row + koff, *dv = dqkv + m * row + voff;
                    float p = expf(scale * ref_dot(q, k, D) - l);
                    float ds = p * (ref_dot(dO, v, D) - di) * scale;
                    for (int d = 0; d < D; d++) {
                        dq[d] = fmaf(ds, k[d], dq[d]);
                        dk[d] = fmaf(ds, q[d], dk[d]);
                        dv[d] = fmaf(p, dO[d], dv[d]);
                    }
                }
            }
        }
}

// kcache/vcache[slots[n], pos[n], KV*D] <- the key/value parts of qkv row n.
void ref_kv_cache_write(void *kcache, void *vcache, const float *qkv, const int *slots,
                        const int *pos, int N, int H, int KV, int D, int max_T) {
    size_t row = (size_t)(H + 2 * KV) * D, kv = (size_t)KV * D;
    for (int n = 0; n < N; n++) {
        size_t at = ((size_t)slots[n] * max_T + pos[n]) * kv;
        memcpy((float *)kcache + at, qkv + n * row + (size_t)H * D, kv * sizeof(float));
        memcpy((float *)vcache + at, qkv + n * row + (size_t)H * D + kv, kv * sizeof(float));
    }
}

// out[N, H*D]: token n's heads attend to positions 0..pos[n], those below prefix_lens[n]
// read from slot prefix_slots[n], the others from slots[n]. The same attend() as the
// forward: a cached decode gives the training forward's bits.
void ref_attention_decode(void *out_act, const float *qkv, const void *kcache,
                          const void *vcache, const int *slots, const int *pos,
                          const int *prefix_slots, const int *prefix_lens, int N, int H, int KV,
                          int D, int max_T) {
    float *out = out_act;  // fp32 activations
    size_t row = (size_t)(H + 2 * KV) * D, kv = (size_t)KV * D;
    float scale = 1.0f / sqrtf((float)D);
    const float *kc = kcache, *vc = vcache;
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++) {
            size_t head = (size_t)(h / (H / KV)) * D;
            size_t own = (size_t)slots[n] * max_T * kv + head;
            size_t shared = prefix_lens ? (size_t)prefix_slots[n] * max_T * kv + head : own;
            Keys kk = {{kc + shared, kc + own}, {vc + shared, vc + own},
                       prefix_lens ? prefix_lens[n] : 0, kv};
            attend(out + ((size_t)n * H + h) * D, qkv + n * row + (size_t)h * D, &kk, pos[n] + 1,
                   D, scale);
        }
}
