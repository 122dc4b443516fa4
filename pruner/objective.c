// pruner/objective.c -- prune's objectives (see objective.h; the math is in reward.h).
#include "objective.h"

#include <stdlib.h>
#include <string.h>

#include "../engine/dist.h"

// Room for n_units units of rpu rows.
static int alloc_rows(Objective *ob, int n_units, int rpu, Err *e) {
    ob->n_units = n_units;
    ob->rows_per_unit = rpu;
    ob->n_rows = n_units * rpu;
    size_t n = ob->n_rows ? (size_t)ob->n_rows : 1;
    ob->sample = calloc(n, sizeof *ob->sample);
    ob->ref = calloc(n, sizeof *ob->ref);
    if (!ob->sample || !ob->ref) return err_fmt(e, "out of memory for %d training units", n_units);
    return 0;
}

// Room for pi_ref's log-probs of every trained token of every row (RATIO_PER_TOKEN);
// pre-sample i trains at most n_tokens[i].
static int alloc_ref_tok(Objective *ob, const int *n_tokens, Err *e) {
    int rows = ob->n_rows;
    ob->ref_off = malloc(((size_t)rows + 1) * sizeof *ob->ref_off);
    ob->ref_n = calloc(rows ? (size_t)rows : 1, sizeof *ob->ref_n);
    if (!ob->ref_off || !ob->ref_n) return err_fmt(e, "out of memory");
    ob->ref_off[0] = 0;
    for (int i = 0; i < rows; i++) ob->ref_off[i + 1] = ob->ref_off[i] + (size_t)n_tokens[ob->sample[i]];
    ob->ref_tok = malloc((ob->ref_off[rows] ? ob->ref_off[rows] : 1) * sizeof *ob->ref_tok);
    if (!ob->ref_tok) return err_fmt(e, "out of memory for %zu reference log-probs", ob->ref_off[rows]);
    return 0;
}

// ---- ppo: the kept samples of reward_compute, with their advantages -------------------

static int ppo_select(Objective *ob, const RewardInput *in, int k, const char *src, Err *e) {
    const RewardConfig *rc = &ob->c.reward;
    // reward_compute keeps the same number of samples of every problem, consecutive
    int per_problem = rc->m <= 0 || rc->m > k ? k : rc->m;
    if (reward_compute(rc, in, &ob->rw, e)) return err_wrap(e, "%s", src);
    int rpu = ob->c.group ? per_problem : 1;
    if (alloc_rows(ob, ob->rw.n / rpu, rpu, e)) return -1;
    ob->adv = malloc((size_t)ob->rw.n * sizeof(double));
    if (!ob->adv) return err_fmt(e, "out of memory");
    for (int j = 0; j < ob->rw.n; j++) {
        ob->sample[j] = ob->rw.index[j];
        ob->adv[j] = ob->rw.adv[j];
    }
    return 0;
}

static void ppo_weights(Objective *ob, const int *rows, int B, int T, const float *logprob, const float *mask,
                        float *w, BatchLoss *st) {
    double ref[B], adv[B];
    const float *ref_tok[B];
    for (int b = 0; b < B; b++) {
        ref[b] = ob->ref[rows[b]];
        adv[b] = ob->adv[rows[b]];
        ref_tok[b] = ob->ref_tok ? ob->ref_tok + ob->ref_off[rows[b]] : NULL;
    }
    ppo_batch(logprob, mask, B, T, B, ref, ref_tok, adv, ob->c.eps, ob->c.ratio, ob->n_terms, w, st);
}

// ---- the baselines: rows picked by reward.h's selections ------------------------------

// n units of rpu rows from pick[0 .. n rpu); n <= 0 is an error (what = the units, why:
// what no problem has).
static int keep_picks(Objective *ob, const int *pick, int n, int rpu, const char *src, const char *what,
                      const char *why, Err *e) {
    if (n < 0) return -1;
    if (n == 0) return err_fmt(e, "%s: no training %s (no problem has %s)", src, what, why);
    if (alloc_rows(ob, n, rpu, e)) return -1;
    memcpy(ob->sample, pick, (size_t)n * rpu * sizeof *pick);
    return 0;
}

static int shortest_select(Objective *ob, const RewardInput *in, int k, const char *src, Err *e) {
    (void)k;
    int *pick = malloc((size_t)in->n * sizeof(int));
    if (!pick) return err_fmt(e, "out of memory");
    int rc = keep_picks(ob, pick, select_shortest_correct(in, 2, pick, e), 1, src, "samples", "a correct sample", e);
    free(pick);
    return rc;
}

// w = mask / (the step's trained tokens): the gradient of the mean cross-entropy.
static void shortest_weights(Objective *ob, const int *rows, int B, int T, const float *logprob,
                             const float *mask, float *w, BatchLoss *st) {
    (void)rows;
    for (int j = 0; j < B * T; j++) {
        w[j] = (float)(mask[j] / ob->wsum);
        st->loss -= w[j] * logprob[j];
    }
}

static int dpo_select(Objective *ob, const RewardInput *in, int k, const char *src, Err *e) {
    (void)k;
    int *pick = malloc((size_t)in->n * 2 * sizeof(int));
    if (!pick) return err_fmt(e, "out of memory");
    int rc = keep_picks(ob, pick, select_dpo_pairs(in, pick, e), 2, src, "pairs", "a correct sample and another one",
                        e);
    free(pick);
    return rc;
}

// Rows (2j, 2j+1) = (chosen, rejected).
static void dpo_weights(Objective *ob, const int *rows, int B, int T, const float *logprob, const float *mask,
                        float *w, BatchLoss *st) {
    double ref[B];
    for (int b = 0; b < B; b++) ref[b] = ob->ref[rows[b]];
    dpo_batch(logprob, mask, B, T, B / 2, ref, ob->c.beta, ob->n_terms, w, st);
}

// ---- kimi, efficient, grpo-len: every sample with reward_length.h's advantages, PPO's loss

static int length_select(Objective *ob, const RewardInput *in, LengthReward kind, Err *e) {
    if (alloc_rows(ob, in->n, 1, e)) return -1;
    ob->adv = malloc((size_t)in->n * sizeof(double));
    double *reward = malloc((size_t)in->n * sizeof(double));
    int rc = !ob->adv || !reward ? err_fmt(e, "out of memory")
                                 : length_advantages(kind, &ob->c.length, in, ob->sample, reward, ob->adv, e);
    free(reward);
    return rc ? -1 : 0;
}

static int kimi_select(Objective *ob, const RewardInput *in, int k, const char *src, Err *e) {
    (void)k;
    return length_select(ob, in, LEN_KIMI, e) ? err_wrap(e, "%s", src) : 0;
}

static int efficient_select(Objective *ob, const RewardInput *in, int k, const char *src, Err *e) {
    (void)k;
    return length_select(ob, in, LEN_EFFICIENT, e) ? err_wrap(e, "%s", src) : 0;
}

static int grpo_len_select(Objective *ob, const RewardInput *in, int k, const char *src, Err *e) {
    (void)k;
    return length_select(ob, in, LEN_GRPO, e) ? err_wrap(e, "%s", src) : 0;
}

// ---- dast: DAST's budget pairs, SimPO's loss ------------------------------------------

static int dast_select(Objective *ob, const RewardInput *in, int k, const char *src, Err *e) {
    (void)k;
    int *pick = malloc((size_t)in->n * sizeof(int));
    if (!pick) return err_fmt(e, "out of memory");
    int n = select_dast_pairs(in, pick, e);
    int rc = n < 0 ? err_wrap(e, "%s", src)
                   : keep_picks(ob, pick, n, 2, src, "pairs",
                                           "two correct or two wrong samples whose DAST scores differ", e);
    free(pick);
    return rc;
}

// Rows (2j, 2j+1) = (chosen, rejected).
static void dast_weights(Objective *ob, const int *rows, int B, int T, const float *logprob, const float *mask,
                         float *w, BatchLoss *st) {
    (void)rows;
    simpo_batch(logprob, mask, B, T, B / 2, ob->c.simpo_beta, ob->c.simpo_gamma, ob->n_terms, w, st);
}

static const ObjectiveOps objectives[] = {
    {"ppo", "sequences", 0, 1, ppo_select, ppo_weights},
    {"sft-shortest", "sequences", 0, 0, shortest_select, shortest_weights},
    {"dpo", "pairs", 1, 1, dpo_select, dpo_weights},
    {"kimi", "sequences", 0, 1, kimi_select, ppo_weights},
    {"efficient", "sequences", 0, 1, efficient_select, ppo_weights},
    {"grpo-len", "sequences", 0, 1, grpo_len_select, ppo_weights},
    {"dast", "pairs", 1, 0, dast_select, dast_weights},
};

const ObjectiveOps *objective_find(const char *name, Err *e) {
    for (size_t i = 0; i < sizeof objectives / sizeof *objectives; i++)
        if (!strcmp(objectives[i].name, name)) return &objectives[i];
    err_fmt(e, "--objective must be ppo, sft-shortest, dpo, kimi, efficient, grpo-len or dast, not '%s'", name);
    return NULL;
}

int objective_ratio_find(const char *name, RatioMode *out, Err *e) {
    if (!strcmp(name, "token")) *out = RATIO_TOKEN_MEAN;
    else if (!strcmp(name, "seq")) *out = RATIO_SEQ;
    else if (!strcmp(name, "per-token")) *out = RATIO_PER_TOKEN;
    else return err_fmt(e, "--ratio must be token, seq or per-token, not '%s'", name);
    return 0;
}

int objective_open(Objective *ob, const ObjectiveOps *ops, const ObjectiveConfig *c, const RewardInput *in,
                   const int *n_tokens, int k, const char *src, Err *e) {
    memset(ob, 0, sizeof *ob);
    ob->ops = ops;
    ob->c = *c;
    if (ops->select(ob, in, k, src, e)) return -1;
    return ob->adv && c->ratio == RATIO_PER_TOKEN ? alloc_ref_tok(ob, n_tokens, e) : 0;
}

void objective_free(Objective *ob) {
    free(ob->sample);
    free(ob->adv);
    free(ob->ref);
    free(ob->ref_tok);
    free(ob->ref_off);
    free(ob->ref_n);
    reward_free(&ob->rw);
    memset(ob, 0, sizeof *ob);
}

int objective_terms(const Objective *ob, int units) {
    return ob->ops->per_pair ? units : units * ob->rows_per_unit;
}

void objective_step_begin(Objective *ob, int units, double wsum) {
    ob->n_terms = objective_terms(ob, units);
    ob->wsum = wsum;
    memset(&ob->st, 0, sizeof ob->st);
}

void objective_weights(Objective *ob, const int *rows, int B, int T, const float *logprob, const float *mask,
                       float *w, double *loss) {
    ob->st.loss = *loss;  // one running sum, added to row by row
    ob->ops->weights(ob, rows, B, T, logprob, mask, w, &ob->st);
    *loss = ob->st.loss;
}

void objective_step_end(Objective *ob) {
    double x[2] = {ob->st.sum_r, ob->st.clipped};
    dist_sum_doubles(x, 2);
    ob->st.sum_r = x[0];
    ob->st.clipped = x[1];
}

double objective_mean_r(const Objective *ob) {
    return ob->ops->uses_ref || ob->ops->per_pair ? ob->st.sum_r / ob->n_terms : 1.0;
}

double objective_frac_clipped(const Objective *ob) {
    return ob->ops->uses_ref || ob->ops->per_pair ? ob->st.clipped / ob->n_terms : 0.0;
}
