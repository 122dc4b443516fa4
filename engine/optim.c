// engine/optim.c -- AdamW with clipping and the cosine schedule (see optim.h).
#include "optim.h"

#include "dist.h"

#include <math.h>
#include <string.h>

OptimConfig optim_defaults(void) {
    OptimConfig c = {.lr = 3e-4f, .min_lr_ratio = 0.1f, .beta1 = 0.9f, .beta2 = 0.95f,
                     .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 1.0f,
                     .warmup_steps = 0, .total_steps = 1};
    return c;
}

OptimConfig optim_config(double lr, double beta2, double weight_decay, double grad_clip, double min_lr_ratio,
                         int warmup_steps, int total_steps) {
    OptimConfig c = optim_defaults();
    c.lr = (float)lr;
    c.beta2 = (float)beta2;
    c.weight_decay = (float)weight_decay;
    c.grad_clip = (float)grad_clip;
    c.min_lr_ratio = (float)min_lr_ratio;
    c.warmup_steps = warmup_steps;
    c.total_steps = total_steps;
    return c;
}

int optim_create(Optimizer *o, const Model *m, OptimConfig cfg, Err *e) {
    return optim_create_slice(o, m, cfg, 0, 1, e);
}

// In size_t: a memory plan may count 2^31 floats or more (which optim_create_slice then
// refuses on several ranks).
void optim_slice_of(size_t n_trained, int rank, int size, size_t *lo, size_t *n) {
    dist_share_size(n_trained, rank, size, lo, n);
}

int optim_create_slice(Optimizer *o, const Model *m, OptimConfig cfg, int rank, int size, Err *e) {
    memset(o, 0, sizeof *o);
    o->cfg = cfg;
    if (size > 1 && m->n_trained > 0x7fffffff)
        return err_fmt(e, "%zu trained parameters: over 2^31, too many for MPI's counts on several ranks",
                       m->n_trained);
    optim_slice_of(m->n_trained, rank, size, &o->lo, &o->n);
    o->m = m->k->alloc(o->n * sizeof(float));
    o->v = m->k->alloc(o->n * sizeof(float));
    if (!o->m || !o->v) {
        optim_free(o, m);
        return err_fmt(e, "out of %s memory for the optimizer state", m->k->name);
    }
    return 0;
}

void optim_free(Optimizer *o, const Model *m) {
    if (o->m) m->k->free(o->m);
    if (o->v) m->k->free(o->v);
    o->m = o->v = NULL;
}

int optim_slice_range(const Optimizer *o, const TrainedRange *r, TrainedRange *out) {
    size_t a = r->grad_at > o->lo ? r->grad_at : o->lo;
    size_t b = r->grad_at + r->n < o->lo + o->n ? r->grad_at + r->n : o->lo + o->n;
    if (a >= b) return 0;
    size_t skip = a - r->grad_at;  // floats of r before the slice
    size_t n_decay = r->n_decay > skip ? r->n_decay - skip : 0;
    *out = (TrainedRange){r->param_at + skip, a, b - a, n_decay < b - a ? n_decay : b - a};
    return 1;
}

float optim_lr(const OptimConfig *c, int s) {
    if (s < c->warmup_steps) return c->lr * (float)(s + 1) / (float)c->warmup_steps;
    int span = c->total_steps - c->warmup_steps;
    if (span <= 0) return c->lr;
    double frac = (double)(s - c->warmup_steps) / span;
    if (frac > 1) frac = 1;
    double min_lr = c->lr * c->min_lr_ratio;
    return (float)(min_lr + 0.5 * (c->lr - min_lr) * (1.0 + cos(M_PI * frac)));
}

double optim_step(Optimizer *o, Model *m, float *lr_out) {
    const OptimConfig *c = &o->cfg;
    double norm = sqrt(m->k->sum_squares(m->grads_mem, m->n_trained));
    float scale = 1.0f;
    // Clipping by the global norm: g <- g * clip / norm when norm > clip.
    if (c->grad_clip > 0 && norm > c->grad_clip) scale = (float)(c->grad_clip / norm);
    float lr = optim_lr(c, o->step);
    o->step++;
    // AdamW is elementwise: the trained ranges' parts in the slice one call each, the
    // same bits as one call over everything
    TrainedRange r[MODEL_MAX_RANGES], s;
    int n_ranges = model_trained_ranges(m, r);
    for (int i = 0; i < n_ranges; i++)
        if (optim_slice_range(o, &r[i], &s))
            m->k->adamw(m->params_mem + s.param_at, model_weight_copy(m, s.param_at), m->grads_mem + s.grad_at,
                        o->m + (s.grad_at - o->lo), o->v + (s.grad_at - o->lo), s.n, s.n_decay, lr, c->beta1,
                        c->beta2, c->eps, c->weight_decay, scale, o->step);
    if (lr_out) *lr_out = lr;
    return norm;
}
