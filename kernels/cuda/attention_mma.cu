// kernels/cuda/attention_mma.cu -- causal attention with GQA on tensor cores: the flash-
// attention forward and backward of attention.cu with its products on mma.sync (mma.cuh).
// The "cuda-bf16" table's attention.
//
// Numerics: q, k, v, dout and the probabilities P and dS enter the products rounded to bf16
// (8 significant bits); the scores, the online softmax, lse, delta and every accumulator are
// fp32, and so are qkv, dout and dqkv in memory. out is a product input, stored in bf16
// (the table's act_elem_bytes), and read back so by the backward's delta. Results agree with ref within the
// tolerances stated in tests/cuda/test_kernels_cuda.c. Deterministic: each output element
// is summed by one warp in a fixed order, with no atomics.
//
// Work split: blocks of 4 warps x 16 rows = 64 rows, tiles of 64; the head dimension is
// padded with zeros to DP, a multiple of 16 (DP <= 128).
// - forward and dq: a block holds 64 queries of one head, warp w rows q0 + 16w .. + 15, its
//   Q (and dout) as A fragments in registers. It walks the key tiles of 64 up to its last
//   query, staging K and V as bf16 in shared memory. Key tiles start at multiples of 64
//   and so does q0, so every real query has a key in every tile.
// - dk/dv: a block holds 64 keys of one KV head, warp w keys k0 + 16w .. + 15. It walks
//   every query head of the group and the query tiles of 64 from k0 on. It alone writes its
//   dk and dv rows; dq is its own pass, which recomputes P from the forward's lse.
// Shared tiles are bf16 (unsigned short) with rows padded by 8 (16 bytes), so the 8 rows
// a fragment reads start in different banks. Rows past a sequence's length are staged as
// zeros: padding, whatever it holds, is never read.
#include <math.h>

#include "common.cuh"
#include "mma.cuh"

#define ROWS 64          // queries (keys, in dk/dv) per block and per tile: 4 warps x 16
#define LDT (ROWS + 8)   // row stride of a transposed tile [DP][ROWS]

// x[i][d] = bf16(src[(t0 + i) * stride + d]) for i < ROWS, d < DP (zero for rows t0 + i >=
// limit and columns d >= D), read once into either layout or both: rows[i][d] (a row
// tile, row stride DP + 8) and cols[d][i] (a transposed tile, row stride LDT); NULL: not
// that one.
__device__ void stage_tile(unsigned short *rows, unsigned short *cols, const float *src,
                           size_t stride, int t0, int limit, int D, int DP) {
    for (int e = threadIdx.x; e < ROWS * DP; e += blockDim.x) {
        int i = e / DP, d = e % DP;
        float x = t0 + i < limit && d < D ? src[(size_t)(t0 + i) * stride + d] : 0.0f;
        unsigned short h = (unsigned short)bf16_bits(x);
        if (rows) rows[i * (DP + 8) + d] = h;
        if (cols) cols[d * LDT + i] = h;
    }
}

// The A fragments of rows r0 .. r0 + 15 of src (row stride `stride`) over DP columns, bf16:
// a[kk] covers columns 16kk .. 16kk + 15; zero for rows >= limit and columns >= D.
template <int DP>
__device__ void a_from_rows(unsigned a[DP / 16][4], const float *src, size_t stride, int r0,
                            int limit, int D) {
    int lane = threadIdx.x % 32, lg = lane / 4, lc = lane % 4;
#pragma unroll
    for (int kk = 0; kk < DP / 16; kk++)
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int r = r0 + lg + 8 * (i & 1), d = 16 * kk + 2 * lc + 8 * (i >> 1);
            const float *p = src + (size_t)r * stride + d;
            bool real = r < limit;
            a[kk][i] = pack_bf16(real && d < D ? p[0] : 0.0f, real && d + 1 < D ? p[1] : 0.0f);
        }
}

// The A fragment at rows m0.. and columns k0.. of a row-major bf16 tile (row stride ld).
__device__ __forceinline__ void a_from_tile(unsigned a[4], const unsigned short *tile, int ld,
                                            int m0, int k0) {
    int lane = threadIdx.x % 32, lg = lane / 4, lc = lane % 4;
    const unsigned short *p = tile + (m0 + lg) * ld + k0 + 2 * lc;
    a[0] = *(const unsigned *)p;
    a[1] = *(const unsigned *)(p + 8 * ld);
    a[2] = *(const unsigned *)(p + 8);
    a[3] = *(const unsigned *)(p + 8 * ld + 8);
}

// delta = dout . out over one head's D columns at offset `off` (0 when !real), dout rounded
// to bf16 as in the product dP = dout V^T it is subtracted from, out the bf16 the forward
// wrote; every lane gets it.
__device__ float head_delta(const float *dout, const unsigned short *out, size_t off, int D,
                            bool real) {
    float s = 0.0f;
    if (real)
        for (int d = threadIdx.x % 32; d < D; d += 32)
            s += bf16_lo(bf16_bits(dout[off + d])) * bf16_lo(out[off + d]);
    return warp_sum(s);
}

// The sum over the 4 lanes that share a fragment row (lanes 4g .. 4g + 3).
__device__ __forceinline__ float row_sum4(float x) {
    x += __shfl_xor_sync(0xffffffffu, x, 1);
    return x + __shfl_xor_sync(0xffffffffu, x, 2);
}
__device__ __forceinline__ float row_max4(float x) {
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
    return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}

// In a fragment of a [16, ROWS] score tile (8 column fragments nb, elements i), element
// (nb, i) is at row lg + 8 * (i >> 1) and column 8 * nb + 2 * lc + (i & 1).
#define FRAG_ROW(i) (lg + 8 * ((i) >> 1))
#define FRAG_COL(nb, i) (8 * (nb) + 2 * lc + ((i) & 1))

// s[16, ROWS] += A[16, DP] B^T, A the fragments a[DP/16] in registers, B a row-major
// [ROWS][DP+8] tile (scores q k^T, dout v^T).
template <int DP>
__device__ __forceinline__ void product_rows(float s[ROWS / 8][4], const unsigned a[DP / 16][4],
                                             const unsigned short *tile) {
#pragma unroll
    for (int nb = 0; nb < ROWS / 8; nb++)
#pragma unroll
        for (int kk = 0; kk < DP / 16; kk++) {
            unsigned b[2];
            b_from_tile(b, tile, DP + 8, 8 * nb, 16 * kk);
            mma_bf16(s[nb], a[kk], b);
        }
}

// acc[16, DP] += P[16, ROWS] M, P the fp32 fragments of a score tile (rounded to bf16 on
// the way in), M[ROWS, DP] given transposed: a [DP][LDT] tile.
template <int DP>
__device__ __forceinline__ void product_cols(float acc[DP / 8][4], const float p[ROWS / 8][4],
                                             const unsigned short *tile_t) {
#pragma unroll
    for (int kk = 0; kk < ROWS / 16; kk++) {
        unsigned pa[4];
        a_from_acc(pa, p[2 * kk], p[2 * kk + 1]);
#pragma unroll
        for (int nd = 0; nd < DP / 8; nd++) {
            unsigned b[2];
            b_from_tile(b, tile_t, LDT, 8 * nd, 16 * kk);
            mma_bf16(acc[nd], pa, b);
        }
    }
}

// dst[row * stride + d] = acc * mul[r] for the warp's 16 rows w0 .. (fragment rows lg and
// lg + 8: r = 0, 1), token rows b T + t, columns d < D; rows t >= len get zeros, rows
// t >= T nothing. Elem: float (dqkv) or bf16 bits (out).
template <int DP, typename Elem>
__device__ __forceinline__ void store_rows(Elem *dst, size_t stride, const float acc[DP / 8][4],
                                           const float mul[2], int b, int T, int w0, int len, int D) {
    int lane = threadIdx.x % 32, lg = lane / 4, lc = lane % 4;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        int t = w0 + lg + 8 * r;
        if (t >= T) continue;
        Elem *row = dst + ((size_t)b * T + t) * stride;
#pragma unroll
        for (int nd = 0; nd < DP / 8; nd++)
#pragma unroll
            for (int e = 0; e < 2; e++) {
                int d = 8 * nd + 2 * lc + e;
                if (d < D) store_elem(row + d, t < len ? acc[nd][2 * r + e] * mul[r] : 0.0f);
            }
    }
}

// ---- forward ------------------------------------------------------------------------------
// grid (ceil(T/ROWS), H, B), block 128. Shared: K[ROWS][DP+8], V^T[DP][LDT].
template <int DP>
__global__ void __launch_bounds__(128) attention_mma_forward_kernel(
    unsigned short *out, float *lse, const float *qkv, const int *lens, int T, int H, int KV, int D,
    float scale) {
    extern __shared__ float smem[];
    unsigned short *ks = (unsigned short *)smem, *vt = ks + ROWS * (DP + 8);
    int b = blockIdx.z, h = blockIdx.y, g = h / (H / KV), q0 = blockIdx.x * ROWS;
    int lane = threadIdx.x % 32, lg = lane / 4, lc = lane % 4, w0 = q0 + 16 * (threadIdx.x / 32);
    int len = lens[b], C3 = (H + 2 * KV) * D;
    const float *base = qkv + (size_t)b * T * C3;
    int qend = max(q0, min(q0 + ROWS, len));  // queries q0 .. qend-1 are real

    unsigned qa[DP / 16][4];
    a_from_rows<DP>(qa, base + h * D, C3, w0, len, D);
    float o[DP / 8][4] = {};                 // O[16, DP]
    float m[2] = {-INFINITY, -INFINITY};     // running max of rows lg, lg + 8
    float l[2] = {0.0f, 0.0f};               // this lane's part of their running sums
    for (int kt = 0; kt < qend; kt += ROWS) {
        __syncthreads();
        stage_tile(ks, NULL, base + (H + g) * D, C3, kt, qend, D, DP);
        stage_tile(NULL, vt, base + (H + KV + g) * D, C3, kt, qend, D, DP);
        __syncthreads();
        if (w0 >= qend) continue;  // no real query in this warp (warp-uniform)

        // pass 1: S[16, ROWS] = Q K^T
        float s[ROWS / 8][4] = {};
        product_rows<DP>(s, qa, ks);
        // pass 2: causal mask and the online softmax; P overwrites S
        float mnew[2] = {m[0], m[1]};
#pragma unroll
        for (int nb = 0; nb < ROWS / 8; nb++)
#pragma unroll
            for (int i = 0; i < 4; i++) {
                bool causal = kt + FRAG_COL(nb, i) <= w0 + FRAG_ROW(i);
                s[nb][i] = causal ? s[nb][i] * scale : -INFINITY;
                mnew[i >> 1] = fmaxf(mnew[i >> 1], s[nb][i]);
            }
        float mb[2], corr[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mnew[r] = row_max4(mnew[r]);
            mb[r] = mnew[r] == -INFINITY ? 0.0f : mnew[r];  // a padding row without keys
            corr[r] = expf(m[r] - mb[r]);
            m[r] = mnew[r];
            l[r] *= corr[r];
        }
#pragma unroll
        for (int nb = 0; nb < ROWS / 8; nb++)
#pragma unroll
            for (int i = 0; i < 4; i++) {
                s[nb][i] = expf(s[nb][i] - mb[i >> 1]);
                l[i >> 1] += s[nb][i];
            }
#pragma unroll
        for (int nd = 0; nd < DP / 8; nd++)
#pragma unroll
            for (int i = 0; i < 4; i++) o[nd][i] *= corr[i >> 1];
        // pass 3: O += P V, P's A fragments straight from the score fragments
        product_cols<DP>(o, s, vt);
    }
    float inv_l[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        float lr = row_sum4(l[r]);
        inv_l[r] = 1.0f / lr;
        int t = w0 + lg + 8 * r;
        if (t < T && lc == 0) lse[((size_t)b * T + t) * H + h] = t < len ? m[r] + logf(lr) : 0.0f;
    }
    store_rows<DP>(out + h * D, (size_t)H * D, o, inv_l, b, T, w0, len, D);
}

// ---- backward: dq -------------------------------------------------------------------------
// dS_ij = P_ij (dP_ij - delta_i), dP = dout V^T, delta_i = dout_i . out_i; dq = scale dS K.
// grid (ceil(T/ROWS), H, B), block 128. Shared: K[ROWS][DP+8], V[ROWS][DP+8], K^T[DP][LDT].
template <int DP>
__global__ void __launch_bounds__(128) attention_mma_dq_kernel(
    float *dqkv, const float *dout, const float *qkv, const unsigned short *out, const float *lse,
    const int *lens, int T, int H, int KV, int D, float scale) {
    extern __shared__ float smem[];
    unsigned short *ks = (unsigned short *)smem, *vs = ks + ROWS * (DP + 8),
                   *kt_tile = vs + ROWS * (DP + 8);
    int b = blockIdx.z, h = blockIdx.y, g = h / (H / KV), q0 = blockIdx.x * ROWS;
    int lane = threadIdx.x % 32, lg = lane / 4, lc = lane % 4, w0 = q0 + 16 * (threadIdx.x / 32);
    int len = lens[b], C3 = (H + 2 * KV) * D, HD = H * D;
    const float *base = qkv + (size_t)b * T * C3;
    int qend = max(q0, min(q0 + ROWS, len));

    unsigned qa[DP / 16][4], da[DP / 16][4];
    a_from_rows<DP>(qa, base + h * D, C3, w0, len, D);
    a_from_rows<DP>(da, dout + (size_t)b * T * HD + h * D, HD, w0, len, D);
    float delta[2] = {0.0f, 0.0f}, lse_r[2] = {0.0f, 0.0f};  // rows lg, lg + 8
    for (int r = 0; r < 16; r++) {
        int t = w0 + r;
        size_t row = (size_t)b * T + t;
        float dl = head_delta(dout, out, row * HD + h * D, D, t < len);
        if (r % 8 == lg) {
            delta[r / 8] = dl;
            lse_r[r / 8] = t < len ? lse[row * H + h] : 0.0f;
        }
    }
    float dq[DP / 8][4] = {};
    for (int kt = 0; kt < qend; kt += ROWS) {
        __syncthreads();
        const float *kbase = base + (H + g) * D, *vbase = base + (H + KV + g) * D;
        stage_tile(ks, kt_tile, kbase, C3, kt, qend, D, DP);
        stage_tile(vs, NULL, vbase, C3, kt, qend, D, DP);
        __syncthreads();
        if (w0 >= qend) continue;

        // pass 1: S = Q K^T and dP = dout V^T, [16, ROWS] each
        float s[ROWS / 8][4] = {}, dp[ROWS / 8][4] = {};
        product_rows<DP>(s, qa, ks);
        product_rows<DP>(dp, da, vs);
        // pass 2: P from the forward's lse, dS into s
#pragma unroll
        for (int nb = 0; nb < ROWS / 8; nb++)
#pragma unroll
            for (int i = 0; i < 4; i++) {
                int t = w0 + FRAG_ROW(i), r = i >> 1;
                bool live = kt + FRAG_COL(nb, i) <= t && t < len;
                float p = live ? expf(s[nb][i] * scale - lse_r[r]) : 0.0f;
                s[nb][i] = p * (dp[nb][i] - delta[r]);
            }
        // pass 3: dq += dS K
        product_cols<DP>(dq, s, kt_tile);
    }
    const float scales[2] = {scale, scale};
    store_rows<DP>(dqkv + h * D, C3, dq, scales, b, T, w0, len, D);
}

// ---- backward: dk, dv -----------------------------------------------------------------------
// dv_j = sum_i P_ij dout_i, dk_j = scale sum_i dS_ij q_i over the query heads of the group.
// The warp computes the transposed tiles P^T = exp(scale K Q^T - lse) and dP^T = V dout^T,
// [16 keys, ROWS queries]. grid (ceil(T/ROWS), KV, B), block 128. Shared: K[ROWS][DP+8],
// V[ROWS][DP+8], Q[ROWS][DP+8], Q^T[DP][LDT], dout[ROWS][DP+8], dout^T[DP][LDT], lse[ROWS],
// delta[ROWS] (fp32). K and V are read from shared memory, not held in registers: dk and
// dv already hold DP/2 floats each.
template <int DP>
__global__ void __launch_bounds__(128) attention_mma_dkdv_kernel(
    float *dqkv, const float *dout, const float *qkv, const unsigned short *out, const float *lse,
    const int *lens, int T, int H, int KV, int D, float scale) {
    extern __shared__ float smem[];
    float *lses = smem, *deltas = lses + ROWS;
    unsigned short *ks = (unsigned short *)(deltas + ROWS), *vs = ks + ROWS * (DP + 8),
                   *qs = vs + ROWS * (DP + 8), *qt_tile = qs + ROWS * (DP + 8),
                   *dos = qt_tile + DP * LDT, *dot_tile = dos + ROWS * (DP + 8);
    int b = blockIdx.z, g = blockIdx.y, k0 = blockIdx.x * ROWS, warp = threadIdx.x / 32;
    int lane = threadIdx.x % 32, lg = lane / 4, lc = lane % 4, w0 = k0 + 16 * warp;
    int len = lens[b], C3 = (H + 2 * KV) * D, HD = H * D, group = H / KV;
    const float *base = qkv + (size_t)b * T * C3;

    stage_tile(ks, NULL, base + (H + g) * D, C3, k0, len, D, DP);
    stage_tile(vs, NULL, base + (H + KV + g) * D, C3, k0, len, D, DP);
    float dk[DP / 8][4] = {}, dv[DP / 8][4] = {};
    for (int h = g * group; h < (g + 1) * group; h++)
        for (int qt = k0; qt < len; qt += ROWS) {
            __syncthreads();
            const float *qbase = base + h * D, *dbase = dout + (size_t)b * T * HD + h * D;
            stage_tile(qs, qt_tile, qbase, C3, qt, len, D, DP);
            stage_tile(dos, dot_tile, dbase, HD, qt, len, D, DP);
            for (int r = 0; r < 16; r++) {  // warp w: the tile's queries 16w .. 16w + 15
                int i = 16 * warp + r, t = qt + i;
                size_t row = (size_t)b * T + t;
                float dl = head_delta(dout, out, row * HD + h * D, D, t < len);
                if (lane == 0) {
                    deltas[i] = dl;
                    lses[i] = t < len ? lse[row * H + h] : 0.0f;
                }
            }
            __syncthreads();
            if (w0 >= len) continue;  // no real key in this warp

            // pass 1: S^T = K Q^T and dP^T = V dout^T, [16, ROWS] each
            float st[ROWS / 8][4] = {}, dpt[ROWS / 8][4] = {};
#pragma unroll
            for (int kk = 0; kk < DP / 16; kk++) {
                unsigned ka[4], va[4];
                a_from_tile(ka, ks, DP + 8, 16 * warp, 16 * kk);
                a_from_tile(va, vs, DP + 8, 16 * warp, 16 * kk);
#pragma unroll
                for (int nb = 0; nb < ROWS / 8; nb++) {
                    unsigned qb[2], db[2];
                    b_from_tile(qb, qs, DP + 8, 8 * nb, 16 * kk);
                    b_from_tile(db, dos, DP + 8, 8 * nb, 16 * kk);
                    mma_bf16(st[nb], ka, qb);
                    mma_bf16(dpt[nb], va, db);
                }
            }
            // pass 2: P^T into st, dS^T into dpt (query i of the tile is column FRAG_COL)
#pragma unroll
            for (int nb = 0; nb < ROWS / 8; nb++)
#pragma unroll
                for (int i = 0; i < 4; i++) {
                    int q = FRAG_COL(nb, i), t = qt + q;
                    bool live = t >= w0 + FRAG_ROW(i) && t < len;
                    float p = live ? expf(st[nb][i] * scale - lses[q]) : 0.0f;
                    st[nb][i] = p;
                    dpt[nb][i] = p * (dpt[nb][i] - deltas[q]);
                }
            // pass 3: dv += P^T dout, dk += dS^T Q
            product_cols<DP>(dv, st, dot_tile);
            product_cols<DP>(dk, dpt, qt_tile);
        }
    const float scales[2] = {scale, scale}, ones[2] = {1.0f, 1.0f};
    store_rows<DP>(dqkv + (H + g) * D, C3, dk, scales, b, T, w0, len, D);
    store_rows<DP>(dqkv + (H + KV + g) * D, C3, dv, ones, b, T, w0, len, D);
}

// ---- launchers ------------------------------------------------------------------------------
// Instantiated for DP = 16, 32, 64, 128: D rounded up to the nearest of them.
#define DISPATCH_DP(D, launch)                                          \
    if ((D) <= 16) {                                                    \
        launch(16);                                                     \
    } else if ((D) <= 32) {                                             \
        launch(32);                                                     \
    } else if ((D) <= 64) {                                             \
        launch(64);                                                     \
    } else if ((D) <= 128) {                                            \
        launch(128);                                                    \
    } else {                                                            \
        cuda_fail("attention: head_dim above 128", __FILE__, __LINE__); \
    }

// Bytes of a [ROWS][DP+8] and a [DP][LDT] bf16 tile.
static size_t rows_tile(int DP) { return (size_t)ROWS * (DP + 8) * 2; }
static size_t cols_tile(int DP) { return (size_t)DP * LDT * 2; }

void cuda_attention_mma_forward(void *out, float *lse, const float *qkv, const int *lens,
                                int B, int T, int H, int KV, int D) {
    if (B <= 0 || T <= 0) return;
    dim3 grid(ceil_div(T, ROWS), H, B);
    float scale = 1.0f / sqrtf((float)D);
    unsigned short *o = (unsigned short *)out;  // bf16 product inputs
#define LAUNCH(DP)                                                                     \
    {                                                                                  \
        size_t smem = rows_tile(DP) + cols_tile(DP);                                   \
        cuda_allow_smem(attention_mma_forward_kernel<DP>, smem);                       \
        attention_mma_forward_kernel<DP><<<grid, 128, smem, cuda_stream>>>(            \
            o, lse, qkv, lens, T, H, KV, D, scale);                                    \
    }
    DISPATCH_DP(D, LAUNCH);
#undef LAUNCH
    LAUNCH_CHECK();
}

void cuda_attention_mma_backward(float *dqkv, const float *dout, const float *qkv,
                                 const void *out_act, const float *lse, const int *lens, int B,
                                 int T, int H, int KV, int D) {
    if (B <= 0 || T <= 0) return;
    const unsigned short *out = (const unsigned short *)out_act;
    float scale = 1.0f / sqrtf((float)D);
    dim3 grid_q(ceil_div(T, ROWS), H, B), grid_kv(ceil_div(T, ROWS), KV, B);
#define LAUNCH(DP)                                                                         \
    {                                                                                      \
        size_t smem_q = 2 * rows_tile(DP) + cols_tile(DP);                                 \
        size_t smem_kv = 2 * ROWS * sizeof(float) + 4 * rows_tile(DP) + 2 * cols_tile(DP); \
        cuda_allow_smem(attention_mma_dq_kernel<DP>, smem_q);                              \
        attention_mma_dq_kernel<DP><<<grid_q, 128, smem_q, cuda_stream>>>(                 \
            dqkv, dout, qkv, out, lse, lens, T, H, KV, D, scale);                          \
        cuda_allow_smem(attention_mma_dkdv_kernel<DP>, smem_kv);                           \
        attention_mma_dkdv_kernel<DP><<<grid_kv, 128, smem_kv, cuda_stream>>>(             \
            dqkv, dout, qkv, out, lse, lens, T, H, KV, D, scale);                          \
    }
    DISPATCH_DP(D, LAUNCH);
#undef LAUNCH
    LAUNCH_CHECK();
}
