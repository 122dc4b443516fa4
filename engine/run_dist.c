// engine/run_dist.c -- a training run on several ranks: the same start everywhere, the
// step's gradients summed in the order of one process's micro-batches, and ZeRO-1's
// sliced update gathered (see run.h).
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

int run_sync_ranks(TrainRun *r, Err *e) {
    Trainer *t = &r->tr;
    // The plan (options and data, in the signature), the grid and the weights each rank
    // loaded (a resumed run: the folder's, which rank 0 has settled on by now).
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
    // each rank its own slice of the moments (ZeRO-1; fresh: the zeros optim_create left)
    size_t n = r->m->n_trained;
    if (t->o.resume && dist_rank() != 0 && trainer_restore_slice(t, e)) return -1;
    // the sum on the GPUs with NCCL where it can run, else on the host (grad_parts);
    // grad_sum carries ZeRO-1's gather of the weights either way
    if (dist_nccl_usable(r->m->k)) {
        if (!(r->nccl = dist_nccl_open(r->m->k, r->K, n, e))) return -1;
    } else if (dist_sum_plan(&r->dsum, r->K, n, e)) {
        return -1;
    }
    r->grad_parts = malloc((size_t)r->dsum.n_mine * n * sizeof(float) + 1);
    r->grad_sum = malloc(n * sizeof(float) + 1);
    if (!r->grad_parts || !r->grad_sum) return err_fmt(e, "out of memory for the gradients of %zu parameters", n);
    return 0;
}

void run_gather_params(TrainRun *r) {
    Model *m = r->m;
    const Kernels *k = m->k;
    TrainedRange tr[MODEL_MAX_RANGES], s;
    int n_ranges = model_trained_ranges(m, tr);
    // pass 1: my updated slice into grad_sum (free until the next step's sum), at the
    // gradient's offsets; every rank's slice to every rank
    for (int i = 0; i < n_ranges; i++)
        if (optim_slice_range(&r->opt, &tr[i], &s))
            k->download(r->grad_sum + s.grad_at, m->params_mem + s.param_at, s.n * sizeof(float));
    dist_allgather_floats(r->grad_sum, m->n_trained);
    // pass 2: all the trained parameters back; the gradients zeroed for the next step
    // (the optimizer zeroed its slice's only)
    for (int i = 0; i < n_ranges; i++) {
        k->upload(m->params_mem + tr[i].param_at, r->grad_sum + tr[i].grad_at, tr[i].n * sizeof(float));
        model_weights_update(m, tr[i].param_at, tr[i].n);
    }
    k->zero(m->grads_mem, m->n_trained * sizeof(float));
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
