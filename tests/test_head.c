// tests/test_head.c -- the chunked head (model/head.c) against the full one, on the
// reference backend and on the CPU's: the loss, the per-token log-probs and every
// gradient of one forward, loss and backward, at vocabulary chunks that divide V, that do
// not, of V and past V; with tied embeddings and with a frozen head (freeze-tuning); the
// automatic chunk and what it saves; the dump (which writes the logits) refusing chunks.
//
// Tolerances: a chunk of V (or more) is the full head bit for bit. Smaller chunks merge
// the softmax's running state per chunk (rounded to float) and sum dxn over chunks:
// log-probs 1e-5 absolute, so the loss sum_n w_n (-logprob_n) 1e-5 sum_n |w_n|, and each
// gradient tensor 1e-5 of its max|g| (the worst measured: 9.5e-7 and 1.7e-6).
#include <stdlib.h>
#include <string.h>

#include "../base/rng.h"
#include "../engine/dump.h"
#include "../model/model.h"
#include "random_weights.h"
#include "test.h"
#include "test_config.h"

static const Kernels *K;  // kernels_ref, then kernels_cpu

// V C I L H KV D S (tied as given)
static Config config(const char *type, int tied) {
    return test_config(type, 48, 24, 40, 2, 4, 2, 6, 32, tied);
}

enum { B = 3, T = 24, N = B * T };  // 72 rows: past the CPU's row-wise matmul (64)
static const int lens[B] = {24, 13, 1};

static int tok[N], tgt[N];
static float w[N];

static void batch(int V) {
    Rng r = rng_seed(9);
    for (int n = 0; n < N; n++) {
        int pad = n % T >= lens[n / T];
        tok[n] = (int)rng_below(&r, V);
        tgt[n] = pad || n % 5 == 3 ? -1 : (int)rng_below(&r, V);
        w[n] = pad ? 0.0f : (float)rng_normal(&r);  // signed, as the length-harmonizing loss
    }
}

// One training step's passes on the batch, on a fresh model (seeded weights), head in
// chunks of vocab_chunk (0: full): loss, log-probs [N] and gradients [n_trained] out.
static double passes(Config c, int train_layers, int vocab_chunk, float *logprob, float **grads,
                     size_t *n_trained) {
    Err e;
    Model m;
    Acts a;
    CHECK(model_create(&m, &c, K, &e) == 0 && model_alloc_grads(&m, train_layers, &e) == 0 &&
              acts_create(&a, &m, B, T, ACTS_BACKWARD, vocab_chunk, &e) == 0, "%s", e.msg);
    Rng r = rng_seed(5);
    random_weights(&m, &r, 0.3, 0.2);
    model_forward(&m, &a, tok, lens, B, T);
    double loss = model_loss(&m, &a, tgt, w, logprob, B, T);
    model_backward(&m, &a, w, B, T);
    *n_trained = m.n_trained;
    *grads = malloc(m.n_trained * sizeof(float));
    m.k->download(*grads, m.grads_mem, m.n_trained * sizeof(float));
    acts_free(&a, &m);
    model_free(&m);
    return loss;
}

// max |a - b| / max |b| over n floats
static double rel_err(const float *a, const float *b, size_t n) {
    double d = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {  // comparisons, not fmax: aarch64 gcc 12 -O3 vectorises
        double di = fabs((double)a[i] - b[i]), bi = fabs((double)b[i]);  // fmax into an ICE
        if (di > d) d = di;
        if (bi > mb) mb = bi;
    }
    return mb > 0 ? d / mb : d;
}

// The worst over the HF tensors of max|g1 - g0| / max|g0| (every parameter trains), or
// over the whole gradient (freeze-tuning: its layout is the trained layers').
static double grad_err(Config c, int train_layers, const float *g1, const float *g0, size_t n) {
    if (train_layers) return rel_err(g1, g0, n);
    Err e;
    Model m;
    CHECK(model_create(&m, &c, K, &e) == 0, "%s", e.msg);
    TensorInfo ti[64];
    int n_t = model_tensors(&m, NULL);
    CHECK(n_t <= 64, "%d tensors", n_t);
    model_tensors(&m, ti);
    double worst = 0;
    for (int i = 0; i < n_t; i++) {
        size_t len = (size_t)ti[i].shape[0] * (ti[i].ndim == 2 ? ti[i].shape[1] : 1);
        worst = fmax(worst, rel_err(g1 + ti[i].offset, g0 + ti[i].offset, len));
    }
    model_free(&m);
    return worst;
}

static void check_chunks(const char *label, Config c, int train_layers) {
    float lp0[N], lp1[N], *g0, *g1;
    size_t n0, n1;
    batch(c.vocab_size);
    double wsum = 0;  // the loss is sum_n w_n (-logprob_n): off by at most wsum x the log-probs'
    for (int n = 0; n < N; n++) wsum += fabs(w[n]);
    double loss0 = passes(c, train_layers, 0, lp0, &g0, &n0);
    static const int chunks[] = {16, 7, 1, 48, 100};  // divides V, does not, 1, V, past V
    for (int i = 0; i < 5; i++) {
        int Vc = chunks[i];
        double loss1 = passes(c, train_layers, Vc, lp1, &g1, &n1);
        double lp_err = 0;
        for (int n = 0; n < N; n++) {  // comparisons, not fmax: as in rel_err
            double d = fabs((double)lp1[n] - lp0[n]);
            if (d > lp_err) lp_err = d;
        }
        double g_err = n1 == n0 ? grad_err(c, train_layers, g1, g0, n0) : INFINITY;
        if (Vc >= c.vocab_size) {
            CHECK(loss1 == loss0 && !memcmp(lp1, lp0, sizeof lp0) && n1 == n0 &&
                      !memcmp(g1, g0, n0 * sizeof(float)),
                  "%s %s chunk %d of V=%d: the full head bit for bit", K->name, label, Vc, c.vocab_size);
        } else {
            CHECK_NEAR(loss1, loss0, 0.0, 1e-5 * wsum, "chunked loss");
            CHECK(lp_err <= 1e-5, "%s %s chunk %d: log-probs off by %.3g", K->name, label, Vc, lp_err);
            CHECK(g_err <= 1e-5, "%s %s chunk %d: gradients off by %.3g of max|g|", K->name, label, Vc,
                  g_err);
        }
        printf("%s %s chunk %d: loss %.3g (of sum|w|), log-probs %.3g, gradients %.3g (of max|g|)\n",
               K->name, label, Vc, fabs(loss1 - loss0) / wsum, lp_err, g_err);
        free(g1);
    }
    free(g0);
}

// The automatic choice: the full head while [N, V] fits in 1 GiB, else the largest
// multiple of 256 columns in 256 MiB; and Acts (acts_bytes, what test_recompute checks
// against the allocations) shrinks by the logits it does not hold.
static void check_auto(void) {
    Config q = config("qwen2", 1);
    q.vocab_size = 151936;  // Qwen2.5's
    CHECK(acts_vocab_chunk(&q, 1, 1024) == 0, "151936 x 1024 logits (622 MB) stay full");
    CHECK(acts_vocab_chunk(&q, 1, 4096) == 16384, "151936 x 4096 logits: chunks of 16384");
    CHECK(acts_vocab_chunk(&q, 8, 4096) == 2048, "151936 x 8 x 4096 logits: chunks of 2048");
    CHECK(acts_vocab_chunk(&q, 64, 32768) == 256, "at least 256 columns");
    Config c = config("llama", 0);
    Err e;
    Model m;
    Acts a0, a1;
    CHECK(model_create(&m, &c, K, &e) == 0 && acts_create(&a0, &m, B, T, ACTS_BACKWARD, 0, &e) == 0 &&
              acts_create(&a1, &m, B, T, ACTS_BACKWARD, 7, &e) == 0, "%s", e.msg);
    size_t full = (N * 48 + 15) / 16 * 16, chunk = (N * 7 + 15) / 16 * 16, sum = (N + 15) / 16 * 16;
    size_t b0 = acts_bytes(&c, K, B, T, ACTS_BACKWARD, 0), b1 = acts_bytes(&c, K, B, T, ACTS_BACKWARD, 7);
    CHECK(a0.vocab_chunk == 0 && a1.vocab_chunk == 7 && b0 - b1 == (full - chunk - sum) * sizeof(float),
          "Acts of chunks of 7: %zu bytes, full: %zu", b1, b0);
    DumpTensors dt;
    CHECK(dump_run(&m, &a1, tok, lens, B, T, &dt, &e) == -1 && strstr(e.msg, "full logits"),
          "o1p dump refuses a chunked head (it writes the logits)");
    acts_free(&a0, &m);
    acts_free(&a1, &m);
    model_free(&m);
}

int main(void) {
    const Kernels *backends[2] = {&kernels_ref, &kernels_cpu};
    for (int i = 0; i < 2; i++) {
        K = backends[i];
        check_chunks("qwen2 untied", config("qwen2", 0), 0);
        check_chunks("llama tied", config("llama", 1), 0);
        check_chunks("qwen2 frozen head (last layer trains)", config("qwen2", 0), 1);
        check_auto();
    }
    return test_summary();
}
