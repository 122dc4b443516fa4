// kernels/cpu/dot.c -- the dot products of RMSNorm and of attention's backward, in one
// order on every CPU: the one GCC gave the `omp simd` reductions they replace on
// x86-64-v3 (so a seed's x86-64 bits are unchanged), written out:
//
//   lane l < 8 sums the products i = l (mod 8) of the first n/8*8 in order, the rest go
//   to lane 0 in order, then s = ((0 + lane 0) + lane 1) + ... + lane 7
//
// Each product is rounded before it is added (no fma): GCC contracts a * b + c into an
// fma on every target with one unless told not to, and here it is told not to.
#pragma GCC optimize("fp-contract=off")

#include "cpu.h"

enum { LANES = 8 };

static float sum_lanes(const float *l) {
    float s = 0.0f;
    for (int k = 0; k < LANES; k++) s += l[k];
    return s;
}

float cpu_dot(const float *a, const float *b, int n) {
    float l[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) l[k] += a[i + k] * b[i + k];
    for (; i < n; i++) l[0] += a[i] * b[i];
    return sum_lanes(l);
}

float cpu_dot3(const float *a, const float *b, const float *c, int n) {
    float l[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) l[k] += a[i + k] * b[i + k] * c[i + k];
    for (; i < n; i++) l[0] += a[i] * b[i] * c[i];
    return sum_lanes(l);
}
