// tests/random_weights.h -- random weights for the tests that compare backends or runs on
// a model (test_model, test_sampler, test_freeze): the matrices ~ N(0, w_std^2), the norms
// ~ 1 + N(0, norm_std^2) (and the biases: every parameter past n_decay), drawn from r.
#ifndef O1P_RANDOM_WEIGHTS_H
#define O1P_RANDOM_WEIGHTS_H

#include <stdlib.h>

#include "../base/rng.h"
#include "../model/model.h"

static void random_weights(Model *m, Rng *r, double w_std, double norm_std) {
    float *h = malloc(m->n_params * sizeof(float));
    for (size_t i = 0; i < m->n_params; i++)
        h[i] = (float)(i < m->n_decay ? w_std * rng_normal(r) : 1.0 + norm_std * rng_normal(r));
    m->k->upload(m->params_mem, h, m->n_params * sizeof(float));
    model_weights_update(m, 0, m->n_params);
    free(h);
}

#endif
