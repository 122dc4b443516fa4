// tests/tiny_model.h -- a tiny random model and 4 random (prompt, solution) examples
// for the tests that take gradients through the real model (test_reward, test_objectives).
#ifndef O1P_TINY_MODEL_H
#define O1P_TINY_MODEL_H

#include "../base/rng.h"
#include "../data/batch.h"
#include "../model/model.h"
#include "test_config.h"

// V C I L H KV D S: qwen2, untied
static Config tiny(void) {
    return test_config("qwen2", 41, 16, 32, 2, 2, 1, 8, 32, 0);
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
