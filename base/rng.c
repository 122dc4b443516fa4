// base/rng.c -- SplitMix64 and the draws built on it (see rng.h).
#include "rng.h"

#include <math.h>

#define SPLITMIX_GAMMA 0x9E3779B97F4A7C15ULL

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += SPLITMIX_GAMMA);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

Rng rng_seed(uint64_t seed) {
    Rng r = {seed};
    return r;
}

Rng rng_derive(uint64_t seed, uint64_t a, uint64_t b) {
    uint64_t x = seed;
    uint64_t h = splitmix64(&x);
    x = h ^ a;
    h = splitmix64(&x);
    x = h ^ b;
    Rng r = {splitmix64(&x)};
    return r;
}

uint64_t rng_u64(Rng *r) { return splitmix64(&r->state); }

// The state is a Weyl sequence: each draw adds the same odd constant.
void rng_skip(Rng *r, uint64_t n) { r->state += n * SPLITMIX_GAMMA; }

uint64_t rng_below(Rng *r, uint64_t n) {
    // reject the top partial bucket: the (2^64 - n) % n smallest values
    uint64_t limit = -n % n;
    for (;;) {
        uint64_t x = rng_u64(r);
        if (x >= limit) return x % n;
    }
}

float rng_float(Rng *r) { return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

double rng_double(Rng *r) { return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

double rng_normal(Rng *r) {
    double u1 = rng_double(r), u2 = rng_double(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void rng_shuffle_ints(Rng *r, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint64_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
