// model/forward.c -- the training forward and backward passes, written once against
// the backend contract (kernels/kernels.h).
//
// Each block is a forward/backward pair, side by side. The backward keeps the residual
// stream's gradient in one buffer, dres [N, C]: a block's backward reads it as d x_out
// and leaves d x_in in it. x_out = x_in + f(norm(x_in)), so
//   d x_in = d x_out + J_norm^T J_f^T d x_out
// and rmsnorm_backward adds (+=) the second term.
//
// Activation recomputation (ACTS_RECOMPUTE): the forward keeps each layer's input x[l]
// and overwrites one layer's worth of the rest; the backward re-runs layer l's forward
// from x[l] (block_forward, the forward's own code) just before layer l's backward
// (the top layer's are still there).
// The kernels are deterministic, so the gradients are the same bits.
#include <stdlib.h>
#include <string.h>

#include "layers.h"

// Shapes of one model at one batch size.
typedef struct {
    int B, T, N, V, C, I, H, KV, D, QKV, HD;
} Dims;

static Dims dims_of(const Config *c, int B, int T) {
    Dims d = {B, T, B * T, c->vocab_size, c->dim, c->hidden_dim, c->n_heads, c->n_kv_heads,
              c->head_dim, (c->n_heads + 2 * c->n_kv_heads) * c->head_dim, c->n_heads * c->head_dim};
    return d;
}

// Where layer l's slice of each per-layer tensor starts within the tensor, in elements.
typedef struct {
    size_t norm_attn, wqkv, bqkv, wo, norm_mlp, wgu, wdown;
} LayerOffsets;

static LayerOffsets layer_offsets(const Config *c, int l) {
    Dims d = dims_of(c, 0, 0);
    size_t L = (size_t)l;
    LayerOffsets o = {L * d.C, L * d.QKV * d.C, L * d.QKV, L * d.C * d.HD, L * d.C, L * 2 * d.I * d.C,
                      L * d.C * d.I};
    return o;
}

LayerParams layer_params(const Params *p, const Config *c, int l) {
    LayerOffsets o = layer_offsets(c, l);
    LayerParams lp = {
        p->norm_attn + o.norm_attn, p->wqkv + o.wqkv,         p->bqkv ? p->bqkv + o.bqkv : NULL,
        p->wo + o.wo,               p->norm_mlp + o.norm_mlp, p->wgu + o.wgu,
        p->wdown + o.wdown,
    };
    return lp;
}

LayerWeights layer_weights(const Model *m, int l) {
    LayerOffsets o = layer_offsets(&m->cfg, l);
    const ParamLayout *at = &m->at;
    LayerWeights w = {
        model_weight(m, at->norm_attn + o.norm_attn),
        model_weight(m, at->wqkv + o.wqkv),
        at->bqkv == MODEL_ABSENT ? NULL : model_weight(m, at->bqkv + o.bqkv),
        model_weight(m, at->wo + o.wo),
        model_weight(m, at->norm_mlp + o.norm_mlp),
        model_weight(m, at->wgu + o.wgu),
        model_weight(m, at->wdown + o.wdown),
    };
    return w;
}

// One layer's activations; xn_attn, att, xn_mlp and h are product inputs, elements of
// the backend's act_elem_bytes (kernels.h).
typedef struct {
    float *x, *rstd_attn, *qkv, *lse, *x_mid, *rstd_mlp, *gu, *x_out;
    void *xn_attn, *att, *xn_mlp, *h;
} LayerActs;

// Element i of a buffer of product inputs.
static void *act_elem(void *base, size_t i, int act_bytes) { return (char *)base + i * act_bytes; }

// Activations are planned for Nmax = a->B * a->T rows; layer l's slice starts at row
// l * Nmax. With recompute only the residual stream x is per layer: every layer's other
// activations share slice 0.
static LayerActs layer_acts(const Acts *a, const Config *c, int act_bytes, int l) {
    Dims d = dims_of(c, a->B, a->T);
    size_t N = (size_t)d.N, s = a->recompute ? 0 : (size_t)l;
    LayerActs la = {
        a->x + l * N * d.C,      a->rstd_attn + s * N,     a->qkv + s * N * d.QKV,
        a->lse + s * N * d.H,    a->x_mid + s * N * d.C,   a->rstd_mlp + s * N,
        a->gu + s * N * 2 * d.I, a->x + (l + 1) * N * d.C,
        act_elem(a->xn_attn, s * N * d.C, act_bytes),      act_elem(a->att, s * N * d.HD, act_bytes),
        act_elem(a->xn_mlp, s * N * d.C, act_bytes),       act_elem(a->h, s * N * d.I, act_bytes),
    };
    return la;
}

// The residual stream after the last layer [N, C]: the top layer's x_out, x[L] (kept
// with recompute too).
static const float *x_last(const Acts *a, const Config *c) {
    return a->x + (size_t)c->n_layers * a->B * a->T * c->dim;
}

// The buffers of Acts for (B, T) in allocation order: each one's size in elements, whether
// they are product inputs (elements of act_elem_bytes; else floats), and whether only the
// backward needs it. The per-layer ones hold L layers, or one with recompute (x keeps its
// L + 1); the logits [N, V], or one chunk's [N, Vc] and the chunks' running sums [N]
// (Vc > 0).
enum { ACTS_BUFFERS = 24 };
typedef struct {
    size_t n;
    int act, bwd;
} ActsBuffer;

static void acts_plan(const Config *c, int B, int T, ActsMode mode, int Vc, ActsBuffer *plan) {
    Dims d = dims_of(c, B, T);
    size_t N = (size_t)d.N, L = c->n_layers, Ls = mode == ACTS_RECOMPUTE ? 1 : L;
    ActsBuffer p[ACTS_BUFFERS] = {
        {(L + 1) * N * d.C, 0, 0}, {Ls * N * d.C, 1, 0},     {Ls * N, 0, 0},         {Ls * N * d.QKV, 0, 0},
        {Ls * N * d.HD, 1, 0},     {Ls * N * d.H, 0, 0},     {Ls * N * d.C, 0, 0},   {Ls * N * d.C, 1, 0},
        {Ls * N, 0, 0},            {Ls * N * 2 * d.I, 0, 0}, {Ls * N * d.I, 1, 0},   {N * d.C, 1, 0},
        {N, 0, 0},                 {N * (Vc ? Vc : d.V), 0, 0}, {N, 0, 0},           {N, 0, 0},
        {Vc ? N : 0, 0, 0},        {N, 0, 0},                {N * d.C, 0, 1},        {N * d.C, 0, 1},
        {N * d.QKV, 0, 1},         {N * d.HD, 0, 1},         {N * 2 * d.I, 0, 1},    {N * d.I, 0, 1},
    };
    memcpy(plan, p, sizeof p);
}

// Floats one buffer takes in the allocation, 64-byte aligned.
static size_t buffer_floats(const ActsBuffer *b, int act_bytes) {
    return aligned_floats(floats_of(b->n, b->act ? act_bytes : (int)sizeof(float)));
}

// Floats of the one float allocation: the buffers mode needs.
static size_t acts_floats(const ActsBuffer *plan, ActsMode mode, int act_bytes) {
    size_t total = 0;
    for (int i = 0; i < ACTS_BUFFERS; i++)
        if (!plan[i].bwd || mode != ACTS_FORWARD) total += buffer_floats(&plan[i], act_bytes);
    return total;
}

// Ints of the other allocation: tokens, targets, positions [N] and lens [B].
static size_t acts_ints(int B, int T) { return 3 * (size_t)B * T + B; }

// Acts.vocab_chunk of a vocab_chunk request: 0 the full head, else the chunk's width,
// at most V (ACTS_VOCAB_AUTO: acts_vocab_chunk's).
static int chunk_of(const Config *c, int B, int T, int vocab_chunk) {
    if (vocab_chunk == ACTS_VOCAB_AUTO) vocab_chunk = acts_vocab_chunk(c, B, T);
    if (vocab_chunk <= 0) return 0;
    return vocab_chunk < c->vocab_size ? vocab_chunk : c->vocab_size;
}

size_t acts_bytes(const Config *c, const Kernels *k, int B, int T, ActsMode mode, int vocab_chunk) {
    ActsBuffer plan[ACTS_BUFFERS];
    acts_plan(c, B, T, mode, chunk_of(c, B, T, vocab_chunk), plan);
    return acts_floats(plan, mode, k->act_elem_bytes) * sizeof(float) + acts_ints(B, T) * sizeof(int);
}

int acts_create(Acts *a, const Model *m, int B, int T, ActsMode mode, int vocab_chunk, Err *e) {
    memset(a, 0, sizeof *a);
    size_t N = (size_t)B * T;
    a->B = B;
    a->T = T;
    a->backward = mode != ACTS_FORWARD;
    a->recompute = mode == ACTS_RECOMPUTE;
    a->vocab_chunk = chunk_of(&m->cfg, B, T, vocab_chunk);
    ActsBuffer plan[ACTS_BUFFERS];
    acts_plan(&m->cfg, B, T, mode, a->vocab_chunk, plan);
    int ab = m->k->act_elem_bytes;
    size_t total = acts_floats(plan, mode, ab);
    a->mem = m->k->alloc(total * sizeof(float));
    a->imem = m->k->alloc(acts_ints(B, T) * sizeof(int));
    a->host_i = malloc(acts_ints(B, T) * sizeof(int));
    a->host_f = malloc(N * sizeof(float));
    if (!a->mem || !a->imem || !a->host_i || !a->host_f) {
        acts_free(a, m);
        return err_fmt(e, "out of %s memory for the activations of a %dx%d batch (%.1f MB)",
                       m->k->name, B, T, total * 4.0 / 1e6);
    }
    void *at[ACTS_BUFFERS] = {0};  // each buffer's start, in plan order
    float *q = a->mem;
    for (int i = 0; i < ACTS_BUFFERS; i++)
        if (!plan[i].bwd || a->backward) {
            at[i] = q;
            q += buffer_floats(&plan[i], ab);
        }
    a->x = at[0], a->xn_attn = at[1], a->rstd_attn = at[2], a->qkv = at[3], a->att = at[4];
    a->lse = at[5], a->x_mid = at[6], a->xn_mlp = at[7], a->rstd_mlp = at[8], a->gu = at[9];
    a->h = at[10], a->xn_final = at[11], a->rstd_final = at[12], a->logits = at[13];
    a->logprob = at[14], a->lse_ce = at[15], a->ce_sum = at[16], a->weights = at[17];
    a->dres = at[18], a->dxn = at[19], a->dqkv = at[20], a->datt = at[21], a->dgu = at[22];
    a->dh = at[23];
    a->tokens = a->imem;
    a->targets = a->tokens + N;
    a->pos = a->targets + N;
    a->lens = a->pos + N;
    return 0;
}

void acts_free(Acts *a, const Model *m) {
    if (a->mem) m->k->free(a->mem);
    if (a->imem) m->k->free(a->imem);
    free(a->host_i);
    free(a->host_f);
    memset(a, 0, sizeof *a);
}

// ---- attention block: x_mid = x + o_proj(attention(rope(qkv_proj(rmsnorm(x))))) ------

void qkv_forward(const Kernels *k, const Config *c, LayerWeights w, int N, void *xn, float *rstd,
                 const float *x, float *qkv, const int *pos) {
    int QKV = (c->n_heads + 2 * c->n_kv_heads) * c->head_dim;
    k->rmsnorm_forward(xn, rstd, x, w.norm_attn, c->norm_eps, N, c->dim);
    k->matmul_forward(qkv, xn, w.wqkv, w.bqkv, N, c->dim, QKV);
    // RoPE rotates the H query heads and the KV key heads: the first H + KV heads.
    k->rope_forward(qkv, pos, N, QKV, c->n_heads + c->n_kv_heads, c->head_dim, c->rope_theta);
}

static void attention_block_forward(const Kernels *k, const Config *c, Dims d, LayerWeights w,
                                    LayerActs a, const Acts *in) {
    qkv_forward(k, c, w, d.N, a.xn_attn, a.rstd_attn, a.x, a.qkv, in->pos);
    k->attention_forward(a.att, a.lse, a.qkv, in->lens, d.B, d.T, d.H, d.KV, d.D);
    k->matmul_forward(a.x_mid, a.att, w.wo, NULL, d.N, d.HD, d.C);
    k->add(a.x_mid, a.x_mid, a.x, (size_t)d.N * d.C);
}

// In: dres = d x_mid. Out: dx = d x (dx is dres, or NULL: not needed). Parameter
// gradients accumulate into g.
static void attention_block_backward(const Kernels *k, const Config *c, Dims d, LayerWeights w,
                                     LayerParams g, LayerActs a, Acts *s, float *dx) {
    k->matmul_backward(s->datt, g.wo, NULL, s->dres, a.att, w.wo, d.N, d.HD, d.C);
    k->attention_backward(s->dqkv, s->datt, a.qkv, a.att, a.lse, s->lens, d.B, d.T, d.H, d.KV, d.D);
    k->rope_backward(s->dqkv, s->pos, d.N, d.QKV, d.H + d.KV, d.D, c->rope_theta);
    k->matmul_backward(s->dxn, g.wqkv, g.bqkv, s->dqkv, a.xn_attn, w.wqkv, d.N, d.C, d.QKV);
    k->rmsnorm_backward(dx, g.norm_attn, s->dxn, a.x, w.norm_attn, a.rstd_attn, d.N, d.C);
}

// ---- MLP block: x_out = x_mid + down(silu(gate(rmsnorm(x_mid))) * up(rmsnorm(x_mid))) ---

void mlp_forward(const Kernels *k, const Config *c, LayerWeights w, int N, const float *x_mid,
                 void *xn, float *rstd, float *gu, void *h, float *x_out) {
    k->rmsnorm_forward(xn, rstd, x_mid, w.norm_mlp, c->norm_eps, N, c->dim);
    k->matmul_forward(gu, xn, w.wgu, NULL, N, c->dim, 2 * c->hidden_dim);
    k->swiglu_forward(h, gu, N, c->hidden_dim);
    k->matmul_forward(x_out, h, w.wdown, NULL, N, c->hidden_dim, c->dim);
    k->add(x_out, x_out, x_mid, (size_t)N * c->dim);
}

// In: dres = d x_out. Out: dres = d x_mid.
static void mlp_block_backward(const Kernels *k, Dims d, LayerWeights w, LayerParams g, LayerActs a,
                               Acts *s) {
    k->matmul_backward(s->dh, g.wdown, NULL, s->dres, a.h, w.wdown, d.N, d.I, d.C);
    k->swiglu_backward(s->dgu, s->dh, a.gu, d.N, d.I);
    k->matmul_backward(s->dxn, g.wgu, NULL, s->dgu, a.xn_mlp, w.wgu, d.N, d.C, 2 * d.I);
    k->rmsnorm_backward(s->dres, g.norm_mlp, s->dxn, a.x_mid, w.norm_mlp, a.rstd_mlp, d.N, d.C);
}

// ---- the passes ---------------------------------------------------------------------

// Layer l from x[l]: its activations (layer_acts) and x[l + 1]. The forward runs it
// for every layer; with recompute the backward runs it again before the layer's
// backward, the same kernels on the same inputs: the same bits.
static void block_forward(const Model *m, Dims d, int l, const Acts *a) {
    LayerWeights w = layer_weights(m, l);
    LayerActs la = layer_acts(a, &m->cfg, m->k->act_elem_bytes, l);
    attention_block_forward(m->k, &m->cfg, d, w, la, a);
    mlp_forward(m->k, &m->cfg, w, d.N, la.x_mid, la.xn_mlp, la.rstd_mlp, la.gu, la.h, la.x_out);
}

// A batch of B x T, smaller than planned, uses the first B T rows: row n = b T + t.
void model_forward(Model *m, Acts *a, const int *tokens, const int *lens, int B, int T) {
    const Kernels *k = m->k;
    Dims d = dims_of(&m->cfg, B, T);
    // stage token ids, positions and lengths; padding becomes token 0, which attention
    // never reads
    int *h_tok = a->host_i, *h_pos = h_tok + 2 * d.N, *h_lens = h_pos + d.N;
    for (int b = 0; b < B; b++) {
        h_lens[b] = lens[b];
        for (int t = 0; t < T; t++) {
            h_tok[b * T + t] = t < lens[b] ? tokens[b * T + t] : 0;
            h_pos[b * T + t] = t;
        }
    }
    k->upload(a->tokens, h_tok, (size_t)d.N * sizeof(int));
    k->upload(a->pos, h_pos, (size_t)d.N * sizeof(int));
    k->upload(a->lens, h_lens, (size_t)B * sizeof(int));
    // a layer's slice holds Nmax rows; a smaller batch uses its first N
    k->embedding_forward(a->x, a->tokens, model_weight(m, m->at.embed), d.N, d.C);
    for (int l = 0; l < m->cfg.n_layers; l++) block_forward(m, d, l, a);
    head_forward(m, a, x_last(a, &m->cfg), d.N);
}

void model_backward(Model *m, Acts *a, const float *weights, int B, int T) {
    const Kernels *k = m->k;
    Dims d = dims_of(&m->cfg, B, T);
    int l0 = model_first_trained(m), frozen_below = m->train_layers > 0;
    k->upload(a->weights, weights, (size_t)d.N * sizeof(float));
    head_backward(m, a, x_last(a, &m->cfg), d.N);
    for (int l = m->cfg.n_layers - 1; l >= l0; l--) {
        LayerWeights w = layer_weights(m, l);
        LayerParams g = layer_params(&m->g, &m->cfg, l - l0);  // g holds the trained layers
        LayerActs la = layer_acts(a, &m->cfg, k->act_elem_bytes, l);
        // the top layer's activations are still those of the forward
        if (a->recompute && l < m->cfg.n_layers - 1) block_forward(m, d, l, a);
        mlp_block_backward(k, d, w, g, la, a);
        // the first trained block above frozen ones: its input gradient is not needed
        attention_block_backward(k, &m->cfg, d, w, g, la, a, frozen_below && l == l0 ? NULL : a->dres);
    }
    if (!frozen_below) k->embedding_backward(m->g.embed, a->dres, a->tokens, d.N, d.C);
}
