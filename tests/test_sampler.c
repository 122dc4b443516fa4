// tests/test_sampler.c -- the batched sampler: one-token sampling rules on fixed logits,
// and whole runs whose results must not depend on the slot count, the thread count, the
// prefill chunk or prompt sharing.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../base/rng.h"
#include "../model/model.h"
#include "../engine/sampler.h"
#include "random_weights.h"
#include "test.h"
#include "test_config.h"

// ---- sample_token on fixed logits ---------------------------------------------------

// Empirical frequencies of n draws.
static void draw(SampleScratch *sc, const float *l, float T, int k, float p, int n, double *freq) {
    Rng r = rng_seed(42);
    memset(freq, 0, sc->V * sizeof *freq);
    for (int i = 0; i < n; i++) freq[sample_token(sc, l, T, k, p, &r, NULL)] += 1.0 / n;
}

// Greedy, its ties, top_k = 1 and a scratch narrower than the row (sc: V ids; pr, l: the
// probabilities and their logs).
static void test_sample_greedy(SampleScratch *sc, const double *pr, const float *l) {
    enum { V = 6 };
    Err e;
    Rng r = rng_seed(1);
    double lp;
    // greedy, and its log-prob at temperature 1
    CHECK(sample_token(sc, l, 0, 0, 1, &r, &lp) == 0, "greedy picks the most probable");
    CHECK_NEAR(lp, log(pr[0]), 1e-6, 1e-6, "greedy log-prob");
    CHECK(r.state == 1, "greedy draws nothing from the rng");
    // greedy ties go to the lowest id
    float tie[V] = {0, 3, 1, 3, 3, 2};
    CHECK(sample_token(sc, tie, 0, 0, 1, &r, NULL) == 1, "greedy tie -> lowest id");
    // top_k = 1 is greedy whatever the temperature
    int all1 = 1;
    for (int i = 0; i < 200; i++) all1 &= sample_token(sc, tie, 2.0f, 1, 1, &r, NULL) == 1;
    CHECK(all1, "top_k = 1 with ties keeps the lowest id");
    // A scratch of 4 ids masks the rest of a longer row: the best id 5 is never drawn,
    // and the log-prob is over ids 0..3 only.
    SampleScratch sc4;
    CHECK(sample_scratch_init(&sc4, 4, &e) == 0, "%s", e.msg);
    float pad[V] = {0, 1, 0, 0, 9, 9};
    int inside = 1;
    for (int i = 0; i < 200; i++) inside &= sample_token(&sc4, pad, 1.0f, 0, 1, &r, NULL) < 4;
    CHECK(inside, "a masked id is never drawn");
    CHECK(sample_token(&sc4, pad, 0, 0, 1, &r, &lp) == 1, "greedy over the unmasked ids");
    CHECK_NEAR(lp, 1 - log(3 + exp(1.0)), 1e-6, 1e-6, "log-prob over the unmasked ids");
    sample_scratch_free(&sc4);
}

// The frequencies of N draws against the distribution each setting defines, then the
// log-prob's temperature and determinism by seed.
static void test_sample_frequencies(SampleScratch *sc, const double *pr, const float *l) {
    enum { V = 6, N = 40000 };
    double f[V], tol = 0.012;
    // plain T = 1 follows the softmax
    draw(sc, l, 1, 0, 1, N, f);
    for (int i = 0; i < V; i++) CHECK_NEAR(f[i], pr[i], 0, tol, "T=1 frequency");
    // temperature 0.5: p^2 renormalised
    double z = 0;
    for (int i = 0; i < V; i++) z += pr[i] * pr[i];
    draw(sc, l, 0.5f, 0, 1, N, f);
    for (int i = 0; i < V; i++) CHECK_NEAR(f[i], pr[i] * pr[i] / z, 0, tol, "T=0.5 frequency");
    // top_k = 3: 0.4, 0.25, 0.2 renormalised over 0.85
    draw(sc, l, 1, 3, 1, N, f);
    for (int i = 0; i < V; i++) CHECK_NEAR(f[i], i < 3 ? pr[i] / 0.85 : 0, 0, tol, "top_k=3 frequency");
    // top_p = 0.6: smallest prefix with mass >= 0.6 is {0.4, 0.25}
    draw(sc, l, 1, 0, 0.6f, N, f);
    for (int i = 0; i < V; i++) CHECK_NEAR(f[i], i < 2 ? pr[i] / 0.65 : 0, 0, tol, "top_p=0.6 frequency");
    // top_p = 0.9: {0.4, 0.25, 0.2, 0.1}
    draw(sc, l, 1, 0, 0.9f, N, f);
    for (int i = 0; i < V; i++) CHECK_NEAR(f[i], i < 4 ? pr[i] / 0.95 : 0, 0, tol, "top_p=0.9 frequency");
    // top_p applies after temperature: T = 0.5 gives 0.16, 0.0625, 0.04, 0.01, 0.0025 (/z)
    // = 0.5953, 0.2326, 0.1488, ...; p = 0.8 keeps the first two (0.828 >= 0.8)
    draw(sc, l, 0.5f, 0, 0.8f, N, f);
    double z2 = pr[0] * pr[0] + pr[1] * pr[1];
    for (int i = 0; i < V; i++)
        CHECK_NEAR(f[i], i < 2 ? pr[i] * pr[i] / z2 : 0, 0, tol, "T=0.5 top_p=0.8 frequency");
    // top_k then top_p: k = 3 renormalises to 0.47, 0.29, 0.24; p = 0.7 keeps two
    draw(sc, l, 1, 3, 0.7f, N, f);
    for (int i = 0; i < V; i++) CHECK_NEAR(f[i], i < 2 ? pr[i] / 0.65 : 0, 0, tol, "top_k=3 top_p=0.7");
    // ties in the nucleus: equal probabilities, p = 0.5 of four keeps the two lowest ids
    float flat[V] = {-50, 1, 1, 1, 1, -50};
    draw(sc, flat, 1, 0, 0.5f, N, f);
    for (int i = 0; i < V; i++) CHECK_NEAR(f[i], i == 1 || i == 2 ? 0.5 : 0, 0, tol, "nucleus ties by id");
    // top_k ties by id too
    draw(sc, flat, 1, 3, 1, N, f);
    for (int i = 0; i < V; i++) CHECK_NEAR(f[i], i >= 1 && i <= 3 ? 1.0 / 3 : 0, 0, tol, "top_k ties by id");
    // log-prob is at temperature 1 whatever the sampling settings
    Rng r = rng_seed(5);
    double lp;
    int t = sample_token(sc, l, 0.3f, 2, 0.5f, &r, &lp);
    CHECK_NEAR(lp, log(pr[t]), 1e-5, 1e-6, "log-prob at T=1 under other settings");
    // same seed, same draws
    Rng a = rng_seed(9), b = rng_seed(9);
    int same = 1;
    for (int i = 0; i < 100; i++)
        same &= sample_token(sc, l, 1, 0, 0.9f, &a, NULL) == sample_token(sc, l, 1, 0, 0.9f, &b, NULL);
    CHECK(same, "sampling is deterministic by seed");
}

// A large vocabulary through the nucleus path: only the kept ids appear.
static void test_sample_large_vocab(void) {
    Err e;
    SampleScratch sc;
    enum { BV = 5000 };
    CHECK(sample_scratch_init(&sc, BV, &e) == 0, "%s", e.msg);
    float *big = malloc(BV * sizeof *big);
    Rng g = rng_seed(3);
    for (int i = 0; i < BV; i++) big[i] = (float)(3 * rng_normal(&g));
    // the reference nucleus by a full sort
    SampleCand *c = malloc(BV * sizeof *c);
    double zz = 0, mx = -1e30;
    for (int i = 0; i < BV; i++) mx = big[i] > mx ? big[i] : mx;
    for (int i = 0; i < BV; i++) c[i].w = exp((big[i] - mx) / 0.7), c[i].id = i, zz += c[i].w;
    for (int i = 0; i < BV; i++)  // selection sort of the top ones is enough
        for (int j = i + 1; j < BV && i < 200; j++)
            if (c[j].w > c[i].w || (c[j].w == c[i].w && c[j].id < c[i].id)) {
                SampleCand s = c[i];
                c[i] = c[j];
                c[j] = s;
            }
    double cum = 0;
    int keep = 0;
    while (cum < 0.8 * zz) cum += c[keep++].w;
    char *in = calloc(BV, 1);
    for (int i = 0; i < keep; i++) in[c[i].id] = 1;
    int outside = 0, hits = 0;
    Rng rr = rng_seed(8);
    for (int i = 0; i < 5000; i++) {
        int tk = sample_token(&sc, big, 0.7f, 0, 0.8f, &rr, NULL);
        outside += !in[tk];
        hits += tk == c[0].id;
    }
    CHECK(keep < 200 && outside == 0, "large-vocab nucleus keeps exactly the prefix (%d kept, %d outside)",
          keep, outside);
    CHECK_NEAR(hits / 5000.0, c[0].w / cum, 0, 0.03, "large-vocab top token frequency");
    free(in);
    free(c);
    free(big);
    sample_scratch_free(&sc);
}

// The sampler's top-p and top-k path: the backend's candidates (ref, cpu) and
// sample_from_candidates draw the token and log-prob that sample_token draws from the
// whole row, bit for bit, from the same stream; and only a few of a large vocabulary's ids
// come to the host. Its temperature-alone path: the backend's temperature_draws, the same. Rows of
// ld > V columns: random at two scales, flat, one dominant logit, ties at the top.
static void test_sample_from_candidates(void) {
    enum { N = 5, V = 3000, LD = 3011, DRAWS = 300 };
    Err e;
    SampleScratch sc;
    CHECK(sample_scratch_init(&sc, V, &e) == 0, "%s", e.msg);
    float *logits = malloc((size_t)N * LD * sizeof *logits), *cand = malloc((size_t)N * LD * sizeof *cand);
    int *ids = malloc((size_t)N * LD * sizeof *ids), count[N], top_k[N];
    double z[N], lse1[N], inv_t[N], cut[N];
    Rng g = rng_seed(5);
    for (int i = 0; i < N * LD; i++) logits[i] = (float)((i / LD == 1 ? 0.3 : 3) * rng_normal(&g));
    for (int j = 0; j < V; j++) logits[2 * LD + j] = 0.25f;  // flat
    logits[3 * LD + 17] = 30.0f;                             // dominant
    logits[4 * LD + 5] = logits[4 * LD + 900] = 12.0f;       // ties at the top
    const float temps[] = {0.5f, 1.0f, 1.7f}, tops[] = {0.3f, 0.8f, 0.95f, 0.999f, 1, 1, 0.9f, 0.8f, 1};
    const int ks_top[] = {0, 0, 0, 0, 1, 5, 40, V + 5, V + 5};  // top-k with tops[] (top-k 1: greedy)
    const Kernels *ks[] = {&kernels_ref, &kernels_cpu};
    int same = 1, few = 1;
    for (int b = 0; b < 2; b++)
        for (int t = 0; t < 3; t++)
            for (int q = 0; q < 9; q++) {
                for (int n = 0; n < N; n++)
                    inv_t[n] = 1.0 / temps[t], cut[n] = (1.0 - tops[q]) / (2.0 * V), top_k[n] = ks_top[q];
                ks[b]->sampling_candidates(count, ids, cand, z, lse1, logits, inv_t, cut, top_k, N, V, LD);
                for (int n = 0; n < N; n++) {
                    Rng x = rng_seed(11 + n), y = x;
                    for (int d = 0; d < DRAWS; d++) {
                        double lx, ly;
                        int tx = sample_token(&sc, logits + (size_t)n * LD, temps[t], ks_top[q], tops[q], &x, &lx);
                        int ty = sample_from_candidates(&sc, ids + (size_t)n * LD, cand + (size_t)n * LD, count[n],
                                                        z[n], lse1[n], temps[t], ks_top[q], tops[q], &y, &ly);
                        same &= tx == ty && !memcmp(&lx, &ly, sizeof lx);
                    }
                    if (n == 0 && temps[t] < 1 && tops[q] <= 0.95f && !ks_top[q]) few &= count[n] < V / 10;
                }
            }
    CHECK(same, "top-p and top-k from the backend's candidates: sample_token's tokens and log-probs, bitwise");
    // a temperature alone: the backend's draws, each uniform from the stream, bitwise too
    same = 1;
    for (int b = 0; b < 2; b++)
        for (int t = 0; t < 3; t++)
            for (int n = 0; n < N; n++) {
                Rng x = rng_seed(31 + n), y = x;
                for (int d = 0; d < DRAWS; d++) {
                    double lx, ly, it = 1.0 / temps[t], u = rng_double(&y);
                    int tx = sample_token(&sc, logits + (size_t)n * LD, temps[t], 0, 1, &x, &lx), ty;
                    ks[b]->temperature_draws(&ty, &ly, logits, &n, &it, &u, 1, V, LD);
                    same &= tx == ty && !memcmp(&lx, &ly, sizeof lx);
                }
            }
    CHECK(same, "a temperature alone drawn by the backend: sample_token's tokens and log-probs, bitwise");
    CHECK(few, "top-p <= 0.95 at T 0.5 on a row of %d ids: under a tenth come to the host", V);
    free(logits), free(cand), free(ids);
    sample_scratch_free(&sc);
}

static void test_sample_token(void) {
    Err e;
    SampleScratch sc;
    enum { V = 6 };
    CHECK(sample_scratch_init(&sc, V, &e) == 0, "%s", e.msg);
    // probabilities 0.4, 0.25, 0.2, 0.1, 0.05, 0 (as logs; the last one -inf-like)
    const double pr[V] = {0.4, 0.25, 0.2, 0.1, 0.05, 1e-30};
    float l[V];
    for (int i = 0; i < V; i++) l[i] = (float)log(pr[i]);
    test_sample_greedy(&sc, pr, l);
    test_sample_frequencies(&sc, pr, l);
    sample_scratch_free(&sc);
    test_sample_large_vocab();
}

// ---- whole runs ----------------------------------------------------------------------

// V C I L H KV D S: qwen2, untied
static Config tiny_config(void) {
    return test_config("qwen2", 61, 32, 48, 2, 4, 2, 8, 96, 0);
}

// Weights large enough that the next-token distributions are peaked (greedy decoding is
// then far from ties, and sampled lengths vary).
static void randomise(Model *m, uint64_t seed) {
    Rng r = rng_seed(seed);
    random_weights(m, &r, 0.25, 0.1);
}

enum { MAXR = 8, MAXK = 8, MAXG = 96 };
typedef struct {
    int n[MAXR][MAXK], finished[MAXR][MAXK], truncated[MAXR][MAXK], count;
    int32_t ids[MAXR][MAXK][MAXG];
    double lp[MAXR][MAXK];
    int stop_after;  // stop the run after this many samples (0: never)
} Results;

static int collect(void *user, const SampleResult *r) {
    Results *R = user;
    R->n[r->request][r->sample] = r->n;
    R->finished[r->request][r->sample] = r->finished;
    R->truncated[r->request][r->sample] = r->truncated;
    memcpy(R->ids[r->request][r->sample], r->ids, r->n * sizeof(int32_t));
    R->lp[r->request][r->sample] = r->mean_logprob;
    R->count++;
    return R->stop_after && R->count >= R->stop_after;
}

static int same_results(const Results *a, const Results *b, int nr, const SampleRequest *q) {
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < q[i].k; j++) {
            if (a->n[i][j] != b->n[i][j] || a->finished[i][j] != b->finished[i][j] ||
                a->truncated[i][j] != b->truncated[i][j] || a->lp[i][j] != b->lp[i][j] ||
                memcmp(a->ids[i][j], b->ids[i][j], a->n[i][j] * sizeof(int32_t)))
                return 0;
        }
    return 1;
}

typedef struct {
    int slots, chunk, max_len, threads;
    const int32_t *stop;
    int n_stop;
} RunOpts;

static SamplerStats run(Model *m, RunOpts o, const SampleRequest *q, int nr, Results *R, int *rc) {
    Err e;
    omp_set_num_threads(o.threads ? o.threads : 2);
    SamplerOpts so = {o.slots, o.max_len, o.chunk, o.stop, o.n_stop, 0};
    Sampler *s = sampler_create(m, &so, &e);
    SamplerStats st = {0};
    CHECK(s != NULL, "sampler_create: %s", e.msg);
    if (!s) return st;
    int stop_after = R->stop_after;
    memset(R, 0, sizeof *R);
    R->stop_after = stop_after;
    SamplerCallbacks cb = {R, NULL, collect, NULL};
    int r = sampler_run(s, q, nr, &cb, &e);
    if (rc) *rc = r;
    else CHECK(r == 0, "sampler_run: %s", r < 0 ? e.msg : "stopped");
    st = *sampler_stats(s);
    sampler_free(s);
    return st;
}

static int32_t prompts[MAXR][40];

// A model vocab padded past the tokenizer's: with n_ids set, no sample holds an id >= n_ids.
static void test_masked_ids(Model *m, SampleRequest *q) {
    Err e;
    enum { N_IDS = 20 };
    SamplerOpts so = {4, 0, 0, NULL, 0, N_IDS};
    Sampler *s = sampler_create(m, &so, &e);
    CHECK(s != NULL, "sampler_create: %s", e.msg);
    if (!s) return;
    Results R = {0};
    SamplerCallbacks cb = {&R, NULL, collect, NULL};
    for (int i = 0; i < 3; i++) q[i] = (SampleRequest){prompts[i], 3, 4, 30, 2.0f, 0, 1, 5, (uint64_t)i};
    CHECK(sampler_run(s, q, 3, &cb, &e) == 0, "masked run: %s", e.msg);
    int outside = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            for (int t = 0; t < R.n[i][j]; t++) outside += R.ids[i][j][t] >= N_IDS;
    CHECK(R.count == 12 && outside == 0, "masked ids: %d samples, %d tokens past n_ids", R.count, outside);
    sampler_free(s);
}

static void make_requests(SampleRequest *q, int nr, int k, float T, int top_k, float top_p, int max_new,
                          uint64_t seed, int V) {
    static const int lens[MAXR] = {5, 1, 23, 12, 37, 8, 3, 30};
    Rng r = rng_seed(77);
    for (int i = 0; i < nr; i++) {
        for (int t = 0; t < lens[i]; t++) prompts[i][t] = (int32_t)rng_below(&r, V);
        q[i] = (SampleRequest){prompts[i], lens[i], k, max_new, T, top_k, top_p, seed, (uint64_t)(100 + i)};
    }
}

// The mean log-prob of a sample recomputed by the training forward over prompt ++ ids.
static double forward_mean_logprob(Model *m, const int32_t *prompt, int P, const int32_t *ids, int n) {
    Err e;
    Acts a;
    int T = P + n;
    if (acts_create(&a, m, 1, T, ACTS_FORWARD, 0, &e)) return NAN;
    int *tok = malloc(T * sizeof(int)), *tgt = malloc(T * sizeof(int));
    float *lp = malloc(T * sizeof(float));
    for (int t = 0; t < T; t++) tok[t] = t < P ? prompt[t] : ids[t - P];
    for (int t = 0; t < T; t++) tgt[t] = t >= P - 1 && t < T - 1 ? tok[t + 1] : -1;
    int lens[1] = {T};
    model_forward(m, &a, tok, lens, 1, T);
    model_loss(m, &a, tgt, NULL, lp, 1, T);
    double s = 0;
    for (int t = P - 1; t < T - 1; t++) s += lp[t];
    acts_free(&a, m);
    free(tok);
    free(tgt);
    free(lp);
    return s / n;
}

// The runs of test_runs: every sample of base and other (static: they are large); the
// variants of slots, prefill chunk and threads that must not change the samples of one
// slot, one thread (one_slot).
static Results base, other;
static const RunOpts one_slot = {1, 256, 0, 1, NULL, 0};
static const RunOpts variants[] = {{3, 256, 0, 1, NULL, 0}, {16, 256, 0, 1, NULL, 0}, {16, 256, 0, 2, NULL, 0},
                                   {3, 256, 0, 2, NULL, 0}, {5, 7, 0, 2, NULL, 0},   {1, 4, 0, 1, NULL, 0}};
enum { NR = 8, K = 3 };  // requests, samples per request

// Greedy: slots 1, 3, 16; threads 1, 2; a small prefill chunk.
static void test_greedy(Model *m, SampleRequest *q, int V) {
    make_requests(q, NR, 2, 0, 0, 1, 24, 1, V);
    run(m, one_slot, q, NR, &base, NULL);
    CHECK(base.count == NR * 2, "greedy: every sample reported (%d)", base.count);
    int trunc = 1, twins = 1;
    for (int i = 0; i < NR; i++) {
        trunc &= base.n[i][0] == 24 && base.truncated[i][0] && !base.finished[i][0];
        twins &= !memcmp(base.ids[i][0], base.ids[i][1], sizeof base.ids[i][0]);
    }
    CHECK(trunc, "without stop ids every sample runs to max_new and is truncated");
    CHECK(twins, "greedy samples of one prompt are equal");
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        run(m, variants[v], q, NR, &other, NULL);
        CHECK(same_results(&base, &other, NR, q), "greedy: slots %d, chunk %d, %d threads differ from slots 1",
              variants[v].slots, variants[v].chunk, variants[v].threads);
    }
    // the log-prob equals the training forward's
    double ref = forward_mean_logprob(m, q[2].prompt, q[2].prompt_len, base.ids[2][0], base.n[2][0]);
    CHECK_NEAR(base.lp[2][0], ref, 1e-4, 1e-5, "mean log-prob vs the training forward");
}

// Sampling (T = 1, top-k, top-p): slots, threads and chunks change nothing; samples of one
// prompt differ; another seed gives other samples.
static void test_sampling(Model *m, SampleRequest *q, int V) {
    make_requests(q, NR, K, 1.0f, 40, 0.95f, 30, 7, V);
    run(m, one_slot, q, NR, &base, NULL);
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        SamplerStats st = run(m, variants[v], q, NR, &other, NULL);
        CHECK(same_results(&base, &other, NR, q), "sampling: slots %d, chunk %d, %d threads differ from slots 1",
              variants[v].slots, variants[v].chunk, variants[v].threads);
        if (variants[v].slots >= 3)
            CHECK(st.prefills_shared > 0, "slots %d: prompts were shared (%llu)", variants[v].slots,
                  (unsigned long long)st.prefills_shared);
    }
    int differ = 0;
    for (int i = 0; i < NR; i++) differ += memcmp(base.ids[i][0], base.ids[i][1], sizeof base.ids[i][0]) != 0;
    CHECK(differ >= NR - 1, "samples of one prompt differ (%d of %d prompts)", differ, NR);
    SampleRequest q2[NR];
    memcpy(q2, q, sizeof q2);
    for (int i = 0; i < NR; i++) q2[i].seed = 8;
    run(m, one_slot, q2, NR, &other, NULL);
    CHECK(!same_results(&base, &other, NR, q), "another seed, other samples");
    // A request's samples do not depend on the other requests of the run.
    run(m, (RunOpts){4, 256, 0, 2, NULL, 0}, q + 5, 1, &other, NULL);
    int alone = 1;
    for (int j = 0; j < K; j++)
        alone &= other.n[0][j] == base.n[5][j] && !memcmp(other.ids[0][j], base.ids[5][j], base.n[5][j] * 4);
    CHECK(alone, "a request sampled alone gives the same samples");
}

// K shared prefill == K separate prefills: with one slot every sample prefills its own
// prompt; with 8 slots and K = 8, one prefill is shared (leader + followers), and
// with 3 slots later samples copy from running siblings.
static void test_shared_prefill(Model *m, SampleRequest *q, int V) {
    make_requests(q, 2, MAXK, 1.0f, 0, 1, 20, 3, V);
    SamplerStats s1 = run(m, one_slot, q, 2, &base, NULL);
    SamplerStats s8 = run(m, (RunOpts){8, 256, 0, 2, NULL, 0}, q, 2, &other, NULL);
    CHECK(s1.prefills_shared == 0 && s1.prompt_tokens == (uint64_t)MAXK * (q[0].prompt_len + q[1].prompt_len),
          "one slot: every sample prefilled its prompt (%llu tokens)", (unsigned long long)s1.prompt_tokens);
    CHECK(same_results(&base, &other, 2, q), "8 slots sharing one prefill == separate prefills");
    CHECK(s8.prefills_shared >= 2 * (MAXK - 1) && s8.prompt_tokens < s1.prompt_tokens / 2,
          "8 slots: %llu shared, %llu prompt tokens", (unsigned long long)s8.prefills_shared,
          (unsigned long long)s8.prompt_tokens);
    run(m, (RunOpts){3, 5, 0, 2, NULL, 0}, q, 2, &other, NULL);
    CHECK(same_results(&base, &other, 2, q), "3 slots copying from running siblings == separate prefills");
}

// Stop tokens: stop at the greedy continuation's 4th token; the sample ends there,
// finished, the stop token included. The context end truncates.
static void test_stop_and_context(Model *m, SampleRequest *q, int V) {
    make_requests(q, 3, 1, 0, 0, 1, 20, 1, V);
    run(m, one_slot, q, 3, &base, NULL);
    int32_t stop[2] = {base.ids[0][0][3], 60};
    int first = 0;
    while (base.ids[0][0][first] != stop[0] && base.ids[0][0][first] != stop[1]) first++;
    run(m, (RunOpts){3, 256, 0, 2, stop, 2}, q, 3, &other, NULL);
    CHECK(other.n[0][0] == first + 1 && other.finished[0][0] && !other.truncated[0][0] &&
              other.ids[0][0][first] == base.ids[0][0][first] && !memcmp(other.ids[0][0], base.ids[0][0], (first + 1) * 4),
          "stop token ends the sample (n %d, expected %d)", other.n[0][0], first + 1);
    // Context limit: max_len 30 with a 23-token prompt leaves 7 fed positions -> 8 tokens.
    make_requests(q, 3, 1, 0, 0, 1, 20, 1, V);
    run(m, (RunOpts){2, 256, 30, 2, NULL, 0}, q + 2, 1, &other, NULL);
    CHECK(other.n[0][0] == 30 - 23 + 1 && other.truncated[0][0], "context end truncates (n = %d)", other.n[0][0]);
    CHECK(!memcmp(other.ids[0][0], base.ids[2][0], other.n[0][0] * 4), "context-truncated tokens are the same");
}

// A callback can stop the run.
static void test_callback_stop(Model *m, SampleRequest *q, int V) {
    int rc = 0;
    other.stop_after = 2;
    make_requests(q, NR, 1, 1, 0, 1, 10, 1, V);
    run(m, (RunOpts){2, 256, 0, 2, NULL, 0}, q, NR, &other, &rc);
    CHECK(rc == 1 && other.count == 2, "callback stop: rc %d after %d samples", rc, other.count);
    other.stop_after = 0;
}

// Bad requests fail before any step, naming the request (prompts: test_callback_stop's).
static void test_bad_requests(Model *m, int V) {
    Err e;
    SamplerOpts so = {4, 32, 0, NULL, 0, 0};
    Sampler *s = sampler_create(m, &so, &e);
    CHECK(s != NULL, "%s", e.msg);
    struct { const char *what, *expect; SampleRequest r; } bad[] = {
        {"long prompt", "the prompt has 37 tokens", {prompts[4], 37, 1, 5, 0, 0, 1, 1, 0}},
        {"prompt filling the context", "the prompt has 32 tokens", {prompts[4], 32, 1, 5, 0, 0, 1, 1, 0}},
        {"k = 0", "k = 0", {prompts[0], 3, 0, 5, 0, 0, 1, 1, 0}},
        {"max_new 0", "max_new = 0", {prompts[0], 3, 1, 0, 0, 0, 1, 1, 0}},
        {"top_p 0", "top_p", {prompts[0], 3, 1, 5, 1, 0, 0, 1, 0}},
        {"negative temperature", "temperature", {prompts[0], 3, 1, 5, -1, 0, 1, 1, 0}},
        {"empty prompt", "empty prompt", {prompts[0], 0, 1, 5, 0, 0, 1, 1, 0}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SampleRequest two[2] = {{prompts[0], 3, 1, 5, 0, 0, 1, 1, 0}, bad[i].r};
        other.count = 0;
        SamplerCallbacks cb = {&other, NULL, collect, NULL};
        int r = sampler_run(s, two, 2, &cb, &e);
        CHECK(r == -1 && other.count == 0 && strstr(e.msg, "request 1") && strstr(e.msg, bad[i].expect),
              "%s: rc %d, '%s'", bad[i].what, r, e.msg);
    }
    int32_t oov[2] = {3, 61};
    SampleRequest ro = {oov, 2, 1, 5, 0, 0, 1, 1, 0};
    CHECK(sampler_run(s, &ro, 1, NULL, &e) == -1 && strstr(e.msg, "outside the vocab"), "out-of-vocab prompt: %s", e.msg);
    sampler_free(s);
    so.max_len = 97;
    CHECK(sampler_create(m, &so, &e) == NULL && strstr(e.msg, "max_position_embeddings"), "context too long: %s", e.msg);
    int32_t badstop = 99;
    SamplerOpts so2 = {4, 32, 0, &badstop, 1, 0};
    CHECK(sampler_create(m, &so2, &e) == NULL && strstr(e.msg, "stop token"), "bad stop id: %s", e.msg);
    so2 = (SamplerOpts){4, 32, 0, NULL, 0, V + 1};
    CHECK(sampler_create(m, &so2, &e) == NULL && strstr(e.msg, "vocab_size"), "n_ids past the vocab: %s", e.msg);
}

static void test_runs(void) {
    Err e;
    Config c = tiny_config();
    Model m;
    CHECK(model_create(&m, &c, &kernels_cpu, &e) == 0, "%s", e.msg);
    randomise(&m, 5);
    SampleRequest q[NR];
    test_greedy(&m, q, c.vocab_size);
    test_sampling(&m, q, c.vocab_size);
    test_shared_prefill(&m, q, c.vocab_size);
    test_stop_and_context(&m, q, c.vocab_size);
    test_callback_stop(&m, q, c.vocab_size);
    test_bad_requests(&m, c.vocab_size);
    test_masked_ids(&m, q);
    model_free(&m);
}

// ---- the memory plan ----------------------------------------------------------------

static size_t backend_bytes;  // what counting_alloc handed out
static void *counting_alloc(size_t bytes) {
    backend_bytes += bytes;
    return kernels_cpu.alloc(bytes);
}

// sampler_memory's backend figures are what sampler_create allocates there; its KV cache
// is the keys and values of slots x max_len positions, in the backend's kv_elem_bytes (4,
// then 2 as a bf16 cache); the host holds the logits rows and the generated ids.
static void test_memory_plan(void) {
    Err e;
    Config c = tiny_config();
    Model m;
    CHECK(model_create(&m, &c, &kernels_cpu, &e) == 0, "%s", e.msg);
    Kernels counting = kernels_cpu;
    counting.alloc = counting_alloc;
    m.k = &counting;
    int32_t stop = 3;
    // slots, max_len, prefill chunk: one slot; a small chunk; 70 + 256 rows cut into calls
    const int shapes[][3] = {{1, 40, 256}, {5, 96, 7}, {70, 20, 256}, {5, 96, 7}};
    for (int i = 0; i < 4; i++) {
        int slots = shapes[i][0], max_len = shapes[i][1];
        counting.kv_elem_bytes = i < 3 ? 4 : 2;
        SamplerOpts so = {slots, max_len, shapes[i][2], &stop, 1, 0};
        SamplerMemory mem;
        CHECK(sampler_memory(&m, &so, &mem, &e) == 0, "%s", e.msg);
        backend_bytes = 0;
        Sampler *s = sampler_create(&m, &so, &e);
        CHECK(s, "%s", e.msg);
        CHECK(backend_bytes == mem.kv_cache + mem.step, "shape %d: backend bytes %zu, planned %zu + %zu", i,
              backend_bytes, mem.kv_cache, mem.step);
        size_t kv = 2 * (size_t)counting.kv_elem_bytes * c.n_layers * slots * max_len * c.n_kv_heads * c.head_dim;
        CHECK(mem.kv_cache == kv, "shape %d: KV cache %zu bytes, expected %zu", i, mem.kv_cache, kv);
        size_t host = sizeof(float) * (slots + 1) * c.vocab_size + sizeof(int32_t) * slots * max_len;
        CHECK(mem.host >= host, "shape %d: host %zu bytes, at least %zu", i, mem.host, host);
        sampler_free(s);
    }
    SamplerOpts bad = {1, c.max_seq_len + 1, 0, NULL, 0, 0};
    SamplerMemory mem;
    CHECK(sampler_memory(&m, &bad, &mem, &e) < 0 && strstr(e.msg, "max_position_embeddings"),
          "a context past the model's: %s", e.msg);
    m.k = &kernels_cpu;
    model_free(&m);
}

int main(void) {
    test_sample_token();
    test_sample_from_candidates();
    test_runs();
    test_memory_plan();
    return test_summary();
}
