// model/decode.c -- incremental decoding with a KV cache.
//
// A step is any N tokens, each at (slot, position): a prompt prefill (many positions of
// one slot), a decoding step (one position in each of B slots), or both at once
// (continuous batching). The step's keys and values go into the cache first; then each
// token attends over positions 0..pos of its sequence, whose first positions may be a
// prompt in another slot, shared by several samples. A step's logits equal the training
// forward's at the same positions (tests/test_model.c).
#include <stdlib.h>
#include <string.h>

#include "layers.h"

enum { KV_PARTS = 11 };
// A step's int inputs: tokens, slots, positions, prefix slots and prefix lengths.
enum { STEP_INPUTS = 5 };

// The floats of each part of a KV cache, in kvcache_create's order: keys and values of
// n_slots x max_T positions per layer (elements of kv_elem_bytes), then the step's
// buffers for max_N tokens (xn, att and h product inputs, of act_elem_bytes).
static void kvcache_parts(const Config *g, const Kernels *k, int n_slots, int max_T, int max_N,
                          size_t n[KV_PARTS]) {
    size_t L = g->n_layers, C = g->dim, I = g->hidden_dim, V = g->vocab_size, N = max_N;
    size_t KVD = (size_t)g->n_kv_heads * g->head_dim, HD = (size_t)g->n_heads * g->head_dim;
    size_t cache = floats_of(L * n_slots * (size_t)max_T * KVD, k->kv_elem_bytes);
    int ab = k->act_elem_bytes;
    // k, v [L, n_slots, max_T, KVD]; x, xn [N, C]; qkv [N, HD + 2 KVD]; att [N, HD]; gu [N, 2I];
    // h [N, I]; logits [N, V]; rstd [N]; tmp [N, C]
    size_t parts[KV_PARTS] = {cache, cache, N * C, floats_of(N * C, ab), N * (HD + 2 * KVD),
                              floats_of(N * HD, ab), N * 2 * I, floats_of(N * I, ab), N * V, N, N * C};
    memcpy(n, parts, sizeof parts);
}

KVCacheBytes kvcache_bytes(const Config *g, const Kernels *k, int n_slots, int max_T, int max_N) {
    size_t n[KV_PARTS], step = 0;
    kvcache_parts(g, k, n_slots, max_T, max_N, n);
    for (int i = 2; i < KV_PARTS; i++) step += aligned_floats(n[i]);
    return (KVCacheBytes){2 * aligned_floats(n[0]) * sizeof(float),
                          step * sizeof(float) + STEP_INPUTS * (size_t)max_N * sizeof(int)};
}

int kvcache_create(KVCache *c, const Model *m, int n_slots, int max_T, int max_N, Err *e) {
    memset(c, 0, sizeof *c);
    const Config *g = &m->cfg;
    if (max_T > g->max_seq_len)
        return err_fmt(e, "a KV cache of %d positions exceeds max_position_embeddings = %d", max_T,
                       g->max_seq_len);
    c->n_slots = n_slots;
    c->max_T = max_T;
    c->max_N = max_N;
    size_t n[KV_PARTS];
    kvcache_parts(g, m->k, n_slots, max_T, max_N, n);
    size_t total = 0;
    for (int i = 0; i < KV_PARTS; i++) total += aligned_floats(n[i]);
    c->mem = m->k->alloc(total * sizeof(float));
    c->imem = m->k->alloc(STEP_INPUTS * (size_t)max_N * sizeof(int));
    c->host_inputs = calloc(STEP_INPUTS * (size_t)max_N, sizeof(int));
    c->use_graphs = m->k->graph_begin != NULL;
    c->graphs = calloc(2 * (size_t)n_slots, sizeof *c->graphs);
    c->steps_seen = calloc(2 * (size_t)n_slots, sizeof *c->steps_seen);
    if (!c->mem || !c->imem || !c->host_inputs || !c->graphs || !c->steps_seen) {
        kvcache_free(c, m);
        return err_fmt(e, "out of %s memory for a KV cache of %d x %d positions (%.1f MB)",
                       m->k->name, n_slots, max_T, total * 4.0 / 1e6);
    }
    void *at[KV_PARTS];  // each part's start, in kvcache_parts' order
    float *q = c->mem;
    for (int i = 0; i < KV_PARTS; i++) {
        at[i] = q;
        q += aligned_floats(n[i]);
    }
    c->k = at[0], c->v = at[1], c->x = at[2], c->xn = at[3], c->qkv = at[4], c->att = at[5];
    c->gu = at[6], c->h = at[7], c->logits = at[8], c->rstd = at[9], c->tmp = at[10];
    c->tokens = c->imem;
    c->slots = c->tokens + max_N;
    c->pos = c->slots + max_N;
    c->prefix_slots = c->pos + max_N;
    c->prefix_lens = c->prefix_slots + max_N;
    return 0;
}

void kvcache_free(KVCache *c, const Model *m) {
    for (int i = 0; c->graphs && i < 2 * c->n_slots; i++)
        if (c->graphs[i]) m->k->graph_free(c->graphs[i]);
    free(c->graphs);
    free(c->steps_seen);
    free(c->host_inputs);
    if (c->mem) m->k->free(c->mem);
    if (c->imem) m->k->free(c->imem);
    memset(c, 0, sizeof *c);
}

// The step's device work on its inputs in c->tokens, slots, pos (and the prefix arrays
// when shared): the same calls whether run or recorded.
static void decode_calls(Model *m, KVCache *c, int shared, int N, int n_out) {
    const Kernels *k = m->k;
    const Config *g = &m->cfg;
    int C = g->dim, V = g->vocab_size, H = g->n_heads, KV = g->n_kv_heads, D = g->head_dim,
        HD = H * D;
    size_t layer_cache = (size_t)c->n_slots * c->max_T * KV * D * k->kv_elem_bytes;  // bytes
    const int *pslots = shared ? c->prefix_slots : NULL, *plens = shared ? c->prefix_lens : NULL;
    k->embedding_forward(c->x, c->tokens, model_weight(m, m->at.embed), N, C);
    // the residual stream alternates between x and tmp: the MLP writes a fresh x_out
    float *x = c->x, *x_mid = c->tmp;
    for (int l = 0; l < g->n_layers; l++) {
        LayerWeights w = layer_weights(m, l);
        void *kc = (char *)c->k + l * layer_cache, *vc = (char *)c->v + l * layer_cache;
        // attention block, keys and values from the cache
        qkv_forward(k, g, w, N, c->xn, c->rstd, x, c->qkv, c->pos);
        k->kv_cache_write(kc, vc, c->qkv, c->slots, c->pos, N, H, KV, D, c->max_T);
        k->attention_decode(c->att, c->qkv, kc, vc, c->slots, c->pos, pslots, plens, N, H, KV, D,
                            c->max_T);
        k->matmul_forward(x_mid, c->att, w.wo, NULL, N, HD, C);
        k->add(x_mid, x_mid, x, (size_t)N * C);
        mlp_forward(k, g, w, N, x_mid, c->xn, c->rstd, c->gu, c->h, x);
    }
    // the head for the last n_out rows only
    const float *x_out = x + (size_t)(N - n_out) * C;
    k->rmsnorm_forward(c->xn, c->rstd, x_out, model_weight(m, m->at.norm_final), g->norm_eps, n_out, C);
    k->matmul_forward(c->logits, c->xn, model_weight(m, m->at.lm_head), NULL, n_out, C, V);
}

// Where the recording of a step's shape lives, or NULL when the step runs its calls: not
// a shape that is recorded, or its first step (a shape seen once is not worth recording).
static void **step_graph(KVCache *c, int shared, int N, int n_out) {
    if (!c->use_graphs || n_out != N || N > c->n_slots) return NULL;
    int i = shared * c->n_slots + N - 1;
    return c->graphs[i] || ++c->steps_seen[i] >= 2 ? &c->graphs[i] : NULL;
}

void model_decode_step(Model *m, KVCache *c, const int *tokens, const int *slots, const int *pos,
                       const int *prefix_slots, const int *prefix_lens, int N, int n_out,
                       float *logits) {
    const Kernels *k = m->k;
    int shared = prefix_lens != NULL;
    // the inputs in imem's layout [5, max_N], then one upload up to the last one's N
    const int *inputs[STEP_INPUTS] = {tokens, slots, pos, prefix_slots, prefix_lens};
    int n_inputs = shared ? STEP_INPUTS : 3;  // unshared: tokens, slots, pos
    for (int i = 0; i < n_inputs; i++)
        memcpy(c->host_inputs + (size_t)i * c->max_N, inputs[i], (size_t)N * sizeof(int));
    k->upload(c->imem, c->host_inputs, ((size_t)(n_inputs - 1) * c->max_N + N) * sizeof(int));
    void **graph = step_graph(c, shared, N, n_out);
    if (graph && !*graph) {  // record this shape; a failed recording ran nothing
        if (k->graph_begin() == 0) {
            decode_calls(m, c, shared, N, n_out);
            *graph = k->graph_end();
        }
        if (!*graph) c->use_graphs = 0;
    }
    if (graph && *graph)
        k->graph_run(*graph);
    else
        decode_calls(m, c, shared, N, n_out);
    if (logits) k->download(logits, c->logits, (size_t)n_out * m->cfg.vocab_size * sizeof(float));
}
