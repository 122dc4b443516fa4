// pruner/objective.h -- prune's objectives, each a small vtable: which pre-samples it
// trains (its rows, in units of consecutive rows) and how a micro-batch's per-token
// log-probs become per-token loss weights for the engine's cross-entropy backward.
//
//   ppo           O1-Pruner: the m chosen samples of each problem with advantages A
//                 (reward.h); loss = mean over the step's sequences of
//                 max(-A r, -A clip(r, 1-eps, 1+eps)), r the ratio to pi_ref.
//   sft-shortest  the 2 shortest correct samples of each problem; loss = mean
//                 cross-entropy over the step's solution tokens (w = mask / sum(mask)).
//   dpo           2 pairs per problem: chosen = each of its 2 shortest correct samples,
//                 rejected = its longest other one; loss = mean over the step's pairs of
//                 -log sigmoid(z) (reward.h: dpo_term).
//   kimi, efficient, grpo-len
//                 every pre-sample, with the advantages of reward_length.h (Kimi k1.5's
//                 length reward; Arora and Zanette's with RLOO; GRPO's with a length
//                 penalty); loss: ppo's, with its ratio and clip.
//   dast          DAST's budget pairs (reward_length.h); loss = mean over the step's
//                 pairs of SimPO's -log sigmoid(z), no reference.
#ifndef O1P_OBJECTIVE_H
#define O1P_OBJECTIVE_H

#include <stddef.h>

#include "../base/err.h"
#include "reward.h"
#include "reward_length.h"

typedef struct {
    RewardConfig reward;  // ppo: lambda, m, clipping, z-scoring, leave-one-out, seed
    RatioMode ratio;      // ppo: the ratio to pi_ref
    double eps;           // ppo: clip range of the ratio
    int group;            // ppo: a unit is a problem's m samples (trained in one step)
    double beta;          // dpo
    LengthConfig length;  // efficient, grpo-len
    double simpo_beta, simpo_gamma;  // dast
} ObjectiveConfig;

typedef struct Objective Objective;

typedef struct {
    const char *name;  // as --objective spells it
    const char *term;  // what the loss is a mean over: "sequences" or "pairs"
    int per_pair;      // the loss's terms are the units (pairs), not the rows
    int uses_ref;      // needs pi_ref's log-probs of its rows (then it has a ratio)
    // Chooses the rows from the pre-samples in (k per problem; src names them in errors).
    int (*select)(Objective *ob, const RewardInput *in, int k, const char *src, Err *e);
    // Loss weights w [B*T] of a (B, T) micro-batch of rows rows[0..B); adds to *st.
    void (*weights)(Objective *ob, const int *rows, int B, int T, const float *logprob, const float *mask,
                    float *w, BatchLoss *st);
} ObjectiveOps;

struct Objective {
    const ObjectiveOps *ops;
    ObjectiveConfig c;
    int n_units, rows_per_unit, n_rows;
    int *sample;      // [n_rows] the pre-sample of each row
    double *adv;      // [n_rows] the advantages of ppo, kimi, efficient, grpo-len (else NULL)
    double *ref;      // [n_rows] pi_ref's log-prob sums of the rows' solutions
    float *ref_tok;   // RATIO_PER_TOKEN: pi_ref's log-probs of every solution token,
    size_t *ref_off;  //   row i's ref_n[i] of them at ref_tok + ref_off[i] (else NULL)
    int *ref_n;
    RewardOut rw;     // ppo's rewards
    // the step in flight
    double n_terms;   // the loss's divisor: the step's sequences (pairs)
    double wsum;      // the step's trained tokens
    BatchLoss st;     // the step's loss, sum of ratios, clipped
};

// The objective named name: "ppo", "sft-shortest", "dpo", "kimi", "efficient",
// "grpo-len" or "dast".
const ObjectiveOps *objective_find(const char *name, Err *e);
// The ratio named name: "token", "seq" or "per-token" into *out.
int objective_ratio_find(const char *name, RatioMode *out, Err *e);
// Selects ops's rows from the pre-samples and allocates their reference storage
// (n_tokens[i]: the most tokens pre-sample i's row trains).
int objective_open(Objective *ob, const ObjectiveOps *ops, const ObjectiveConfig *c, const RewardInput *in,
                   const int *n_tokens, int k, const char *src, Err *e);
void objective_free(Objective *ob);
// The loss's terms in `units` units (sequences, or pairs).
int objective_terms(const Objective *ob, int units);
// Starts a step of `units` units and wsum trained tokens.
void objective_step_begin(Objective *ob, int units, double wsum);
// Loss weights w [B*T] of a (B, T) micro-batch of rows rows[0..B) from its per-token
// log-probs and mask; adds its loss to *loss, the step's running loss.
void objective_weights(Objective *ob, const int *rows, int B, int T, const float *logprob, const float *mask,
                       float *w, double *loss);
// After the step's micro-batches: the statistics of every rank's (engine/dist.h).
void objective_step_end(Objective *ob);
// The step's mean ratio and fraction clipped (dpo, dast: mean z, fraction with z < 0;
// without a ratio: 1 and 0).
double objective_mean_r(const Objective *ob);
double objective_frac_clipped(const Objective *ob);

#endif
