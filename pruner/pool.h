// pruner/pool.h -- prune's training rows: each pre-sample (presample.h) as the prompt
// of its problem ++ its tokens, with the reward's inputs (problem, length L, correct),
// and --difficulty's half of the problems.
#ifndef O1P_POOL_H
#define O1P_POOL_H

#include "../base/err.h"
#include "../data/batch.h"
#include "../data/dataset.h"
#include "../engine/tokset.h"
#include "../model/model.h"
#include "presample.h"

// The pre-samples as training rows: prompt of their problem ++ their tokens.
typedef struct {
    int n, k;                         // samples, samples per problem
    int *problem, *length, *correct;  // [n] length: L, the reward's
    int *trained;                     // [n] the row's completion tokens after --cutoff
    TokExample *ex;                   // [n]
} Pool;

void pool_free(Pool *p);

// Rows from the pre-samples of the problems keep[] marks (NULL: all): the prompt of
// problem i (prompts of the dataset that was pre-sampled) followed by the sample's token
// ids, as generated (end token included, as the official code's target); the reward's
// length is L, without it. ps_path, data_path: the names of ps and ds in errors; the
// ids must lie in c's vocab.
int pool_from_presample(const Presample *ps, const char *ps_path, const Dataset *ds, const char *data_path,
                        const TokSet *prompts, const Config *c, const unsigned char *keep, Pool *p, Err *e);

// --difficulty (all, easier or harder): the half of the pre-sampled problems to train on
// (*keep NULL: all), by select_difficulty_half (reward.h). The caller frees *keep.
int pool_difficulty_half(const char *difficulty, const Presample *ps, unsigned char **keep, Err *e);

#endif
