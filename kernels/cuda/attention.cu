// kernels/cuda/attention.cu -- causal attention with GQA over a (B, T) grid of
// variable-length sequences, fused in the flash-attention manner: tiles of queries, keys
// and values in shared memory, an online softmax, and no T x T matrix in global memory.
// Also the KV-cache write and the one-step decode attention for the sampler.
//
// Layout (kernels.h): qkv[B*T, (H + 2*KV) * D], per token the H query heads, the KV key
// heads, the KV value heads. Query head h reads key/value head h / (H / KV).
//
// Work split, every kernel in warps of 32 lanes:
// - forward and dq: a block holds QROWS = 16 query rows (4 warps x 4 rows) and walks the
//   key tiles of 32 up to its last query. Lane l scores key l of the tile against the
//   warp's rows, then the lanes switch roles: lane l owns output columns d = l + 32k
//   (k < NK, D <= 32*NK <= 128) and accumulates sum_j p_j v_j with p_j broadcast by shuffle.
// - dk/dv: a block owns 16 keys of one KV head and walks, for every query head of its
//   group, the query tiles of 32 from its first key on. It alone writes its dk and dv rows,
//   so the backward needs no atomics and is deterministic; dq is a separate pass (above)
//   that recomputes the probabilities from the forward's lse.
// Shared tiles that lanes read row-per-lane are padded to D+1 floats (no bank conflicts);
// tiles read as a broadcast are not. Keys and queries past a sequence's length are loaded
// as zeros, so padding rows, whatever they hold, never reach a sum.
#include <math.h>

#include "common.cuh"

#define QROWS 16  // query (or key, in dk/dv) rows per block: 4 warps x RPW
#define RPW 4     // rows per warp
#define TILE 32   // keys (or queries, in dk/dv) per tile: one per lane

// Cooperative load of `rows` rows of width D, starting at sequence position t0, into a
// shared tile with row stride `ld`; row i comes from src + (t0 + i) * src_stride. Rows at
// positions >= limit are zero-filled.
__device__ void load_tile(float *tile, int ld, const float *src, size_t src_stride, int t0,
                          int rows, int limit, int D) {
    for (int e = threadIdx.x; e < rows * D; e += blockDim.x) {
        int i = e / D, d = e % D;
        tile[i * ld + d] = t0 + i < limit ? src[(size_t)(t0 + i) * src_stride + d] : 0.0f;
    }
}

// a . b over the D columns of one head, lane l taking columns l + 32k; every lane gets the
// sum (0 when !real).
template <int NK>
__device__ __forceinline__ float head_dot(const float *a, const float *b, int D, bool real) {
    int lane = threadIdx.x % 32;
    float dot = 0.0f;
    if (real)
#pragma unroll
        for (int k = 0; k < NK; k++) {
            int d = lane + 32 * k;
            if (d < D) dot += a[d] * b[d];
        }
    return warp_sum(dot);
}

// ---- forward ------------------------------------------------------------------------------
// grid (ceil(T/QROWS), H, B), block 128. Shared: q[QROWS][D], k[TILE][D+1], v[TILE][D].
template <int NK>
__global__ void __launch_bounds__(128) attention_forward_kernel(
    float *out, float *lse, const float *qkv, const int *lens, int T, int H, int KV, int D,
    float scale) {
    extern __shared__ float smem[];
    float *qs = smem, *ks = qs + QROWS * D, *vs = ks + TILE * (D + 1);
    int b = blockIdx.z, h = blockIdx.y, g = h / (H / KV), q0 = blockIdx.x * QROWS;
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    int len = lens[b], C3 = (H + 2 * KV) * D;
    const float *base = qkv + (size_t)b * T * C3;
    int qend = max(q0, min(q0 + QROWS, len));  // queries q0..qend-1 are real

    load_tile(qs, D, base + h * D, C3, q0, QROWS, len, D);
    float m[RPW], lsum[RPW], acc[RPW][NK];
    for (int r = 0; r < RPW; r++) {
        m[r] = -INFINITY;
        lsum[r] = 0.0f;
        for (int k = 0; k < NK; k++) acc[r][k] = 0.0f;
    }
    // Key tiles start at multiples of TILE and QROWS divides TILE, so every tile holds key
    // kt <= q0 <= t: each real row has a key in every tile and m stays finite.
    for (int kt = 0; q0 < qend && kt < qend; kt += TILE) {
        __syncthreads();
        load_tile(ks, D + 1, base + (H + g) * D, C3, kt, TILE, qend, D);
        load_tile(vs, D, base + (H + KV + g) * D, C3, kt, TILE, qend, D);
        __syncthreads();
        float s[RPW];
        for (int r = 0; r < RPW; r++) s[r] = 0.0f;
        for (int d = 0; d < D; d++) {
            float kd = ks[lane * (D + 1) + d];
#pragma unroll
            for (int r = 0; r < RPW; r++) s[r] += qs[(warp * RPW + r) * D + d] * kd;
        }
        int j = kt + lane;
#pragma unroll
        for (int r = 0; r < RPW; r++) {
            int t = q0 + warp * RPW + r;
            if (t >= qend) continue;  // uniform over the warp
            float sc = j <= t ? s[r] * scale : -INFINITY;
            float mnew = fmaxf(m[r], warp_max(sc));
            float corr = expf(m[r] - mnew);
            float p = j <= t ? expf(sc - mnew) : 0.0f;
            m[r] = mnew;
            lsum[r] = lsum[r] * corr + p;
#pragma unroll
            for (int k = 0; k < NK; k++) acc[r][k] *= corr;
            for (int l = 0; l < TILE; l++) {
                float pl = __shfl_sync(0xffffffffu, p, l);
#pragma unroll
                for (int k = 0; k < NK; k++) {
                    int d = lane + 32 * k;
                    if (d < D) acc[r][k] += pl * vs[l * D + d];
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        int t = q0 + warp * RPW + r;
        if (t >= T) continue;
        size_t row = (size_t)b * T + t;
        float l = warp_sum(lsum[r]);
        bool real = t < qend;
#pragma unroll
        for (int k = 0; k < NK; k++) {
            int d = lane + 32 * k;
            if (d < D) out[(row * H + h) * D + d] = real ? acc[r][k] / l : 0.0f;
        }
        if (lane == 0) lse[row * H + h] = real ? m[r] + logf(l) : 0.0f;
    }
}

// ---- backward: dq -------------------------------------------------------------------------
// dS_ij = P_ij (dP_ij - delta_i), dP_ij = dout_i . v_j, delta_i = dout_i . out_i;
// dq_i = scale * sum_j dS_ij k_j. grid (ceil(T/QROWS), H, B), block 128.
// Shared: q[QROWS][D], dout[QROWS][D], k[TILE][D+1], v[TILE][D+1].
template <int NK>
__global__ void __launch_bounds__(128) attention_dq_kernel(
    float *dqkv, const float *dout, const float *qkv, const float *out, const float *lse,
    const int *lens, int T, int H, int KV, int D, float scale) {
    extern __shared__ float smem[];
    float *qs = smem, *dos = qs + QROWS * D, *ks = dos + QROWS * D, *vs = ks + TILE * (D + 1);
    int b = blockIdx.z, h = blockIdx.y, g = h / (H / KV), q0 = blockIdx.x * QROWS;
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    int len = lens[b], C3 = (H + 2 * KV) * D, HD = H * D;
    const float *base = qkv + (size_t)b * T * C3;
    int qend = max(q0, min(q0 + QROWS, len));  // queries q0..qend-1 are real

    load_tile(qs, D, base + h * D, C3, q0, QROWS, len, D);
    load_tile(dos, D, dout + (size_t)b * T * HD + h * D, HD, q0, QROWS, len, D);
    float delta[RPW], lse_r[RPW], dq[RPW][NK];
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        int t = q0 + warp * RPW + r;
        size_t row = (size_t)b * T + t;
        delta[r] = head_dot<NK>(dout + row * HD + h * D, out + row * HD + h * D, D, t < qend);
        lse_r[r] = t < qend ? lse[row * H + h] : 0.0f;
        for (int k = 0; k < NK; k++) dq[r][k] = 0.0f;
    }
    for (int kt = 0; q0 < qend && kt < qend; kt += TILE) {
        __syncthreads();
        load_tile(ks, D + 1, base + (H + g) * D, C3, kt, TILE, qend, D);
        load_tile(vs, D + 1, base + (H + KV + g) * D, C3, kt, TILE, qend, D);
        __syncthreads();
        float s[RPW], dp[RPW];
        for (int r = 0; r < RPW; r++) s[r] = dp[r] = 0.0f;
        for (int d = 0; d < D; d++) {
            float kd = ks[lane * (D + 1) + d], vd = vs[lane * (D + 1) + d];
#pragma unroll
            for (int r = 0; r < RPW; r++) {
                s[r] += qs[(warp * RPW + r) * D + d] * kd;
                dp[r] += dos[(warp * RPW + r) * D + d] * vd;
            }
        }
        int j = kt + lane;
#pragma unroll
        for (int r = 0; r < RPW; r++) {
            int t = q0 + warp * RPW + r;
            if (t >= qend) continue;
            float p = j <= t ? expf(s[r] * scale - lse_r[r]) : 0.0f;
            float ds = p * (dp[r] - delta[r]);
            for (int l = 0; l < TILE; l++) {
                float dsl = __shfl_sync(0xffffffffu, ds, l);
#pragma unroll
                for (int k = 0; k < NK; k++) {
                    int d = lane + 32 * k;
                    if (d < D) dq[r][k] += dsl * ks[l * (D + 1) + d];
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        int t = q0 + warp * RPW + r;
        if (t >= T) continue;
        size_t row = (size_t)b * T + t;
#pragma unroll
        for (int k = 0; k < NK; k++) {
            int d = lane + 32 * k;
            if (d < D) dqkv[row * C3 + h * D + d] = t < qend ? dq[r][k] * scale : 0.0f;
        }
    }
}

// For the TILE queries from token row `row0` (n_real of them real) of head h: delta_i =
// dout_i . out_i and lse_i into shared memory (0 past n_real); warp w takes 8 of them.
template <int NK>
__device__ __forceinline__ void query_tile_stats(float *deltas, float *lses, const float *dout,
                                                 const float *out, const float *lse, size_t row0,
                                                 int n_real, int H, int h, int D) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int i = warp * 8; i < warp * 8 + 8; i++) {
        size_t row = row0 + i, at = row * H * D + h * D;
        float dot = head_dot<NK>(dout + at, out + at, D, i < n_real);
        if (lane == 0) {
            deltas[i] = dot;
            lses[i] = i < n_real ? lse[row * H + h] : 0.0f;
        }
    }
}

// ---- backward: dk, dv ---------------------------------------------------------------------
// dv_j = sum_{h in group} sum_i P_ij dout_i, dk_j = scale * sum_{h,i} dS_ij q_i.
// grid (ceil(T/QROWS), KV, B), block 128: the block's 16 keys, 4 per warp; lane l takes
// query l of each tile of 32. Shared: k[QROWS][D], v[QROWS][D], q[TILE][D+1],
// dout[TILE][D+1], lse[TILE], delta[TILE].
template <int NK>
__global__ void __launch_bounds__(128) attention_dkdv_kernel(
    float *dqkv, const float *dout, const float *qkv, const float *out, const float *lse,
    const int *lens, int T, int H, int KV, int D, float scale) {
    extern __shared__ float smem[];
    float *ks = smem, *vs = ks + QROWS * D, *qs = vs + QROWS * D, *dos = qs + TILE * (D + 1);
    float *lses = dos + TILE * (D + 1), *deltas = lses + TILE;
    int b = blockIdx.z, g = blockIdx.y, k0 = blockIdx.x * QROWS, G = H / KV;
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    int len = lens[b], C3 = (H + 2 * KV) * D, HD = H * D;
    const float *base = qkv + (size_t)b * T * C3;

    load_tile(ks, D, base + (H + g) * D, C3, k0, QROWS, len, D);
    load_tile(vs, D, base + (H + KV + g) * D, C3, k0, QROWS, len, D);
    float dk[RPW][NK], dv[RPW][NK];
    for (int r = 0; r < RPW; r++)
        for (int k = 0; k < NK; k++) dk[r][k] = dv[r][k] = 0.0f;
    for (int h = g * G; h < (g + 1) * G; h++)
        for (int qt = k0 / TILE * TILE; qt < len; qt += TILE) {
            __syncthreads();
            load_tile(qs, D + 1, base + h * D, C3, qt, TILE, len, D);
            load_tile(dos, D + 1, dout + (size_t)b * T * HD + h * D, HD, qt, TILE, len, D);
            query_tile_stats<NK>(deltas, lses, dout, out, lse, (size_t)b * T + qt, len - qt, H, h, D);
            __syncthreads();
            float s[RPW], dp[RPW];
            for (int r = 0; r < RPW; r++) s[r] = dp[r] = 0.0f;
            for (int d = 0; d < D; d++) {
                float qd = qs[lane * (D + 1) + d], dod = dos[lane * (D + 1) + d];
#pragma unroll
                for (int r = 0; r < RPW; r++) {
                    s[r] += qd * ks[(warp * RPW + r) * D + d];
                    dp[r] += dod * vs[(warp * RPW + r) * D + d];
                }
            }
            int i = qt + lane;
#pragma unroll
            for (int r = 0; r < RPW; r++) {
                int j = k0 + warp * RPW + r;
                if (j >= len) continue;  // uniform over the warp
                float p = i >= j && i < len ? expf(s[r] * scale - lses[lane]) : 0.0f;
                float ds = p * (dp[r] - deltas[lane]);
                for (int l = 0; l < TILE; l++) {
                    float pl = __shfl_sync(0xffffffffu, p, l);
                    float dsl = __shfl_sync(0xffffffffu, ds, l);
#pragma unroll
                    for (int k = 0; k < NK; k++) {
                        int d = lane + 32 * k;
                        if (d < D) {
                            dv[r][k] += pl * dos[l * (D + 1) + d];
                            dk[r][k] += dsl * qs[l * (D + 1) + d];
                        }
                    }
                }
            }
        }
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        int j = k0 + warp * RPW + r;
        if (j >= T) continue;
        size_t row = (size_t)b * T + j;
#pragma unroll
        for (int k = 0; k < NK; k++) {
            int d = lane + 32 * k;
            if (d < D) {
                dqkv[row * C3 + (H + g) * D + d] = j < len ? dk[r][k] * scale : 0.0f;
                dqkv[row * C3 + (H + KV + g) * D + d] = j < len ? dv[r][k] : 0.0f;
            }
        }
    }
}

// ---- KV cache -------------------------------------------------------------------------------
// Elements of type Cache: float, or bf16 bits (common.cuh's store_elem, load_elem).

// kcache[slots[n], pos[n], :] = the key part of qkv[n]; likewise vcache.
template <typename Cache>
__global__ void kv_cache_write_kernel(Cache *kcache, Cache *vcache, const float *qkv,
                                      const int *slots, const int *pos, int N, int H, int KV,
                                      int D, int max_T) {
    int W = KV * D;
    size_t total = (size_t)N * W;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x) {
        size_t n = e / W;
        int c = (int)(e % W);
        const float *src = qkv + n * (H + 2 * KV) * D + H * D;
        size_t dst = ((size_t)slots[n] * max_T + pos[n]) * W + c;
        store_elem(kcache + dst, src[c]);
        store_elem(vcache + dst, src[W + c]);
    }
}

// One block of 4 warps per (token n, query head h). Warp w takes the chunks of 32
// positions w, w+4, ...: lane l scores position l of a chunk, then lanes own output
// columns, as in the forward. The warps' partial softmaxes are merged at the end.
// Positions below prefix_lens[n] come from slot prefix_slots[n] (a shared prompt).
template <int NK, typename Cache, typename Weight>
__global__ void __launch_bounds__(128) attention_decode_kernel(
    Weight *out, const float *qkv, const Cache *kcache, const Cache *vcache, const int *slots,
    const int *pos, const int *prefix_slots, const int *prefix_lens, int H, int KV, int D,
    int max_T, float scale) {
    __shared__ float qs[32 * NK], accs[4][32 * NK], ms[4], ls[4];
    int n = blockIdx.x, h = blockIdx.y, g = h / (H / KV);
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, W = KV * D;
    int P = pos[n];  // attends to positions 0..P
    int split = prefix_lens ? prefix_lens[n] : 0;
    size_t own = (size_t)slots[n] * max_T * W + g * D;
    size_t shared = prefix_lens ? (size_t)prefix_slots[n] * max_T * W + g * D : own;
    // row j of the key (or value) cache: in the shared slot below the split
#define KEY_ROW(base, j) ((base) + ((j) < split ? shared : own) + (size_t)(j) * W)
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        qs[d] = qkv[(size_t)n * (H + 2 * KV) * D + h * D + d];
    __syncthreads();
    float m = -INFINITY, lsum = 0.0f, acc[NK];
    for (int k = 0; k < NK; k++) acc[k] = 0.0f;
    // every chunk visited holds its first position c <= P, so m stays finite
    for (int c = warp * 32; c <= P; c += 4 * 32) {
        int j = c + lane;
        float s = 0.0f;
        if (j <= P)
            for (int d = 0; d < D; d++) s += qs[d] * load_elem(KEY_ROW(kcache, j) + d);
        float sc = j <= P ? s * scale : -INFINITY;
        float mnew = fmaxf(m, warp_max(sc));
        float corr = expf(m - mnew);
        float p = j <= P ? expf(sc - mnew) : 0.0f;
        m = mnew;
        lsum = lsum * corr + p;
        for (int k = 0; k < NK; k++) acc[k] *= corr;
        int nl = min(32, P - c + 1);
        for (int l = 0; l < nl; l++) {
            float pl = __shfl_sync(0xffffffffu, p, l);
#pragma unroll
            for (int k = 0; k < NK; k++) {
                int d = lane + 32 * k;
                if (d < D) acc[k] += pl * load_elem(KEY_ROW(vcache, c + l) + d);
            }
        }
    }
    lsum = warp_sum(lsum);
    for (int k = 0; k < NK; k++) accs[warp][lane + 32 * k] = acc[k];
    if (lane == 0) {
        ms[warp] = m;
        ls[warp] = lsum;
    }
    __syncthreads();
    if (warp == 0) {
        float M = ms[0];  // warp 0 always saw position 0
        for (int w = 1; w < 4; w++) M = fmaxf(M, ms[w]);
        float f[4], L = 0.0f;
        for (int w = 0; w < 4; w++) {
            f[w] = ms[w] == -INFINITY ? 0.0f : expf(ms[w] - M);
            L += f[w] * ls[w];
        }
        for (int k = 0; k < NK; k++) {
            int d = lane + 32 * k;
            if (d >= D) continue;
            float o = 0.0f;
            for (int w = 0; w < 4; w++) o += f[w] * accs[w][d];
            store_elem(out + (size_t)n * H * D + h * D + d, o / L);
        }
    }
#undef KEY_ROW
}

// ---- launchers ------------------------------------------------------------------------------
// Kernels are instantiated for NK = ceil(D/32) in 1..4 (head_dim up to 128).
#define DISPATCH_NK(D, launch)                                               \
    switch ((D + 31) / 32) {                                                 \
    case 1: launch(1); break;                                                \
    case 2: launch(2); break;                                                \
    case 3: launch(3); break;                                                \
    case 4: launch(4); break;                                                \
    default: cuda_fail("attention: head_dim above 128", __FILE__, __LINE__); \
    }

void cuda_attention_forward(void *out_act, float *lse, const float *qkv, const int *lens, int B,
                            int T, int H, int KV, int D) {
    if (B <= 0 || T <= 0) return;
    float *out = (float *)out_act;
    dim3 grid(ceil_div(T, QROWS), H, B);
    size_t smem = (QROWS * D + TILE * (D + 1) + TILE * D) * sizeof(float);
    float scale = 1.0f / sqrtf((float)D);
#define LAUNCH(NK)                                                  \
    cuda_allow_smem(attention_forward_kernel<NK>, smem);            \
    attention_forward_kernel<NK><<<grid, 128, smem, cuda_stream>>>( \
        out, lse, qkv, lens, T, H, KV, D, scale)
    DISPATCH_NK(D, LAUNCH);
#undef LAUNCH
    LAUNCH_CHECK();
}

void cuda_attention_backward(float *dqkv, const float *dout, const float *qkv,
                             const void *out_act, const float *lse, const int *lens, int B, int T,
                             int H, int KV, int D) {
    if (B <= 0 || T <= 0) return;
    const float *out = (const float *)out_act;
    float scale = 1.0f / sqrtf((float)D);
    dim3 grid_q(ceil_div(T, QROWS), H, B), grid_kv(ceil_div(T, QROWS), KV, B);
    size_t smem_q = (2 * QROWS * D + 2 * TILE * (D + 1)) * sizeof(float);
    size_t smem_kv = (2 * QROWS * D + 2 * TILE * (D + 1) + 2 * TILE) * sizeof(float);
#define LAUNCH(NK)                                                                                 \
    cuda_allow_smem(attention_dq_kernel<NK>, smem_q);                                              \
    attention_dq_kernel<NK><<<grid_q, 128, smem_q, cuda_stream>>>(dqkv, dout, qkv, out, lse, lens, \
                                                                  T, H, KV, D, scale);             \
    cuda_allow_smem(attention_dkdv_kernel<NK>, smem_kv);                                           \
    attention_dkdv_kernel<NK><<<grid_kv, 128, smem_kv, cuda_stream>>>(dqkv, dout, qkv, out, lse,   \
                                                                      lens, T, H, KV, D, scale)
    DISPATCH_NK(D, LAUNCH);
#undef LAUNCH
    LAUNCH_CHECK();
}

template <typename Cache>
void cuda_kv_cache_write(void *kcache, void *vcache, const float *qkv, const int *slots,
                         const int *pos, int N, int H, int KV, int D, int max_T) {
    size_t total = (size_t)N * KV * D;
    int blocks = (int)((total + 255) / 256 < 65536 ? (total + 255) / 256 : 65536);
    kv_cache_write_kernel<Cache><<<blocks ? blocks : 1, 256, 0, cuda_stream>>>(
        (Cache *)kcache, (Cache *)vcache, qkv, slots, pos, N, H, KV, D, max_T);
    LAUNCH_CHECK();
}
template void cuda_kv_cache_write<float>(void *, void *, const float *, const int *, const int *,
                                         int, int, int, int, int);
template void cuda_kv_cache_write<unsigned short>(void *, void *, const float *, const int *,
                                                  const int *, int, int, int, int, int);

template <typename Cache, typename Weight>
void cuda_attention_decode(void *out, const float *qkv, const void *kcache, const void *vcache,
                           const int *slots, const int *pos, const int *prefix_slots,
                           const int *prefix_lens, int N, int H, int KV, int D, int max_T) {
    if (N <= 0) return;
    dim3 grid(N, H);
    float scale = 1.0f / sqrtf((float)D);
    const Cache *kc = (const Cache *)kcache, *vc = (const Cache *)vcache;
    Weight *o = (Weight *)out;
#define LAUNCH(NK)                                                             \
    attention_decode_kernel<NK, Cache, Weight><<<grid, 128, 0, cuda_stream>>>( \
        o, qkv, kc, vc, slots, pos, prefix_slots, prefix_lens, H, KV, D, max_T, scale)
    DISPATCH_NK(D, LAUNCH);
#undef LAUNCH
    LAUNCH_CHECK();
}
template void cuda_attention_decode<float, float>(void *, const float *, const void *,
                                                  const void *, const int *, const int *,
                                                  const int *, const int *, int, int, int, int,
                                                  int);
template void cuda_attention_decode<unsigned short, unsigned short>(
    void *, const float *, const void *, const void *, const int *, const int *, const int *,
    const int *, int, int, int, int, int);
