// pruner/prune.c -- length-harmonizing fine-tuning (see prune.h; the objectives in
// objective.h, the math in reward.h).
//
// pi_ref is the starting model (--model). Its log-probs of every trained row are
// computed once before the first step, with the initial weights, and kept in
// OUT/ref_logprobs.json (sums per row; with --ratio per-token also every token's),
// which a resumed run reads back: there is never a second model in memory. Rounds
// r >= 2 and --online steps take their rows and old policy from the current weights
// (prune_rounds.c). A step is
// engine/run.h's loop: fill, forward, per-token log-probs, the objective's loss weights,
// the ordinary cross-entropy backward with them, optimizer step.
//
// Data order: the training units (rows, pairs for DPO, or with --group a problem's m
// samples, whose advantages then meet in one gradient) of epoch k are visited in the
// permutation drawn from rng_derive(seed, PRUNE_STREAM + r, k) (round r, 0-based; k
// counted from the round's first step); a step takes the next
// accum x (batch / rows per unit) units, running on into the next epoch. The position
// is the trainer's data_pos, so --resume continues bit-identically.
//
// Logs: the trainer's metrics.jsonl and OUT/prune_metrics.jsonl, a line per step with
// loss, mean_r, frac_clipped, mean_adv, mean_length (of the trained samples), lr,
// grad_norm, sampled (the samples drawn for it: a round's first step, --online) and,
// every --eval-every steps (and at step 0), the held-out greedy accuracy and solution
// length. A resume first cuts both logs back to the checkpoint's step.
#include "prune.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../data/dataset.h"
#include "../engine/dist.h"
#include "../engine/modeldir.h"
#include "../engine/progress.h"
#include "../engine/tokset.h"
#include "eval.h"
#include "objective.h"
#include "pool.h"
#include "presample.h"
#include "prune_state.h"

static int heldout_run(Model *m, const Tokenizer *tok, HeldOut *h, double *acc, double *len, Err *e) {
    EvalResult r;
    if (eval_decode(m, tok, h->stop, h->n_stop, &h->ds, &h->prompts, &h->o, "prune", "held-out", &r, e)) return -1;
    *acc = r.all.accuracy;
    *len = r.all.mean_length;
    eval_result_free(&r);
    return 0;
}

static void prune_free(Prune *P) {
    if (P->plog) fclose(P->plog);
    run_close(&P->r);
    free(P->idx);
    free(P->ord.perm);
    free(P->rows);
    dataset_free(&P->ho.ds);
    tokset_free(&P->ho.prompts);
    objective_free(&P->ob);
    pool_free(&P->pool);
    tokset_free(&P->prompts);
    dataset_free(&P->ds);
    presample_free(&P->rps);
    presample_free(&P->ps);
    free(P->trained);
    tokset_free(&P->sample_prompts);
}

// The objective's options (--ratio by name).
static int objective_config(const PruneOpts *o, ObjectiveConfig *c, Err *e) {
    RatioMode ratio;
    if (objective_ratio_find(o->ratio, &ratio, e)) return -1;
    RewardConfig rc = reward_defaults();
    rc.lambda = o->lambda;
    rc.m = (int)o->m;
    rc.clip = !o->no_clip;
    rc.normalize = !o->no_normalize;
    rc.leave_one_out = o->loo;
    rc.seed = (uint64_t)o->seed;
    *c = (ObjectiveConfig){.reward = rc, .ratio = ratio, .eps = o->eps, .group = o->group, .beta = o->beta,
                           .length = {.alpha = o->alpha, .dr_grpo = o->dr_grpo}, .simpo_beta = o->simpo_beta,
                           .simpo_gamma = o->simpo_gamma};
    return 0;
}

// The pre-samples must come from --model (its weights: pi_ref, unless resuming) and
// the dataset at data_path; a file without fingerprints is unchecked (a warning).
static int check_sources(const Prune *P, const char *data_path, Err *e) {
    const PruneOpts *o = P->o;
    PresampleSources have;
    if (presample_sources(o->model, o->run.resume ? NULL : P->r.m, data_path, &have, e)) return -1;
    int rc = presample_check_sources(&P->ps, o->presample, &have, o->model, data_path, e);
    if (rc > 0)
        fprintf(stderr, "prune: warning: %s records no fingerprints (an older o1p): its model and dataset are not "
                        "checked\n", o->presample);
    return rc < 0 ? -1 : 0;
}

// The training template: --prompt's over the pre-samples'; on --resume the one out
// records. Another than the pre-samples' is said (unless quiet).
static int prompt_template(Prune *P, Err *e) {
    const PruneOpts *o = P->o;
    if (chat_template_resolve(&o->prompt, &P->ps.tmpl, &P->tmpl, e) ||
        (o->run.resume && model_dir_check_template(o->out, &P->tmpl, e)))
        return -1;
    if (!o->run.quiet && !chat_template_same(&P->tmpl, &P->ps.tmpl)) {
        char a[200], b[200];
        chat_template_describe(&P->tmpl, a, sizeof a);
        chat_template_describe(&P->ps.tmpl, b, sizeof b);
        fprintf(stderr, "prune: training under the prompt %s; %s was sampled with %s\n", a, o->presample, b);
    }
    return 0;
}

// The longest row: --cutoff, capped at the context (0: the context).
static int row_cap(const Prune *P) {
    int ctx = P->r.m->cfg.max_seq_len;
    return P->o->cutoff > 0 && P->o->cutoff < ctx ? (int)P->o->cutoff : ctx;
}

// (prune_state.h)
int prune_build_rows(Prune *P, const Presample *ps, const char *src, const Presample *base, Err *e) {
    const PruneOpts *o = P->o;
    unsigned char *keep = NULL;
    // (an online step's problems are trained ones already)
    int rc = ((!o->online || ps == &P->ps) && pool_difficulty_half(o->difficulty, &P->ps, &keep, e)) ||
             pool_from_presample(ps, src, &P->ds, P->data_path, &P->prompts, &P->r.m->cfg, keep, &P->pool, e);
    free(keep);
    if (rc) return -1;
    Pool *pl = &P->pool;
    int cutoff = row_cap(P);
    int cut = batch_cutoff(pl->ex, pl->n, cutoff);
    if (cut && !o->run.quiet)
        fprintf(stderr, "prune: %d of %d pre-samples cut to --cutoff %d tokens\n", cut, pl->n, cutoff);
    for (int i = 0; i < pl->n; i++) pl->trained[i] = pl->ex[i].completion_len;
    RewardInput in = {pl->n, pl->problem, pl->length, pl->correct};
    P->oc.reward.base_length = base ? base->mean_length : NULL;
    P->oc.reward.base_accuracy = base ? base->accuracy : NULL;
    if (objective_open(&P->ob, P->ops, &P->oc, &in, pl->trained, pl->k, src, e)) return -1;
    P->rows = malloc((P->ob.n_rows ? (size_t)P->ob.n_rows : 1) * sizeof *P->rows);
    if (!P->rows) return err_fmt(e, "out of memory for %d training rows", P->ob.n_rows);
    for (int i = 0; i < P->ob.n_rows; i++) P->rows[i] = P->pool.ex[P->ob.sample[i]];
    return 0;
}

// pi_ref (the run's own checkpoint on --resume), the pre-samples, their problems'
// prompts under the training template, and the objective's rows on the pre-samples.
static int load_rows(Prune *P, Err *e) {
    const PruneOpts *o = P->o;
    if (o->run.resume ? trainer_can_resume(o->out, e) : trainer_check_out(o->out, o->run.force, e)) return -1;
    if (run_load(&P->r, o->run.resume ? o->out : o->model, P->k, e) || presample_load(o->presample, &P->ps, e))
        return -1;
    P->data_path = o->data ? o->data : P->ps.data_path;
    if (!*P->data_path) return err_fmt(e, "%s does not name its dataset: give --data", o->presample);
    return check_sources(P, P->data_path, e) || prompt_template(P, e) || dataset_load(P->data_path, &P->ds, e) ||
                   examples_tokenize(P->r.tok, &P->ds, P->data_path, &P->tmpl, EX_PROMPTS_ONLY, &P->prompts, e) ||
                   prune_build_rows(P, &P->ps, o->presample, NULL, e)
               ? -1
               : 0;
}

// What the run trains, on stderr.
static void report(const Prune *P, int steps) {
    const Objective *ob = &P->ob;
    const char *term = ob->ops->term;
    fprintf(stderr, "prune: %s, %d pre-samples of %d problems -> %d training %s", P->o->objective, P->pool.n,
            P->pool.n / P->pool.k, objective_terms(ob, ob->n_units), term);
    if (ob->rw.n)
        fprintf(stderr, " (m = %ld, lambda %g; reward mean %.3f, std %.3f, %d clipped)", P->o->m, P->o->lambda,
                ob->rw.mean, ob->rw.std, ob->rw.n_clipped);
    fprintf(stderr, "\nprune: %d steps of %d x %d %s%s, lr %g, beta2 %g\n", steps, (int)P->o->accum,
            objective_terms(ob, P->U), term, ob->rows_per_unit > 1 && !ob->ops->per_pair ? " (whole problems)" : "",
            P->o->lr, P->o->beta2);
}

// The backend memory of the samplers the run starts between its steps, the largest (they
// never run together): the held-out evaluation's (its prompts + --eval-max-new) and, with
// --rounds or --online, presample_memory's (the longest prompt under the pre-samples'
// template + their max-new). The stage's memory plan counts it (RunPlan.sampler).
static int sampler_plan_bytes(const Prune *P, size_t *bytes, Err *e) {
    const Model *m = P->r.m;
    int ctx = m->cfg.max_seq_len;
    SamplerOpts so[2];
    int n = 0;
    if (P->o->eval_data)
        so[n++] = (SamplerOpts){.slots = P->ho.o.slots,
                                .max_len = sampler_max_len(P->ho.prompts.max_prompt_len, P->ho.o.max_new, ctx)};
    if (P->o->rounds > 1 || P->o->online)
        so[n++] = (SamplerOpts){.slots = PRESAMPLE_MEMORY_SLOTS,
                                .max_len = sampler_max_len(P->sample_prompts.max_prompt_len, P->ps.max_new, ctx)};
    *bytes = 0;
    for (int i = 0; i < n; i++) {
        SamplerMemory sm;
        if (sampler_memory(m, &so[i], &sm, e)) return -1;
        if (sm.kv_cache + sm.step > *bytes) *bytes = sm.kv_cache + sm.step;
    }
    return 0;
}

// The run: micro-batches of U units (B rows, up to row_cap tokens), K a step.
static int open_run(Prune *P, Err *e) {
    const PruneOpts *o = P->o;
    const Objective *ob = &P->ob;
    int K = (int)o->accum, rpu = ob->rows_per_unit;
    P->U = (int)o->batch / rpu > 0 ? (int)o->batch / rpu : 1;
    int B = P->U * rpu, per_step = P->U * K, T = row_cap(P);
    int steps = (int)ceil(o->epochs * ob->n_units / per_step);
    if (steps < 1) steps = 1;
    P->round_steps = steps;
    steps *= (int)o->rounds;  // one schedule over the rounds
    if (!o->run.quiet) report(P, steps);
    P->idx = malloc((size_t)K * B * sizeof *P->idx);
    P->ord = (Order){.n = ob->n_units, .epoch = -1, .seed = (uint64_t)o->seed, .stream = PRUNE_STREAM};
    P->ord.perm = malloc((size_t)ob->n_units * sizeof(int));
    if (!P->idx || !P->ord.perm) return err_fmt(e, "out of memory for %d x %d x %d token batches", K, B, T);

    OptimConfig oc = optim_config(o->lr, o->beta2, o->weight_decay, o->grad_clip, o->min_lr_ratio,
                                  (int)lround(o->warmup_frac * steps), steps);
    char sig[700], tok_src[4200];
    if (path_join(tok_src, sizeof tok_src, o->model, "tokenizer.json", e)) return -1;
    snprintf(sig, sizeof sig,
             "objective=%s lr=%g beta2=%g warmup=%d wd=%g clip=%g steps=%d batch=%ld accum=%d seed=%ld "
             "lambda=%g eps=%g beta=%g m=%ld no_clip=%d no_normalize=%d loo=%d group=%d ratio=%s cutoff=%ld "
             "difficulty=%s units=%d presample=%d alpha=%g dr_grpo=%d simpo_beta=%g simpo_gamma=%g",
             o->objective, o->lr, o->beta2, oc.warmup_steps, o->weight_decay, o->grad_clip, steps, o->batch, K,
             o->seed, o->lambda, o->eps, o->beta, o->m, o->no_clip, o->no_normalize, o->loo, o->group, o->ratio,
             o->cutoff, o->difficulty ? o->difficulty : "all", ob->n_units, P->pool.n, o->alpha, o->dr_grpo,
             o->simpo_beta, o->simpo_gamma);
    if (o->rounds > 1 || o->online)
        snprintf(sig + strlen(sig), sizeof sig - strlen(sig), " rounds=%ld online=%d baseline=%s", o->rounds,
                 o->online, o->baseline);
    RunPlan p = {.out = o->out, .stage = "prune", .K = K, .B = B, .T = T, .steps = steps, .optim = oc,
                 .signature = sig, .seed = (uint64_t)o->seed, .tokenizer_src = tok_src};
    if (sampler_plan_bytes(P, &p.sampler, e)) return -1;
    if (run_open(&P->r, &p, &o->run, e) || (!o->run.resume && prune_clear_rounds(P, e))) return -1;
    int same = chat_template_same(&P->tmpl, &P->ps.tmpl);
    return model_dir_save_template(o->out, "prune", &P->tmpl, same ? NULL : &P->ps.tmpl, e);
}

// The held-out problems (the first --eval-n of --eval-data), greedy, one sample each.
static int heldout_open(Prune *P, Err *e) {
    const PruneOpts *o = P->o;
    HeldOut *ho = &P->ho;
    if (dataset_load(o->eval_data, &ho->ds, e)) return -1;
    if (o->eval_n > 0 && o->eval_n < ho->ds.n) {
        Dataset cut = {0};
        for (int i = 0; i < o->eval_n; i++)
            if (dataset_add(&cut, ho->ds.ex[i].problem, ho->ds.ex[i].answer, NULL, ho->ds.ex[i].level, -1, e)) {
                dataset_free(&cut);
                return -1;
            }
        dataset_free(&ho->ds);
        ho->ds = cut;
    }
    if (examples_tokenize(P->r.tok, &ho->ds, o->eval_data, &P->tmpl, EX_PROMPTS_ONLY, &ho->prompts, e)) return -1;
    ho->n_stop = chat_stop_ids(&P->r.md.chat, ho->stop);
    ho->o = (EvalOpts){.k = 1, .temperature = 0, .top_p = 1, .max_new = (int)o->eval_max_new, .slots = 16,
                       .seed = 1, .quiet = 1};
    return 0;
}

// --rounds, --online: the prompts to sample from, under the pre-samples' template.
static int sample_prompts(Prune *P, Err *e) {
    if (!(P->o->rounds > 1 || P->o->online)) return 0;
    return examples_tokenize(P->r.tok, &P->ds, P->data_path, &P->ps.tmpl, EX_PROMPTS_ONLY, &P->sample_prompts, e);
}

// prune_metrics.jsonl, and the held-out accuracy before the first step.
static int open_logs(Prune *P, Err *e) {
    const PruneOpts *o = P->o;
    char path[4200];
    if (path_join(path, sizeof path, o->out, "prune_metrics.jsonl", e)) return -1;
    // rank 0 writes the log; the others run the held-out evaluations with it
    if (dist_rank() != 0) snprintf(path, sizeof path, "/dev/null");
    else if (o->run.resume && trainer_trim_log(path, P->r.tr.step, e)) return -1;
    if (!(P->plog = fopen(path, o->run.resume ? "a" : "w")))
        return err_fmt(e, "%s: cannot open for writing: %s", path, strerror(errno));
    P->eval_every = (int)o->eval_every;
    if (!o->eval_data) return 0;
    int steps = P->r.tr.o.total_steps;
    if (P->eval_every <= 0) P->eval_every = steps / 4 > 0 ? steps / 4 : 1;
    if (o->run.resume) return 0;
    double acc, len;
    if (heldout_run(P->r.m, P->r.tok, &P->ho, &acc, &len, e)) return -1;
    fprintf(P->plog, "{\"step\":0,\"heldout_acc\":%.6g,\"heldout_length\":%.6g}\n", acc, len);
    if (io_flush(P->plog)) return err_fmt(e, "%s: write failed: %s", path, strerror(errno));
    if (!o->run.quiet)
        fprintf(stderr, "prune step 0 | held-out accuracy %.1f%%, mean length %.1f (%d problems)\n", 100 * acc, len,
                P->ho.ds.n);
    return 0;
}

// The step's line of prune_metrics.jsonl, with the held-out accuracy when due.
static int log_step(Prune *P, const StepMetrics *sm, double adv_sum, double len_sum, Err *e) {
    int step = P->r.tr.step + 1, rows = P->U * P->r.K * P->ob.rows_per_unit;
    fprintf(P->plog, "{\"step\":%d,\"loss\":%.9g,\"mean_r\":%.9g,\"frac_clipped\":%.6g,\"mean_adv\":%.6g,"
                     "\"mean_length\":%.6g,\"lr\":%.6g,\"grad_norm\":%.6g",
            step, sm->loss, objective_mean_r(&P->ob), objective_frac_clipped(&P->ob), adv_sum / rows,
            len_sum / rows, (double)sm->lr, sm->grad_norm);
    if (P->step_sampled) fprintf(P->plog, ",\"sampled\":%d", P->step_sampled);
    P->step_sampled = 0;
    if (P->ho.ds.n && (step % P->eval_every == 0 || step == P->r.tr.o.total_steps)) {
        double acc, len;
        if (heldout_run(P->r.m, P->r.tok, &P->ho, &acc, &len, e)) return -1;
        fprintf(P->plog, ",\"heldout_acc\":%.6g,\"heldout_length\":%.6g", acc, len);
        if (!P->o->run.quiet) {
            progress_clear(&P->r.tr.progress);
            fprintf(stderr, "prune step %d | held-out accuracy %.1f%%, mean length %.1f\n", step, 100 * acc, len);
        }
    }
    fputs("}\n", P->plog);
    if (io_flush(P->plog)) return err_fmt(e, "%s/prune_metrics.jsonl: write failed: %s", P->o->out, strerror(errno));
    return 0;
}

// run_passes's hook: the grid rows of a micro-batch are P->idx's training rows.
static void loss_weights(void *ctx, const int *rows, int B, int Tc, const float *logprob, const float *mask,
                         float *w, double *loss) {
    Prune *P = ctx;
    int train_rows[B];
    for (int b = 0; b < B; b++) train_rows[b] = P->idx[rows[b]];
    objective_weights(&P->ob, train_rows, B, Tc, logprob, mask, w, loss);
}

// One optimizer step over the next U K units.
static int prune_step(Prune *P, Err *e) {
    TrainRun *r = &P->r;
    const Objective *ob = &P->ob;
    int rpu = ob->rows_per_unit;
    StepMetrics sm = step_metrics();
    double adv_sum = 0, len_sum = 0;
    for (int kk = 0; kk < r->K; kk++) {
        int *ix = P->idx + (size_t)kk * r->B;
        for (int j = 0; j < P->U; j++) {
            int slot = kk * P->U + j;  // the step's rows are online's, else the data order's
            int unit = P->o->online ? slot : order_at(&P->ord, r->tr.data_pos + (uint64_t)slot);
            for (int q = 0; q < rpu; q++) {
                ix[j * rpu + q] = unit * rpu + q;
                if (ob->adv) adv_sum += ob->adv[unit * rpu + q];
            }
        }
        run_fill(r, kk, P->rows, ix, r->B);
        for (int b = 0; b < r->B; b++) len_sum += P->pool.length[P->ob.sample[ix[b]]];
    }
    objective_step_begin(&P->ob, P->U * r->K, run_tally(r, &sm));
    sm.loss = run_passes(r, loss_weights, P);
    sm.comm_s = r->comm_s;
    objective_step_end(&P->ob);
    sm.grad_norm = run_update(r, &sm.lr);
    r->tr.data_pos += (uint64_t)(P->U * r->K);
    if (log_step(P, &sm, adv_sum, len_sum, e)) return -1;
    return trainer_step_done(&r->tr, &sm, e);
}

int prune_run(const PruneOpts *o, Err *e) {
    Prune P = {.o = o, .round = -1};
    if ((o->rounds > 1 || o->online) && dist_size() > 1) return err_fmt(e, "--rounds, --online: one process only");
    if (!(P.ops = objective_find(o->objective, e)) || objective_config(o, &P.oc, e)) return -1;
    if (!(P.k = run_backend(&o->run, e))) return -1;
    int rc = -1, stop = 0;
    if (load_rows(&P, e) || (o->eval_data && heldout_open(&P, e)) || sample_prompts(&P, e) || open_run(&P, e) ||
        (o->online && prune_online_open(&P, e)) || open_logs(&P, e))
        goto done;
    while (!stop && !trainer_done(&P.r.tr))
        if ((stop = prune_before_step(&P, e)) < 0 || (!stop && prune_step(&P, e))) goto done;
    rc = trainer_finish(&P.r.tr, e);
done:
    prune_free(&P);
    return rc;
}
