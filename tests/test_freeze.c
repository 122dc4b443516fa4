// tests/test_freeze.c -- freeze-tuning (model_alloc_grads with train_layers N), on the
// reference backend and on the CPU's: the gradients of the last N blocks are the full
// model's, bit for bit (the truncated backward is exact); what is frozen has no gradient
// and an optimizer step leaves it bit-identical while the trained blocks move; the
// gradient norm covers the trained parameters only; N out of range is refused.
// (tests/test_freeze.sh drives `o1p sft` and `o1p prune --train-layers` end to end.)
#include <stdlib.h>
#include <string.h>

#include "../base/rng.h"
#include "../engine/optim.h"
#include "../model/model.h"
#include "random_weights.h"
#include "test.h"
#include "test_config.h"

static const Kernels *K;  // the backend under test: kernels_ref, then kernels_cpu

enum { L = 3, B = 2, T = 6 };
static const int lens[B] = {6, 4};

// qwen2 (biases, untied) or llama (tied): V C I L H KV D S
static Config small_config(int qwen2) {
    return test_config(qwen2 ? "qwen2" : "llama", 29, 16, 24, L, 4, 2, 4, 16, !qwen2);
}

// A model of c with random weights (seeded: the same for every train_layers) and the
// gradients of one forward/backward of a fixed batch, for train_layers N.
static int model_with_grads(Model *m, Config c, int N) {
    Err e;
    if (model_create(m, &c, K, &e) || model_alloc_grads(m, N, &e)) {
        CHECK(0, "%s", e.msg);
        return -1;
    }
    Rng r = rng_seed(5);
    random_weights(m, &r, 0.3, 0.2);
    int tok[B * T], tgt[B * T];
    float w[B * T];
    for (int n = 0; n < B * T; n++) {
        int pad = n % T >= lens[n / T];
        tok[n] = (int)rng_below(&r, c.vocab_size);
        tgt[n] = pad ? -1 : (int)rng_below(&r, c.vocab_size);
        w[n] = pad ? 0.0f : (float)rng_normal(&r);
    }
    Acts a;
    if (acts_create(&a, m, B, T, ACTS_BACKWARD, 0, &e)) {
        CHECK(0, "%s", e.msg);
        return -1;
    }
    model_forward(m, &a, tok, lens, B, T);
    model_loss(m, &a, tgt, w, NULL, B, T);
    model_backward(m, &a, w, B, T);
    acts_free(&a, m);
    return 0;
}

static float *download(const float *p, size_t n) {
    float *h = malloc(n * sizeof(float));
    K->download(h, p, n * sizeof(float));
    return h;
}

// The trained ranges' gradients equal the full model's at the same parameters, and the
// ranges tile the gradient allocation in order.
static void check_gradients(Config c, int N) {
    Model full, fr;
    if (model_with_grads(&full, c, 0) || model_with_grads(&fr, c, N)) return;
    float *gf = download(full.grads_mem, full.n_trained), *gz = download(fr.grads_mem, fr.n_trained);
    TrainedRange rg[MODEL_MAX_RANGES];
    int n_r = model_trained_ranges(&fr, rg);
    size_t at = 0, decay = 0, per_layer = 0;
    int same = 1;
    for (int i = 0; i < n_r; i++) {
        same &= rg[i].grad_at == at && !memcmp(gz + rg[i].grad_at, gf + rg[i].param_at, rg[i].n * sizeof(float));
        at += rg[i].n;
        decay += rg[i].n_decay;
    }
    size_t QKV = (size_t)(c.n_heads + 2 * c.n_kv_heads) * c.head_dim, C = c.dim, I = c.hidden_dim;
    per_layer = QKV * C + C * c.n_heads * c.head_dim + 2 * I * C + C * I + (c.qkv_bias ? QKV : 0) + 2 * C;
    CHECK(same, "%s %s N=%d: the trained blocks' gradients are the full model's, bit for bit", K->name,
          c.model_type, N);
    CHECK(at == fr.n_trained && fr.n_trained == N * per_layer && decay == fr.n_trained_decay,
          "%s %s N=%d: the ranges tile the %zu gradients (%zu of a block's %zu)", K->name, c.model_type, N,
          fr.n_trained, at, per_layer);
    CHECK(!fr.g.embed && !fr.g.lm_head && !fr.g.norm_final && model_first_trained(&fr) == L - N,
          "%s N=%d: embedding, lm_head and the final norm have no gradient", K->name, N);
    free(gf);
    free(gz);
    model_free(&full);
    model_free(&fr);
}

// One optimizer step: the frozen floats keep their bits, every trained range moves, the
// norm is over the trained gradients, which are zeroed afterwards.
static void check_step(Config c) {
    Model m;
    Err e;
    Optimizer o;
    if (model_with_grads(&m, c, 1)) return;
    OptimConfig oc = optim_config(1e-2, 0.95, 0.1, 0, 0.1, 0, 1);
    CHECK(optim_create(&o, &m, oc, &e) == 0, "%s", e.msg);
    float *before = download(m.params_mem, m.n_params), *g = download(m.grads_mem, m.n_trained);
    double ss = 0;
    for (size_t i = 0; i < m.n_trained; i++) ss += (double)g[i] * g[i];
    double norm = optim_step(&o, &m, NULL);
    CHECK_NEAR(norm, sqrt(ss), 1e-9, 0, "the gradient norm over the trained parameters");
    float *after = download(m.params_mem, m.n_params), *g2 = download(m.grads_mem, m.n_trained);
    char *trained = calloc(m.n_params, 1);
    TrainedRange rg[MODEL_MAX_RANGES];
    int n_r = model_trained_ranges(&m, rg), moved = 1, zeroed = 1, frozen_same = 1;
    for (int i = 0; i < n_r; i++) {
        int any = 0;
        for (size_t j = rg[i].param_at; j < rg[i].param_at + rg[i].n; j++) {
            trained[j] = 1;
            any |= memcmp(&before[j], &after[j], sizeof(float)) != 0;
        }
        moved &= any;
    }
    for (size_t j = 0; j < m.n_params; j++)
        if (!trained[j]) frozen_same &= !memcmp(&before[j], &after[j], sizeof(float));
    for (size_t j = 0; j < m.n_trained; j++) zeroed &= g2[j] == 0.0f;
    CHECK(frozen_same, "%s %s: frozen weights bit-identical after a step", K->name, c.model_type);
    CHECK(moved, "%s %s: every trained tensor moved", K->name, c.model_type);
    CHECK(zeroed, "%s %s: gradients zeroed after the step", K->name, c.model_type);
    free(before);
    free(after);
    free(g);
    free(g2);
    free(trained);
    optim_free(&o, &m);
    model_free(&m);
}

static void check_range(void) {
    Config c = small_config(0);
    int bad[] = {-1, L + 1};
    for (int i = 0; i < 2; i++) {
        Model m;
        Err e;
        CHECK(model_create(&m, &c, K, &e) == 0, "%s", e.msg);
        int rc = model_alloc_grads(&m, bad[i], &e);
        CHECK(rc == -1 && strstr(e.msg, "train_layers") && !m.grads_mem, "train_layers %d refused: %s", bad[i],
              rc ? e.msg : "accepted");
        model_free(&m);
    }
}

int main(void) {
    const Kernels *backends[] = {&kernels_ref, &kernels_cpu};
    for (int b = 0; b < 2; b++) {
        K = backends[b];
        for (int qwen2 = 0; qwen2 < 2; qwen2++) {
            for (int N = 1; N <= L; N++) check_gradients(small_config(qwen2), N);
            check_step(small_config(qwen2));
        }
        check_range();
    }
    return test_summary();
}
