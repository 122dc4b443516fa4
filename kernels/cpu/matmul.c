// kernels/cpu/matmul.c -- the linear layer on OpenBLAS sgemm.
//
// forward   out[N,OC]  = inp[N,C] @ w[OC,C]^T + bias[OC]
// backward  dinp[N,C]  = dout[N,OC] @ w[OC,C]        (overwritten)
//           dw[OC,C]  += dout^T @ inp                 (accumulated: beta = 1)
//           dbias[OC] += sum_n dout[n,:]
//
// Determinism. OpenBLAS's sgemm (0.3.21, Zen kernels) rounds an output element
// differently depending on where its row falls in the tiles of the call, and its own
// threads tile by the thread count. So the output is cut here into fixed tiles
// (TILE_M x TILE_N, a function of the shape only), each computed by a single-threaded
// sgemm (OpenBLAS runs single-threaded inside an OpenMP region), the tiles spread over
// our threads: the same bits at any thread count. And a row's result would still depend
// on how many rows share the call, which the sampler cannot have (batch-size
// determinism), so a forward of at most ROWWISE_MAX rows -- a decode step -- takes a
// path of its own whose every element is the same fixed-order dot product whatever N.
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "cpu.h"

enum { TILE_M = 128, TILE_N = 256, ROWWISE_MAX = 64 };

// C[M,N] = A[M,K] B[K,N] + beta C (row-major, op() per ta/tb), in fixed tiles.
static void gemm_tiled(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K,
                       const float *A, int lda, const float *B, int ldb, float beta, float *C,
                       int ldc) {
    int tm = (M + TILE_M - 1) / TILE_M, tn = (N + TILE_N - 1) / TILE_N;
#pragma omp parallel for schedule(dynamic, 1)
    for (int t = 0; t < tm * tn; t++) {
        int i0 = t / tn * TILE_M, j0 = t % tn * TILE_N;
        int m = M - i0 < TILE_M ? M - i0 : TILE_M, n = N - j0 < TILE_N ? N - j0 : TILE_N;
        const float *a = ta == CblasNoTrans ? A + (size_t)i0 * lda : A + i0;
        const float *b = tb == CblasNoTrans ? B + j0 : B + (size_t)j0 * ldb;
        cblas_sgemm(CblasRowMajor, ta, tb, m, n, K, 1.0f, a, lda, b, ldb, beta,
                    C + (size_t)i0 * ldc + j0, ldc);
    }
}

// Small-N forward (a decode step): out^T = w . inp^T, with the rows of inp transposed
// into a stack buffer xt[c][r] (rows padded to a multiple of 8 with zeros), so that one
// vector holds one input element of 8 rows. A tile of WO outputs x VR such vectors keeps
// WO * VR accumulators in registers; per element c it loads VR vectors of xt and
// broadcasts WO weights (w read in its own layout, row after row). Every element
// out[n, o] is one fma chain over c = 0, 1, ..., C-1 from 0, then + bias: the same
// operations whatever the tile, the thread or the number of rows, so a row's bits do
// not depend on N. C goes in blocks of KC (xt stays in L1), the chains carried from
// block to block through out.
enum { XT_FLOATS = 8192 };  // 32 KB: xt[KC][NP] with NP the padded row count

static inline __attribute__((always_inline)) void
small_tile(float *out, const float *xt, const float *w, const float *bias, int N, int NP, int C,
           int OC, int o0, int v0, int c0, int kc, int wo, int vr) {
    cpu_v8 acc[12][2];
    int first = c0 == 0, last = c0 + kc == C;
    for (int i = 0; i < wo; i++)
        for (int j = 0; j < vr; j++)
            for (int l = 0; l < 8; l++) {
                int n = (v0 + j) * 8 + l;
                acc[i][j][l] = first || n >= N ? 0.0f : out[(size_t)n * OC + o0 + i];
            }
    const float *wr = w + (size_t)o0 * C + c0;
    for (int c = 0; c < kc; c++) {
        cpu_v8 x[2];
        for (int j = 0; j < vr; j++) memcpy(&x[j], xt + (size_t)c * NP + (v0 + j) * 8, sizeof x[j]);
#pragma GCC unroll 12
        for (int i = 0; i < wo; i++) {
            float b = wr[(size_t)i * C + c];
            cpu_v8 bv = {b, b, b, b, b, b, b, b};
            for (int j = 0; j < vr; j++) cpu_fma8(&acc[i][j], &bv, &x[j]);
        }
    }
    for (int i = 0; i < wo; i++)
        for (int j = 0; j < vr; j++)
            for (int l = 0; l < 8; l++) {
                int n = (v0 + j) * 8 + l;
                if (n < N) out[(size_t)n * OC + o0 + i] = last && bias ? acc[i][j][l] + bias[o0 + i] : acc[i][j][l];
            }
}

// One function per tile shape, so each has its loops unrolled with constant bounds:
// 6 outputs x 2 row vectors (16 rows), or 12 outputs x 1 vector when N <= 8; smaller at
// the edges.
typedef void TileFn(float *, const float *, const float *, const float *, int, int, int, int, int, int,
                    int, int);
#define TILE(wo, vr)                                                                                   \
    static void tile_##wo##_##vr(float *out, const float *xt, const float *w, const float *bias, int N,  \
                                 int NP, int C, int OC, int o0, int v0, int c0, int kc) {                 \
        small_tile(out, xt, w, bias, N, NP, C, OC, o0, v0, c0, kc, wo, vr);                             \
    }
TILE(1, 1) TILE(2, 1) TILE(3, 1) TILE(4, 1) TILE(5, 1) TILE(6, 1)
TILE(7, 1) TILE(8, 1) TILE(9, 1) TILE(10, 1) TILE(11, 1) TILE(12, 1)
TILE(1, 2) TILE(2, 2) TILE(3, 2) TILE(4, 2) TILE(5, 2) TILE(6, 2)
#undef TILE
static TileFn *const tiles_1[12] = {tile_1_1, tile_2_1, tile_3_1, tile_4_1,  tile_5_1,  tile_6_1,
                                    tile_7_1, tile_8_1, tile_9_1, tile_10_1, tile_11_1, tile_12_1};
static TileFn *const tiles_2[6] = {tile_1_2, tile_2_2, tile_3_2, tile_4_2, tile_5_2, tile_6_2};

// Each thread takes a contiguous range of output blocks and keeps it for every block of
// C (its partial sums in out are its own).
static void matmul_small(float *out, const float *inp, const float *w, const float *bias, int N, int C,
                         int OC) {
    int NP = (N + 7) / 8 * 8, nv = NP / 8, kc = XT_FLOATS / NP;
    int bw = nv == 1 ? 12 : 6, n_blocks = (OC + bw - 1) / bw;
#pragma omp parallel
    {
        float xt[XT_FLOATS] __attribute__((aligned(32)));
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int b0 = (int)((long)n_blocks * t / nt), b1 = (int)((long)n_blocks * (t + 1) / nt);
        for (int c0 = 0; c0 < C && b0 < b1; c0 += kc) {
            int m = C - c0 < kc ? C - c0 : kc;
            for (int c = 0; c < m; c++) {
                float *x = xt + (size_t)c * NP;
                for (int n = 0; n < N; n++) x[n] = inp[(size_t)n * C + c0 + c];
                for (int n = N; n < NP; n++) x[n] = 0.0f;
            }
            for (int blk = b0; blk < b1; blk++) {
                int o0 = blk * bw, wo = OC - o0 < bw ? OC - o0 : bw;
                if (nv == 1) {
                    tiles_1[wo - 1](out, xt, w, bias, N, NP, C, OC, o0, 0, c0, m);
                    continue;
                }
                for (int v0 = 0; v0 < nv; v0 += 2) {
                    if (v0 + 1 < nv) tiles_2[wo - 1](out, xt, w, bias, N, NP, C, OC, o0, v0, c0, m);
                    else tiles_1[wo - 1](out, xt, w, bias, N, NP, C, OC, o0, v0, c0, m);
                }
            }
        }
    }
}

void cpu_matmul_forward(float *out, const float *inp, const float *w, const float *bias, int N,
                        int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    if (N <= ROWWISE_MAX) {
        matmul_small(out, inp, w, bias, N, C, OC);
        return;
    }
    gemm_tiled(CblasNoTrans, CblasTrans, N, OC, C, inp, C, w, C, 0.0f, out, OC);
    if (!bias) return;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * OC;
#pragma omp simd
        for (int j = 0; j < OC; j++) o[j] += bias[j];
    }
}

void cpu_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                         const float *inp, const float *w, int N, int C, int OC) {
    if (N <= 0) return;
    if (dinp) gemm_tiled(CblasNoTrans, CblasNoTrans, N, C, OC, dout, OC, w, C, 0.0f, dinp, C);
    if (dw) gemm_tiled(CblasTrans, CblasNoTrans, OC, C, N, dout, OC, inp, C, 1.0f, dw, C);
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
