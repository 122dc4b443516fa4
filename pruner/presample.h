// pruner/presample.h -- the pre-samples of O1-Pruner: K solutions per problem from the
// reference model, with what the length-harmonizing reward needs.
//
// `o1p presample` writes one JSONL file (FILE.jsonl), in this order:
//   a header line (the settings; a resumed run must match them):
//     {"presample": 1, "model": DIR, "data": FILE, "n_problems": N, "k": K,
//      "temperature": T, "top_p": P, "top_k": TK, "max_new": M, "seed": S}
//   then one block per problem, problems in dataset order 0, 1, 2, ...: K sample lines
//     {"problem": i, "sample": j, "length": L, "correct": true, "truncated": false,
//      "answer": "42" (null: no \boxed{}), "mean_logprob": -0.31, "ids": [..], "text": ".."}
//   followed by the problem's summary line
//     {"problem": i, "summary": true, "k": K, "mean_length": Lbar, "accuracy": Abar}
// L counts the generated tokens up to and including the end token (<|im_end|>); "ids" are
// those tokens and "text" their decoding without special tokens; "mean_logprob" is the
// mean over the L tokens of log pi_ref(token) at temperature 1 (the sampler's decode
// path, equal to the training forward's to ~1e-6); Lbar and Abar are the means of L and
// correct over the K samples.
//
// A block is written only when its K samples are done, so the summary line marks a
// complete problem. Resuming: the blocks before the first incomplete one are kept, a
// torn or partial last block is cut off, and sampling continues with the next problem;
// each sample draws from rng_derive(seed, problem, sample), so the file is byte-for-byte
// that of an uninterrupted run.
#ifndef O1P_PRESAMPLE_H
#define O1P_PRESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

typedef struct {
    int problem, sample;
    int length;           // L
    int correct;          // 0/1
    int truncated;        // 0/1
    double mean_logprob;  // at temperature 1
    char *answer;         // extracted boxed answer, NULL when none (malloc'ed)
    char *text;           // the solution text (malloc'ed)
    int32_t *ids;         // [length] generated token ids (malloc'ed)
} PresampleItem;

typedef struct {
    // the header
    char model_path[1024], data_path[1024];  // as given to `o1p presample`
    int n_problems_total;  // problems in the dataset
    int k;
    double temperature, top_p;
    int top_k, max_new;
    uint64_t seed;
    // the complete problems: 0 .. n_problems-1
    int n_problems;
    PresampleItem *items;  // [n_problems * k]: item i*k + j is sample j of problem i
    double *mean_length;   // [n_problems] Lbar
    double *accuracy;      // [n_problems] Abar
    size_t complete_bytes; // file bytes holding the header and the complete blocks
    int items_cap;         // items allocated (a partial last block's items are freed too)
} Presample;

// Reads a pre-sample file: the header and every complete problem block (a torn or
// incomplete last block is ignored; its bytes are those after complete_bytes). Errors
// name the file, the line and what was expected: a missing or malformed header, a line
// out of order (problem/sample indices), a summary that disagrees with its samples, a
// damaged line followed by more lines (not a crash's torn end).
int presample_load(const char *path, Presample *ps, Err *e);
void presample_free(Presample *ps);

#endif
