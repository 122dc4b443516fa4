// model/head.c -- the head and its loss:
//   logits = lm_head(rmsnorm(x_L)),  loss = sum_n w_n * -log softmax(logits_n)[y_n].
//
// Two ways, the same math. The full head holds logits [N, V]: the forward computes them,
// model_loss reduces them, the backward overwrites them with their gradient. The chunked
// head (Acts.vocab_chunk Vc) never holds more than [N, Vc]: at 8 x 4096 tokens of a
// 152k vocabulary [N, V] is 20 GB. model_loss runs the vocabulary in chunks [v0, v0 + Vc):
//   logits_c[N, Vc] = xn_final @ lm_head[v0 : v0+Vc]^T
// merged into each row's running max and sum of exps (online softmax); the backward
// recomputes each chunk's logits (one more matmul of the head) and
//   dlogits_c = w (softmax_c - onehot_c)               in place of logits_c
//   dlm_head[v0 : v0+Vc] += dlogits_c^T @ xn_final     (each chunk its own rows)
//   dxn += dlogits_c @ lm_head[v0 : v0+Vc]             (chunks in order: deterministic)
#include <string.h>

#include "layers.h"

int acts_vocab_chunk(const Config *c, int B, int T) {
    size_t row = (size_t)B * T * sizeof(float);  // one column of the logits
    if (row * c->vocab_size <= ACTS_FULL_LOGITS_MAX) return 0;
    size_t vc = ACTS_CHUNK_LOGITS_MAX / row / 256 * 256;
    return vc < 256 ? 256 : (int)vc;
}

// The columns of the chunk at v0: Vc, or what is left of V.
static int chunk_width(const Acts *a, int V, int v0) {
    return V - v0 < a->vocab_chunk ? V - v0 : a->vocab_chunk;
}

void head_forward(Model *m, Acts *a, const float *x_last, int N) {
    const Kernels *k = m->k;
    int C = m->cfg.dim;
    k->rmsnorm_forward(a->xn_final, a->rstd_final, x_last, model_weight(m, m->at.norm_final), m->cfg.norm_eps,
                       N, C);
    if (!a->vocab_chunk)
        k->matmul_forward(a->logits, a->xn_final, model_weight(m, m->at.lm_head), NULL, N, C,
                          m->cfg.vocab_size);
}

// a->logprob, a->lse_ce of the last forward, chunk by chunk.
static void chunked_loss(Model *m, Acts *a, int N) {
    const Kernels *k = m->k;
    int C = m->cfg.dim, V = m->cfg.vocab_size;
    for (int v0 = 0; v0 < V; v0 += a->vocab_chunk) {
        int Vc = chunk_width(a, V, v0);
        k->matmul_forward(a->logits, a->xn_final, model_weight(m, m->at.lm_head + (size_t)v0 * C), NULL, N,
                          C, Vc);
        k->crossentropy_chunk_forward(a->logprob, a->lse_ce, a->ce_sum, a->logits, a->targets, N,
                                      V, v0, Vc);
    }
}

double model_loss(Model *m, Acts *a, const int *targets, const float *weights, float *logprob,
                  int B, int T) {
    const Kernels *k = m->k;
    int N = B * T;
    int *h_tgt = a->host_i + N;
    for (int n = 0; n < N; n++) h_tgt[n] = targets[n];
    k->upload(a->targets, h_tgt, (size_t)N * sizeof(int));
    if (a->vocab_chunk)
        chunked_loss(m, a, N);
    else
        k->crossentropy_forward(a->logprob, a->lse_ce, a->logits, a->targets, N, m->cfg.vocab_size);
    k->download(a->host_f, a->logprob, (size_t)N * sizeof(float));
    double loss = 0;
    for (int n = 0; n < N; n++) loss -= (weights ? weights[n] : 1.0) * a->host_f[n];
    if (logprob) memcpy(logprob, a->host_f, (size_t)N * sizeof(float));
    return loss;
}

// a->dxn = d xn_final, chunk by chunk; dlm_head accumulates (NULL: frozen). The first
// chunk writes dxn, the others go through dres (free until the head's end) and add.
static void chunked_backward(Model *m, Acts *a, int N) {
    const Kernels *k = m->k;
    int C = m->cfg.dim, V = m->cfg.vocab_size;
    for (int v0 = 0; v0 < V; v0 += a->vocab_chunk) {
        int Vc = chunk_width(a, V, v0);
        const void *w = model_weight(m, m->at.lm_head + (size_t)v0 * C);
        float *dw = m->g.lm_head ? m->g.lm_head + (size_t)v0 * C : NULL;
        k->matmul_forward(a->logits, a->xn_final, w, NULL, N, C, Vc);
        k->crossentropy_chunk_backward(a->logits, a->logits, a->lse_ce, a->targets, a->weights,
                                       N, v0, Vc);
        k->matmul_backward(v0 ? a->dres : a->dxn, dw, NULL, a->logits, a->xn_final, w, N, C, Vc);
        if (v0) k->add(a->dxn, a->dxn, a->dres, (size_t)N * C);
    }
}

// Out: dres = d x_L. The head starts the residual gradient: dres is zeroed here. A
// frozen head (freeze-tuning: m->g.lm_head, m->g.norm_final NULL) passes it through.
void head_backward(Model *m, Acts *a, const float *x_last, int N) {
    const Kernels *k = m->k;
    int C = m->cfg.dim, V = m->cfg.vocab_size;
    if (a->vocab_chunk) {
        chunked_backward(m, a, N);
    } else {
        k->crossentropy_backward(a->logits, a->logits, a->lse_ce, a->targets, a->weights, N, V);
        k->matmul_backward(a->dxn, m->g.lm_head, NULL, a->logits, a->xn_final, model_weight(m, m->at.lm_head), N,
                          C, V);
    }
    k->zero(a->dres, (size_t)N * C * sizeof(float));
    k->rmsnorm_backward(a->dres, m->g.norm_final, a->dxn, x_last, model_weight(m, m->at.norm_final), a->rstd_final,
                       N, C);
}
