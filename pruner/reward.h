// pruner/reward.h -- the length-harmonizing reward and the PPO-style loss of O1-Pruner
// (Luo et al., 2025, arXiv 2501.12570), as pure functions of numbers.
//
// Reward of sample y of problem x (paper eq. 10), from the K pre-samples of x:
//     R(x, y) = Lbar(x) / L(y) - 1 + lambda * (A(x, y) - Abar(x))
// L: solution tokens, the end token (<|im_end|>) not counted (the official code's
// len(tokenizer(solution))); an empty solution counts as 1 in L(y) (the official code
// would divide by zero). A: 1 if correct else 0, Lbar / Abar: the means of L and A over
// the K samples of x (over the other K-1 with leave_one_out). Official-code defaults:
//   - m = 2 samples per problem kept, drawn at random (seeded) from the K;
//   - R clipped to [-2, 4], then z-scored over all kept samples (population std).
//
// Loss of one sequence with advantage A (the z-scored R) and the per-sequence ratio
//     r = exp(mean_t log pi_theta(y_t) - mean_t log pi_ref(y_t))    (RATIO_TOKEN_MEAN)
//     r = exp(sum_t  log pi_theta(y_t) - sum_t  log pi_ref(y_t))    (RATIO_SEQ)
//     loss = max(-A r, -A clip(r, 1 - eps, 1 + eps)),  averaged over the sequences.
// Where the unclipped branch is the max, d loss / d log pi_theta(y_t) = -A r / |y|
// (RATIO_SEQ: -A r), else 0. The engine's cross-entropy backward computes the gradient
// of sum_t w_t * (-log pi_theta(y_t)), so the PPO gradient is that backward with
//     w_t = A r / |y| / n_seq          (0 for a clipped sequence)
// on the sequence's solution tokens: no special backward.
// RATIO_PER_TOKEN is standard PPO's (not the paper's): a ratio and a clip per token,
//     r_t = exp(log pi_theta(y_t) - log pi_ref(y_t)),
//     loss = mean_t max(-A r_t, -A clip(r_t, 1 - eps, 1 + eps)),
//     w_t = A r_t / |y| / n_seq        (0 for a clipped token),
// so a token pushed out of the range by the steps before stops being pushed further.
#ifndef O1P_REWARD_H
#define O1P_REWARD_H

#include <stdint.h>

#include "../base/err.h"

typedef struct {
    double lambda;      // accuracy weight (default 2)
    int m;              // samples kept per problem (default 2; <= 0 or >= K: all K)
    int clip;           // clip R to [clip_lo, clip_hi] (default 1)
    double clip_lo, clip_hi;  // -2, 4
    int normalize;      // z-score over the kept samples (default 1)
    int leave_one_out;  // Lbar, Abar over the other K-1 samples (default 0)
    uint64_t seed;      // the choice of the m samples
    // fixed baselines Lbar, Abar per problem index, in place of the group's (leave_one_out
    // then does not apply), e.g. pi_ref's for a later policy's samples (prune --rounds,
    // --baseline ref); NULL: the group's (default)
    const double *base_length, *base_accuracy;
} RewardConfig;

RewardConfig reward_defaults(void);

// Pre-samples as the reward sees them: sample i belongs to problem[i] (any order;
// the samples of a problem need not be contiguous), has length[i] >= 0 tokens and
// correct[i] in {0, 1}.
typedef struct {
    int n;
    const int *problem, *length, *correct;
} RewardInput;

// Every length >= 1 and every correct in {0, 1} (the error names the sample).
int reward_check_input(const RewardInput *in, Err *e);
// Sample indices sorted by (problem, index): the problems' groups as runs (NULL: out of
// memory; free it). run_len: the length of the run of order[s..] that shares order[s]'s
// problem.
int *group_order(const RewardInput *in);
int run_len(const RewardInput *in, const int *order, int s);

typedef struct {
    int n;          // kept samples
    int *index;     // [n] indices into the input, ascending by problem then by sample order
    double *raw;    // [n] R before clipping
    double *adv;    // [n] the advantage: R clipped and normalised as configured
    double mean, std;  // of the clipped R over the kept samples (what z-scoring used)
    int n_clipped;  // kept samples whose R was clipped
} RewardOut;

// Baselines, choice of m per problem, clipping, z-scoring. With leave_one_out a
// problem needs K >= 2. The m chosen of a problem are drawn from
// rng_derive(seed, problem, 0): the same seed gives the same choice. A zero std (all
// clipped R equal) gives all-zero advantages. Free with reward_free.
int reward_compute(const RewardConfig *c, const RewardInput *in, RewardOut *out, Err *e);
void reward_free(RewardOut *out);

// The paper's baselines choose their samples from the same pre-samples. Problems are
// visited in ascending order; ties go to the earlier sample. out must hold in->n ints.
// sft-shortest: the n_best shortest correct samples of each problem (in that order).
// Returns how many were chosen (-1: out of memory).
int select_shortest_correct(const RewardInput *in, int n_best, int *out, Err *e);
// DPO (the paper's baseline): each of a problem's 2 shortest correct samples (1 when it
// has only one) against its longest sample not among them, correct or not, as out[2j]
// (chosen), out[2j+1] (rejected). A problem with no correct sample, or no other sample,
// gives no pair. out must hold 2 in->n ints. Returns the number of pairs (-1: out of
// memory).
int select_dpo_pairs(const RewardInput *in, int *out, Err *e);

// The training-difficulty split (the paper's Figure 4): the n problems ranked by the
// reference's pre-sample accuracy Abar (accuracy[p]), highest first, a tie to the lower
// problem index; the easier half is the first n / 2 of that ranking, the harder half the
// other n - n / 2. Sets keep[p] = 1 for the problems of the half asked for (harder: 1 for
// the harder), else 0.
int select_difficulty_half(const double *accuracy, int n, int harder, unsigned char *keep, Err *e);

typedef enum { RATIO_TOKEN_MEAN, RATIO_SEQ, RATIO_PER_TOKEN } RatioMode;

// One sequence's part of the PPO loss (RATIO_TOKEN_MEAN, RATIO_SEQ; RATIO_PER_TOKEN is a
// RATIO_SEQ term per token). sum_logp / sum_logp_ref: sums of the solution tokens'
// log-probs under pi_theta and pi_ref; n_tokens = |y| >= 1.
typedef struct {
    double r;       // the ratio
    double loss;    // max(-A r, -A clip(r))
    int clipped;    // 1 when the clipped branch is the max and r is outside the range:
                    // no gradient flows from this sequence
    double weight;  // w_t for each token (before dividing by n_seq): A r / |y|, A r, or 0
} PpoTerm;

PpoTerm ppo_term(double sum_logp, double sum_logp_ref, int n_tokens, double adv, double eps,
                 RatioMode mode);

// DPO (Rafailov et al., 2023) on one pair: z = beta * ((c - c_ref) - (r - r_ref)) with
// summed log-probs of the chosen (c) and rejected (r) solutions; loss = -log sigmoid(z).
// *weight gets beta * sigmoid(-z): the per-token weight of the chosen tokens (the
// rejected tokens get its negative), before dividing by the number of pairs.
double dpo_term(double c, double c_ref, double r, double r_ref, double beta, double *weight);

// ---- a (B, T) batch as data/batch.h lays it out --------------------------------------
// logprob [B*T]: per-token log-probs from model_loss; mask [B*T]: 1 on the solution
// tokens (batch_fill's weights), 0 elsewhere. Row sums of the masked log-probs and the
// token counts, for rows 0..nrows-1 (sums in double, in token order).
void row_logp_sums(const float *logprob, const float *mask, int nrows, int T, double *sums,
                   int *counts);

typedef struct {
    double loss;   // sum over the rows of the per-row loss / n_seq
    double sum_r;    // sum of the rows' ratios (PPO; per token: the row's mean r_t) or of
                     // the rows' z (DPO)
    double clipped;  // PPO: rows in the clipped branch (per token: each row adds the
                     // fraction of its tokens clipped); DPO: pairs with z < 0
} BatchLoss;

// PPO on rows 0..nrows-1 with ref sums ref_sum[row] and advantages adv[row]; writes the
// per-token gradient weights w [B*T] (zero outside the mask and on unused rows) and
// adds to *st. n_seq: the sequences of the whole optimizer step (the mean's divisor).
// RATIO_PER_TOKEN reads pi_ref's log-probs of row b's solution tokens, in order, from
// ref_tok[b] (as many as the row's mask has; ref_tok may be NULL in the other modes).
void ppo_batch(const float *logprob, const float *mask, int B, int T, int nrows,
               const double *ref_sum, const float *const *ref_tok, const double *adv, double eps,
               RatioMode mode, double n_seq, float *w, BatchLoss *st);
// DPO on rows (2j, 2j+1) = (chosen, rejected) of pair j < npairs; n_pairs: the pairs of
// the whole optimizer step.
void dpo_batch(const float *logprob, const float *mask, int B, int T, int npairs,
               const double *ref_sum, double beta, double n_pairs, float *w, BatchLoss *st);

#endif
