// pruner/reward_length.c -- see reward_length.h for the math.
#include "reward_length.h"

#include <math.h>
#include <stdlib.h>

// Mean and population std of v[0..n).
static void mean_std(const double *v, int n, double *mean, double *std) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
    *std = sqrt(s2 / n);
}

// Rewards R[0..K) of one problem's samples grp[0..K).
static void group_rewards(LengthReward kind, const LengthConfig *c, const RewardInput *in, const int *grp, int K,
                            double *R) {
    int lmin = in->length[grp[0]], lmax = lmin, nc = 0;
    double lc[K];  // the correct samples' lengths
    for (int k = 0; k < K; k++) {
        int L = in->length[grp[k]];
        lmin = L < lmin ? L : lmin;
        lmax = L > lmax ? L : lmax;
        if (in->correct[grp[k]]) lc[nc++] = L;
    }
    double mc = 0, sc = 0;
    if (nc) mean_std(lc, nc, &mc, &sc);
    for (int k = 0; k < K; k++) {
        int L = in->length[grp[k]], ok = in->correct[grp[k]];
        if (kind == LEN_KIMI) {
            double lam = lmax > lmin ? 0.5 - (double)(L - lmin) / (lmax - lmin) : 0.0;
            R[k] = ok + (ok ? lam : fmin(0.0, lam));
        } else if (kind == LEN_EFFICIENT) {
            double z = sc > 0 ? (L - mc) / sc : 0.0;
            R[k] = ok ? 1.0 - c->alpha / (1.0 + exp(-z)) : 0.0;
        } else {
            R[k] = ok - (lmax > 0 ? c->alpha * L / lmax : 0.0);  // every sample empty: no penalty
        }
    }
}

// Advantages A[0..K) from the rewards R[0..K) of one problem.
static void group_advantages(LengthReward kind, const LengthConfig *c, const double *R, int K, double *A) {
    double mean, std;
    mean_std(R, K, &mean, &std);
    for (int k = 0; k < K; k++) {
        if (kind == LEN_EFFICIENT) A[k] = R[k] - (mean * K - R[k]) / (K - 1);
        else if (kind == LEN_GRPO && !c->dr_grpo) A[k] = std > 0 ? (R[k] - mean) / std : 0.0;
        else A[k] = R[k] - mean;
    }
}

int length_advantages(LengthReward kind, const LengthConfig *c, const RewardInput *in, int *index, double *reward,
                      double *adv, Err *e) {
    if (reward_check_input(in, e)) return -1;
    int *order = group_order(in);
    if (!order) return err_fmt(e, "reward: out of memory for %d samples", in->n);
    int rc = 0;
    for (int s = 0; s < in->n && !rc;) {
        int K = run_len(in, order, s);
        if (kind == LEN_EFFICIENT && K < 2) {
            rc = err_fmt(e, "reward: problem %d has 1 sample; leave-one-out advantages need K >= 2",
                         in->problem[order[s]]);
            break;
        }
        group_rewards(kind, c, in, order + s, K, reward + s);
        group_advantages(kind, c, reward + s, K, adv + s);
        for (int k = 0; k < K; k++) index[s + k] = order[s + k];
        s += K;
    }
    free(order);
    return rc;
}

double dast_budget(const RewardInput *in, const int *grp, int K) {
    int nc = 0, lmax = 0;
    double sum_c = 0;
    for (int k = 0; k < K; k++) {
        int L = in->length[grp[k]];
        lmax = L > lmax ? L : lmax;
        if (in->correct[grp[k]]) nc++, sum_c += L;
    }
    double p = (double)nc / K;
    return nc ? p * sum_c / nc + (1 - p) * lmax : lmax;
}

double dast_score(int length, int correct, double budget) {
    double lam = (length - budget) / budget;
    return correct ? fmax(0.5 - 0.5 * lam, 0.1) : fmin(0.5 * lam - 0.5, -0.1);
}

int select_dast_pairs(const RewardInput *in, int *out, Err *e) {
    if (reward_check_input(in, e)) return -1;
    int *order = group_order(in), n = 0;
    if (!order) return err_fmt(e, "out of memory");
    for (int s = 0; s < in->n;) {
        int K = run_len(in, order, s);
        double B = dast_budget(in, order + s, K);
        // pass 1: the correct samples, pass 2: the wrong ones; best and worst score, ties
        // to the earlier sample
        for (int ok = 1; ok >= 0; ok--) {
            int best = -1, worst = -1;
            double sb = 0, sw = 0;
            for (int k = 0; k < K; k++) {
                int i = order[s + k];
                if (in->correct[i] != ok) continue;
                double sc = dast_score(in->length[i], ok, B);
                if (best < 0 || sc > sb) best = i, sb = sc;
                if (worst < 0 || sc < sw) worst = i, sw = sc;
            }
            if (best >= 0 && sb > sw) {
                out[2 * n] = best;
                out[2 * n + 1] = worst;
                n++;
            }
        }
        s += K;
    }
    free(order);
    return n;
}

double simpo_term(double c, int nc, double r, int nr, double beta, double gamma, double *z, double *wc, double *wr) {
    *z = beta * (c / nc - r / nr) - gamma;
    double loss = *z > 0 ? log1p(exp(-*z)) : -*z + log1p(exp(*z));  // -log sigmoid(z)
    double g = beta / (1.0 + exp(*z));                                // beta sigmoid(-z)
    *wc = g / nc;
    *wr = -g / nr;
    return loss;
}

void simpo_batch(const float *logprob, const float *mask, int B, int T, int npairs, double beta, double gamma,
                 double n_pairs, float *w, BatchLoss *st) {
    for (size_t j = 0; j < (size_t)B * T; j++) w[j] = 0;
    for (int j = 0; j < npairs; j++) {
        double s[2], z, wt[2];
        int n[2];
        row_logp_sums(logprob + (size_t)2 * j * T, mask + (size_t)2 * j * T, 2, T, s, n);
        if (!n[0] || !n[1]) continue;
        st->loss += simpo_term(s[0], n[0], s[1], n[1], beta, gamma, &z, &wt[0], &wt[1]) / n_pairs;
        st->sum_r += z;
        st->clipped += z < 0;
        for (int k = 0; k < 2; k++)
            for (int t = 0; t < T; t++) {
                size_t q = (size_t)(2 * j + k) * T + t;
                if (mask[q] != 0) w[q] = (float)(wt[k] / n_pairs);
            }
    }
}
