// tests/tiny_model.h -- a tiny random model and 4 random (prompt, solution) examples
// for the tests that take gradients through the real model (test_reward, test_objectives).
#ifndef O1P_TINY_MODEL_H
#define O1P_TINY_MODEL_H

#include <stdio.h>

#include "../base/rng.h"
#include "../data/batch.h"
#include "../model/model.h"

static Config tiny(void) {
    Config c = {0};
    snprintf(c.model_type, sizeof c.model_type, "qwen2");
    c.vocab_size = 41;
    c.dim = 16;
    c.hidden_dim = 32;
    c.n_layers = 2;
    c.n_heads = 2;
    c.n_kv_heads = 1;
    c.head_dim = 8;
    c.max_seq_len = 32;
    c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f;
    c.qkv_bias = 1;
    c.bos_token_id = c.eos_token_id = -1;
    return c;
}

enum { NEX = 4, T = 20 };
typedef struct {
    int ids[NEX][T];
    TokExample ex[NEX];
} Examples;

static void make_examples(Examples *x, int V) {
    Rng r = rng_seed(21);
    const int plen[NEX] = {5, 3, 6, 4}, clen[NEX] = {9, 14, 4, 7};
    for (int i = 0; i < NEX; i++) {
        for (int t = 0; t < plen[i] + clen[i]; t++) x->ids[i][t] = (int)rng_below(&r, V);
        x->ex[i] = (TokExample){x->ids[i], plen[i], x->ids[i] + plen[i], clen[i]};
    }
}

// The tiny model on the CPU backend with random weights (seed 3), and its examples x.
static int tiny_model(Model *m, Examples *x, Err *e) {
    Config c = tiny();
    if (model_create(m, &c, &kernels_cpu, e)) return -1;
    model_init_random(m, 3);
    make_examples(x, c.vocab_size);
    return 0;
}

#endif
