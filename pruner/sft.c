// pruner/sft.c -- supervised fine-tuning (see sft.h).
//
// The loss of an optimizer step is the mean next-token cross-entropy over the solution
// tokens (completion = solution + <|im_end|>) of its K micro-batches of B rows:
//   loss = sum_{k,b,t} w[k,b,t] * -log p(target) / sum_{k,b,t} w[k,b,t],  w in {0, 1}
// The step's rows are drawn first so that the weights can be scaled by 1 / sum(w)
// before the backward passes: the gradient is that of the mean, whatever K and B.
// The rows are sorted by length into micro-batches of similar rows (engine/run.h).
#include "sft.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../base/rng.h"
#include "../data/dataset.h"
#include "../engine/modeldir.h"
#include "../engine/tokset.h"
#include "../model/io.h"

// Splits ds into train and held-out examples: the first round(frac * n) of a seeded
// permutation are held out.
static int split_eval(Dataset *ds, double frac, uint64_t seed, Dataset *held, Err *e) {
    memset(held, 0, sizeof *held);
    int n_held = (int)lround(frac * ds->n);
    if (n_held <= 0) return 0;
    if (n_held >= ds->n) return err_fmt(e, "--eval-frac %g leaves no training examples", frac);
    int *perm = malloc((size_t)ds->n * sizeof *perm);
    char *is_held = calloc((size_t)ds->n, 1);
    if (!perm || !is_held) {
        free(perm);
        free(is_held);
        return err_fmt(e, "out of memory splitting the dataset");
    }
    for (int i = 0; i < ds->n; i++) perm[i] = i;
    Rng r = rng_derive(seed, 0x65766131 /* "eva1" */, 0);
    rng_shuffle_ints(&r, perm, ds->n);
    for (int i = 0; i < n_held; i++) is_held[perm[i]] = 1;
    free(perm);
    // Move the held-out examples over (the strings change owner), keep the order.
    Dataset train = {0};
    int rc = 0;
    for (int i = 0; i < ds->n && !rc; i++) {
        Example *x = &ds->ex[i];
        rc = dataset_add(is_held[i] ? held : &train, x->problem, x->answer, x->solution, x->level,
                         x->redundant_chars, e);
    }
    free(is_held);
    if (rc) {
        dataset_free(&train);
        dataset_free(held);
        return -1;
    }
    dataset_free(ds);
    *ds = train;
    return 0;
}

// The training examples and the held-out ones (--eval-data, else a slice of --data).
static int load_data(const SftOpts *o, Dataset *ds, Dataset *held, Err *e) {
    if (dataset_load(o->data, ds, e)) return -1;
    if (o->eval_data) return dataset_load(o->eval_data, held, e);
    return split_eval(ds, o->eval_frac, (uint64_t)o->seed, held, e);
}

// The prompt template: o's over the one the starting folder records (--model, or on
// --resume --out, whose record it must match).
static int prompt_template(const SftOpts *o, ChatTemplate *t, Err *e) {
    const char *dir = o->run.resume ? o->out : o->model;
    if (dir ? model_dir_resolve_template(dir, &o->prompt, t, e) : chat_template_resolve(&o->prompt, NULL, t, e))
        return -1;
    if (o->run.resume && model_dir_check_template(dir, t, e)) return -1;
    const char *name = chat_preset_name(t);
    if (!o->run.quiet && !(name && !strcmp(name, "default"))) {
        char a[200];
        chat_template_describe(t, a, sizeof a);
        fprintf(stderr, "sft: prompt %s\n", a);
    }
    return 0;
}

// The model and its tokenizer: the run's own folder on --resume, else --model or --config.
// *tok_src: a tokenizer.json to copy verbatim into --out (NULL: save r->tok); path
// holds it when it is --model's.
static int open_model(const SftOpts *o, Dataset *ds, const ChatTemplate *tmpl, const Kernels *k, TrainRun *r,
                      char *path, size_t cap, const char **tok_src, Err *e) {
    *tok_src = NULL;
    if (o->run.resume && trainer_can_resume(o->out, e)) return -1;
    if (!o->run.resume && trainer_check_out(o->out, o->run.force, e)) return -1;  // before a tokenizer training
    if (o->run.resume || o->model) {
        if (run_load(r, o->run.resume ? o->out : o->model, k, e)) return -1;
        if (o->run.resume) return 0;
        *tok_src = path;
        return path_join(path, cap, o->model, "tokenizer.json", e);
    }
    Config c;
    Tokenizer *tok;
    if (config_load(o->config, &c, e)) return -1;
    if (o->tokenizer) {
        if (!(tok = tok_load(o->tokenizer, e))) return -1;
        *tok_src = o->tokenizer;
    } else {
        int v = o->vocab > 0 ? (int)o->vocab : c.vocab_size;
        if (v > c.vocab_size) return err_fmt(e, "--vocab %d exceeds the config's vocab_size %d", v, c.vocab_size);
        if (!o->run.quiet) fprintf(stderr, "sft: training a %d-token BPE tokenizer on %s\n", v, o->data);
        if (!(tok = examples_train_tokenizer(ds, tmpl, v, e))) return -1;
    }
    return run_fresh(r, c, tok, o->tokenizer ? o->tokenizer : "the trained tokenizer", (uint64_t)o->seed, k, e);
}

// The run's plan from the kept examples: steps, optimizer, and the signature (what
// must match on --resume for the run to continue bit-identically) in sig.
static RunPlan plan_run(const SftOpts *o, const Batcher *bt, const TokSet *tr, int n_held, int K, int B, int T,
                        const char *tok_src, const Model *m, char *sig, size_t cap) {
    const BatchStats *bs = &bt->stats;
    int steps = (int)o->steps;
    if (steps <= 0) steps = (int)ceil(o->epochs * bs->kept / ((double)B * K));
    if (steps < 1) steps = 1;
    if (!o->run.quiet) {
        fprintf(stderr, "sft: %d training examples (%d kept, %d truncated by %lld tokens, %d dropped: "
                        "--overlong %s, --seq %d), %d held out\n",
                bs->total, bs->kept, bs->truncated, (long long)bs->truncated_tokens, bs->dropped, o->overlong,
                T, n_held);
        fprintf(stderr, "sft: %zu parameters, %d steps of %d x %d sequences (%.2f epochs)\n", m->n_params, steps,
                K, B, (double)steps * B * K / bs->kept);
    }
    int warmup = o->warmup >= 0 ? (int)o->warmup : steps / 20;
    OptimConfig oc = optim_config(o->lr, o->beta2, o->weight_decay, o->grad_clip, o->min_lr_ratio, warmup, steps);
    snprintf(sig, cap,
             "lr=%g beta2=%g warmup=%d min_lr_ratio=%g wd=%g clip=%g steps=%d batch=%d accum=%d seq=%d seed=%ld "
             "overlong=%s cutoff=%ld examples=%d kept=%d completion_tokens=%lld",
             o->lr, o->beta2, oc.warmup_steps, o->min_lr_ratio, o->weight_decay, o->grad_clip, steps, B, K, T,
             o->seed, o->overlong, o->cutoff, bs->total, bs->kept, (long long)tr->completion_tokens);
    return (RunPlan){.out = o->out, .stage = "sft", .K = K, .B = B, .T = T, .steps = steps, .optim = oc,
                     .signature = sig, .seed = (uint64_t)o->seed, .tokenizer_src = tok_src};
}

// Mean loss over the completion tokens of the held-out examples (at most max of them),
// B rows at a time in micro-batch 0 of the step's grid.
static double eval_loss(TrainRun *r, const TokSet *ev, int max) {
    int B = r->B, n = ev->n < max ? ev->n : max, idx[B];
    double sum = 0, count = 0;
    for (int i = 0; i < n; i += B) {
        int nrows = n - i < B ? n - i : B;
        for (int b = 0; b < nrows; b++) idx[b] = i + b;
        run_fill(r, 0, ev->ex, idx, nrows);
        int Tc = run_forward(r, NULL);
        sum += run_loss(r, Tc);
        for (int j = 0; j < B * Tc; j++) count += r->mb_weights[j];
    }
    return count > 0 ? sum / count : NAN;
}

// One optimizer step: the next K B rows, weights of the mean, the passes, the update;
// the held-out loss every eval_every steps and after the last.
static int sft_step(TrainRun *r, Batcher *bt, const TokSet *ev, int eval_every, int eval_max, Err *e) {
    int K = r->K, B = r->B, T = r->T;
    StepMetrics sm = step_metrics();
    for (int kk = 0; kk < K; kk++) {
        size_t off = (size_t)kk * B * T;
        batcher_next(bt, r->tokens + off, r->targets + off, r->weights + off, r->lens + (size_t)kk * B);
    }
    double wsum = run_tally(r, &sm);
    float inv = wsum > 0 ? (float)(1.0 / wsum) : 0.0f;
    for (size_t j = 0; j < (size_t)K * B * T; j++) r->weights[j] *= inv;
    run_sort_rows(r);
    sm.loss = run_passes(r, NULL, NULL);
    sm.comm_s = r->comm_s;
    sm.grad_norm = run_update(r, &sm.lr);
    trainer_set_batch_pos(&r->tr, bt->at, bt->stats.kept);
    int next = r->tr.step + 1;
    if (ev->n && (next % eval_every == 0 || next == r->tr.o.total_steps)) sm.eval_loss = eval_loss(r, ev, eval_max);
    return trainer_step_done(&r->tr, &sm, e);
}

int sft_run(const SftOpts *o, Err *e) {
    const Kernels *k = run_backend(&o->run, e);
    if (!k) return -1;
    BatchPolicy policy = !strcmp(o->overlong, "drop") ? BATCH_DROP : BATCH_TRUNCATE;
    int rc = -1;
    Dataset ds = {0}, held = {0};
    TokSet tr = {0}, ev = {0};
    Batcher bt = {0};
    TrainRun r = {0};
    const char *tok_src = NULL;
    char tok_path[4200], sig[560];
    ChatTemplate tmpl;
    if (prompt_template(o, &tmpl, e) || load_data(o, &ds, &held, e) ||
        open_model(o, &ds, &tmpl, k, &r, tok_path, sizeof tok_path, &tok_src, e))
        goto done;
    if (examples_tokenize(r.tok, &ds, o->data, &tmpl, 0, &tr, e)) goto done;
    if (held.n && examples_tokenize(r.tok, &held, o->eval_data ? o->eval_data : "held-out", &tmpl, 0, &ev, e))
        goto done;
    int B = (int)o->batch, K = (int)o->accum, max_T = r.m->cfg.max_seq_len;
    int cut = batch_cutoff(tr.ex, tr.n, (int)o->cutoff);
    batch_cutoff(ev.ex, ev.n, (int)o->cutoff);
    if (cut && !o->run.quiet) fprintf(stderr, "sft: %d of %d examples cut to --cutoff %ld tokens\n", cut, tr.n, o->cutoff);
    int longest = o->cutoff > 0 && o->cutoff < tr.max_len ? (int)o->cutoff : tr.max_len;
    int T = o->seq > 0 ? (int)o->seq : (longest < max_T ? longest : max_T);
    if (T > max_T) {
        err_fmt(e, "--seq %d exceeds the model's max_position_embeddings %d", T, max_T);
        goto done;
    }
    if (batcher_init(&bt, tr.ex, tr.n, B, T, policy, (uint64_t)o->seed, e)) goto done;
    RunPlan p = plan_run(o, &bt, &tr, ev.n, K, B, T, tok_src, r.m, sig, sizeof sig);
    if (run_open(&r, &p, &o->run, e) || model_dir_save_template(o->out, "sft", &tmpl, NULL, e) ||
        batcher_seek(&bt, trainer_batch_pos(&r.tr, bt.stats.kept), e))
        goto done;
    int eval_every = (int)o->eval_every;
    if (eval_every <= 0) eval_every = p.steps / 10 > 0 ? p.steps / 10 : 1;
    while (!trainer_done(&r.tr))
        if (sft_step(&r, &bt, &ev, eval_every, (int)o->eval_max, e)) goto done;
    rc = trainer_finish(&r.tr, e);
done:
    run_close(&r);
    batcher_free(&bt);
    tokset_free(&tr);
    tokset_free(&ev);
    dataset_free(&ds);
    dataset_free(&held);
    return rc;
}
