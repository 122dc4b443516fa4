// data/synth.h -- the synthetic long-thought task: the project's embedded demo.
//
// A problem is a short chain of arithmetic on a two-digit number that cannot be
// answered without writing the intermediate results, e.g. (level 2)
//   "Start with 43. Step one: + 1. Step two: + 5. Step three: - 7. Step four: - 1. What
//    is the final number?"
// Level L (1..5) has 2L operations (2..10): add or subtract 1..9 without a carry or a
// borrow. Every written step ("Step three: - 7, so 49 - 7 = 42.") first repeats the
// problem's step of the same number, then applies it to the previous line's result: one
// copy and one small operation.
//
// Each solution walks the steps and states \boxed{answer}. Around the necessary steps
// it carries a random amount of the overthinking of o1-like models: restating the
// problem, re-checking a step just done ("Let me double-check: 49 - 7 = 42. Yes."),
// looking ahead, and, after the answer, a second full pass ("Let me verify by redoing
// it"). Every re-check begins with the same words, so whether to re-check is one choice
// at the start of a line and greedy decoding re-checks whenever that is likelier than
// going on, as o1-like models overthink under greedy decoding too. Some first
// attempts slip (a wrong intermediate result) and a check catches and corrects it, so
// some checking pays and removing all of it costs accuracy. Per example, the number of
// characters that are overthinking (everything that could be deleted leaving a correct,
// complete solution) is recorded in Example.redundant_chars.
//
// Splits: a problem belongs to the train or the test split by a hash of its text
// (synth_split_of), so the two never share a problem; generation draws candidates
// from a stream seeded by (seed, split) and keeps those of the requested split,
// skipping duplicates. Same config, same examples, byte for byte.
#ifndef O1P_SYNTH_H
#define O1P_SYNTH_H

#include <stdint.h>

#include "../base/err.h"
#include "dataset.h"

#define SYNTH_MAX_LEVEL 5
// Solutions longer than this are drawn again, so that prompt + solution fit a
// 512-token context with a BPE of ~1.7 characters per token (digits are single tokens).
#define SYNTH_MAX_SOLUTION_CHARS 720
enum { SYNTH_TRAIN = 0, SYNTH_TEST = 1 };

typedef struct {
    uint64_t seed;
    int level_min, level_max;  // inclusive, within 1..SYNTH_MAX_LEVEL; levels are drawn uniformly
    int split;                 // SYNTH_TRAIN or SYNTH_TEST
} SynthConfig;

// Appends n examples (problem, answer, solution, level, redundant_chars) to ds.
int synth_generate(const SynthConfig *cfg, int n, Dataset *ds, Err *e);
// SYNTH_TRAIN or SYNTH_TEST for a problem text (about 1 in 5 problems is test).
int synth_split_of(const char *problem);

#endif
