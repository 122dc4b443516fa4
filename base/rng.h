// base/rng.h -- a small, seedable, serialisable random number generator.
//
// The state is one 64-bit word advanced by SplitMix64 (Steele, Lea & Flood, 2014): each
// output is a bijective mix of a Weyl sequence. It passes BigCrush, which is enough for
// initialisation, shuffling and sampling. One word saves and restores bit-exactly in a
// training state; rng_derive hashes (seed, stream ids) into independent streams.
#ifndef O1P_RNG_H
#define O1P_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t state;
} Rng;

Rng rng_seed(uint64_t seed);
// An independent stream for (seed, a, b): e.g. (seed, problem index, sample index).
Rng rng_derive(uint64_t seed, uint64_t a, uint64_t b);
uint64_t rng_u64(Rng *r);
// Advances r as n calls of rng_u64 would, in O(1): a block of a stream can start
// anywhere, so threads fill one stream's blocks with the bits of one thread.
void rng_skip(Rng *r, uint64_t n);
// Uniform in [0, n) without modulo bias; n > 0.
uint64_t rng_below(Rng *r, uint64_t n);
// Uniform in [0, 1) with 24 (float) or 53 (double) random bits.
float rng_float(Rng *r);
double rng_double(Rng *r);
// Standard normal (Box-Muller; one value per call, two rng_u64 draws, deterministic).
double rng_normal(Rng *r);
// Fisher-Yates shuffle of n ints.
void rng_shuffle_ints(Rng *r, int *a, int n);

#endif
