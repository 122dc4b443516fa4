// kernels/cuda/mma.cuh -- one warp-wide tensor-core product and its bf16 operands.
//
// mma_bf16: D[16,8] += A[16,16] @ B[16,8], bf16 inputs, fp32 accumulation (PTX
// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, sm_80 and later). The operands
// are spread over the 32 lanes of the warp; with g = lane / 4 and c = lane % 4 (PTX ISA,
// "Matrix Fragments for mma.m16n8k16 with floating point type"), a lane holds
//   A: a[0] = A[g][2c..2c+1],     a[1] = A[g+8][2c..2c+1],
//      a[2] = A[g][2c+8..2c+9],   a[3] = A[g+8][2c+8..2c+9]     (two bf16 per word)
//   B: b[0] = B[2c..2c+1][g],     b[1] = B[2c+8..2c+9][g]
//   D: d[0..1] = D[g][2c..2c+1],  d[2..3] = D[g+8][2c..2c+1]
// A word holds its lower-indexed element in its low 16 bits. Every lane of the warp calls
// it together (warp-uniform control flow).
//
// Two facts make the flash-attention kernels short (attention_mma.cu): a B operand is a
// row-major [n][k] tile read a word at a time (b[0] = tile[g][2c..2c+1]), and the D
// fragments of two neighbouring 8-column products are exactly the A fragment of their
// 16 columns (a_from_acc), so scores feed the next product without leaving registers.
#ifndef O1P_CUDA_MMA_CUH
#define O1P_CUDA_MMA_CUH

#include "common.cuh"  // bf16_bits, bf16_lo

__device__ __forceinline__ unsigned pack_bf16(float lo, float hi) {
    return bf16_bits(lo) | bf16_bits(hi) << 16;
}
__device__ __forceinline__ float bf16_hi(unsigned w) { return __uint_as_float(w & 0xffff0000u); }

__device__ __forceinline__ void mma_bf16(float d[4], const unsigned a[4], const unsigned b[2]) {
#ifdef __CUDA_ARCH__
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
    // The same product from the layout above by warp shuffles: what the CPU emulation
    // (tests/cuda/emu) runs, so it checks the kernels' use of the layout. Lane 4r + j holds
    // row r of A and column r of B at k = 2j, 2j+1 (word 0) and 2j+8, 2j+9 (word 1).
    int lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
    for (int j = 0; j < 4; j++) {
        unsigned ra[4], rb0[2], rb1[2];  // rows g, g+8 of A; columns 2c, 2c+1 of B
        for (int i = 0; i < 4; i++) ra[i] = __shfl_sync(0xffffffffu, a[i], 4 * g + j);
        for (int i = 0; i < 2; i++) {
            rb0[i] = __shfl_sync(0xffffffffu, b[i], 4 * (2 * c) + j);
            rb1[i] = __shfl_sync(0xffffffffu, b[i], 4 * (2 * c + 1) + j);
        }
        // k = 2j, 2j+1 pair words ra[0]/ra[1] with rb[0]; k = 2j+8, 2j+9 ra[2]/ra[3] with rb[1]
        for (int w = 0; w < 2; w++) {
            unsigned top = ra[2 * w], bottom = ra[2 * w + 1];
            d[0] += bf16_lo(top) * bf16_lo(rb0[w]) + bf16_hi(top) * bf16_hi(rb0[w]);
            d[1] += bf16_lo(top) * bf16_lo(rb1[w]) + bf16_hi(top) * bf16_hi(rb1[w]);
            d[2] += bf16_lo(bottom) * bf16_lo(rb0[w]) + bf16_hi(bottom) * bf16_hi(rb0[w]);
            d[3] += bf16_lo(bottom) * bf16_lo(rb1[w]) + bf16_hi(bottom) * bf16_hi(rb1[w]);
        }
    }
#endif
}

// The A fragment of a [16, 16] product from the fp32 D fragments of its two 8-column
// halves (left, right), rounded to bf16.
__device__ __forceinline__ void a_from_acc(unsigned a[4], const float left[4],
                                           const float right[4]) {
    a[0] = pack_bf16(left[0], left[1]);
    a[1] = pack_bf16(left[2], left[3]);
    a[2] = pack_bf16(right[0], right[1]);
    a[3] = pack_bf16(right[2], right[3]);
}

// The B operand at rows n0.. and columns k0.. of a row-major [n][k] bf16 tile with row
// stride ld (even): b[0] = tile[n0 + g][k0 + 2c..], b[1] = tile[n0 + g][k0 + 8 + 2c..].
__device__ __forceinline__ void b_from_tile(unsigned b[2], const unsigned short *tile, int ld,
                                            int n0, int k0) {
    int lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
    const unsigned short *p = tile + (n0 + g) * ld + k0 + 2 * c;
    b[0] = *(const unsigned *)p;
    b[1] = *(const unsigned *)(p + 8);
}

#endif
