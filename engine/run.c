// engine/run.c -- one training run and its step buffers (see run.h).
#include "run.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "progress.h"

const Kernels *run_backend(const RunOpts *o, Err *e) {
    const Kernels *k = backend_by_name(o->device, e);
    if (k && o->threads > 0) omp_set_num_threads((int)o->threads);
    return k;
}

static void point_model(TrainRun *r) {
    r->m = &r->md.m;
    r->tok = r->md.tok;
    r->pad = r->md.chat.endoftext >= 0 ? r->md.chat.endoftext : r->md.chat.im_end;
}

int run_load(TrainRun *r, const char *dir, const Kernels *k, Err *e) {
    if (model_dir_load(&r->md, dir, k, 0, e)) return -1;
    point_model(r);
    return 0;
}

int run_fresh(TrainRun *r, Config c, Tokenizer *tok, const char *tok_name, uint64_t seed, const Kernels *k,
              Err *e) {
    r->md.tok = tok;  // run_close frees it from here on
    point_model(r);
    if (tok_check_fits(tok, tok_name, &c, e) || chat_tokens(tok, tok_name, &r->md.chat, e)) return -1;
    if (c.eos_token_id < 0) c.eos_token_id = r->md.chat.im_end;
    if (model_create(&r->md.m, &c, k, e)) return -1;
    model_init_random(&r->md.m, seed);
    point_model(r);
    return 0;
}

TrainMemory run_train_memory(const Config *c, const Kernels *k, int B, int T, const RunOpts *o, int rank,
                             int ranks) {
    size_t n_params, n_trained, lo, slice;
    int vc = (int)o->vocab_chunk, chunk = vc == ACTS_VOCAB_AUTO ? acts_vocab_chunk(c, B, T) : vc;
    model_sizes(c, (int)o->train_layers, &n_params, &n_trained);
    optim_slice_of(n_trained, rank, ranks, &lo, &slice);
    size_t operand = model_operand_bytes(c, k, (size_t)B * T, chunk ? chunk : c->vocab_size);
    TrainMemory tm = {.params = n_params * sizeof(float) + model_weight_copy_bytes(n_params, k),
                      .grads = n_trained * sizeof(float), .moments = 2 * slice * sizeof(float),
                      .acts_full = acts_bytes(c, k, B, T, ACTS_BACKWARD, vc) + operand,
                      .acts_recompute = acts_bytes(c, k, B, T, ACTS_RECOMPUTE, vc) + operand};
    tm.acts = o->recompute ? tm.acts_recompute : tm.acts_full;
    tm.total = tm.params + tm.grads + tm.moments + tm.acts;
    return tm;
}

const char *run_format_memory(char *buf, size_t cap, const TrainMemory *tm, int recompute, int ranks) {
    char p[32], g[32], o[32], a[32], alt[32], s[32], t[32], per[64] = "", samp[80] = "";
    if (ranks > 1) snprintf(per, sizeof per, " per rank (sliced over %d ranks)", ranks);
    if (tm->sampler)
        snprintf(samp, sizeof samp, ", sampler (KV cache, step buffers) %s", format_bytes(s, 32, (double)tm->sampler));
    snprintf(buf, cap, "parameters %s, gradients %s, optimizer state %s%s, activations %s (%s: %s)%s, total %s",
             format_bytes(p, 32, (double)tm->params), format_bytes(g, 32, (double)tm->grads),
             format_bytes(o, 32, (double)tm->moments), per, format_bytes(a, 32, (double)tm->acts),
             recompute ? "without --recompute" : "--recompute",
             format_bytes(alt, 32, (double)(recompute ? tm->acts_full : tm->acts_recompute)), samp,
             format_bytes(t, 32, (double)tm->total));
    return buf;
}

int run_check_memory(const TrainMemory *tm, const Kernels *k, int recompute, Err *e) {
    size_t avail = k->memory_available ? k->memory_available() : SIZE_MAX, need = tm->total - tm->params;
    if (need <= avail) return 0;
    char plan[320], n[32], av[32], rc[64] = "";
    if (!recompute) {
        char a[32];
        snprintf(rc, sizeof rc, "--recompute (activations %s), ",
                 format_bytes(a, 32, (double)tm->acts_recompute));
    }
    return err_fmt(e, "the run does not fit: %s; beyond the loaded parameters it needs %s but %s of %s memory "
                      "is available: try %s--train-layers N or a smaller --batch",
                   run_format_memory(plan, sizeof plan, tm, recompute, dist_size()), format_bytes(n, 32, (double)need),
                   format_bytes(av, 32, (double)avail), k->name, rc);
}

// "sft: training the last 1 of 4 layers, 12345 of 67890 parameters; memory: parameters
// 272 kB, gradients 49.4 kB, optimizer state 98.8 kB, activations ..., total ..."
static void print_memory(const TrainRun *r, const char *stage, const TrainMemory *tm, int recompute) {
    const Model *m = r->m;
    char plan[320];
    fprintf(stderr, "%s: training ", stage);
    if (m->train_layers)
        fprintf(stderr, "the last %d of %d layers, %zu of %zu parameters", m->train_layers, m->cfg.n_layers,
                m->n_trained, m->n_params);
    else
        fprintf(stderr, "all %zu parameters", m->n_params);
    fprintf(stderr, "; memory: %s\n", run_format_memory(plan, sizeof plan, tm, recompute, dist_size()));
}

int run_decode_memory(const Model *m, const Tokenizer *tok, const SamplerOpts *o, DecodeMemory *d, Err *e) {
    SamplerMemory s;
    if (sampler_memory(m, o, &s, e)) return -1;
    size_t params = m->params_mem ? m->n_params * sizeof(float) : 0;
    *d = (DecodeMemory){.weights = params + model_weight_copy_bytes(m->n_params, m->k), .kv_cache = s.kv_cache,
                        .step = s.step + s.host, .tokenizer = tok_memory(tok)};
    return 0;
}

int run_open(TrainRun *r, const RunPlan *p, const RunOpts *o, Err *e) {
    int K = p->K, B = p->B, T = p->T;
    r->K = K;
    r->B = B;
    r->T = T;
    TrainMemory tm = run_train_memory(&r->m->cfg, r->m->k, B, T, o, dist_rank(), dist_size());
    tm.sampler = p->sampler;
    tm.total += tm.sampler;
    if (run_check_memory(&tm, r->m->k, o->recompute, e) || model_alloc_grads(r->m, (int)o->train_layers, e) ||
        acts_create(&r->acts, r->m, B, T, o->recompute ? ACTS_RECOMPUTE : ACTS_BACKWARD, (int)o->vocab_chunk, e) ||
        optim_create_slice(&r->opt, r->m, p->optim, dist_rank(), dist_size(), e))
        return -1;
    if (!o->quiet) print_memory(r, p->stage, &tm, o->recompute);
    size_t grid = (size_t)K * B * T, mb = (size_t)B * T;
    r->tokens = malloc(grid * sizeof *r->tokens);
    r->targets = malloc(grid * sizeof *r->targets);
    r->weights = malloc(grid * sizeof *r->weights);
    r->lens = malloc((size_t)K * B * sizeof *r->lens);
    r->rows = malloc((size_t)K * B * sizeof *r->rows);
    r->mb_tokens = malloc(mb * sizeof *r->mb_tokens);
    r->mb_targets = malloc(mb * sizeof *r->mb_targets);
    r->mb_lens = malloc((size_t)B * sizeof *r->mb_lens);
    r->mb_weights = malloc(mb * sizeof *r->mb_weights);
    r->mb_logprob = malloc(mb * sizeof *r->mb_logprob);
    r->mb_loss_w = malloc(mb * sizeof *r->mb_loss_w);
    if (!r->tokens || !r->targets || !r->weights || !r->lens || !r->rows || !r->mb_tokens || !r->mb_targets ||
        !r->mb_lens || !r->mb_weights || !r->mb_logprob || !r->mb_loss_w)
        return err_fmt(e, "out of memory for %d x %d x %d token batches", K, B, T);
    for (int i = 0; i < K * B; i++) r->rows[i] = i;
    if (strlen(p->signature) >= sizeof r->signature) return err_fmt(e, "run signature too long");
    strcpy(r->signature, p->signature);
    TrainerOpts to = {.out_dir = p->out, .stage = p->stage, .total_steps = p->steps,
                      .save_every = (int)o->save_every, .log_every = (int)o->log_every, .resume = o->resume,
                      .stop_at = (int)o->stop_at, .signature = r->signature, .seed = p->seed, .quiet = o->quiet,
                      .tokenizer_src = p->tokenizer_src, .force = o->force};
    if (trainer_open(&r->tr, &to, r->m, &r->opt, o->resume ? NULL : r->tok, e)) {
        trainer_close(&r->tr);
        return -1;
    }
    r->opened = 1;
    return dist_size() > 1 ? run_sync_ranks(r, e) : 0;
}

void run_close(TrainRun *r) {
    if (r->opened) trainer_close(&r->tr);
    free(r->tokens);
    free(r->targets);
    free(r->weights);
    free(r->lens);
    free(r->rows);
    free(r->mb_tokens);
    free(r->mb_targets);
    free(r->mb_lens);
    free(r->mb_weights);
    free(r->mb_logprob);
    free(r->mb_loss_w);
    free(r->grad_parts);
    free(r->grad_sum);
    dist_sum_free(&r->dsum);
    dist_nccl_free(r->nccl);
    if (r->m) {
        optim_free(&r->opt, r->m);
        acts_free(&r->acts, r->m);
    }
    model_dir_free(&r->md);
    memset(r, 0, sizeof *r);
}

void run_fill(TrainRun *r, int kk, const TokExample *ex, const int *idx, int n) {
    size_t off = (size_t)kk * r->B * r->T;
    int *lens = r->lens + (size_t)kk * r->B;
    batch_fill(ex, idx, n, r->B, r->T, r->pad, r->tokens + off, r->targets + off, r->weights + off, lens);
    for (int b = n; b < r->B; b++) lens[b] = 1;  // empty rows: one pad token, no target
}

// Insertion sort, n = K B.
void run_sort_rows(TrainRun *r) {
    int n = r->K * r->B;
    for (int i = 0; i < n; i++) r->rows[i] = i;
    for (int i = 1; i < n; i++) {
        int row = r->rows[i], j = i;
        while (j > 0 && r->lens[r->rows[j - 1]] < r->lens[row]) {
            r->rows[j] = r->rows[j - 1];
            j--;
        }
        r->rows[j] = row;
    }
}

double run_tally(const TrainRun *r, StepMetrics *sm) {
    size_t grid = (size_t)r->K * r->B * r->T;
    double wsum = 0;
    for (size_t j = 0; j < grid; j++) wsum += r->weights[j];
    for (int j = 0; j < r->K * r->B; j++) sm->tokens += r->lens[j];
    sm->trained = (int64_t)wsum;
    return wsum;
}

// Copies grid rows rows[0..B) (NULL: 0..B-1) into the (B, Tc) micro-batch, Tc = the
// longest of them: the micro-batch without the padding columns no row needs. Returns Tc.
static int gather_rows(TrainRun *r, const int *rows) {
    int B = r->B, T = r->T, Tc = 1;
    for (int b = 0; b < B; b++) {
        r->mb_lens[b] = r->lens[rows ? rows[b] : b];
        if (r->mb_lens[b] > Tc) Tc = r->mb_lens[b];
    }
    for (int b = 0; b < B; b++) {
        size_t from = (size_t)(rows ? rows[b] : b) * T, to = (size_t)b * Tc;
        memcpy(r->mb_tokens + to, r->tokens + from, (size_t)Tc * sizeof *r->mb_tokens);
        memcpy(r->mb_targets + to, r->targets + from, (size_t)Tc * sizeof *r->mb_targets);
        memcpy(r->mb_weights + to, r->weights + from, (size_t)Tc * sizeof *r->mb_weights);
    }
    return Tc;
}

int run_forward(TrainRun *r, const int *rows) {
    int Tc = gather_rows(r, rows);
    model_forward(r->m, &r->acts, r->mb_tokens, r->mb_lens, r->B, Tc);
    return Tc;
}

void run_logprobs(TrainRun *r, int Tc) {
    model_loss(r->m, &r->acts, r->mb_targets, NULL, r->mb_logprob, r->B, Tc);
}

double run_loss(TrainRun *r, int Tc) {
    return model_loss(r->m, &r->acts, r->mb_targets, r->mb_weights, NULL, r->B, Tc);
}

void run_micro_batch(TrainRun *r, int kk, LossWeightsFn fn, void *ctx, double *loss) {
    const int *rows = r->rows + (size_t)kk * r->B;
    int Tc = run_forward(r, rows);
    if (!fn) {
        *loss += run_loss(r, Tc);
        model_backward(r->m, &r->acts, r->mb_weights, r->B, Tc);
        return;
    }
    run_logprobs(r, Tc);
    fn(ctx, rows, r->B, Tc, r->mb_logprob, r->mb_weights, r->mb_loss_w, loss);
    model_backward(r->m, &r->acts, r->mb_loss_w, r->B, Tc);
}

double run_update(TrainRun *r, float *lr) {
    double norm = optim_step(&r->opt, r->m, lr);
    if (dist_size() > 1) run_gather_params(r);
    return norm;
}

double run_passes(TrainRun *r, LossWeightsFn fn, void *ctx) {
    if (dist_size() > 1) return run_passes_ranks(r, fn, ctx);
    double loss = 0;
    for (int kk = 0; kk < r->K; kk++) run_micro_batch(r, kk, fn, ctx, &loss);
    r->comm_s = NAN;
    return loss;
}
