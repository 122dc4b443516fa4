// kernels/cpu/gemm.c -- C[M,N] = op(A)[M,K] op(B)[K,N] (+ C): the GEMM under every
// matmul backward and every forward of more than 64 rows (matmul.c), written so that its
// bits depend on the inputs alone.
//
// Every element of C is one chain of fused multiply-adds over k in order:
//
//     c = accumulate ? C[i,j] : 0;   for k = 0 .. K-1:  c = fmaf(A[i,k], B[k,j], c)
//
// Blocking, threads and the vector width only decide which elements are computed side by
// side, never the operations on one element: the result is the same bits whatever the
// thread count, whichever rows share the call, and whether the AVX-512, the NEON or the
// 8-lane kernel runs (tests/test_kernels_cpu.c checks every path against the scalar chain). The
// chain is kernels/ref/matmul.c's: the matmuls that run here match ref bit for bit.
// What a chain costs is latency, and the micro-kernel hides it with MR x NR independent
// chains in registers (12 vector accumulators, 4-cycle FMAs, two issued a cycle).
//
// Blocking after Goto and van de Geijn: N is cut into blocks of NC columns and K into
// blocks of KC; for each (NC, KC) block of op(B) the threads pack it once into panels of
// NR columns, bp[panel][k][NR], then take blocks of MC rows of op(A), each packed by its
// thread into panels of MR rows, ap[panel][k][MR], and run the micro-kernel for every
// (column panel, row panel) pair, column panel outermost: the column panel (KC x NR,
// 32 KB at NR = 32) stays in L1 while the row panels stream from L2. The accumulators are
// loaded from C before each K block and stored after it; storing a float and loading it
// back changes nothing, so K blocks do not break the chains.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#if defined(__ARM_NEON)
#include <arm_neon.h>
#endif

enum {
    MR = 6,      // rows of a micro-tile
    NR_MAX = 32, // columns of a micro-tile: 16 (two 8-lane vectors) or 32 (two 16-lane)
    KC = 256,    // depth of a packed block
    MC = 96,     // rows of op(A) a thread packs at once (MC x KC: 96 KB, in L2)
    NC = 4096,   // columns of op(B) packed at once (KC x NC: 4 MB)
};

// Which micro-kernel runs. Every choice gives the same bits; only speed differs.
static CpuGemmKernel kernel_choice = CPU_GEMM_AUTO;

static int avx512_available(void) {
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

static int neon_available(void) {
#if defined(__ARM_NEON)
    return 1;
#else
    return 0;
#endif
}

int cpu_gemm_select(CpuGemmKernel k) {
    if (k == CPU_GEMM_V16 && !avx512_available()) return 0;
    if (k == CPU_GEMM_NEON && !neon_available()) return 0;
    kernel_choice = k;
    return 1;
}

// The micro-kernels: c[MR][nr] (row stride ldc) = (load ? c : 0) + sum over k < kc of
// ap[k][MR] (x) bp[k][nr], one fmaf per element per k, in k order.

// nr = 16 in 8-lane vectors: AVX2 on x86-64 (16 accumulator registers: 12 + 2 + 1),
// whatever the compiler makes of 8 lanes elsewhere.
static void micro_v8(int kc, const float *restrict ap, const float *restrict bp, float *c,
                     size_t ldc, int load) {
    cpu_v8 acc[MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        if (load) {
            memcpy(&acc[r][0], c + r * ldc, sizeof acc[r][0]);
            memcpy(&acc[r][1], c + r * ldc + 8, sizeof acc[r][1]);
        } else {
            acc[r][0] = acc[r][1] = (cpu_v8){0};
        }
    }
    for (int k = 0; k < kc; k++, ap += MR, bp += 16) {
        cpu_v8 b0, b1;
        memcpy(&b0, bp, sizeof b0);
        memcpy(&b1, bp + 8, sizeof b1);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            float a = ap[r];
            cpu_v8 av = {a, a, a, a, a, a, a, a};
            cpu_fma8(&acc[r][0], &av, &b0);
            cpu_fma8(&acc[r][1], &av, &b1);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        memcpy(c + r * ldc, &acc[r][0], sizeof acc[r][0]);
        memcpy(c + r * ldc + 8, &acc[r][1], sizeof acc[r][1]);
    }
}

#if defined(__x86_64__)
// nr = 32 in AVX-512 registers (32 of them: 12 accumulators leave room for the loads).
__attribute__((target("avx512f"))) static void
micro_v16(int kc, const float *restrict ap, const float *restrict bp, float *c, size_t ldc,
          int load) {
    __m512 acc[MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        acc[r][0] = load ? _mm512_loadu_ps(c + r * ldc) : _mm512_setzero_ps();
        acc[r][1] = load ? _mm512_loadu_ps(c + r * ldc + 16) : _mm512_setzero_ps();
    }
    for (int k = 0; k < kc; k++, ap += MR, bp += 32) {
        __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m512 a = _mm512_set1_ps(ap[r]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        _mm512_storeu_ps(c + r * ldc, acc[r][0]);
        _mm512_storeu_ps(c + r * ldc + 16, acc[r][1]);
    }
}
#endif

#if defined(__ARM_NEON)
// nr = 16 in NEON registers (32 of them: 24 accumulators, 4 for B, the rest for A).
// vfmaq_n_f32 is one fused multiply-add per lane: fmaf's bits.
static void micro_neon(int kc, const float *restrict ap, const float *restrict bp, float *c,
                       size_t ldc, int load) {
    float32x4_t acc[MR][4];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++) acc[r][q] = load ? vld1q_f32(c + r * ldc + 4 * q) : vdupq_n_f32(0.0f);
    for (int k = 0; k < kc; k++, ap += MR, bp += 16) {
        float32x4_t b[4];
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++) b[q] = vld1q_f32(bp + 4 * q);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
            for (int q = 0; q < 4; q++) acc[r][q] = vfmaq_n_f32(acc[r][q], b[q], ap[r]);
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++) vst1q_f32(c + r * ldc + 4 * q, acc[r][q]);
}
#endif

typedef void MicroKernel(int, const float *, const float *, float *, size_t, int);

// The kernel cpu_gemm_select chose and its panel width nr; AUTO takes the widest here.
static MicroKernel *micro_kernel(int *nr) {
    CpuGemmKernel k = kernel_choice;
    if (k == CPU_GEMM_AUTO)
        k = avx512_available() ? CPU_GEMM_V16 : neon_available() ? CPU_GEMM_NEON : CPU_GEMM_V8;
#if defined(__x86_64__)
    if (k == CPU_GEMM_V16) {
        *nr = 32;
        return micro_v16;
    }
#endif
#if defined(__ARM_NEON)
    if (k == CPU_GEMM_NEON) {
        *nr = 16;
        return micro_neon;
    }
#endif
    *nr = 16;
    return micro_v8;
}

// A matrix read through strides: element (i, k) of op(A) at a[i * rs + k * cs].
typedef struct {
    const float *p;
    size_t rs, cs;
} Strided;

// ap[k][MR] = rows i0 .. i0+m-1, columns k0 .. k0+kc-1 of A; rows past m are zeros.
static void pack_a(float *ap, Strided A, int i0, int m, int k0, int kc) {
    const float *a = A.p + i0 * A.rs + k0 * A.cs;
    if (A.cs == 1) {  // rows contiguous in k: read each row in order
        for (int r = 0; r < m; r++)
            for (int k = 0; k < kc; k++) ap[k * MR + r] = a[r * A.rs + k];
    } else {  // columns contiguous in i (A transposed): MR floats at a time
        for (int k = 0; k < kc; k++)
            for (int r = 0; r < m; r++) ap[k * MR + r] = a[k * A.cs + r * A.rs];
    }
    for (int r = m; r < MR; r++)
        for (int k = 0; k < kc; k++) ap[k * MR + r] = 0.0f;
}

// bp[k][nr] = rows k0 .. k0+kc-1, columns j0 .. j0+n-1 of B; columns past n are zeros.
static void pack_b(float *bp, int nr, Strided B, int k0, int kc, int j0, int n) {
    const float *b = B.p + k0 * B.rs + j0 * B.cs;
    if (B.cs == 1) {  // rows contiguous in j
        for (int k = 0; k < kc; k++) {
            memcpy(bp + (size_t)k * nr, b + k * B.rs, (size_t)n * sizeof(float));
            memset(bp + (size_t)k * nr + n, 0, (size_t)(nr - n) * sizeof(float));
        }
    } else {  // columns contiguous in k (B transposed, as the weights of a forward)
        for (int j = 0; j < n; j++)
            for (int k = 0; k < kc; k++) bp[(size_t)k * nr + j] = b[j * B.cs + k * B.rs];
        for (int k = 0; k < kc; k++)
            memset(bp + (size_t)k * nr + n, 0, (size_t)(nr - n) * sizeof(float));
    }
}

// One micro-tile at C (row stride ldc) of m x n valid elements. A partial tile runs on a
// copy, so the kernel never touches memory outside C.
static void micro_tile(MicroKernel *micro, int nr, int kc, const float *ap, const float *bp,
                       float *c, size_t ldc, int m, int n, int load) {
    if (m == MR && n == nr) {
        micro(kc, ap, bp, c, ldc, load);
        return;
    }
    float t[MR * NR_MAX];
    for (int r = 0; r < m; r++)
        if (load) memcpy(t + r * nr, c + r * ldc, (size_t)n * sizeof(float));
    micro(kc, ap, bp, t, (size_t)nr, load);
    for (int r = 0; r < m; r++) memcpy(c + r * ldc, t + r * nr, (size_t)n * sizeof(float));
}

// The definition itself, element by element: where no memory is left for packing (and
// for K = 0, the empty sum).
static void gemm_unpacked(Strided a, Strided b, int M, int N, int K, int accumulate, float *C,
                          int ldc) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float c = accumulate ? C[(size_t)i * ldc + j] : 0.0f;
            for (int k = 0; k < K; k++) c = fmaf(a.p[i * a.rs + k * a.cs], b.p[k * b.rs + j * b.cs], c);
            C[(size_t)i * ldc + j] = c;
        }
}

// C[M,N] = op(A) op(B) (+ C when accumulate); op(A)[i,k] = trans_a ? A[k*lda + i] :
// A[i*lda + k], op(B)[k,j] = trans_b ? B[j*ldb + k] : B[k*ldb + j].
void cpu_gemm(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda,
             const float *B, int ldb, int accumulate, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    Strided a = {A, trans_a ? 1 : (size_t)lda, trans_a ? (size_t)lda : 1};
    Strided b = {B, trans_b ? 1 : (size_t)ldb, trans_b ? (size_t)ldb : 1};
    int nr;
    MicroKernel *micro = micro_kernel(&nr);
    int nt = omp_get_max_threads();
    // Row blocks of at most MC rows, their count a multiple of the thread count.
    int n_blocks = (M + MC - 1) / MC;
    n_blocks = (n_blocks + nt - 1) / nt * nt;
    int mc = ((M + n_blocks - 1) / n_blocks + MR - 1) / MR * MR;
    n_blocks = (M + mc - 1) / mc;
    int nc_max = N < NC ? (N + nr - 1) / nr * nr : NC;
    float *bp = K > 0 ? malloc((size_t)KC * nc_max * sizeof(float)) : NULL;
    float *ap_all = K > 0 ? malloc((size_t)nt * mc * KC * sizeof(float)) : NULL;
    if (!bp || !ap_all) {  // the same chains, unpacked (slowly)
        free(bp);
        free(ap_all);
        gemm_unpacked(a, b, M, N, K, accumulate, C, ldc);
        return;
    }
#pragma omp parallel
    {
        float *ap = ap_all + (size_t)omp_get_thread_num() * mc * KC;
        for (int j0 = 0; j0 < N; j0 += NC) {
            int nc = N - j0 < NC ? N - j0 : NC, n_panels = (nc + nr - 1) / nr;
            for (int k0 = 0; k0 < K; k0 += KC) {
                int kc = K - k0 < KC ? K - k0 : KC, load = accumulate || k0 > 0;
#pragma omp for schedule(static)
                for (int p = 0; p < n_panels; p++) {
                    int n = nc - p * nr < nr ? nc - p * nr : nr;
                    pack_b(bp + (size_t)p * nr * kc, nr, b, k0, kc, j0 + p * nr, n);
                }
                // static: a thread keeps the same rows of C in every K block, so they stay
                // in its cache (dynamic hands them around: ~10% slower at 2 threads)
#pragma omp for schedule(static)
                for (int blk = 0; blk < n_blocks; blk++) {
                    int i0 = blk * mc, m_blk = M - i0 < mc ? M - i0 : mc;
                    for (int i = 0; i < m_blk; i += MR)
                        pack_a(ap + (size_t)i * kc, a, i0 + i, m_blk - i < MR ? m_blk - i : MR,
                               k0, kc);
                    for (int p = 0; p < n_panels; p++) {
                        int n = nc - p * nr < nr ? nc - p * nr : nr;
                        for (int i = 0; i < m_blk; i += MR)
                            micro_tile(micro, nr, kc, ap + (size_t)i * kc,
                                       bp + (size_t)p * nr * kc,
                                       C + (size_t)(i0 + i) * ldc + j0 + p * nr, (size_t)ldc,
                                       m_blk - i < MR ? m_blk - i : MR, n, load);
                    }
                }
            }
        }
    }
    free(bp);
    free(ap_all);
}
