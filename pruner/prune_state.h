// pruner/prune_state.h -- what a prune run holds (prune.c), shared with the rows of its
// rounds and online steps and their old policy's log-probs (prune_rounds.c). Private to
// the two.
#ifndef O1P_PRUNE_STATE_H
#define O1P_PRUNE_STATE_H

#include <stdio.h>

#include "../base/rng.h"
#include "../engine/tokset.h"
#include "eval.h"
#include "objective.h"
#include "pool.h"
#include "presample.h"
#include "prune.h"

#define PRUNE_STREAM 0x7072756eULL  // "prun"

// Index of the unit at data position pos (epoch = (pos - base) / n, counted from the
// round's first position base; a permutation per epoch, round r's from stream
// PRUNE_STREAM + r).
typedef struct {
    int n;
    int64_t epoch;
    int *perm;
    uint64_t seed, stream, base;
} Order;

static inline int order_at(Order *o, uint64_t pos) {
    pos -= o->base;
    int64_t ep = (int64_t)(pos / (uint64_t)o->n);
    if (ep != o->epoch) {
        for (int i = 0; i < o->n; i++) o->perm[i] = i;
        Rng r = rng_derive(o->seed, o->stream, (uint64_t)ep);
        rng_shuffle_ints(&r, o->perm, o->n);
        o->epoch = ep;
    }
    return o->perm[pos % (uint64_t)o->n];
}

// The held-out evaluation during training (greedy, first eval_n problems).
typedef struct {
    Dataset ds;
    TokSet prompts;
    int32_t stop[2];
    int n_stop;
    EvalOpts o;
} HeldOut;

// Everything a prune run holds.
typedef struct {
    const PruneOpts *o;
    const ObjectiveOps *ops;
    ObjectiveConfig oc;
    const Kernels *k;
    TrainRun r;
    Presample ps;
    Presample rps;      // round >= 2: the round's samples
    const char *data_path;
    int round;          // the round whose rows are loaded (0-based; -1: none yet)
    int round_steps;    // optimizer steps per round
    int step_sampled;   // samples the coming step drew (a round's first step, --online); logged
    // --online
    int *trained;       // [n_trained] the problems trained (--difficulty's), ascending
    int n_trained, step_problems;  // ..., those sampled per step
    TokSet sample_prompts;         // the prompts under the pre-samples' template
    Dataset ds;
    ChatTemplate tmpl;  // the training template
    TokSet prompts;     // the prompts of ds under it
    Pool pool;
    Objective ob;
    TokExample *rows;   // [ob.n_rows] the trained rows
    int *idx;           // [K B] the step's rows, indices into rows
    int U;              // units per micro-batch
    Order ord;
    HeldOut ho;
    int eval_every;
    FILE *plog;         // OUT/prune_metrics.jsonl
} Prune;

// The objective's rows from samples ps (the file src): prompt ++ sample, of the problems
// --difficulty keeps by pi_ref's pre-samples. base: fixed baselines Lbar, Abar per
// problem (NULL: the samples' own).
int prune_build_rows(Prune *P, const Presample *ps, const char *src, const Presample *base, Err *e);

// A fresh run: removes the round files (OUT/round_R.*) an earlier run left in OUT.
int prune_clear_rounds(const Prune *P, Err *e);
// --online: the trained problems, the step's share of them, the data order over them
// and their prompts to sample from.
int prune_online_open(Prune *P, Err *e);
// Before each step: --online's fresh rows, or the rows of the step's round (the first
// step of a run, or of a round) with their old policy's log-probs. 0, 1 when
// interrupted (sampling a round), -1 on error.
int prune_before_step(Prune *P, Err *e);

#endif
