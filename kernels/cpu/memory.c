// kernels/cpu/memory.c -- memory, the residual add and the token embedding.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu.h"

// Zero-filled and 64-byte aligned (a cache line; AVX-512 loads). calloc, not memset: a
// large block comes from the kernel already zero, and its pages are first touched by
// whoever fills it (a model load converts straight into it), not twice. Blocks of 4 MB
// or more ask for huge pages: 512 times fewer page faults and TLB entries. The pointer
// calloc returned is kept just before the aligned one, for cpu_free.
void *cpu_alloc(size_t bytes) {
    size_t size = bytes + 64 + sizeof(void *);
    if (size < bytes) return NULL;  // overflow
    char *raw = calloc(1, size);
    if (!raw) return NULL;
    char *p = raw + sizeof(void *) + (64 - ((uintptr_t)raw + sizeof(void *)) % 64) % 64;
    ((void **)p)[-1] = raw;
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) / huge * huge, hi = ((uintptr_t)p + bytes) / huge * huge;
    if (bytes >= 2 * huge && hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    return p;
}

void cpu_free(void *p) {
    if (p) free(((void **)p)[-1]);
}
void cpu_zero(void *p, size_t bytes) { memset(p, 0, bytes); }
void cpu_upload(void *dst, const void *host_src, size_t bytes) { memcpy(dst, host_src, bytes); }
void cpu_download(void *host_dst, const void *src, size_t bytes) { memcpy(host_dst, src, bytes); }
void cpu_copy(void *dst, const void *src, size_t bytes) { memmove(dst, src, bytes); }
void cpu_synchronize(void) {}

// out = a + b; out may alias a.
void cpu_add(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

// out[n,:] = wte[tokens[n],:]
void cpu_embedding_forward(float *out, const int *tokens, const void *weight, int N, int C) {
    const float *wte = weight;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        memcpy(out + (size_t)n * C, wte + (size_t)tokens[n] * C, (size_t)C * sizeof(float));
}

// dwte[tokens[n],:] += dout[n,:]. Threads split the columns, so two rows with the same
// token never race and every element sums its rows in order n = 0, 1, ...
void cpu_embedding_backward(float *dwte, const float *dout, const int *tokens, int N, int C) {
    int n_blocks = (C + CPU_COL_BLOCK - 1) / CPU_COL_BLOCK;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < n_blocks; blk++) {
        int c0 = blk * CPU_COL_BLOCK;
        int c1 = c0 + CPU_COL_BLOCK < C ? c0 + CPU_COL_BLOCK : C;
        for (int n = 0; n < N; n++) {
            float *dst = dwte + (size_t)tokens[n] * C;
            const float *src = dout + (size_t)n * C;
#pragma omp simd
            for (int c = c0; c < c1; c++) dst[c] += src[c];
        }
    }
}
