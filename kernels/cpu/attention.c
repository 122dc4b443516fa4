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
#include <string.h>

#include "cpu.h"

// Keys are scored in blocks of this many (a stack buffer), with the running maximum
// and sum rescaled between blocks (online softmax), so any length works.
enum { ATT_BLOCK = 256 };

// o[D] = softmax(scale * K q) V over n_keys keys k_j = k + j*stride (v likewise);
// returns the log-sum-exp of the scaled scores. Shared by the training forward and the
// decode step, so a cached decode reproduces the forward exactly.
static float attend(float *restrict o, const float *restrict q, const float *k,
                    const float *v, size_t stride, int n_keys, int D, float scale) {
    float scores[ATT_BLOCK];
    float max = -INFINITY, sum = 0.0f;
    memset(o, 0, (size_t)D * sizeof(float));
    for (int j0 = 0; j0 < n_keys; j0 += ATT_BLOCK) {
        int nb = n_keys - j0 < ATT_BLOCK ? n_keys - j0 : ATT_BLOCK;
        float block_max = -INFINITY;
        for (int j = 0; j < nb; j++) {
            float s = cpu_dot(q, k + (size_t)(j0 + j) * stride, D) * scale;
            scores[j] = s;
            block_max = s > block_max ? s : block_max;
        }
        if (block_max > max) {  // rescale what was summed under the old maximum
            float r = expf(max - block_max);
            sum *= r;
            for (int d = 0; d < D; d++) o[d] *= r;
            max = block_max;
        }
        for (int j = 0; j < nb; j++) {
            float p = expf(scores[j] - max);
            sum += p;
            cpu_axpy(o, p, v + (size_t)(j0 + j) * stride, D);
        }
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
                lse[n * H + h] = attend(o, q, k, v, row, t + 1, D, scale);
            }
        }
    }
}

// Parallel over (sequence, key/value head): one task owns dk and dv of its head in its
// sequence and dq of the query heads that share it, so nothing races and every sum
// runs in a fixed order (query head, then query row, then key).
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
                for (int i = 0; i < len; i++) {
                    size_t n = n0 + i;
                    const float *q = qkv + n * row + (size_t)h * D;
                    const float *o = out + n * H * D + (size_t)h * D;
                    const float *dO = dout + n * H * D + (size_t)h * D;
                    float *dq = dqkv + n * row + (size_t)h * D;
                    float l = lse[n * H + h];
                    float di = cpu_dot(dO, o, D);
                    // per block of keys: the probabilities and score gradients first (dot
                    // products only), then the three accumulations
                    for (int j0 = 0; j0 <= i; j0 += ATT_BLOCK) {
                        int nb = i + 1 - j0 < ATT_BLOCK ? i + 1 - j0 : ATT_BLOCK;
                        float p[ATT_BLOCK], ds[ATT_BLOCK];
                        for (int j = 0; j < nb; j++) {
                            const float *kv = qkv + (n0 + j0 + j) * row;
                            p[j] = expf(cpu_dot(q, kv + koff, D) * scale - l);
                            ds[j] = p[j] * (cpu_dot(dO, kv + voff, D) - di) * scale;
                        }
                        for (int j = 0; j < nb; j++)
                            cpu_axpy(dq, ds[j], qkv + (n0 + j0 + j) * row + koff, D);
                        for (int j = 0; j < nb; j++) {
                            float *dkv = dqkv + (n0 + j0 + j) * row;
                            cpu_axpy(dkv + koff, ds[j], q, D);
                            cpu_axpy(dkv + voff, p[j], dO, D);
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

// out[N, H*D]: token n's heads attend to positions 0..pos[n] of slot slots[n].
void cpu_attention_decode(float *out, const float *qkv, const float *kcache,
                          const float *vcache, const int *slots, const int *pos, int N, int H,
                          int KV, int D, int max_T) {
    int group = H / KV;
    size_t row = (size_t)(H + 2 * KV) * D, kv = (size_t)KV * D;
    float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for collapse(2) schedule(dynamic, 4)
    for (int n = 0; n < N; n++) {
        for (int h = 0; h < H; h++) {
            size_t base = (size_t)slots[n] * max_T * kv + (size_t)(h / group) * D;
            attend(out + (size_t)n * H * D + (size_t)h * D, qkv + n * row + (size_t)h * D,
                   kcache + base, vcache + base, kv, pos[n] + 1, D, scale);
        }
    }
}
