// model/forward.c -- the training forward and backward passes, written once against
// the backend contract (kernels/kernels.h).
//
// Each block is a forward/backward pair, side by side. The backward keeps the residual
// stream's gradient in one buffer, dres [N, C]: a block's backward reads it as d x_out
// and leaves d x_in in it. x_out = x_in + f(norm(x_in)), so
//   d x_in = d x_out + J_norm^T J_f^T d x_out
// and rmsnorm_backward adds (+=) the second term.
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

LayerParams layer_params(const Params *p, const Config *c, int l) {
    Dims d = dims_of(c, 0, 0);
    LayerParams lp = {
        p->norm_attn + (size_t)l * d.C,
        p->wqkv + (size_t)l * d.QKV * d.C,
        p->bqkv ? p->bqkv + (size_t)l * d.QKV : NULL,
        p->wo + (size_t)l * d.C * d.HD,
        p->norm_mlp + (size_t)l * d.C,
        p->wgu + (size_t)l * 2 * d.I * d.C,
        p->wdown + (size_t)l * d.C * d.I,
    };
    return lp;
}

// One layer's activations.
typedef struct {
    float *x, *xn_attn, *rstd_attn, *qkv, *att, *lse, *x_mid, *xn_mlp, *rstd_mlp, *gu, *h, *x_out;
} LayerActs;

// Activations are planned for Nmax = a->B * a->T rows; layer l's slice starts at row
// l * Nmax.
static LayerActs layer_acts(const Acts *a, const Config *c, int l) {
    Dims d = dims_of(c, a->B, a->T);
    size_t N = (size_t)d.N;
    LayerActs la = {
        a->x + l * N * d.C,          a->xn_attn + l * N * d.C,  a->rstd_attn + l * N,
        a->qkv + l * N * d.QKV,      a->att + l * N * d.HD,     a->lse + l * N * d.H,
        a->x_mid + l * N * d.C,      a->xn_mlp + l * N * d.C,   a->rstd_mlp + l * N,
        a->gu + l * N * 2 * d.I,     a->h + l * N * d.I,        a->x + (l + 1) * N * d.C,
    };
    return la;
}

// The residual stream after the last layer [N, C].
static const float *x_last(const Acts *a, const Config *c) {
    return a->x + (size_t)c->n_layers * a->B * a->T * c->dim;
}

int acts_create_chunked(Acts *a, const Model *m, int B, int T, int backward, int vocab_chunk,
                        Err *e) {
    memset(a, 0, sizeof *a);
    const Config *c = &m->cfg;
    Dims d = dims_of(c, B, T);
    size_t N = (size_t)d.N, L = c->n_layers;
    if (vocab_chunk == ACTS_VOCAB_AUTO) vocab_chunk = acts_vocab_chunk(c, B, T);
    int Vc = vocab_chunk > 0 && vocab_chunk < d.V ? vocab_chunk : d.V;  // the logits' width
    a->B = B;
    a->T = T;
    a->backward = backward;
    a->vocab_chunk = vocab_chunk > 0 ? Vc : 0;
    struct { float **p; size_t n; int bwd; } plan[] = {
        {&a->x, (L + 1) * N * d.C, 0},   {&a->xn_attn, L * N * d.C, 0},
        {&a->rstd_attn, L * N, 0},       {&a->qkv, L * N * d.QKV, 0},
        {&a->att, L * N * d.HD, 0},      {&a->lse, L * N * d.H, 0},
        {&a->x_mid, L * N * d.C, 0},     {&a->xn_mlp, L * N * d.C, 0},
        {&a->rstd_mlp, L * N, 0},        {&a->gu, L * N * 2 * d.I, 0},
        {&a->h, L * N * d.I, 0},         {&a->xn_final, N * d.C, 0},
        {&a->rstd_final, N, 0},          {&a->logits, N * Vc, 0},
        {&a->logprob, N, 0},             {&a->lse_ce, N, 0},
        {&a->ce_sum, a->vocab_chunk ? N : 0, 0},
        {&a->weights, N, 0},             {&a->dres, N * d.C, 1},
        {&a->dxn, N * d.C, 1},           {&a->dqkv, N * d.QKV, 1},
        {&a->datt, N * d.HD, 1},         {&a->dgu, N * 2 * d.I, 1},
        {&a->dh, N * d.I, 1},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++)
        if (!plan[i].bwd || backward) total += (plan[i].n + 15) & ~(size_t)15;  // 64-byte aligned
    a->bytes = total * sizeof(float) + (3 * N + B) * sizeof(int);
    a->mem = m->k->alloc(total * sizeof(float));
    a->imem = m->k->alloc((3 * N + B) * sizeof(int));
    a->host_i = malloc((3 * N + B) * sizeof(int));
    a->host_f = malloc(N * sizeof(float));
    if (!a->mem || !a->imem || !a->host_i || !a->host_f) {
        acts_free(a, m);
        return err_fmt(e, "out of %s memory for the activations of a %dx%d batch (%.1f MB)",
                       m->k->name, B, T, total * 4.0 / 1e6);
    }
    float *q = a->mem;
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++)
        if (!plan[i].bwd || backward) {
            *plan[i].p = q;
            q += (plan[i].n + 15) & ~(size_t)15;
        }
    a->tokens = a->imem;
    a->targets = a->tokens + N;
    a->pos = a->targets + N;
    a->lens = a->pos + N;
    return 0;
}

int acts_create(Acts *a, const Model *m, int B, int T, int backward, Err *e) {
    return acts_create_chunked(a, m, B, T, backward, ACTS_VOCAB_AUTO, e);
}

void acts_free(Acts *a, const Model *m) {
    if (a->mem) m->k->free(a->mem);
    if (a->imem) m->k->free(a->imem);
    free(a->host_i);
    free(a->host_f);
    memset(a, 0, sizeof *a);
}

// ---- attention block: x_mid = x + o_proj(attention(rope(qkv_proj(rmsnorm(x))))) ------

void qkv_forward(const Kernels *k, const Config *c, LayerParams p, int N, float *xn, float *rstd,
                 const float *x, float *qkv, const int *pos) {
    int QKV = (c->n_heads + 2 * c->n_kv_heads) * c->head_dim;
    k->rmsnorm_forward(xn, rstd, x, p.norm_attn, c->norm_eps, N, c->dim);
    k->matmul_forward(qkv, xn, p.wqkv, p.bqkv, N, c->dim, QKV);
    // RoPE rotates the H query heads and the KV key heads: the first H + KV heads.
    k->rope_forward(qkv, pos, N, QKV, c->n_heads + c->n_kv_heads, c->head_dim, c->rope_theta);
}

static void attention_block_forward(const Kernels *k, const Config *c, Dims d, LayerParams p,
                                    LayerActs a, const Acts *in) {
    qkv_forward(k, c, p, d.N, a.xn_attn, a.rstd_attn, a.x, a.qkv, in->pos);
    k->attention_forward(a.att, a.lse, a.qkv, in->lens, d.B, d.T, d.H, d.KV, d.D);
    k->matmul_forward(a.x_mid, a.att, p.wo, NULL, d.N, d.HD, d.C);
    k->add(a.x_mid, a.x_mid, a.x, (size_t)d.N * d.C);
}

// In: dres = d x_mid. Out: dx = d x (dx is dres, or NULL: not needed). Parameter
// gradients accumulate into g.
static void attention_block_backward(const Kernels *k, const Config *c, Dims d, LayerParams p,
                                     LayerParams g, LayerActs a, Acts *s, float *dx) {
    k->matmul_backward(s->datt, g.wo, NULL, s->dres, a.att, p.wo, d.N, d.HD, d.C);
    k->attention_backward(s->dqkv, s->datt, a.qkv, a.att, a.lse, s->lens, d.B, d.T, d.H, d.KV, d.D);
    k->rope_backward(s->dqkv, s->pos, d.N, d.QKV, d.H + d.KV, d.D, c->rope_theta);
    k->matmul_backward(s->dxn, g.wqkv, g.bqkv, s->dqkv, a.xn_attn, p.wqkv, d.N, d.C, d.QKV);
    k->rmsnorm_backward(dx, g.norm_attn, s->dxn, a.x, p.norm_attn, a.rstd_attn, d.N, d.C);
}

// ---- MLP block: x_out = x_mid + down(silu(gate(rmsnorm(x_mid))) * up(rmsnorm(x_mid))) ---

void mlp_forward(const Kernels *k, const Config *c, LayerParams p, int N, const float *x_mid,
                 float *xn, float *rstd, float *gu, float *h, float *x_out) {
    k->rmsnorm_forward(xn, rstd, x_mid, p.norm_mlp, c->norm_eps, N, c->dim);
    k->matmul_forward(gu, xn, p.wgu, NULL, N, c->dim, 2 * c->hidden_dim);
    k->swiglu_forward(h, gu, N, c->hidden_dim);
    k->matmul_forward(x_out, h, p.wdown, NULL, N, c->hidden_dim, c->dim);
    k->add(x_out, x_out, x_mid, (size_t)N * c->dim);
}

// In: dres = d x_out. Out: dres = d x_mid.
static void mlp_block_backward(const Kernels *k, Dims d, LayerParams p, LayerParams g, LayerActs a,
                               Acts *s) {
    k->matmul_backward(s->dh, g.wdown, NULL, s->dres, a.h, p.wdown, d.N, d.I, d.C);
    k->swiglu_backward(s->dgu, s->dh, a.gu, d.N, d.I);
    k->matmul_backward(s->dxn, g.wgu, NULL, s->dgu, a.xn_mlp, p.wgu, d.N, d.C, 2 * d.I);
    k->rmsnorm_backward(s->dres, g.norm_mlp, s->dxn, a.x_mid, p.norm_mlp, a.rstd_mlp, d.N, d.C);
}

// ---- the passes ---------------------------------------------------------------------

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
    k->embedding_forward(a->x, a->tokens, m->p.embed, d.N, d.C);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        LayerParams p = layer_params(&m->p, &m->cfg, l);
        LayerActs la = layer_acts(a, &m->cfg, l);
        attention_block_forward(k, &m->cfg, d, p, la, a);
        mlp_forward(k, &m->cfg, p, d.N, la.x_mid, la.xn_mlp, la.rstd_mlp, la.gu, la.h, la.x_out);
    }
    head_forward(m, a, x_last(a, &m->cfg), d.N);
}

void model_backward(Model *m, Acts *a, const float *weights, int B, int T) {
    const Kernels *k = m->k;
    Dims d = dims_of(&m->cfg, B, T);
    int l0 = model_first_trained(m), frozen_below = m->train_layers > 0;
    k->upload(a->weights, weights, (size_t)d.N * sizeof(float));
    head_backward(m, a, x_last(a, &m->cfg), d.N);
    for (int l = m->cfg.n_layers - 1; l >= l0; l--) {
        LayerParams p = layer_params(&m->p, &m->cfg, l);
        LayerParams g = layer_params(&m->g, &m->cfg, l - l0);  // g holds the trained layers
        LayerActs la = layer_acts(a, &m->cfg, l);
        mlp_block_backward(k, d, p, g, la, a);
        // the first trained block above frozen ones: its input gradient is not needed
        attention_block_backward(k, &m->cfg, d, p, g, la, a, frozen_below && l == l0 ? NULL : a->dres);
    }
    if (!frozen_below) k->embedding_backward(m->g.embed, a->dres, a->tokens, d.N, d.C);
}
