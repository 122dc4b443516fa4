// data/synth_internal.h -- what the synthetic task families share (synth.c defines it):
// the text builder that counts redundant characters, the random choices, the phrasings
// every family overthinks with, and the generation loop (splits, duplicates, lengths).
#ifndef O1P_SYNTH_INTERNAL_H
#define O1P_SYNTH_INTERNAL_H

#include <stddef.h>

#include "../base/rng.h"
#include "synth.h"

// A growing string; redundant counts the characters of its redundant segments.
typedef struct {
    char *buf;
    size_t n, cap;
    long redundant;
    int oom;
} SynthText;

// Appends a formatted segment, necessary (redundant 0) or redundant (1).
__attribute__((format(printf, 3, 4))) void synth_put(SynthText *t, int redundant, const char *fmt, ...);
const char *synth_pick(Rng *r, const char *const *options, int n);
#define SYNTH_PICK(r, arr) synth_pick(r, arr, (int)(sizeof(arr) / sizeof *(arr)))
int synth_chance(Rng *r, double p);
// The propensity to overthink, u in [0.35, 1), one draw per solution (synth.c).
double synth_propensity(Rng *r);

// Steps are numbered in words, "one" to "ten" (synth.c says why).
extern const char *const synth_step_names[2 * SYNTH_MAX_LEVEL];
// Openers, re-check starts and confirmations: every re-check starts with one of the same
// few phrasings in every family.
extern const char *const synth_openers[3];
extern const char *const synth_rechecks[3];
extern const char *const synth_confirms[3];

// A family: how to draw a problem (into the caller's struct), write it, solve it, and
// state its answer. stream keys the family's problem stream, so families draw unrelated
// problems from one seed.
typedef struct {
    uint64_t stream;
    void (*draw)(Rng *r, int level, void *problem);
    void (*problem_text)(const void *problem, SynthText *t);
    void (*solution_text)(Rng *r, const void *problem, SynthText *t);
    void (*answer)(const void *problem, char *buf, size_t cap);
} SynthFamily;

// synth_generate for one family; problem is scratch space for one of its problems.
int synth_run(const SynthConfig *cfg, int n, const SynthFamily *f, void *problem, Dataset *ds, Err *e);

// The walk family (synth_walk.c).
int synth_walk_generate(const SynthConfig *cfg, int n, Dataset *ds, Err *e);

#endif
