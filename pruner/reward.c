// pruner/reward.c -- see reward.h for the math.
#include "reward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/rng.h"

RewardConfig reward_defaults(void) {
    RewardConfig c = {.lambda = 2.0, .m = 2, .clip = 1, .clip_lo = -2.0, .clip_hi = 4.0,
                      .normalize = 1, .leave_one_out = 0, .seed = 1};
    return c;
}

void reward_free(RewardOut *out) {
    free(out->index);
    free(out->raw);
    free(out->adv);
    memset(out, 0, sizeof *out);
}

// qsort order: by problem, then by position in the input.
static const RewardInput *sort_in;
static int by_problem(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    int pi = sort_in->problem[i], pj = sort_in->problem[j];
    if (pi != pj) return pi < pj ? -1 : 1;
    return (i > j) - (i < j);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int *group_order(const RewardInput *in) {
    int *order = malloc((size_t)(in->n > 0 ? in->n : 1) * sizeof(int));
    if (!order) return NULL;
    for (int i = 0; i < in->n; i++) order[i] = i;
    sort_in = in;
    qsort(order, (size_t)in->n, sizeof(int), by_problem);
    return order;
}

int run_len(const RewardInput *in, const int *order, int s) {
    int K = 0;
    while (s + K < in->n && in->problem[order[s + K]] == in->problem[order[s]]) K++;
    return K;
}

int select_shortest_correct(const RewardInput *in, int n_best, int *out, Err *e) {
    int *order = group_order(in), n = 0;
    if (!order) return err_fmt(e, "out of memory");
    for (int s = 0; s < in->n;) {
        int K = run_len(in, order, s);
        // Selection of the n_best shortest correct, one pass each (n_best is small).
        for (int j = 0; j < n_best; j++) {
            int best = -1;
            for (int k = 0; k < K; k++) {
                int i = order[s + k], taken = 0;
                for (int q = n - j; q < n; q++) taken |= out[q] == i;
                if (in->correct[i] && !taken && (best < 0 || in->length[i] < in->length[best])) best = i;
            }
            if (best < 0) break;
            out[n++] = best;
        }
        s += K;
    }
    free(order);
    return n;
}

int select_dpo_pairs(const RewardInput *in, int *out, Err *e) {
    int *order = group_order(in), n = 0;
    if (!order) return err_fmt(e, "out of memory");
    for (int s = 0; s < in->n;) {
        int K = run_len(in, order, s), chosen[2], n_chosen = 0, rejected = -1;
        // the 2 shortest correct (the sort of select_shortest_correct, on this problem)
        for (int j = 0; j < 2; j++) {
            int best = -1;
            for (int k = 0; k < K; k++) {
                int i = order[s + k];
                if (in->correct[i] && (j == 0 || i != chosen[0]) && (best < 0 || in->length[i] < in->length[best]))
                    best = i;
            }
            if (best >= 0) chosen[n_chosen++] = best;
        }
        // the longest sample that is not chosen, correct or not
        for (int k = 0; k < K && n_chosen; k++) {
            int i = order[s + k];
            if (i != chosen[0] && (n_chosen < 2 || i != chosen[1]) &&
                (rejected < 0 || in->length[i] > in->length[rejected]))
                rejected = i;
        }
        for (int j = 0; j < n_chosen && rejected >= 0; j++) {
            out[2 * n] = chosen[j];
            out[2 * n + 1] = rejected;
            n++;
        }
        s += K;
    }
    free(order);
    return n;
}

// A problem in the difficulty ranking: higher accuracy first, then the lower index.
typedef struct {
    double acc;
    int p;
} Ranked;

static int cmp_easier(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    if (x->acc != y->acc) return x->acc > y->acc ? -1 : 1;
    return (x->p > y->p) - (x->p < y->p);
}

int select_difficulty_half(const double *accuracy, int n, int harder, unsigned char *keep, Err *e) {
    Ranked *r = malloc((n ? (size_t)n : 1) * sizeof *r);
    if (!r) return err_fmt(e, "out of memory for %d problems", n);
    for (int p = 0; p < n; p++) r[p] = (Ranked){accuracy[p], p};
    qsort(r, (size_t)n, sizeof *r, cmp_easier);
    for (int j = 0; j < n; j++) keep[r[j].p] = (j >= n / 2) == !!harder;
    free(r);
    return 0;
}

int reward_check_input(const RewardInput *in, Err *e) {
    if (in->n < 1) return err_fmt(e, "reward: no samples");
    for (int i = 0; i < in->n; i++) {
        if (in->length[i] < 0)
            return err_fmt(e, "reward: sample %d (problem %d) has length %d (expected >= 0)", i,
                           in->problem[i], in->length[i]);
        if (in->correct[i] != 0 && in->correct[i] != 1)
            return err_fmt(e, "reward: sample %d has correct = %d (expected 0 or 1)", i, in->correct[i]);
    }
    return 0;
}

// One problem's samples grp[0..K): the m kept, appended to out with their raw R.
static int problem_rewards(const RewardConfig *c, const RewardInput *in, const int *grp, int K, RewardOut *out,
                           Err *e) {
    int p = in->problem[grp[0]];
    if (c->leave_one_out && K < 2)
        return err_fmt(e, "reward: problem %d has 1 sample; leave-one-out baselines need K >= 2", p);
    double sum_len = 0, sum_acc = 0;
    for (int k = 0; k < K; k++) {
        sum_len += in->length[grp[k]];
        sum_acc += in->correct[grp[k]];
    }
    // The m kept: the first m of a seeded permutation of 0..K-1, back in sample order.
    int m = c->m <= 0 || c->m > K ? K : c->m;
    int *pick = malloc((size_t)K * sizeof(int));
    if (!pick) return err_fmt(e, "reward: out of memory");
    for (int k = 0; k < K; k++) pick[k] = k;
    if (m < K) {
        Rng rng = rng_derive(c->seed, (uint64_t)(int64_t)p, 0);
        rng_shuffle_ints(&rng, pick, K);
        qsort(pick, (size_t)m, sizeof(int), cmp_int);
    }
    for (int j = 0; j < m; j++) {
        int i = grp[pick[j]];
        double lbar = sum_len / K, abar = sum_acc / K;
        if (c->base_length) {
            lbar = c->base_length[p];
            abar = c->base_accuracy[p];
        } else if (c->leave_one_out) {
            lbar = (sum_len - in->length[i]) / (K - 1);
            abar = (sum_acc - in->correct[i]) / (K - 1);
        }
        out->index[out->n] = i;
        int L = in->length[i] > 0 ? in->length[i] : 1;  // an empty solution: as 1 token
        out->raw[out->n] = lbar / L - 1.0 + c->lambda * (in->correct[i] - abar);
        out->n++;
    }
    free(pick);
    return 0;
}

// adv = R clipped to [clip_lo, clip_hi], then z-scored over the kept samples
// (population std).
static void clip_and_normalize(const RewardConfig *c, RewardOut *out) {
    double sum = 0, sum2 = 0;
    for (int j = 0; j < out->n; j++) {
        double r = out->raw[j];
        if (c->clip && (r < c->clip_lo || r > c->clip_hi)) {
            r = r < c->clip_lo ? c->clip_lo : c->clip_hi;
            out->n_clipped++;
        }
        out->adv[j] = r;
        sum += r;
    }
    out->mean = sum / out->n;
    for (int j = 0; j < out->n; j++) sum2 += (out->adv[j] - out->mean) * (out->adv[j] - out->mean);
    out->std = sqrt(sum2 / out->n);
    if (c->normalize)
        for (int j = 0; j < out->n; j++)
            out->adv[j] = out->std > 0 ? (out->adv[j] - out->mean) / out->std : 0.0;
}

int reward_compute(const RewardConfig *c, const RewardInput *in, RewardOut *out, Err *e) {
    memset(out, 0, sizeof *out);
    if (reward_check_input(in, e)) return -1;
    int *order = group_order(in);
    out->index = malloc((size_t)in->n * sizeof(int));
    out->raw = malloc((size_t)in->n * sizeof(double));
    out->adv = malloc((size_t)in->n * sizeof(double));
    int rc = !order || !out->index || !out->raw || !out->adv
                 ? err_fmt(e, "reward: out of memory for %d samples", in->n)
                 : 0;
    // Per problem (a run of `order`): baselines, the choice of m, raw R.
    for (int s = 0; s < in->n && !rc;) {
        int K = run_len(in, order, s);
        rc = problem_rewards(c, in, order + s, K, out, e);
        s += K;
    }
    free(order);
    if (rc) {
        reward_free(out);
        return -1;
    }
    clip_and_normalize(c, out);
    return 0;
}

PpoTerm ppo_term(double sum_logp, double sum_logp_ref, int n_tokens, double adv, double eps,
                 RatioMode mode) {
    PpoTerm t;
    double scale = mode == RATIO_SEQ ? 1.0 : 1.0 / n_tokens;
    t.r = exp((sum_logp - sum_logp_ref) * scale);
    double rc = t.r < 1 - eps ? 1 - eps : t.r > 1 + eps ? 1 + eps : t.r;
    double unclipped = -adv * t.r, clipped = -adv * rc;
    t.loss = unclipped > clipped ? unclipped : clipped;
    // The unclipped branch carries the gradient unless the clipped one is strictly larger
    // (r outside the range on the side where the advantage pushes it further out).
    t.clipped = clipped > unclipped;
    t.weight = t.clipped ? 0.0 : adv * t.r * scale;
    return t;
}

double dpo_term(double c, double c_ref, double r, double r_ref, double beta, double *weight) {
    double z = beta * ((c - c_ref) - (r - r_ref));
    // -log sigmoid(z) = log(1 + exp(-z)), computed without overflow for either sign.
    double loss = z > 0 ? log1p(exp(-z)) : -z + log1p(exp(z));
    if (weight) *weight = beta / (1.0 + exp(z));  // beta * sigmoid(-z)
    return loss;
}

void row_logp_sums(const float *logprob, const float *mask, int nrows, int T, double *sums,
                   int *counts) {
    for (int b = 0; b < nrows; b++) {
        double s = 0;
        int n = 0;
        for (int t = 0; t < T; t++)
            if (mask[b * T + t] != 0) {
                s += logprob[b * T + t];
                n++;
            }
        sums[b] = s;
        if (counts) counts[b] = n;
    }
}

void ppo_batch(const float *logprob, const float *mask, int B, int T, int nrows,
               const double *ref_sum, const float *const *ref_tok, const double *adv, double eps,
               RatioMode mode, double n_seq, float *w, BatchLoss *st) {
    memset(w, 0, (size_t)B * T * sizeof(float));
    for (int b = 0; b < nrows; b++) {
        const float *lp = logprob + (size_t)b * T, *mk = mask + (size_t)b * T;
        float *wb = w + (size_t)b * T;
        double sum;
        int n;
        row_logp_sums(lp, mk, 1, T, &sum, &n);
        if (n == 0) continue;
        if (mode == RATIO_PER_TOKEN) {
            double loss = 0, r = 0;
            int clipped = 0;
            for (int t = 0, j = 0; t < T; t++) {
                if (mk[t] == 0) continue;
                PpoTerm pt = ppo_term(lp[t], ref_tok[b][j++], 1, adv[b], eps, RATIO_SEQ);
                loss += pt.loss;
                r += pt.r;
                clipped += pt.clipped;
                wb[t] = (float)(pt.weight / n / n_seq);
            }
            st->loss += loss / n / n_seq;
            st->sum_r += r / n;
            st->clipped += (double)clipped / n;
            continue;
        }
        PpoTerm pt = ppo_term(sum, ref_sum[b], n, adv[b], eps, mode);
        st->loss += pt.loss / n_seq;
        st->sum_r += pt.r;
        st->clipped += pt.clipped;
        for (int t = 0; t < T; t++)
            if (mk[t] != 0) wb[t] = (float)(pt.weight / n_seq);
    }
}

void dpo_batch(const float *logprob, const float *mask, int B, int T, int npairs,
               const double *ref_sum, double beta, double n_pairs, float *w, BatchLoss *st) {
    memset(w, 0, (size_t)B * T * sizeof(float));
    for (int j = 0; j < npairs; j++) {
        double s[2];
        row_logp_sums(logprob + (size_t)2 * j * T, mask + (size_t)2 * j * T, 2, T, s, NULL);
        double wt;
        st->loss += dpo_term(s[0], ref_sum[2 * j], s[1], ref_sum[2 * j + 1], beta, &wt) / n_pairs;
        double z = beta * ((s[0] - ref_sum[2 * j]) - (s[1] - ref_sum[2 * j + 1]));
        st->sum_r += z;
        st->clipped += z < 0;
        for (int k = 0; k < 2; k++)
            for (int t = 0; t < T; t++) {
                size_t n = (size_t)(2 * j + k) * T + t;
                if (mask[n] != 0) w[n] = (float)((k ? -wt : wt) / n_pairs);
            }
    }
}
