// tests/bf16.h -- bf16 on the host for the tests (test_kernels_cuda, test_model_io): the
// bits of a float rounded to nearest even, as the backends round (finite inputs), and back.
#ifndef O1P_TEST_BF16_H
#define O1P_TEST_BF16_H

#include <stdint.h>
#include <string.h>

static inline uint16_t bf16_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
static inline float bf16_float(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}
// x rounded to the nearest bf16, as a float.
static inline float round_bf16(float x) { return bf16_float(bf16_bits(x)); }

#endif
