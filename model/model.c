// model/model.c -- memory plan, initialisation and the HF tensor map of the model.
//
// The forward/backward passes are in model/forward.c, the KV-cache decode step in
// model/decode.c. Notation: V vocab, C width, L layers, H query heads, KV key/value
// heads, D head width, I MLP width, QKV = (H + 2 KV) D, HD = H D.
#include "model.h"

#include <math.h>
#include <stdint.h>
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

// Sizes in floats of the tensors laid out: the per-layer ones for `layers` blocks, the
// embedding, lm_head and final norm only when `outer`. The single place the layout is
// decided: the parameters are (L, 1), the gradients of what trains (N, 0) or (L, 1).
typedef struct {
    size_t embed, lm_head, wqkv, wo, wgu, wdown, bqkv, norm_attn, norm_mlp, norm_final;
} ParamSizes;

static ParamSizes param_sizes(const Config *c, int layers, int outer) {
    size_t V = c->vocab_size, C = c->dim, L = layers, I = c->hidden_dim, D = c->head_dim;
    size_t QKV = (size_t)(c->n_heads + 2 * c->n_kv_heads) * D, HD = (size_t)c->n_heads * D;
    ParamSizes s = {
        .embed = outer ? V * C : 0,
        .lm_head = outer && !c->tie_embeddings ? V * C : 0,
        .wqkv = L * QKV * C,
        .wo = L * C * HD,
        .wgu = L * 2 * I * C,
        .wdown = L * C * I,
        .bqkv = c->qkv_bias ? L * QKV : 0,
        .norm_attn = L * C,
        .norm_mlp = L * C,
        .norm_final = outer ? C : 0,
    };
    return s;
}

// The layout of s (matrices first): where each tensor starts; a tensor of size 0 is
// MODEL_ABSENT, lm_head starts at embed when tied.
static ParamLayout layout_of(const Config *c, ParamSizes s, size_t *n_total, size_t *n_decay) {
    ParamLayout at;
    size_t q = 0;
#define TAKE(t) (at.t = s.t ? q : MODEL_ABSENT, q += s.t)
    TAKE(embed);
    TAKE(lm_head);
    if (c->tie_embeddings) at.lm_head = at.embed;
    TAKE(wqkv);
    TAKE(wo);
    TAKE(wgu);
    TAKE(wdown);
    *n_decay = q;
    TAKE(bqkv);
    TAKE(norm_attn);
    TAKE(norm_mlp);
    TAKE(norm_final);
#undef TAKE
    *n_total = q;
    return at;
}

// Points p's tensors into mem at their places in `at` (NULL where absent).
static void params_point(Params *p, float *mem, ParamLayout at) {
#define AT(t) (p->t = at.t == MODEL_ABSENT ? NULL : mem + at.t)
    AT(embed), AT(lm_head), AT(wqkv), AT(wo), AT(wgu), AT(wdown), AT(bqkv), AT(norm_attn), AT(norm_mlp),
        AT(norm_final);
#undef AT
}

// The parameters (L, 1), or the gradients of what trains: (N, 0), or (L, 1) when all do.
static ParamSizes trained_sizes(const Config *c, int train_layers) {
    return train_layers ? param_sizes(c, train_layers, 0) : param_sizes(c, c->n_layers, 1);
}

void model_sizes(const Config *c, int train_layers, size_t *n_params, size_t *n_trained) {
    size_t n_decay;
    layout_of(c, param_sizes(c, c->n_layers, 1), n_params, &n_decay);
    layout_of(c, trained_sizes(c, train_layers), n_trained, &n_decay);
}

static int create(Model *m, const Config *c, const Kernels *k, int weights_only, Err *e) {
    memset(m, 0, sizeof *m);
    if (config_validate(c, "config", e)) return -1;
    m->cfg = *c;
    m->k = k;
    m->at = layout_of(c, param_sizes(c, c->n_layers, 1), &m->n_params, &m->n_decay);
    size_t copy = model_weight_copy_bytes(m->n_params, k);
    int keep_params = !(weights_only && copy);
    size_t bytes = (keep_params ? m->n_params * sizeof(float) : 0) + copy;
    const char *what = !copy ? "" : keep_params ? " with their bf16 weights" : " as bf16 weights only";
    size_t avail = k->memory_available ? k->memory_available() : SIZE_MAX;
    if (bytes > avail)  // a host allocation would succeed, then thrash
        return err_fmt(e, "the %zu parameters (%.2f GB%s) of a %s model with hidden_size %d, %d layers, "
                          "vocab_size %d do not fit in the %.2f GB of %s memory available",
                       m->n_params, bytes * 1e-9, what, c->model_type, c->dim, c->n_layers, c->vocab_size,
                       avail * 1e-9, k->name);
    if (keep_params) m->params_mem = k->alloc(m->n_params * sizeof(float));
    m->weights_mem = copy ? k->alloc(copy) : m->params_mem;
    if ((keep_params && !m->params_mem) || !m->weights_mem) {
        model_free(m);
        return err_fmt(e, "out of %s memory for the %zu parameters (%.2f GB%s) of a %s model with hidden_size %d, "
                          "%d layers, vocab_size %d",
                       k->name, m->n_params, bytes * 1e-9, what, c->model_type, c->dim, c->n_layers, c->vocab_size);
    }
    if (m->params_mem) params_point(&m->p, m->params_mem, m->at);
    return 0;
}

int model_create(Model *m, const Config *c, const Kernels *k, Err *e) { return create(m, c, k, 0, e); }

int model_create_weights(Model *m, const Config *c, const Kernels *k, Err *e) { return create(m, c, k, 1, e); }

size_t model_weight_copy_bytes(size_t n_params, const Kernels *k) {
    return k->weight_elem_bytes == sizeof(float) ? 0 : n_params * k->weight_elem_bytes;
}

size_t model_operand_bytes(const Config *c, const Kernels *k, size_t N, int head_cols) {
    if (k->act_elem_bytes == sizeof(float)) return 0;
    // the products' output gradients: dres [N, C], dqkv [N, QKV], dgu [N, 2 I], the head's
    // [N, head_cols]
    size_t QKV = (size_t)(c->n_heads + 2 * c->n_kv_heads) * c->head_dim;
    size_t widest = (size_t)c->dim;
    if (QKV > widest) widest = QKV;
    if (2 * (size_t)c->hidden_dim > widest) widest = 2 * (size_t)c->hidden_dim;
    if ((size_t)head_cols > widest) widest = (size_t)head_cols;
    return N * widest * k->act_elem_bytes;
}

// The weights from element `at` of the layout.
static char *weights_at(const Model *m, size_t at) {
    return (char *)m->weights_mem + at * m->k->weight_elem_bytes;
}

void *model_weight_copy(const Model *m, size_t at) {
    return m->weights_mem == m->params_mem ? NULL : weights_at(m, at);
}

const void *model_weight(const Model *m, size_t at) { return at == MODEL_ABSENT ? NULL : weights_at(m, at); }

void model_weights_update(const Model *m, size_t at, size_t n) {
    void *w = model_weight_copy(m, at);
    if (w && m->params_mem) m->k->weights_from_params(w, m->params_mem + at, n);
}

int model_alloc_grads(Model *m, int train_layers, Err *e) {
    if (m->grads_mem) return 0;
    const Config *c = &m->cfg;
    if (train_layers < 0 || train_layers > c->n_layers)
        return err_fmt(e, "train_layers = %d is out of range (expected 0: all, or 1..%d, the model's layers)",
                       train_layers, c->n_layers);
    if (!m->params_mem)
        return err_fmt(e, "the model holds bf16 weights only (loaded for decoding): it cannot train");
    ParamLayout at = layout_of(c, trained_sizes(c, train_layers), &m->n_trained, &m->n_trained_decay);
    m->grads_mem = m->k->alloc(m->n_trained * sizeof(float));
    if (!m->grads_mem)
        return err_fmt(e, "out of %s memory for %zu gradients", m->k->name, m->n_trained);
    m->train_layers = train_layers;
    params_point(&m->g, m->grads_mem, at);
    return 0;
}

int model_first_trained(const Model *m) {
    return m->train_layers ? m->cfg.n_layers - m->train_layers : 0;
}

int model_trained_ranges(const Model *m, TrainedRange *out) {
    if (!m->train_layers) {
        out[0] = (TrainedRange){0, 0, m->n_params, m->n_decay};
        return 1;
    }
    // the last N layers of each per-layer tensor (of `size` floats): a suffix of it
    size_t L = m->cfg.n_layers, l0 = model_first_trained(m);
    const float *G = m->grads_mem;
    const ParamLayout *at = &m->at;
    ParamSizes s = param_sizes(&m->cfg, m->cfg.n_layers, 1);
    struct { size_t p; const float *g; size_t size; int decay; } t[] = {
        {at->wqkv, m->g.wqkv, s.wqkv, 1},           {at->wo, m->g.wo, s.wo, 1},
        {at->wgu, m->g.wgu, s.wgu, 1},              {at->wdown, m->g.wdown, s.wdown, 1},
        {at->bqkv, m->g.bqkv, s.bqkv, 0},           {at->norm_attn, m->g.norm_attn, s.norm_attn, 0},
        {at->norm_mlp, m->g.norm_mlp, s.norm_mlp, 0},
    };
    int n = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (!t[i].size) continue;
        size_t per = t[i].size / L;
        out[n++] = (TrainedRange){t[i].p + l0 * per, (size_t)(t[i].g - G), (L - l0) * per,
                                  t[i].decay ? (L - l0) * per : 0};
    }
    return n;
}

void model_free(Model *m) {
    if (m->weights_mem && m->weights_mem != m->params_mem) m->k->free(m->weights_mem);
    if (m->params_mem) m->k->free(m->params_mem);
    if (m->grads_mem) m->k->free(m->grads_mem);
    memset(m, 0, sizeof *m);
}

int param_stage_open(ParamStage *s, const Model *m, Err *e) {
    *s = (ParamStage){.m = m};
    if (m->k->host_memory) return 0;
    s->buf = malloc(MODEL_STAGE_FLOATS * sizeof(float));
    if (!m->params_mem) s->dev = m->k->alloc(MODEL_STAGE_FLOATS * sizeof(float));
    if (!s->buf || (!m->params_mem && !s->dev)) {
        param_stage_close(s);
        return err_fmt(e, "out of memory for a %d MB staging buffer", MODEL_STAGE_FLOATS * 4 >> 20);
    }
    return 0;
}

void param_stage_close(ParamStage *s) {
    free(s->buf);
    if (s->dev) s->m->k->free(s->dev);
    s->buf = s->dev = NULL;
}

float *param_stage_window(ParamStage *s, size_t at) { return s->buf ? s->buf : s->m->params_mem + at; }

void param_stage_put(ParamStage *s, size_t at, size_t n) {
    const Model *m = s->m;
    if (s->dev) {  // weights only: through the backend staging
        m->k->upload(s->dev, s->buf, n * sizeof(float));
        m->k->weights_from_params(model_weight_copy(m, at), s->dev, n);
        return;
    }
    if (s->buf) m->k->upload(m->params_mem + at, s->buf, n * sizeof(float));
    model_weights_update(m, at, n);
}

const float *param_stage_get(ParamStage *s, size_t at, size_t n) {
    if (!s->buf) return s->m->params_mem + at;
    s->m->k->download(s->buf, s->m->params_mem + at, n * sizeof(float));
    return s->buf;
}

// p[0, n) = normal(0, std) draws, element j from draws 2j and 2j+1 of r's stream
// (Box-Muller takes two). Blocks start their stream by rng_skip, so the bits are those
// of one thread whatever the thread count. r ends past the n values.
static void fill_normal(float *p, size_t n, Rng *r, float std) {
    enum { BLOCK = 4096 };
    long n_blocks = (long)((n + BLOCK - 1) / BLOCK);
#pragma omp parallel for schedule(static)
    for (long b = 0; b < n_blocks; b++) {
        Rng rb = *r;
        rng_skip(&rb, 2 * (uint64_t)b * BLOCK);
        size_t end = (size_t)(b + 1) * BLOCK < n ? (size_t)(b + 1) * BLOCK : n;
        for (size_t j = (size_t)b * BLOCK; j < end; j++) p[j] = (float)(rng_normal(&rb) * std);
    }
    rng_skip(r, 2 * (uint64_t)n);
}

// params_mem[at, at + n) = normal(0, std_or_value) draws from r, or std_or_value when r is
// NULL; a stage window at a time.
static void fill_params(ParamStage *st, size_t at, size_t n, Rng *r, float std_or_value) {
    for (size_t done = 0; done < n; done += MODEL_STAGE_FLOATS) {
        size_t c = n - done < MODEL_STAGE_FLOATS ? n - done : MODEL_STAGE_FLOATS;
        float *w = param_stage_window(st, at + done);
        if (r) fill_normal(w, c, r, std_or_value);
        else for (size_t j = 0; j < c; j++) w[j] = std_or_value;
        param_stage_put(st, at + done, c);
    }
}

void model_init_random(Model *m, uint64_t seed) {
    const Config *c = &m->cfg;
    Err e;
    ParamStage st;
    if (param_stage_open(&st, m, &e)) return;  // out of host memory: the parameters stay zero
    ParamSizes s = param_sizes(c, c->n_layers, 1);
    const ParamLayout *at = &m->at;
    Rng r = rng_seed(seed);
    float std = 0.02f, std_out = 0.02f / sqrtf(2.0f * c->n_layers);
    // Matrices in layout order, each from the same stream: normal(0, std). A tied lm_head
    // has no size of its own (s.lm_head 0).
    struct { size_t at, n; float std; } mats[] = {
        {at->embed, s.embed, std},  {at->lm_head, s.lm_head, std},
        {at->wqkv, s.wqkv, std},    {at->wo, s.wo, std_out},
        {at->wgu, s.wgu, std},      {at->wdown, s.wdown, std_out},
    };
    for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++)
        if (mats[i].n) fill_params(&st, mats[i].at, mats[i].n, &r, mats[i].std);
    // zero biases, unit norms: the norms close the layout
    if (s.bqkv) fill_params(&st, at->bqkv, s.bqkv, NULL, 0.0f);
    fill_params(&st, at->norm_attn, m->n_params - at->norm_attn, NULL, 1.0f);
    param_stage_close(&st);
}

static void tensor_add(TensorInfo *out, int *n, size_t at, int rows, int cols, const char *fmt, int layer) {
    if (out) {
        TensorInfo *t = &out[*n];
        snprintf(t->name, sizeof t->name, fmt, layer);
        t->offset = at;
        t->ndim = cols ? 2 : 1;
        t->shape[0] = rows;
        t->shape[1] = cols;
    }
    (*n)++;
}

int model_tensors(const Model *m, TensorInfo *out) {
    const Config *c = &m->cfg;
    const ParamLayout *p = &m->at;
    int C = c->dim, I = c->hidden_dim, D = c->head_dim, H = c->n_heads, KV = c->n_kv_heads;
    size_t QKV = (size_t)(H + 2 * KV) * D, HD = (size_t)H * D;
    int bias = p->bqkv != MODEL_ABSENT, n = 0;
    tensor_add(out, &n, p->embed, c->vocab_size, C, "model.embed_tokens.weight", 0);
    for (int l = 0; l < c->n_layers; l++) {
        size_t wqkv = p->wqkv + l * QKV * C, bqkv = bias ? p->bqkv + l * QKV : 0;
        size_t wgu = p->wgu + (size_t)l * 2 * I * C;
        tensor_add(out, &n, p->norm_attn + (size_t)l * C, C, 0, "model.layers.%d.input_layernorm.weight", l);
        tensor_add(out, &n, wqkv, H * D, C, "model.layers.%d.self_attn.q_proj.weight", l);
        if (bias) tensor_add(out, &n, bqkv, H * D, 0, "model.layers.%d.self_attn.q_proj.bias", l);
        tensor_add(out, &n, wqkv + HD * C, KV * D, C, "model.layers.%d.self_attn.k_proj.weight", l);
        if (bias) tensor_add(out, &n, bqkv + HD, KV * D, 0, "model.layers.%d.self_attn.k_proj.bias", l);
        tensor_add(out, &n, wqkv + (HD + (size_t)KV * D) * C, KV * D, C, "model.layers.%d.self_attn.v_proj.weight", l);
        if (bias) tensor_add(out, &n, bqkv + HD + (size_t)KV * D, KV * D, 0, "model.layers.%d.self_attn.v_proj.bias", l);
        tensor_add(out, &n, p->wo + l * C * HD, C, (int)HD, "model.layers.%d.self_attn.o_proj.weight", l);
        tensor_add(out, &n, p->norm_mlp + (size_t)l * C, C, 0, "model.layers.%d.post_attention_layernorm.weight", l);
        tensor_add(out, &n, wgu, I, C, "model.layers.%d.mlp.gate_proj.weight", l);
        tensor_add(out, &n, wgu + (size_t)I * C, I, C, "model.layers.%d.mlp.up_proj.weight", l);
        tensor_add(out, &n, p->wdown + (size_t)l * C * I, C, I, "model.layers.%d.mlp.down_proj.weight", l);
    }
    tensor_add(out, &n, p->norm_final, C, 0, "model.norm.weight", 0);
    if (!c->tie_embeddings) tensor_add(out, &n, p->lm_head, c->vocab_size, C, "lm_head.weight", 0);
    return n;
}
