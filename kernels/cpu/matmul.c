// kernels/cpu/matmul.c -- the linear layer.
//
// forward   out[N,OC]  = inp[N,C] @ w[OC,C]^T + bias[OC]
// backward  dinp[N,C]  = dout[N,OC] @ w[OC,C]        (overwritten)
//           dw[OC,C]  += dout^T @ inp                 (accumulated)
//           dbias[OC] += sum_n dout[n,:]
//
// Determinism. The products run on cpu_gemm (gemm.c), whose every output element is one
// fmaf chain in k order: the same bits at any thread count and whichever rows share the
// call. A forward of at most CPU_ROWWISE_MAX rows -- a decode step, bound by reading the
// weights -- takes kernels of its own that read the weights as they lie; their summation
// order is another, but again the same for every row whatever N.
#include <omp.h>
#include <string.h>

#include "cpu.h"

// Small-N forward, by tiles of up to WR weight rows x XR input rows: each weight load
// serves XR rows and each input load WR outputs (WR * XR accumulators in registers).
// Every element out[n, o] is its own accumulator: lane k sums the products c = k (mod 8)
// of the first C/8*8, the lanes are added pairwise (cpu_hsum8), then the tail in order --
// the same operations whatever tile it falls in, so a row's bits do not depend on N.
enum { WR = 3, XR = 4 };

static inline __attribute__((always_inline)) void
rowwise_tile(float *out, const float *inp, const float *w, const float *bias, int C, int OC,
             int o0, int n0, int wr, int xr) {
    int c8 = C / 8 * 8;
    const float *wo[WR], *x[XR];
    for (int i = 0; i < wr; i++) wo[i] = w + (size_t)(o0 + i) * C;
    for (int r = 0; r < xr; r++) x[r] = inp + (size_t)(n0 + r) * C;
    cpu_v8 acc[WR][XR] = {{{0}}};
    for (int c = 0; c < c8; c += 8) {
        cpu_v8 wv[WR], xv;
        // the next block of weight rows, read at the same pace (wr * 8 floats a step)
        __builtin_prefetch(wo[0] + (size_t)wr * C + (size_t)wr * c);
        __builtin_prefetch(wo[0] + (size_t)wr * C + (size_t)wr * c + 16);
#pragma GCC unroll 4
        for (int i = 0; i < wr; i++) memcpy(&wv[i], wo[i] + c, sizeof xv);
#pragma GCC unroll 4
        for (int r = 0; r < xr; r++) {
            memcpy(&xv, x[r] + c, sizeof xv);
#pragma GCC unroll 4
            for (int i = 0; i < wr; i++) cpu_fma8(&acc[i][r], &xv, &wv[i]);
        }
    }
    for (int i = 0; i < wr; i++) {
        float s[XR];
        if (xr == XR) cpu_hsum8x4(acc[i], s);
        else
            for (int r = 0; r < xr; r++) s[r] = cpu_hsum8(&acc[i][r]);
        for (int r = 0; r < xr; r++) {
            float t = s[r];
            for (int c = c8; c < C; c++) t = fmaf(x[r][c], wo[i][c], t);
            out[(size_t)(n0 + r) * OC + o0 + i] = bias ? t + bias[o0 + i] : t;
        }
    }
}

// One function per tile shape, so each has its loops unrolled with constant bounds.
typedef void TileFn(float *, const float *, const float *, const float *, int, int, int, int);
#define TILE(wr, xr)                                                                          \
    static void tile_##wr##_##xr(float *out, const float *inp, const float *w,             \
                                 const float *bias, int C, int OC, int o0, int n0) {       \
        rowwise_tile(out, inp, w, bias, C, OC, o0, n0, wr, xr);                            \
    }
TILE(1, 1) TILE(1, 2) TILE(1, 3) TILE(1, 4)
TILE(2, 1) TILE(2, 2) TILE(2, 3) TILE(2, 4)
TILE(3, 1) TILE(3, 2) TILE(3, 3) TILE(3, 4)
#undef TILE
static TileFn *const tiles[WR][XR] = {{tile_1_1, tile_1_2, tile_1_3, tile_1_4},
                                      {tile_2_1, tile_2_2, tile_2_3, tile_2_4},
                                      {tile_3_1, tile_3_2, tile_3_3, tile_3_4}};

// Threads split the weight rows in blocks of WR; each block runs over all input rows (its
// WR weight rows stay in L1 meanwhile), computing only the rows that exist. Up to XR rows
// the blocks are single weight rows: such a call is bound by reading the weights, best
// done as one sequential stream.
static void matmul_rowwise(float *out, const float *inp, const float *w, const float *bias,
                           int N, int C, int OC) {
    int bw = N <= XR ? 1 : WR, n_blocks = (OC + bw - 1) / bw;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < n_blocks; blk++) {
        int o0 = blk * bw, wr = OC - o0 < bw ? OC - o0 : bw;
        for (int n0 = 0; n0 < N; n0 += XR) {
            int xr = N - n0 < XR ? N - n0 : XR;
            tiles[wr - 1][xr - 1](out, inp, w, bias, C, OC, o0, n0);
        }
    }
}

// The same sums with the rows in the vector lanes, for 5..64 rows: the rows of inp are
// transposed into a stack buffer xt[c][r] (padded to a multiple of 8 rows with zeros), so
// one vector holds one input element of 8 rows, and a tile of WO outputs x VR row vectors
// keeps WO * VR accumulators in registers: per element c it loads VR vectors of xt and
// broadcasts WO weights. To give the bits of the dot-product tiles above, the elements go
// by residue class: class k (c = k, k+8, ...) is one chain per accumulator, parked in
// part[k]; the 8 class sums are added as cpu_hsum8 adds lanes, then the tail. No
// horizontal sums and no idle lanes: at 16 rows about 1.5x the dot-product tiles' speed.
// xt holds all of C (NP * C <= XT_FLOATS); larger calls take the dot-product tiles.
enum { XT_FLOATS = 16384 };  // 64 KB

static inline __attribute__((always_inline)) void
xt_tile(float *out, const float *xt, const float *w, const float *bias, int N, int NP, int C, int OC,
        int o0, int v0, int wo, int vr) {
    cpu_v8 part[8][6][2], acc[6][2];
    int c8 = C / 8 * 8;
    for (int k = 0; k < 8; k++) {
        for (int i = 0; i < wo; i++)
            for (int j = 0; j < vr; j++) acc[i][j] = (cpu_v8){0};
        for (int c = k; c < c8; c += 8) {
            cpu_v8 x[2];
            for (int j = 0; j < vr; j++) memcpy(&x[j], xt + (size_t)c * NP + (v0 + j) * 8, sizeof x[j]);
#pragma GCC unroll 6
            for (int i = 0; i < wo; i++) {
                float b = w[(size_t)(o0 + i) * C + c];
                cpu_v8 bv = {b, b, b, b, b, b, b, b};
                for (int j = 0; j < vr; j++) cpu_fma8(&acc[i][j], &x[j], &bv);
            }
        }
        for (int i = 0; i < wo; i++)
            for (int j = 0; j < vr; j++) part[k][i][j] = acc[i][j];
    }
    for (int i = 0; i < wo; i++)
        for (int j = 0; j < vr; j++) {
            cpu_v8 s = ((part[0][i][j] + part[1][i][j]) + (part[2][i][j] + part[3][i][j])) +
                       ((part[4][i][j] + part[5][i][j]) + (part[6][i][j] + part[7][i][j]));
            for (int c = c8; c < C; c++) {
                float b = w[(size_t)(o0 + i) * C + c];
                cpu_v8 bv = {b, b, b, b, b, b, b, b}, x;
                memcpy(&x, xt + (size_t)c * NP + (v0 + j) * 8, sizeof x);
                cpu_fma8(&s, &x, &bv);
            }
            for (int l = 0; l < 8; l++) {
                int n = (v0 + j) * 8 + l;
                if (n < N) out[(size_t)n * OC + o0 + i] = bias ? s[l] + bias[o0 + i] : s[l];
            }
        }
}

typedef void XtFn(float *, const float *, const float *, const float *, int, int, int, int, int, int);
#define XT(wo, vr)                                                                               \
    static void xt_##wo##_##vr(float *out, const float *xt, const float *w, const float *bias, int N, \
                               int NP, int C, int OC, int o0, int v0) {                           \
        xt_tile(out, xt, w, bias, N, NP, C, OC, o0, v0, wo, vr);                                 \
    }
XT(1, 1) XT(2, 1) XT(3, 1) XT(4, 1) XT(5, 1) XT(6, 1)
XT(1, 2) XT(2, 2) XT(3, 2) XT(4, 2) XT(5, 2) XT(6, 2)
#undef XT
static XtFn *const xt_tiles[2][6] = {{xt_1_1, xt_2_1, xt_3_1, xt_4_1, xt_5_1, xt_6_1},
                                     {xt_1_2, xt_2_2, xt_3_2, xt_4_2, xt_5_2, xt_6_2}};

// Threads split the outputs in blocks of 6; each thread transposes the rows for itself
// (a few microseconds) and runs its blocks over all row vectors.
static void matmul_xt(float *out, const float *inp, const float *w, const float *bias, int N, int C,
                      int OC) {
    int NP = (N + 7) / 8 * 8, nv = NP / 8, n_blocks = (OC + 5) / 6;
#pragma omp parallel
    {
        float xt[XT_FLOATS] __attribute__((aligned(32)));
        for (int c = 0; c < C; c++) {
            float *x = xt + (size_t)c * NP;
            for (int n = 0; n < N; n++) x[n] = inp[(size_t)n * C + c];
            for (int n = N; n < NP; n++) x[n] = 0.0f;
        }
#pragma omp for schedule(static)
        for (int blk = 0; blk < n_blocks; blk++) {
            int o0 = blk * 6, wo = OC - o0 < 6 ? OC - o0 : 6;
            for (int v0 = 0; v0 < nv; v0 += 2) {
                int vr = nv - v0 < 2 ? 1 : 2;
                xt_tiles[vr - 1][wo - 1](out, xt, w, bias, N, NP, C, OC, o0, v0);
            }
        }
    }
}

void cpu_matmul_forward(float *out, const void *inp_act, const void *weight, const void *bias_weight,
                        int N, int C, int OC) {
    const float *inp = inp_act, *w = weight, *bias = bias_weight;  // fp32 elements
    if (N <= 0 || OC <= 0) return;
    if (N <= CPU_ROWWISE_MAX) {
        // two kernels, one summation order: which one runs is a matter of speed only
        if (N > XR && (size_t)(N + 7) / 8 * 8 * C <= XT_FLOATS) matmul_xt(out, inp, w, bias, N, C, OC);
        else matmul_rowwise(out, inp, w, bias, N, C, OC);
        return;
    }
    // With a bias, each chain starts from it.
    if (bias)
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, bias, (size_t)OC * sizeof(float));
    cpu_gemm(0, 1, N, OC, C, inp, C, w, C, bias != NULL, out, OC);
}

void cpu_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                         const void *inp_act, const void *weight, int N, int C, int OC) {
    const float *inp = inp_act, *w = weight;
    if (N <= 0) return;
    if (dinp) cpu_gemm(0, 0, N, C, OC, dout, OC, w, C, 0, dinp, C);
    if (dw) cpu_gemm(1, 0, OC, C, N, dout, OC, inp, C, 1, dw, C);
    if (!dbias) return;
    // Column sums: threads split the columns; each column adds its rows in order.
    int n_blocks = (OC + CPU_COL_BLOCK - 1) / CPU_COL_BLOCK;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < n_blocks; blk++) {
        int j0 = blk * CPU_COL_BLOCK;
        int j1 = j0 + CPU_COL_BLOCK < OC ? j0 + CPU_COL_BLOCK : OC;
        for (int n = 0; n < N; n++) {
            const float *d = dout + (size_t)n * OC;
#pragma omp simd
            for (int j = j0; j < j1; j++) dbias[j] += d[j];
        }
    }
}
