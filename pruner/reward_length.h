// pruner/reward_length.h -- the length rewards of other papers on O1-Pruner's
// pre-samples (every sample of a problem is one of its group of K), as pure functions of
// numbers. L: a sample's solution tokens, c: 1 if correct else 0, per problem:
//
// kimi      Kimi k1.5 (Kimi Team, 2025, sec. 2.3.3): lambda = 0.5 - (L - L_min) /
//           (L_max - L_min) over the problem's K samples (0 when all lengths agree);
//           R = c + (c ? lambda : min(0, lambda)); A = R - mean_K(R).
// efficient Arora and Zanette (2025), "Training Language Models to Reason Efficiently":
//           R = c (1 - alpha sigmoid((L - mean_c L) / std_c L)), mean and (population)
//           std over the problem's correct samples (z = 0 when the std is 0);
//           RLOO: A_i = R_i - mean_{j != i} R_j (K >= 2).
// grpo-len  GRPO (Shao et al., 2024) on R = c - alpha L / L_max, L_max the problem's
//           longest sample (a length penalty relative to the group):
//           A = (R - mean_K R) / std_K R (population std; 0 when the std is 0), or with
//           Dr. GRPO (Liu et al., 2025) A = R - mean_K R.
// All three train the PPO loss of reward.h with these A.
//
// dast      DAST (Shen et al., 2025): the token length budget of a problem with
//           accuracy p = mean_K c, mean correct length L_r and longest sample L_max:
//               B = p L_r + (1 - p) L_max;
//           with lambda = (L - B) / B, a sample's score is
//               correct: max(0.5 - 0.5 lambda, 0.1)    wrong: min(0.5 lambda - 0.5, -0.1),
//           so a short correct sample beats a long one and a long wrong sample beats a
//           short one. Pairs: the correct samples' best against their worst and the
//           wrong samples' best against their worst, when the scores differ. Trained
//           with SimPO (Meng et al., 2024): z = beta (c / |y_c| - r / |y_r|) - gamma on
//           the summed log-probs c, r of the chosen and rejected solutions;
//           loss = -log sigmoid(z), no reference model.
#ifndef O1P_REWARD_LENGTH_H
#define O1P_REWARD_LENGTH_H

#include "../base/err.h"
#include "reward.h"

typedef enum { LEN_KIMI, LEN_EFFICIENT, LEN_GRPO } LengthReward;

typedef struct {
    double alpha;  // efficient: the sigmoid's weight; grpo-len: the length penalty's
    int dr_grpo;   // grpo-len: A = R - mean (no division by the std)
} LengthConfig;

// Every sample's reward R and advantage A, ordered by problem then sample index: index,
// reward and adv must hold in->n values.
int length_advantages(LengthReward kind, const LengthConfig *c, const RewardInput *in, int *index, double *reward,
                      double *adv, Err *e);

// DAST's budget of a problem's samples grp[0..K) and a sample's score under it.
double dast_budget(const RewardInput *in, const int *grp, int K);
double dast_score(int length, int correct, double budget);
// DAST's pairs as out[2j] (chosen), out[2j+1] (rejected); out must hold in->n ints.
// Returns the number of pairs (-1: error).
int select_dast_pairs(const RewardInput *in, int *out, Err *e);

// SimPO on one pair: c, r summed log-probs of nc, nr tokens. *wc, *wr: the per-token
// weights of the chosen and rejected tokens (beta sigmoid(-z) / nc, -beta sigmoid(-z) /
// nr), before dividing by the number of pairs. Returns the loss; *z gets z.
double simpo_term(double c, int nc, double r, int nr, double beta, double gamma, double *z, double *wc, double *wr);
// SimPO on rows (2j, 2j+1) = (chosen, rejected) of pair j < npairs of a (B, T) batch;
// n_pairs: the pairs of the whole optimizer step. st gets the loss, the sum of z and the
// pairs with z < 0.
void simpo_batch(const float *logprob, const float *mask, int B, int T, int npairs, double beta, double gamma,
                 double n_pairs, float *w, BatchLoss *st);

#endif
