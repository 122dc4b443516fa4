// data/synth.h -- the synthetic long-thought tasks: the project's embedded demo.
//
// Two families (SynthConfig.task), each solved in steps with the same kinds of
// overthinking around them. The chain (the default, data/synth.c): a problem is a short
// chain of arithmetic on a two-digit number that needs its intermediate results written
// down. Level 2:
//   "Start with 43. Step one: + 1. Step two: + 5. Step three: - 7. Step four: - 1. What
//    is the final number?"
// Level L (1..5) has 2L operations: add or subtract 1..9 with no carry and no borrow.
// A written step ("Step three: - 7, so 49 - 7 = 42.") repeats the problem's step of the
// same number, then applies it to the previous result: one copy, one small operation.
//
// A solution walks the steps and states \boxed{answer}. Around the necessary steps it
// carries a random amount of o1-like overthinking: restating the problem, re-checking a
// step just done ("Let me double-check: 49 - 7 = 42. Yes."), looking ahead, and a second
// full pass after the answer ("Let me verify by redoing it"). Every re-check starts with
// the same words, so re-checking is one choice at the start of a line; greedy decoding
// re-checks whenever that is likelier than going on, as o1-like models do. Some first
// attempts slip and a check corrects them, so some checking pays and pruning all of it
// costs accuracy. Example.redundant_chars counts the overthinking: every character that
// can go, leaving a correct, complete solution.
//
// The walk (data/synth_walk.c): follow arrows between letters. Level 1:
//   "Arrows: L to Q, X to C, C to Q, Q to L, O to L. Start at X and follow two arrows.
//    Where do you end?"
// Level L has 2L arrows to follow on 2L + 3 letters, each letter with one arrow out.
// A written step ("Step two: C to Q.") copies the current letter from the previous step,
// then looks its arrow up in the problem: one lookup where the chain has one sum.
//
// Splits: a hash of the problem text puts it in train or test (synth_split_of), so the
// splits share no problem. Generation draws candidates from a stream seeded by (seed,
// split), keeps those of the asked split and skips duplicates. Same config, same bytes.
#ifndef O1P_SYNTH_H
#define O1P_SYNTH_H

#include <stdint.h>

#include "../base/err.h"
#include "dataset.h"

#define SYNTH_MAX_LEVEL 5
// Longer solutions are drawn again: prompt + solution then fit a 512-token context at
// ~1.7 characters per BPE token, digits being single tokens.
#define SYNTH_MAX_SOLUTION_CHARS 720
enum { SYNTH_TRAIN = 0, SYNTH_TEST = 1 };
typedef enum { SYNTH_CHAIN = 0, SYNTH_WALK = 1 } SynthTask;

typedef struct {
    uint64_t seed;
    int level_min, level_max;  // inclusive, within 1..SYNTH_MAX_LEVEL; drawn uniformly
    int split;                 // SYNTH_TRAIN or SYNTH_TEST
    SynthTask task;            // SYNTH_CHAIN (0, the default) or SYNTH_WALK
} SynthConfig;

// Appends n examples (problem, answer, solution, level, redundant_chars) to ds.
int synth_generate(const SynthConfig *cfg, int n, Dataset *ds, Err *e);
// SYNTH_TRAIN or SYNTH_TEST for a problem text (about 1 in 5 problems is test).
int synth_split_of(const char *problem);
// The task named "chain" or "walk"; -1 for another name.
int synth_task_find(const char *name, SynthTask *task);

#endif
