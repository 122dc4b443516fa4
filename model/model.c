// model/model.c -- memory plan, initialisation and the HF tensor map of the model.
//
// The forward/backward passes are in model/forward.c, the KV-cache decode step in
// model/decode.c. Notation: V vocab, C width, L layers, H query heads, KV key/value
// heads, D head width, I MLP width, QKV = (H + 2 KV) D, HD = H D.
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/rng.h"

int config_validate(const Config *c, const char *name, Err *e) {
    if (strcmp(c->model_type, "llama") && strcmp(c->model_type, "qwen2"))
        return err_fmt(e, "%s: model_type \"%s\" is not supported (expected \"llama\" or \"qwen2\")",
                       name, c->model_type);
    struct { const char *key; int v, lo, hi; } r[] = {
        {"vocab_size", c->vocab_size, 1, 1 << 24},
        {"hidden_size", c->dim, 1, 1 << 16},
        {"intermediate_size", c->hidden_dim, 1, 1 << 18},
        {"num_hidden_layers", c->n_layers, 1, 1024},
        {"num_attention_heads", c->n_heads, 1, 1024},
        {"num_key_value_heads", c->n_kv_heads, 1, 1024},
        {"head_dim", c->head_dim, 2, 1024},
        {"max_position_embeddings", c->max_seq_len, 1, 1 << 22},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (r[i].v < r[i].lo || r[i].v > r[i].hi)
            return err_fmt(e, "%s: %s = %d is out of range (expected %d..%d)", name, r[i].key,
                           r[i].v, r[i].lo, r[i].hi);
    if (c->n_heads % c->n_kv_heads)
        return err_fmt(e, "%s: num_key_value_heads = %d does not divide num_attention_heads = %d",
                       name, c->n_kv_heads, c->n_heads);
    if (c->head_dim % 2) return err_fmt(e, "%s: head_dim = %d is odd (RoPE needs pairs)", name, c->head_dim);
    if (!(c->rope_theta > 0) || !isfinite(c->rope_theta))
        return err_fmt(e, "%s: rope_theta must be a positive number", name);
    if (!(c->norm_eps > 0) || !isfinite(c->norm_eps))
        return err_fmt(e, "%s: rms_norm_eps must be a positive number", name);
    return 0;
}

// Sizes in floats of every parameter tensor; the single place the layout is decided.
typedef struct {
    size_t embed, lm_head, wqkv, wo, wgu, wdown, bqkv, norm_attn, norm_mlp, norm_final;
} ParamSizes;

static ParamSizes param_sizes(const Config *c) {
    size_t V = c->vocab_size, C = c->dim, L = c->n_layers, I = c->hidden_dim, D = c->head_dim;
    size_t QKV = (size_t)(c->n_heads + 2 * c->n_kv_heads) * D, HD = (size_t)c->n_heads * D;
    ParamSizes s = {
        .embed = V * C,
        .lm_head = c->tie_embeddings ? 0 : V * C,
        .wqkv = L * QKV * C,
        .wo = L * C * HD,
        .wgu = L * 2 * I * C,
        .wdown = L * C * I,
        .bqkv = c->qkv_bias ? L * QKV : 0,
        .norm_attn = L * C,
        .norm_mlp = L * C,
        .norm_final = C,
    };
    return s;
}

// Points p's tensors into mem following the layout of param_sizes (matrices first).
static void params_point(Params *p, float *mem, const Config *c, size_t *n_total, size_t *n_decay) {
    ParamSizes s = param_sizes(c);
    float *q = mem;
    p->embed = q; q += s.embed;
    p->lm_head = c->tie_embeddings ? p->embed : q; q += s.lm_head;
    p->wqkv = q; q += s.wqkv;
    p->wo = q; q += s.wo;
    p->wgu = q; q += s.wgu;
    p->wdown = q; q += s.wdown;
    *n_decay = (size_t)(q - mem);
    p->bqkv = c->qkv_bias ? q : NULL; q += s.bqkv;
    p->norm_attn = q; q += s.norm_attn;
    p->norm_mlp = q; q += s.norm_mlp;
    p->norm_final = q; q += s.norm_final;
    *n_total = (size_t)(q - mem);
}

int model_create(Model *m, const Config *c, const Kernels *k, Err *e) {
    memset(m, 0, sizeof *m);
    if (config_validate(c, "config", e)) return -1;
    m->cfg = *c;
    m->k = k;
    Params probe;
    params_point(&probe, NULL, c, &m->n_params, &m->n_decay);
    m->params_mem = k->alloc(m->n_params * sizeof(float));
    if (!m->params_mem)
        return err_fmt(e, "out of %s memory for the %zu parameters (%.2f GB) of a %s model with hidden_size %d, "
                          "%d layers, vocab_size %d",
                       k->name, m->n_params, m->n_params * 4e-9, c->model_type, c->dim, c->n_layers, c->vocab_size);
    params_point(&m->p, m->params_mem, c, &m->n_params, &m->n_decay);
    return 0;
}

int model_alloc_grads(Model *m, Err *e) {
    if (m->grads_mem) return 0;
    m->grads_mem = m->k->alloc(m->n_params * sizeof(float));
    if (!m->grads_mem)
        return err_fmt(e, "out of %s memory for %zu gradients", m->k->name, m->n_params);
    size_t n, nd;
    params_point(&m->g, m->grads_mem, &m->cfg, &n, &nd);
    return 0;
}

void model_free(Model *m) {
    if (m->params_mem) m->k->free(m->params_mem);
    if (m->grads_mem) m->k->free(m->grads_mem);
    memset(m, 0, sizeof *m);
}

void model_init_random(Model *m, uint64_t seed) {
    const Config *c = &m->cfg;
    float *host = calloc(m->n_params, sizeof(float));
    if (!host) return;
    Params hp;
    size_t n, nd;
    params_point(&hp, host, c, &n, &nd);
    ParamSizes s = param_sizes(c);
    Rng r = rng_seed(seed);
    float std = 0.02f, std_out = 0.02f / sqrtf(2.0f * c->n_layers);
    // Matrices in layout order, each from the same stream: normal(0, std).
    struct { float *p; size_t n; float std; } mats[] = {
        {hp.embed, s.embed, std},  {c->tie_embeddings ? NULL : hp.lm_head, s.lm_head, std},
        {hp.wqkv, s.wqkv, std},    {hp.wo, s.wo, std_out},
        {hp.wgu, s.wgu, std},      {hp.wdown, s.wdown, std_out},
    };
    for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++)
        for (size_t j = 0; mats[i].p && j < mats[i].n; j++)
            mats[i].p[j] = (float)(rng_normal(&r) * mats[i].std);
    for (size_t j = 0; j < s.norm_attn; j++) hp.norm_attn[j] = 1.0f;
    for (size_t j = 0; j < s.norm_mlp; j++) hp.norm_mlp[j] = 1.0f;
    for (size_t j = 0; j < s.norm_final; j++) hp.norm_final[j] = 1.0f;
    m->k->upload(m->params_mem, host, m->n_params * sizeof(float));
    free(host);
}

static void tensor_add(TensorInfo *out, int *n, const float *base, const float *p, int rows,
                       int cols, const char *fmt, int layer) {
    if (out) {
        TensorInfo *t = &out[*n];
        snprintf(t->name, sizeof t->name, fmt, layer);
        t->offset = (size_t)(p - base);
        t->ndim = cols ? 2 : 1;
        t->shape[0] = rows;
        t->shape[1] = cols;
    }
    (*n)++;
}

int model_tensors(const Model *m, TensorInfo *out) {
    const Config *c = &m->cfg;
    const Params *p = &m->p;
    const float *b = m->params_mem;
    int C = c->dim, I = c->hidden_dim, D = c->head_dim, H = c->n_heads, KV = c->n_kv_heads;
    size_t QKV = (size_t)(H + 2 * KV) * D, HD = (size_t)H * D;
    int n = 0;
    tensor_add(out, &n, b, p->embed, c->vocab_size, C, "model.embed_tokens.weight", 0);
    for (int l = 0; l < c->n_layers; l++) {
        const float *wqkv = p->wqkv + l * QKV * C;
        const float *bqkv = p->bqkv ? p->bqkv + l * QKV : NULL;
        const float *wgu = p->wgu + (size_t)l * 2 * I * C;
        tensor_add(out, &n, b, p->norm_attn + (size_t)l * C, C, 0, "model.layers.%d.input_layernorm.weight", l);
        tensor_add(out, &n, b, wqkv, H * D, C, "model.layers.%d.self_attn.q_proj.weight", l);
        if (bqkv) tensor_add(out, &n, b, bqkv, H * D, 0, "model.layers.%d.self_attn.q_proj.bias", l);
        tensor_add(out, &n, b, wqkv + HD * C, KV * D, C, "model.layers.%d.self_attn.k_proj.weight", l);
        if (bqkv) tensor_add(out, &n, b, bqkv + HD, KV * D, 0, "model.layers.%d.self_attn.k_proj.bias", l);
        tensor_add(out, &n, b, wqkv + (HD + (size_t)KV * D) * C, KV * D, C, "model.layers.%d.self_attn.v_proj.weight", l);
        if (bqkv) tensor_add(out, &n, b, bqkv + HD + (size_t)KV * D, KV * D, 0, "model.layers.%d.self_attn.v_proj.bias", l);
        tensor_add(out, &n, b, p->wo + l * C * HD, C, (int)HD, "model.layers.%d.self_attn.o_proj.weight", l);
        tensor_add(out, &n, b, p->norm_mlp + (size_t)l * C, C, 0, "model.layers.%d.post_attention_layernorm.weight", l);
        tensor_add(out, &n, b, wgu, I, C, "model.layers.%d.mlp.gate_proj.weight", l);
        tensor_add(out, &n, b, wgu + (size_t)I * C, I, C, "model.layers.%d.mlp.up_proj.weight", l);
        tensor_add(out, &n, b, p->wdown + (size_t)l * C * I, C, I, "model.layers.%d.mlp.down_proj.weight", l);
    }
    tensor_add(out, &n, b, p->norm_final, C, 0, "model.norm.weight", 0);
    if (!c->tie_embeddings) tensor_add(out, &n, b, p->lm_head, c->vocab_size, C, "lm_head.weight", 0);
    return n;
}
