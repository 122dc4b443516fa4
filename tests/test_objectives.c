// tests/test_objectives.c -- the length objectives of other papers (pruner/reward_length.h):
// hand-computed advantages of kimi, efficient, grpo-len (and Dr. GRPO), DAST's budget,
// scores and pairs, the SimPO term; then, for every objective of objective.h, its loss
// weights through the real model against finite differences of its loss.
#include <stdlib.h>
#include <string.h>

#include "../pruner/objective.h"
#include "test.h"
#include "tiny_model.h"

// One problem, K = 4: L = 100, 200, 300, 400, correct 1, 1, 0, 0.
static const int prob4[4] = {0, 0, 0, 0}, len4[4] = {100, 200, 300, 400}, cor4[4] = {1, 1, 0, 0};

static void check_adv(const char *what, LengthReward kind, LengthConfig c, const double *want_r, const double *want_a) {
    RewardInput in = {4, prob4, len4, cor4};
    int idx[4];
    double R[4], A[4];
    Err e;
    CHECK(length_advantages(kind, &c, &in, idx, R, A, &e) == 0, "%s: %s", what, e.msg);
    for (int i = 0; i < 4; i++) {
        CHECK(idx[i] == i, "%s: index %d is %d", what, i, idx[i]);
        CHECK_NEAR(R[i], want_r[i], 1e-12, 1e-12, what);
        CHECK_NEAR(A[i], want_a[i], 1e-12, 1e-12, what);
    }
}

static void test_advantages(void) {
    // kimi: lambda = 0.5 - (L - 100) / 300 = 1/2, 1/6, -1/6, -1/2; the wrong ones keep
    // min(0, lambda); R = c + that: 3/2, 7/6, -1/6, -1/2, mean 1/2.
    const double kr[4] = {1.5, 7.0 / 6, -1.0 / 6, -0.5}, ka[4] = {1, 2.0 / 3, -2.0 / 3, -1};
    check_adv("kimi", LEN_KIMI, (LengthConfig){0}, kr, ka);
    // efficient, alpha 0.2: the correct lengths 100, 200 have mean 150, std 50: z = -1, +1;
    // R = 1 - 0.2 sigmoid(z); RLOO: A_i = R_i - (sum - R_i) / 3, R_0 + R_1 = 1.8.
    double s = 1 / (1 + exp(1.0));
    const double er[4] = {1 - 0.2 * s, 1 - 0.2 * (1 - s), 0, 0};
    const double ea[4] = {0.6616156209680013, 0.5383843790319986, -0.6, -0.6};
    check_adv("efficient", LEN_EFFICIENT, (LengthConfig){.alpha = 0.2}, er, ea);
    // grpo-len, alpha 0.2: R = c - 0.2 L / 400 = 0.95, 0.9, -0.15, -0.2; mean 0.375,
    // population std 0.550567888638631; Dr. GRPO: R - mean.
    const double gr[4] = {0.95, 0.9, -0.15, -0.2};
    const double ga[4] = {1.0443762011289495, 0.9535608792916493, -0.9535608792916496, -1.0443762011289497};
    const double da[4] = {0.575, 0.525, -0.525, -0.575};
    check_adv("grpo-len", LEN_GRPO, (LengthConfig){.alpha = 0.2}, gr, ga);
    check_adv("grpo-len, Dr. GRPO", LEN_GRPO, (LengthConfig){.alpha = 0.2, .dr_grpo = 1}, gr, da);

    // Equal lengths: kimi's lambda and efficient's z are 0; grpo-len with equal R: A = 0.
    const int le[2] = {50, 50}, ce[2] = {1, 1}, p2[2] = {3, 3};
    RewardInput eq = {2, p2, le, ce};
    int idx[2];
    double R[2], A[2];
    Err e;
    CHECK(length_advantages(LEN_KIMI, &(LengthConfig){0}, &eq, idx, R, A, &e) == 0 && R[0] == 1 && A[0] == 0,
          "kimi, equal lengths: R %g A %g", R[0], A[0]);
    CHECK(length_advantages(LEN_EFFICIENT, &(LengthConfig){.alpha = 0.2}, &eq, idx, R, A, &e) == 0 && R[0] == 0.9,
          "efficient, equal lengths: R %g", R[0]);
    CHECK(length_advantages(LEN_GRPO, &(LengthConfig){.alpha = 0.2}, &eq, idx, R, A, &e) == 0 && A[0] == 0 &&
              A[1] == 0,
          "grpo-len, zero std: A %g %g", A[0], A[1]);
    // RLOO needs K >= 2; bad lengths are refused.
    const int p1[2] = {0, 1};
    RewardInput single = {2, p1, le, ce};
    CHECK(length_advantages(LEN_EFFICIENT, &(LengthConfig){0}, &single, idx, R, A, &e) == -1 &&
              strstr(e.msg, "K >= 2"),
          "efficient with K = 1: %s", e.msg);
    const int l0[2] = {-1, 5};
    RewardInput bad = {2, p2, l0, ce};
    CHECK(length_advantages(LEN_KIMI, &(LengthConfig){0}, &bad, idx, R, A, &e) == -1 && strstr(e.msg, "length -1"),
          "negative length: %s", e.msg);
}

static void test_dast(void) {
    RewardInput in = {4, prob4, len4, cor4};
    const int grp[4] = {0, 1, 2, 3};
    // p = 1/2, L_r = 150, L_max = 400: B = 75 + 200 = 275.
    double B = dast_budget(&in, grp, 4);
    CHECK_NEAR(B, 275, 1e-12, 0, "DAST budget");
    // lambda = (L - 275) / 275: 100 -> 0.5 + 0.5 * 175/275; 200 -> 0.5 + 0.5 * 75/275;
    // 300 (wrong) -> 0.5 * 25/275 - 0.5; 400 (wrong) -> 0.5 * 125/275 - 0.5.
    CHECK_NEAR(dast_score(100, 1, B), 0.5 + 87.5 / 275, 1e-12, 0, "score, short correct");
    CHECK_NEAR(dast_score(200, 1, B), 0.5 + 37.5 / 275, 1e-12, 0, "score, correct");
    CHECK_NEAR(dast_score(300, 0, B), 12.5 / 275 - 0.5, 1e-12, 0, "score, wrong");
    CHECK_NEAR(dast_score(400, 0, B), 62.5 / 275 - 0.5, 1e-12, 0, "score, long wrong");
    CHECK(dast_score(1000, 1, B) == 0.1 && dast_score(1000, 0, B) == -0.1, "DAST score floors");
    // All wrong: B = L_max; all right: B = their mean.
    const int w4[4] = {0, 0, 0, 0}, r4[4] = {1, 1, 1, 1};
    CHECK(dast_budget(&(RewardInput){4, prob4, len4, w4}, grp, 4) == 400, "budget with p = 0");
    CHECK(dast_budget(&(RewardInput){4, prob4, len4, r4}, grp, 4) == 250, "budget with p = 1");
    // Pairs: problem 0 above gives (0, 1) (shorter correct wins) and (3, 2) (longer wrong
    // wins); problem 1 (one correct, one wrong) none; problem 2: equal lengths, none.
    const int prob[8] = {0, 0, 0, 0, 1, 1, 2, 2}, len[8] = {100, 200, 300, 400, 10, 20, 30, 30};
    const int cor[8] = {1, 1, 0, 0, 1, 0, 1, 1};
    int out[8];
    Err e;
    int n = select_dast_pairs(&(RewardInput){8, prob, len, cor}, out, &e);
    const int want[4] = {0, 1, 3, 2};
    CHECK(n == 2, "DAST chose %d pairs, expected 2", n);
    for (int i = 0; i < 4 && n == 2; i++) CHECK(out[i] == want[i], "DAST row %d: %d, expected %d", i, out[i], want[i]);

    // SimPO: c = -6 over 3 tokens, r = -12 over 4, beta 2, gamma 1: z = 2 (-2 + 3) - 1 = 1.
    double z, wc, wr;
    double loss = simpo_term(-6, 3, -12, 4, 2, 1, &z, &wc, &wr);
    CHECK_NEAR(z, 1, 1e-15, 0, "SimPO z");
    CHECK_NEAR(loss, log1p(exp(-1.0)), 1e-12, 0, "SimPO loss");
    CHECK_NEAR(wc, 2 / (1 + exp(1.0)) / 3, 1e-12, 0, "SimPO chosen weight");
    CHECK_NEAR(wr, -2 / (1 + exp(1.0)) / 4, 1e-12, 0, "SimPO rejected weight");
    CHECK(isfinite(simpo_term(-1e5, 1, 0, 1, 2, 1, &z, &wc, &wr)), "SimPO overflow");
}

// ---- every objective through the real model --------------------------------------------

// The objective's loss of its rows (B = all of them, one step) with the current weights,
// and its weights w.
static double objective_loss(Objective *ob, Model *m, Acts *a, const Examples *x, float *w, float *mask, int first) {
    int B = ob->n_rows, tok[B * T], tgt[B * T], lens[B], rows[B];
    float lp[B * T];
    for (int i = 0; i < B; i++) rows[i] = i;
    batch_fill(x->ex, ob->sample, B, B, T, 0, tok, tgt, mask, lens);
    model_forward(m, a, tok, lens, B, T);
    model_loss(m, a, tgt, NULL, lp, B, T);
    if (first) {  // pi_ref: the current log-probs, offset so the ratios are not all 1
        const double r_at[4] = {1.0, 1.1, 0.95, 1.05};
        int cnt[B];
        row_logp_sums(lp, mask, B, T, ob->ref, cnt);
        for (int i = 0; i < B; i++) ob->ref[i] -= cnt[i] * log(r_at[i % 4]);
    }
    double wsum = 0, loss = 0;
    for (int j = 0; j < B * T; j++) wsum += mask[j];
    objective_step_begin(ob, ob->n_units, wsum);
    objective_weights(ob, rows, B, T, lp, mask, w, &loss);
    return loss;
}

// The 4 examples as one problem's K = 4 pre-samples (correct 1, 0, 1, 0): the objective's
// weights, backward, against central differences of its loss along random directions.
static void test_gradient(Model *m, const Examples *x, const char *name) {
    const int prob[NEX] = {0, 0, 0, 0}, cor[NEX] = {1, 0, 1, 0};
    int len[NEX];
    for (int i = 0; i < NEX; i++) len[i] = x->ex[i].completion_len;
    RewardConfig rc = reward_defaults();
    rc.m = 0;
    ObjectiveConfig c = {.reward = rc, .ratio = RATIO_TOKEN_MEAN, .eps = 0.2, .beta = 1, .length = {.alpha = 0.2},
                         .simpo_beta = 2, .simpo_gamma = 1};
    Err e;
    Objective ob;
    const ObjectiveOps *ops = objective_find(name, &e);
    CHECK(ops && objective_open(&ob, ops, &c, &(RewardInput){NEX, prob, len, cor}, len, NEX, "test", &e) == 0, "%s: %s",
          name, e.msg);
    Acts a;
    CHECK(model_alloc_grads(m, 0, &e) == 0 && acts_create(&a, m, ob.n_rows, T, ACTS_BACKWARD, 0, &e) == 0, "%s", e.msg);
    float w[ob.n_rows * T], mask[ob.n_rows * T];
    m->k->zero(m->grads_mem, m->n_params * sizeof(float));
    objective_loss(&ob, m, &a, x, w, mask, 1);
    model_backward(m, &a, w, ob.n_rows, T);

    size_t P = m->n_params;
    float *p = malloc(P * 4), *g = malloc(P * 4), *u = malloc(P * 4), *q = malloc(P * 4);
    m->k->download(p, m->params_mem, P * 4);
    m->k->download(g, m->grads_mem, P * 4);
    Rng r = rng_seed(9);
    const double h = 1e-3;
    double worst = 0;
    for (int dir = 0; dir < 3; dir++) {
        double gu = 0, l[2];
        for (size_t j = 0; j < P; j++) {
            u[j] = (float)rng_normal(&r);
            gu += (double)g[j] * u[j];
        }
        for (int s = 0; s < 2; s++) {
            for (size_t j = 0; j < P; j++) q[j] = p[j] + (float)((s ? -h : h) * u[j]);
            m->k->upload(m->params_mem, q, P * 4);
            l[s] = objective_loss(&ob, m, &a, x, w, mask, 0);
        }
        m->k->upload(m->params_mem, p, P * 4);
        double fd = (l[0] - l[1]) / (2 * h), err = fabs(fd - gu) / (fabs(gu) + 1e-3);
        CHECK(err < 2e-2 && fabs(gu) > 1e-3, "%s gradient, direction %d: finite difference %.6g vs backward %.6g",
              name, dir, fd, gu);
        if (err > worst) worst = err;
    }
    printf("%-12s gradient: %d rows, worst finite-difference relative error %.2e over 3 directions\n", name,
           ob.n_rows, worst);
    free(p);
    free(g);
    free(u);
    free(q);
    acts_free(&a, m);
    objective_free(&ob);
}

int main(void) {
    test_advantages();
    test_dast();
    Model m;
    Examples x;
    Err e;
    CHECK(tiny_model(&m, &x, &e) == 0, "%s", e.msg);
    const char *names[] = {"ppo", "sft-shortest", "dpo", "kimi", "efficient", "grpo-len", "dast"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) test_gradient(&m, &x, names[i]);
    model_free(&m);
    return test_summary();
}
