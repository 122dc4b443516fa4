// tests/test_reward.c -- the length-harmonizing reward and loss (pruner/reward.h):
// hand-computed rewards (lambda, clipping, z-scoring, leave-one-out, fixed baselines, the
// choice of m),
// the difficulty halves,
// the PPO term's branches, DPO, r = 1 at the first step whatever the batch layout, and
// the PPO gradient through the real model against finite differences of the PPO loss.
#include <stdlib.h>
#include <string.h>

#include "../base/rng.h"
#include "../data/batch.h"
#include "../model/model.h"
#include "../pruner/reward.h"
#include "test.h"
#include "tiny_model.h"

static RewardConfig plain(void) {  // everything off: raw R of all K samples
    RewardConfig c = reward_defaults();
    c.m = 0;
    c.clip = 0;
    c.normalize = 0;
    return c;
}

// One problem, K = 4: L = 100, 200, 300, 400, correct 1, 1, 0, 0; Lbar = 250, Abar = 0.5.
static const int prob4[4] = {0, 0, 0, 0}, len4[4] = {100, 200, 300, 400}, cor4[4] = {1, 1, 0, 0};
static const int prob2[2] = {7, 7}, len2[2] = {10, 1000}, cor2[2] = {1, 0};

static void check_values(const char *what, const RewardOut *o, const double *want, int n) {
    CHECK(o->n == n, "%s: %d kept, expected %d", what, o->n, n);
    for (int i = 0; i < n && i < o->n; i++) CHECK_NEAR(o->adv[i], want[i], 1e-12, 1e-12, what);
}

static void test_hand_cases(void) {
    Err e;
    RewardOut o;
    RewardInput in = {4, prob4, len4, cor4};
    RewardConfig c = plain();
    // R = 250/L - 1 + 2 (A - 0.5)
    CHECK(reward_compute(&c, &in, &o, &e) == 0, "%s", e.msg);
    const double raw[4] = {2.5, 1.25, -1.1666666666666665, -1.375};
    check_values("raw R, lambda 2", &o, raw, 4);
    for (int i = 0; i < 4; i++) CHECK(o.index[i] == i, "index %d is %d", i, o.index[i]);
    reward_free(&o);

    c.lambda = 0;  // the length term alone
    CHECK(reward_compute(&c, &in, &o, &e) == 0, "%s", e.msg);
    const double lam0[4] = {1.5, 0.25, -1.0 / 6, -0.375};
    check_values("lambda 0", &o, lam0, 4);
    reward_free(&o);

    c = plain();
    c.normalize = 1;  // z-score, population std
    CHECK(reward_compute(&c, &in, &o, &e) == 0, "%s", e.msg);
    const double z[4] = {1.343894524432435, 0.5795943209637515, -0.898052739075703, -1.0254361063204838};
    check_values("z-scored", &o, z, 4);
    CHECK_NEAR(o.mean, 0.30208333333333337, 1e-12, 1e-12, "mean of R");
    reward_free(&o);

    c = plain();
    c.leave_one_out = 1;  // sample 0: Lbar = 300, Abar = 1/3 -> 3 - 1 + 2 * 2/3
    CHECK(reward_compute(&c, &in, &o, &e) == 0, "%s", e.msg);
    const double loo[4] = {3.3333333333333335, 1.666666666666667, -1.5555555555555554, -1.8333333333333333};
    check_values("leave-one-out", &o, loo, 4);
    reward_free(&o);
    // Leave-one-out is exactly K/(K-1) times R: Lbar_-i/L_i - 1 = K/(K-1) (Lbar/L_i - 1)
    // and A_i - Abar_-i = K/(K-1) (A_i - Abar). So after z-scoring it changes nothing
    // unless the clip to [-2, 4] engages.
    for (int i = 0; i < 4; i++) CHECK_NEAR(loo[i], raw[i] * 4 / 3, 1e-12, 1e-12, "loo = K/(K-1) R");
    c.normalize = 1;
    CHECK(reward_compute(&c, &in, &o, &e) == 0, "%s", e.msg);
    check_values("leave-one-out z-scored = z-scored", &o, z, 4);
    reward_free(&o);
}

// Clipping, both ends: L = 10, 1000, correct 1, 0, lambda 4: Lbar = 505, Abar = 0.5
// R = 50.5 - 1 + 2 = 51.5 -> 4 and 0.505 - 1 - 2 = -2.495 -> -2; then z-scored:
// mean 1, std 3 -> +1, -1. All R equal: zero std gives zero advantages, not NaN.
static void test_clipping(void) {
    Err e;
    RewardOut o;
    RewardInput in2 = {2, prob2, len2, cor2};
    RewardConfig c = reward_defaults();
    c.lambda = 4;
    CHECK(reward_compute(&c, &in2, &o, &e) == 0, "%s", e.msg);
    const double clipped[2] = {1, -1};
    check_values("clipped + z-scored", &o, clipped, 2);
    CHECK(o.n_clipped == 2, "n_clipped %d", o.n_clipped);
    CHECK_NEAR(o.raw[0], 51.5, 1e-12, 1e-12, "raw before clipping");
    CHECK_NEAR(o.raw[1], -2.495, 1e-12, 1e-12, "raw before clipping");
    reward_free(&o);
    c.normalize = 0;  // clipped only
    CHECK(reward_compute(&c, &in2, &o, &e) == 0, "%s", e.msg);
    const double clip_only[2] = {4, -2};
    check_values("clipped only", &o, clip_only, 2);
    reward_free(&o);

    const int le[2] = {50, 50}, ce[2] = {1, 1};
    RewardInput ineq = {2, prob2, le, ce};
    CHECK(reward_compute(&c, &ineq, &o, &e) == 0, "%s", e.msg);
    reward_free(&o);
    c.normalize = 1;
    CHECK(reward_compute(&c, &ineq, &o, &e) == 0 && o.adv[0] == 0 && o.adv[1] == 0,
          "equal rewards: advantages %g %g", o.adv[0], o.adv[1]);
    reward_free(&o);
}

// Interleaved problems are grouped by problem: baselines per problem. An empty solution;
// bad input.
static void test_grouping(void) {
    Err e;
    RewardOut o;
    const int pi[4] = {1, 0, 1, 0}, li[4] = {10, 30, 30, 10}, ci[4] = {1, 0, 1, 0};
    RewardInput inter = {4, pi, li, ci};
    RewardConfig c = plain();
    CHECK(reward_compute(&c, &inter, &o, &e) == 0, "%s", e.msg);
    // problem 0: samples 1 (L 30) and 3 (L 10), Lbar 20, Abar 0; problem 1: 0 and 2, Abar 1
    const int want_idx[4] = {1, 3, 0, 2};
    const double want_r[4] = {20.0 / 30 - 1, 1, 1, 20.0 / 30 - 1};
    check_values("interleaved problems", &o, want_r, 4);
    for (int i = 0; i < 4; i++) CHECK(o.index[i] == want_idx[i], "interleaved index %d: %d", i, o.index[i]);
    reward_free(&o);

    // An empty solution (L = 0) is in Lbar as 0 and counts as 1 in L(y): Lbar = 2,
    // R = 2/1 - 1 + 2 (1 - 0.5) = 2 and 2/4 - 1 + 2 (0 - 0.5) = -1.5.
    const int len0[2] = {0, 4};
    RewardInput empty = {2, prob2, len0, cor2};
    CHECK(reward_compute(&c, &empty, &o, &e) == 0, "%s", e.msg);
    const double want0[2] = {2, -1.5};
    check_values("an empty solution", &o, want0, 2);
    reward_free(&o);

    // Bad input: a negative length, correct not 0/1, leave-one-out with K = 1.
    const int bad_len[2] = {-1, 5};
    RewardInput bad = {2, prob2, bad_len, cor2};
    CHECK(reward_compute(&c, &bad, &o, &e) == -1 && strstr(e.msg, "length -1"), "negative length: %s", e.msg);
    const int bad_c[2] = {2, 0};
    RewardInput bad2 = {2, prob2, len2, bad_c};
    CHECK(reward_compute(&c, &bad2, &o, &e) == -1, "correct = 2 accepted");
    const int p1[2] = {0, 1};
    RewardInput single = {2, p1, len2, cor2};
    c.leave_one_out = 1;
    CHECK(reward_compute(&c, &single, &o, &e) == -1 && strstr(e.msg, "K >= 2"), "loo K=1: %s", e.msg);
}

// m = 2 of K = 8 for 50 problems: 2 distinct samples of the right problem each, the same
// for the same seed, different for another seed, and not always the first two.
// Fixed baselines (prune --rounds, --baseline ref): Lbar, Abar of problem 0 given, not the
// group's; leave-one-out does not apply to them.
static void test_fixed_baselines(void) {
    Err e;
    RewardOut o;
    const double bl[1] = {500}, ba[1] = {0.25};
    RewardInput in = {4, prob4, len4, cor4};
    RewardConfig c = plain();
    c.leave_one_out = 1;
    c.base_length = bl;
    c.base_accuracy = ba;
    // R = 500/L - 1 + 2 (A - 0.25)
    CHECK(reward_compute(&c, &in, &o, &e) == 0, "%s", e.msg);
    const double want[4] = {5.5, 3.0, 2.0 / 3 - 0.5, 0.25 - 0.5};
    check_values("fixed baselines", &o, want, 4);
    reward_free(&o);
}

static void test_choice_of_m(void) {
    enum { P = 50, K = 8, N = P * K };
    int prob[N], len[N], cor[N];
    Rng r = rng_seed(5);
    for (int i = 0; i < N; i++) {
        prob[i] = i / K;
        len[i] = 20 + (int)rng_below(&r, 200);
        cor[i] = (int)rng_below(&r, 2);
    }
    RewardInput in = {N, prob, len, cor};
    RewardConfig c = reward_defaults();
    RewardOut a, b, d;
    Err e;
    c.seed = 11;
    CHECK(reward_compute(&c, &in, &a, &e) == 0 && reward_compute(&c, &in, &b, &e) == 0, "%s", e.msg);
    c.seed = 12;
    CHECK(reward_compute(&c, &in, &d, &e) == 0, "%s", e.msg);
    CHECK(a.n == 2 * P, "kept %d, expected %d", a.n, 2 * P);
    int ok = 1, same = 1, differs = 0, beyond_first_two = 0;
    for (int j = 0; j < a.n; j++) {
        int p = j / 2;
        ok &= prob[a.index[j]] == p;
        if (j % 2) ok &= a.index[j] > a.index[j - 1];
        same &= a.index[j] == b.index[j] && a.adv[j] == b.adv[j];
        differs |= a.index[j] != d.index[j];
        beyond_first_two |= a.index[j] % K >= 2;
    }
    CHECK(ok, "m = 2: each problem gets 2 distinct samples of its own, in order");
    CHECK(same, "m = 2: same seed, different choice");
    CHECK(differs, "m = 2: another seed gives the same choice");
    CHECK(beyond_first_two, "m = 2: only the first two samples are ever chosen");
    // z-scored over the kept set: mean 0, std 1.
    double s = 0, s2 = 0;
    for (int j = 0; j < a.n; j++) s += a.adv[j], s2 += a.adv[j] * a.adv[j];
    CHECK_NEAR(s / a.n, 0, 0, 1e-12, "mean advantage");
    CHECK_NEAR(s2 / a.n, 1, 1e-12, 0, "advantage variance");
    reward_free(&a);
    reward_free(&b);
    reward_free(&d);
    c.m = 100;  // more than K: all K
    CHECK(reward_compute(&c, &in, &a, &e) == 0 && a.n == N, "m > K keeps %d", a.n);
    reward_free(&a);
}

// The baselines' choices: problem 0: L 50 (wrong), 30 (right), 40 (right), 30 (right),
// 90 (wrong); problem 1: all wrong; problem 2: one sample, right; problem 3 (interleaved):
// 20 right, 20 right; problem 4: 25 wrong, 12 right, 60 wrong; problem 5: 70 right,
// 10 right, 40 right.
static void test_baseline_selection(void) {
    const int prob[16] = {0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 3, 4, 4, 5, 5, 5};
    const int len[16] = {50, 30, 40, 30, 90, 10, 20, 15, 20, 25, 20, 12, 60, 70, 10, 40};
    const int cor[16] = {0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1};
    RewardInput in = {16, prob, len, cor};
    int out[32];
    Err e;
    // sft-shortest: the 2 shortest correct (the tie at 30 goes to the earlier, then the
    // other 30); problem 1 none; problem 2 its only one; problem 3 both; problem 4 its
    // only one; problem 5: 10, 40.
    int n = select_shortest_correct(&in, 2, out, &e);
    const int want[8] = {1, 3, 7, 8, 10, 11, 14, 15};
    CHECK(n == 8, "sft-shortest chose %d samples, expected 8", n);
    for (int i = 0; i < 8 && i < n; i++)
        CHECK(out[i] == want[i], "sft-shortest %d: %d, expected %d", i, out[i], want[i]);
    // DPO: each of the 2 shortest correct against the longest of the rest. Problem 0:
    // (1, 4), (3, 4); problems 1, 2, 3: none (no correct sample; no other sample; both
    // samples chosen); problem 4: one correct, one pair (11, 12: the longest, not 9);
    // problem 5: the rejected is correct (13, L 70).
    n = select_dpo_pairs(&in, out, &e);
    const int pairs[10] = {1, 4, 3, 4, 11, 12, 14, 13, 15, 13};
    CHECK(n == 5, "DPO chose %d pairs, expected 5", n);
    for (int i = 0; i < 10 && n == 5; i++)
        CHECK(out[i] == pairs[i], "DPO row %d: %d, expected %d", i, out[i], pairs[i]);
}

// The difficulty halves: ranked by Abar, highest first, ties to the lower index.
static void test_difficulty_half(void) {
    // ranking: 4 (1.0), 1 (0.75), 2 (0.5), 5 (0.5), 0 (0.25), 3 (0.0), 6 (0.0)
    const double acc[7] = {0.25, 0.75, 0.5, 0.0, 1.0, 0.5, 0.0};
    unsigned char keep[7];
    Err e;
    CHECK(select_difficulty_half(acc, 7, 0, keep, &e) == 0, "%s", e.msg);
    const unsigned char easier[7] = {0, 1, 1, 0, 1, 0, 0};  // the first 7 / 2 = 3: 4, 1, 2
    CHECK(!memcmp(keep, easier, 7), "easier half: %d%d%d%d%d%d%d", keep[0], keep[1], keep[2], keep[3], keep[4],
          keep[5], keep[6]);
    CHECK(select_difficulty_half(acc, 7, 1, keep, &e) == 0, "%s", e.msg);
    for (int p = 0; p < 7; p++) CHECK(keep[p] == !easier[p], "harder half: problem %d", p);
    // all tied: the lower indices are the easier half
    const double same[4] = {0.5, 0.5, 0.5, 0.5};
    CHECK(select_difficulty_half(same, 4, 0, keep, &e) == 0 && keep[0] && keep[1] && !keep[2] && !keep[3],
          "ties by index");
}

static void test_ppo_term(void) {
    const int n = 4;
    const double eps = 0.2;
    // r = 1 exactly when the sums agree: loss -A, weight A / |y|.
    PpoTerm t = ppo_term(-7.5, -7.5, n, 1.5, eps, RATIO_TOKEN_MEAN);
    CHECK(t.r == 1.0 && !t.clipped, "r at equal sums: %.17g", t.r);
    CHECK_NEAR(t.loss, -1.5, 1e-15, 0, "loss at r = 1");
    CHECK_NEAR(t.weight, 1.5 / n, 1e-15, 0, "weight at r = 1");
    // r = 1.5 (mean log-prob up by log 1.5): A > 0 is clipped at 1.2 (no gradient) ...
    double up = n * log(1.5), down = n * log(0.5);
    t = ppo_term(up, 0, n, 1, eps, RATIO_TOKEN_MEAN);
    CHECK_NEAR(t.r, 1.5, 1e-12, 0, "r");
    CHECK(t.clipped && t.weight == 0, "A > 0, r = 1.5 should be clipped");
    CHECK_NEAR(t.loss, -1.2, 1e-12, 0, "clipped loss");
    // ... A < 0 is not: loss -A r = 1.5 and weight A r / |y|.
    t = ppo_term(up, 0, n, -1, eps, RATIO_TOKEN_MEAN);
    CHECK(!t.clipped, "A < 0, r = 1.5 should not be clipped");
    CHECK_NEAR(t.loss, 1.5, 1e-12, 0, "loss");
    CHECK_NEAR(t.weight, -1.5 / n, 1e-12, 0, "weight");
    // r = 0.5: A > 0 keeps its gradient, A < 0 is clipped at 0.8.
    t = ppo_term(down, 0, n, 2, eps, RATIO_TOKEN_MEAN);
    CHECK(!t.clipped, "A > 0, r = 0.5 clipped");
    CHECK_NEAR(t.loss, -1.0, 1e-12, 0, "loss");
    CHECK_NEAR(t.weight, 2 * 0.5 / n, 1e-12, 0, "weight");
    t = ppo_term(down, 0, n, -2, eps, RATIO_TOKEN_MEAN);
    CHECK(t.clipped && t.weight == 0, "A < 0, r = 0.5 not clipped");
    CHECK_NEAR(t.loss, 1.6, 1e-12, 0, "loss");
    // The sequence-level ratio: exp(sum - sum), weight A r.
    t = ppo_term(log(1.1), 0, n, 1, eps, RATIO_SEQ);
    CHECK_NEAR(t.r, 1.1, 1e-12, 0, "sequence ratio");
    CHECK_NEAR(t.weight, 1.1, 1e-12, 0, "sequence weight");
    // DPO at the reference: log 2 and beta / 2; chosen far ahead: loss ~ 0.
    double w;
    CHECK_NEAR(dpo_term(-3, -3, -9, -9, 0.1, &w), log(2.0), 1e-12, 0, "DPO loss at the reference");
    CHECK_NEAR(w, 0.05, 1e-12, 0, "DPO weight at the reference");
    CHECK(dpo_term(0, -500, 0, 0, 0.1, &w) < 1e-20 && w < 1e-20, "DPO saturated: %g", w);
    CHECK(isfinite(dpo_term(-1e4, 0, 0, 0, 0.1, &w)), "DPO overflow");
}

// ---- through the real model ----------------------------------------------------------
// Sums of the solution log-probs of examples idx[0..n) in one (B, T') batch, and the
// log-probs themselves: example idx[i]'s in order at tok_lp[idx[i]][0..].
static void sums_in_batch(Model *m, const Examples *x, const int *idx, int n, int B, int Tb, double *sums,
                          float tok_lp[NEX][T]) {
    Err e;
    Acts a;
    CHECK(acts_create(&a, m, B, Tb, ACTS_FORWARD, 0, &e) == 0, "%s", e.msg);
    int tok[B * Tb], tgt[B * Tb], lens[B];
    float mask[B * Tb], lp[B * Tb];
    batch_fill(x->ex, idx, n, B, Tb, 0, tok, tgt, mask, lens);
    for (int b = n; b < B; b++) lens[b] = 1;  // empty rows: one pad token, no target
    model_forward(m, &a, tok, lens, B, Tb);
    model_loss(m, &a, tgt, NULL, lp, B, Tb);
    row_logp_sums(lp, mask, n, Tb, sums, NULL);
    for (int i = 0; i < n; i++)
        for (int t = 0, j = 0; t < Tb; t++)
            if (mask[i * Tb + t] != 0) tok_lp[idx[i]][j++] = lp[i * Tb + t];
    acts_free(&a, m);
}

// The reference log-probs computed once in one batch layout, the first step's in
// another (other B, T, row order, padding rows): r = 1 to 1e-5 for every sequence, and
// for every token (--ratio per-token).
static void test_ratio_one_at_start(Model *m, const Examples *x) {
    double ref[NEX], s[NEX];
    float ref_tok[NEX][T], s_tok[NEX][T];
    const int all[NEX] = {0, 1, 2, 3};
    sums_in_batch(m, x, all, NEX, NEX, T, ref, ref_tok);
    for (int i = 0; i < NEX; i++) {
        int one = NEX - 1 - i;
        sums_in_batch(m, x, &one, 1, 3, T + 5, &s[one], s_tok);
    }
    double worst = 0;
    for (int i = 0; i < NEX; i++) {
        PpoTerm t = ppo_term(s[i], ref[i], x->ex[i].completion_len, 1.0, 0.2, RATIO_TOKEN_MEAN);
        CHECK_NEAR(t.r, 1.0, 0, 1e-5, "r at the first step");
        for (int j = 0; j < x->ex[i].completion_len; j++) {
            double r = exp((double)s_tok[i][j] - ref_tok[i][j]);
            if (fabs(r - 1) > worst) worst = fabs(r - 1);
        }
    }
    CHECK(worst < 1e-5, "per-token r at the first step: off by %.3g", worst);
}

static double ppo_loss_of(Model *m, Acts *a, const int *tok, const int *tgt, const int *lens,
                          const float *mask, const double *ref, const float *const *ref_tok,
                          const double *adv, RatioMode mode, float *w) {
    float lp[NEX * T];
    model_forward(m, a, tok, lens, NEX, T);
    model_loss(m, a, tgt, NULL, lp, NEX, T);
    BatchLoss st = {0};
    ppo_batch(lp, mask, NEX, T, NEX, ref, ref_tok, adv, 0.2, mode, NEX, w, &st);
    return st.loss;
}

// d loss / d params from the engine's cross-entropy backward with the PPO weights,
// against central differences of the PPO loss along random directions.
// RATIO_TOKEN_MEAN: the reference sums are offset so that the four sequences sit at
// r = 1, 1.5 (A > 0: clipped, no gradient), 0.6 (A > 0: unclipped) and 1.4 (A < 0:
// unclipped). RATIO_PER_TOKEN: each token's reference log-prob is offset so that the
// tokens of a sequence go through r_t = 1, 1.5, 0.6, 1.4, 0.7: with A > 0 the tokens at
// 1.5 and 1.4 are clipped, with A < 0 the one at 0.6 and the one at 0.7.
static void test_ppo_gradient(Model *m, const Examples *x, RatioMode mode) {
    const char *name = mode == RATIO_PER_TOKEN ? "per-token PPO" : "PPO";
    Err e;
    Acts a;
    CHECK(model_alloc_grads(m, 0, &e) == 0 && acts_create(&a, m, NEX, T, ACTS_BACKWARD, 0, &e) == 0, "%s", e.msg);
    int tok[NEX * T], tgt[NEX * T], lens[NEX];
    float mask[NEX * T], w[NEX * T], lp[NEX * T];
    const int all[NEX] = {0, 1, 2, 3};
    batch_fill(x->ex, all, NEX, NEX, T, 0, tok, tgt, mask, lens);
    model_forward(m, &a, tok, lens, NEX, T);
    model_loss(m, &a, tgt, NULL, lp, NEX, T);
    double sums[NEX], ref[NEX];
    int cnt[NEX];
    row_logp_sums(lp, mask, NEX, T, sums, cnt);
    const double r_at[NEX] = {1.0, 1.5, 0.6, 1.4}, adv[NEX] = {0.7, 1.2, 0.9, -1.1};
    for (int i = 0; i < NEX; i++) ref[i] = sums[i] - cnt[i] * log(r_at[i]);
    // per token: r_t cycles through r_tok; the loss of a token is -A r_t, or -A clip(r_t)
    const double r_tok[5] = {1.0, 1.5, 0.6, 1.4, 0.7};
    float ref_tok_mem[NEX][T];
    const float *ref_tok[NEX];
    double want_tok = 0;
    for (int i = 0; i < NEX; i++) {
        double sum = 0;
        for (int t = 0, j = 0; t < T; t++) {
            if (mask[i * T + t] == 0) continue;
            double r = r_tok[j % 5], rc = r < 0.8 ? 0.8 : r > 1.2 ? 1.2 : r;
            ref_tok_mem[i][j++] = (float)(lp[i * T + t] - log(r));
            sum += fmax(-adv[i] * r, -adv[i] * rc);
        }
        ref_tok[i] = ref_tok_mem[i];
        want_tok += sum / cnt[i] / NEX;
    }

    m->k->zero(m->grads_mem, m->n_params * sizeof(float));
    double loss0 = ppo_loss_of(m, &a, tok, tgt, lens, mask, ref, ref_tok, adv, mode, w);
    double want = mode == RATIO_PER_TOKEN ? want_tok : (-0.7 * 1.0 - 1.2 * 1.2 - 0.9 * 0.6 + 1.1 * 1.4) / NEX;
    CHECK_NEAR(loss0, want, 1e-5, 1e-6, mode == RATIO_PER_TOKEN ? "per-token PPO loss" : "PPO loss");
    if (mode == RATIO_PER_TOKEN) {
        // sequence 0 (A > 0): its 2nd and 4th tokens are clipped; sequence 3 (A < 0): its 3rd and 5th
        int first0 = 0, first3 = 0;
        while (mask[first0] == 0) first0++;
        while (mask[3 * T + first3] == 0) first3++;
        CHECK(w[first0] != 0 && w[first0 + 1] == 0 && w[first0 + 2] != 0 && w[first0 + 3] == 0,
              "per-token clipping of sequence 0");
        CHECK(w[3 * T + first3 + 1] != 0 && w[3 * T + first3 + 2] == 0 && w[3 * T + first3 + 4] == 0,
              "per-token clipping of sequence 3");
    } else {
        for (int t = 0; t < T; t++) CHECK(w[1 * T + t] == 0, "clipped sequence has weight %g", w[T + t]);
    }
    model_backward(m, &a, w, NEX, T);

    size_t P = m->n_params;
    float *p = malloc(P * 4), *g = malloc(P * 4), *u = malloc(P * 4), *q = malloc(P * 4);
    m->k->download(p, m->params_mem, P * 4);
    m->k->download(g, m->grads_mem, P * 4);
    Rng r = rng_seed(9);
    const double h = 1e-3;
    double worst = 0;
    for (int dir = 0; dir < 4; dir++) {
        double gu = 0;
        for (size_t j = 0; j < P; j++) {
            u[j] = (float)rng_normal(&r);
            gu += (double)g[j] * u[j];
        }
        double l[2];
        for (int s = 0; s < 2; s++) {
            for (size_t j = 0; j < P; j++) q[j] = p[j] + (float)((s ? -h : h) * u[j]);
            m->k->upload(m->params_mem, q, P * 4);
            l[s] = ppo_loss_of(m, &a, tok, tgt, lens, mask, ref, ref_tok, adv, mode, w);
        }
        m->k->upload(m->params_mem, p, P * 4);
        double fd = (l[0] - l[1]) / (2 * h), err = fabs(fd - gu) / (fabs(gu) + 1e-3);
        CHECK(err < 2e-2 && fabs(gu) > 1e-2, "%s gradient, direction %d: finite difference %.6g vs backward %.6g", name,
              dir, fd, gu);
        if (err > worst) worst = err;
    }
    printf("%s gradient: worst finite-difference relative error %.2e over 4 directions\n", name, worst);
    free(p);
    free(g);
    free(u);
    free(q);
    acts_free(&a, m);
}

int main(void) {
    test_hand_cases();
    test_fixed_baselines();
    test_clipping();
    test_grouping();
    test_choice_of_m();
    test_baseline_selection();
    test_difficulty_half();
    test_ppo_term();
    Model m;
    Examples x;
    Err e;
    CHECK(tiny_model(&m, &x, &e) == 0, "%s", e.msg);
    test_ratio_one_at_start(&m, &x);
    test_ppo_gradient(&m, &x, RATIO_TOKEN_MEAN);
    test_ppo_gradient(&m, &x, RATIO_PER_TOKEN);
    model_free(&m);
    return test_summary();
}
