// tests/test_model.c -- the whole model, on the reference backend and on the CPU's:
// finite-difference gradients of every tensor, padding invariance, incremental decoding
// against the full forward.
#include <stdlib.h>

#include "../base/rng.h"
#include "../model/model.h"
#include "random_weights.h"
#include "test.h"
#include "test_config.h"

static const Kernels *K;  // the backend under test: kernels_ref, then kernels_cpu

// V C I L H KV D S (kv and tied as given)
static Config small_config(const char *type, int kv, int tied) {
    return test_config(type, 37, 24, 40, 2, 4, kv, 6, 32, tied);
}

// Random weights everywhere (non-unit norms and non-zero biases too).
static void randomise(Model *m, uint64_t seed) {
    Rng r = rng_seed(seed);
    random_weights(m, &r, 0.3, 0.2);
}

enum { B = 3, T = 7 };
static const int lens[B] = {7, 4, 1};

static void batch(int *tokens, int *targets, float *weights, uint64_t seed, int V) {
    Rng r = rng_seed(seed);
    for (int n = 0; n < B * T; n++) {
        tokens[n] = (int)rng_below(&r, V);
        targets[n] = (int)rng_below(&r, V);
        // signed weights, as the length-harmonizing loss uses; zero on padding
        weights[n] = n % T < lens[n / T] ? (float)rng_normal(&r) : 0.0f;
        if (n % T >= lens[n / T]) targets[n] = -1;
    }
}

static double loss_at(Model *m, Acts *a, const int *tok, const int *tgt, const float *w) {
    model_forward(m, a, tok, lens, B, T);
    return model_loss(m, a, tgt, w, NULL, B, T);
}

// Directional derivative along a random direction restricted to each HF tensor:
// (L(p + eps u) - L(p - eps u)) / 2 eps  vs  g . u.
static void check_gradients(const char *label, Config c) {
    Err e;
    Model m;
    Acts a;
    CHECK(model_create(&m, &c, K, &e) == 0 && model_alloc_grads(&m, 0, &e) == 0 &&
              acts_create(&a, &m, B, T, ACTS_BACKWARD, 0, &e) == 0, "%s", e.msg);
    randomise(&m, 7);
    int tok[B * T], tgt[B * T];
    float w[B * T];
    batch(tok, tgt, w, 11, c.vocab_size);
    loss_at(&m, &a, tok, tgt, w);
    model_backward(&m, &a, w, B, T);
    float *p = malloc(m.n_params * 4), *g = malloc(m.n_params * 4), *u = malloc(m.n_params * 4);
    m.k->download(p, m.params_mem, m.n_params * 4);
    m.k->download(g, m.grads_mem, m.n_params * 4);
    int n_t = model_tensors(&m, NULL);
    TensorInfo *ti = malloc(n_t * sizeof *ti);
    model_tensors(&m, ti);
    Rng r = rng_seed(3);
    const double eps = 1e-3;
    double worst = 0;
    for (int i = 0; i < n_t; i++) {
        size_t n = (size_t)ti[i].shape[0] * (ti[i].ndim == 2 ? ti[i].shape[1] : 1);
        float *pt = p + ti[i].offset;
        double gu = 0;
        for (size_t j = 0; j < n; j++) {
            u[j] = (float)rng_normal(&r);
            gu += (double)g[ti[i].offset + j] * u[j];
        }
        double lp[2];
        for (int s = 0; s < 2; s++) {
            float *q = malloc(n * 4);
            for (size_t j = 0; j < n; j++) q[j] = pt[j] + (float)((s ? -eps : eps) * u[j]);
            m.k->upload(m.params_mem + ti[i].offset, q, n * 4);
            lp[s] = loss_at(&m, &a, tok, tgt, w);
            m.k->upload(m.params_mem + ti[i].offset, pt, n * 4);
            free(q);
        }
        double fd = (lp[0] - lp[1]) / (2 * eps);
        double err = fabs(fd - gu) / (fabs(gu) + 1e-3);
        CHECK(err < 2e-2, "%s %s %s: finite difference %.6g vs gradient %.6g", K->name, label,
              ti[i].name, fd, gu);
        if (err > worst) worst = err;
    }
    printf("%s %s: %d tensors, worst finite-difference relative error %.2e\n", K->name, label, n_t,
           worst);
    free(p);
    free(g);
    free(u);
    free(ti);
    acts_free(&a, &m);
    model_free(&m);
}

// Tokens past a sequence's length (padding) change nothing, and a sequence gives the same
// logits alone as inside a batch.
static void check_padding(void) {
    Config c = small_config("qwen2", 2, 0);
    Err e;
    Model m;
    Acts a, a1;
    CHECK(model_create(&m, &c, K, &e) == 0 && acts_create(&a, &m, B, T, ACTS_FORWARD, 0, &e) == 0 &&
              acts_create(&a1, &m, 1, T, ACTS_FORWARD, 0, &e) == 0, "%s", e.msg);
    randomise(&m, 5);
    int tok[B * T], tgt[B * T];
    float w[B * T];
    batch(tok, tgt, w, 13, c.vocab_size);
    size_t nl = (size_t)B * T * c.vocab_size;
    float *l1 = malloc(nl * 4), *l2 = malloc(nl * 4), *alone = malloc((size_t)T * c.vocab_size * 4);
    model_forward(&m, &a, tok, lens, B, T);
    m.k->download(l1, a.logits, nl * 4);
    for (int n = 0; n < B * T; n++)
        if (n % T >= lens[n / T]) tok[n] = (tok[n] + 5) % c.vocab_size;
    model_forward(&m, &a, tok, lens, B, T);
    m.k->download(l2, a.logits, nl * 4);
    int same = 1;
    for (int b = 0; b < B; b++)
        for (size_t j = 0; j < (size_t)lens[b] * c.vocab_size; j++)
            same &= l1[(size_t)b * T * c.vocab_size + j] == l2[(size_t)b * T * c.vocab_size + j];
    CHECK(same, "%s: padding tokens changed the logits of real positions", K->name);
    int one_len = lens[1];
    model_forward(&m, &a1, tok + T, &one_len, 1, one_len);
    m.k->download(alone, a1.logits, (size_t)one_len * c.vocab_size * 4);
    double worst = 0;
    for (size_t j = 0; j < (size_t)one_len * c.vocab_size; j++) {
        double d = fabs(alone[j] - l1[(size_t)T * c.vocab_size + j]);
        if (d > worst) worst = d;
    }
    CHECK(worst < 1e-5, "%s: sequence alone vs in a batch: max difference %.3g", K->name, worst);
    free(l1);
    free(l2);
    free(alone);
    acts_free(&a, &m);
    acts_free(&a1, &m);
    model_free(&m);
}

// Incremental decoding (prefill of 5 tokens, then one at a time, with a copied prefix in
// a second slot) equals the full forward at every position.
static void check_decode(void) {
    Config c = small_config("llama", 1, 1);
    Err e;
    Model m;
    Acts a;
    KVCache kv;
    enum { L = 12, P = 5 };
    CHECK(model_create(&m, &c, K, &e) == 0 && acts_create(&a, &m, 1, L, ACTS_FORWARD, 0, &e) == 0 &&
              kvcache_create(&kv, &m, 3, 16, 8, &e) == 0, "%s", e.msg);
    randomise(&m, 9);
    int tok[L], len = L, V = c.vocab_size;
    Rng r = rng_seed(17);
    for (int t = 0; t < L; t++) tok[t] = (int)rng_below(&r, V);
    float *full = malloc((size_t)L * V * 4), *step = malloc((size_t)L * V * 4);
    model_forward(&m, &a, tok, &len, 1, L);
    m.k->download(full, a.logits, (size_t)L * V * 4);
    // prefill positions 0..P-1 of slot 2, asking for the logits of all P rows
    int slots[L], pos[L];
    for (int t = 0; t < P; t++) slots[t] = 2, pos[t] = t;
    model_decode_step(&m, &kv, tok, slots, pos, NULL, NULL, P, P, step);
    // slot 0 reads the prompt from slot 2; both decode together one token at a time
    float two[2 * 64];
    double worst = 0;
    for (int t = P; t < L; t++) {
        int tt[2] = {tok[t], tok[t]}, ss[2] = {0, 2}, pp[2] = {t, t}, ps[2] = {2, 2}, pl[2] = {P, 0};
        model_decode_step(&m, &kv, tt, ss, pp, ps, pl, 2, 2, two);
        for (int v = 0; v < V; v++) {
            CHECK(two[v] == two[V + v], "%s: slots 0 and 2 differ at position %d", K->name, t);
            step[(size_t)t * V + v] = two[v];
        }
    }
    // relative to the largest logit (an infinity-norm relative error)
    double max_ref = 0;
    for (size_t j = 0; j < (size_t)L * V; j++) {
        if (fabs(full[j]) > max_ref) max_ref = fabs(full[j]);
        if (!(fabs(step[j] - full[j]) <= worst)) worst = fabs(step[j] - full[j]);
    }
    worst /= max_ref;
    CHECK(worst < 1e-5, "%s: decode vs full forward: worst relative difference %.3g", K->name,
          worst);
    printf("%s decode vs forward: worst relative difference %.2e over %d positions\n", K->name,
           worst, L);
    free(full);
    free(step);
    kvcache_free(&kv, &m);
    acts_free(&a, &m);
    model_free(&m);
}

int main(void) {
    const Kernels *backends[2] = {&kernels_ref, &kernels_cpu};
    for (int i = 0; i < 2; i++) {
        K = backends[i];
        check_gradients("qwen2 GQA untied", small_config("qwen2", 2, 0));
        check_gradients("llama MHA tied", small_config("llama", 4, 1));
        check_gradients("llama MQA", small_config("llama", 1, 0));
        check_padding();
        check_decode();
    }
    return test_summary();
}
