// tests/test_config.h -- the Config of a small model for the tests that build one (test_model,
// test_freeze, test_recompute, test_head, test_sampler, tiny_model.h): the shape given, the
// usual rope_theta and norm_eps, q/k/v biases for qwen2, no bos/eos tokens.
#ifndef O1P_TEST_CONFIG_H
#define O1P_TEST_CONFIG_H

#include <stdio.h>
#include <string.h>

#include "../model/model.h"

// type: "llama" or "qwen2"; V C I L H KV D as in model.h; S: max_seq_len.
static Config test_config(const char *type, int V, int C, int I, int L, int H, int KV, int D,
                          int S, int tied) {
    Config c = {.vocab_size = V, .dim = C, .hidden_dim = I, .n_layers = L, .n_heads = H,
                .n_kv_heads = KV, .head_dim = D, .max_seq_len = S, .rope_theta = 10000.0f,
                .norm_eps = 1e-5f, .tie_embeddings = tied, .qkv_bias = !strcmp(type, "qwen2"),
                .bos_token_id = -1, .eos_token_id = -1};
    snprintf(c.model_type, sizeof c.model_type, "%s", type);
    return c;
}

#endif
