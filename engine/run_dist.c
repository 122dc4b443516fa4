// engine/run_dist.c -- a training run on several ranks: the same start everywhere, and
// the step's gradients summed in the order of one process's micro-batches (see run.h).
#include "run.h"

#include <stdlib.h>
#include <string.h>

#include "progress.h"

// What rank 0's trainer_open restored (fresh: its start) and the others take over.
typedef struct {
    int step, start_step, saved_step, opt_step;
    uint64_t data_pos, rng;
    int64_t tokens, start_tokens;
    double elapsed, elapsed0;
} RunCounters;

// Rank 0's n floats of backend buffer p to every rank's.
static int bcast_floats(const Kernels *k, float *p, size_t n, Err *e) {
    float *host = malloc(n * sizeof(float) + 1);
    if (!host) return err_fmt(e, "out of memory for %zu floats", n);
    k->download(host, p, n * sizeof(float));
    dist_bcast(host, n * sizeof(float), 0);
    k->upload(p, host, n * sizeof(float));
    free(host);
    return 0;
}

int run_sync_ranks(TrainRun *r, Err *e) {
    Trainer *t = &r->tr;
    // The plan (options and data, in the signature), the grid and the weights each rank
    // loaded (a resumed run: the folder's; rank 0 restored the optimizer from it).
    uint64_t h = fnv1a(FNV_OFFSET, r->signature, strlen(r->signature)), w = model_fingerprint(r->m);
    int grid[3] = {r->K, r->B, r->T};
    h = fnv1a(fnv1a(h, &w, sizeof w), grid, sizeof grid);
    if (dist_check_same(h, "training options, data or model", e)) return -1;
    RunCounters c = {t->step, t->start_step, t->saved_step, r->opt.step, t->data_pos, t->rng.state,
                     t->tokens, t->start_tokens, t->elapsed, t->elapsed0};
    dist_bcast(&c, sizeof c, 0);
    t->step = c.step, t->start_step = c.start_step, t->saved_step = c.saved_step, r->opt.step = c.opt_step;
    t->data_pos = c.data_pos, t->rng.state = c.rng, t->tokens = c.tokens, t->start_tokens = c.start_tokens;
    t->elapsed = c.elapsed, t->elapsed0 = c.elapsed0;
    size_t n = r->m->n_trained;  // the gradients and moments of what trains
    if (bcast_floats(r->m->k, r->opt.m, n, e) || bcast_floats(r->m->k, r->opt.v, n, e)) return -1;
    if (dist_nccl_usable(r->m->k)) return (r->nccl = dist_nccl_open(r->m->k, r->K, n, e)) ? 0 : -1;
    if (dist_sum_plan(&r->dsum, r->K, n, e)) return -1;
    r->grad_parts = malloc((size_t)r->dsum.n_mine * n * sizeof(float) + 1);
    r->grad_sum = malloc(n * sizeof(float));
    if (!r->grad_parts || !r->grad_sum) return err_fmt(e, "out of memory for the gradients of %zu parameters", n);
    return 0;
}

double run_passes_ranks(TrainRun *r, LossWeightsFn fn, void *ctx) {
    const Kernels *k = r->m->k;
    size_t nb = r->m->n_trained * sizeof(float);
    int K = r->K, lo, hi;
    dist_share(K, dist_rank(), dist_size(), &lo, &hi);
    double loss[K];
    memset(loss, 0, sizeof loss);
    // pass 1: each of my micro-batches' gradients on its own (the optimizer left them 0)
    for (int kk = lo; kk < hi; kk++) {
        run_micro_batch(r, kk, fn, ctx, &loss[kk]);
        if (r->nccl)
            k->copy(dist_nccl_part(r->nccl, kk - lo), r->m->grads_mem, nb);
        else
            k->download(r->grad_parts + (size_t)(kk - lo) * r->m->n_trained, r->m->grads_mem, nb);
        k->zero(r->m->grads_mem, nb);
    }
    // pass 2: their sum in micro-batch order on every rank; the losses (one rank holds
    // each: the sum over ranks is exact), added in order. Timed from the end of the
    // backward passes (the GPU's included).
    k->synchronize();
    double t0 = wall_seconds();
    if (r->nccl) {
        dist_nccl_sum(r->nccl, r->m->grads_mem);
    } else {
        dist_sum_ordered(&r->dsum, r->grad_parts, r->grad_sum);
        k->upload(r->m->grads_mem, r->grad_sum, nb);
    }
    dist_sum_doubles(loss, K);
    r->comm_s = wall_seconds() - t0;
    double total = 0;
    for (int kk = 0; kk < K; kk++) total += loss[kk];
    return total;
}
