// pruner/prune.c -- length-harmonizing fine-tuning (see prune.h; the objectives in
// objective.h, the math in reward.h).
//
// pi_ref is the starting model (--model). Its log-probs of every trained row are
// computed once before the first step, with the initial weights, and kept in
// OUT/ref_logprobs.json (sums per row; with --ratio per-token also every token's),
// which a resumed run reads back: there is never a second model in memory. A step is
// engine/run.h's loop: fill, forward, per-token log-probs, the objective's loss weights,
// the ordinary cross-entropy backward with them, optimizer step.
//
// Data order: the training units (rows, pairs for DPO, or with --group a problem's m
// samples, whose advantages then meet in one gradient) of epoch k are visited in the
// permutation drawn from rng_derive(seed, PRUNE_STREAM, k); a step takes the next
// accum x (batch / rows per unit) units, running on into the next epoch. The position
// is the trainer's data_pos, so --resume continues bit-identically.
//
// Logs: the trainer's metrics.jsonl and OUT/prune_metrics.jsonl, a line per step with
// loss, mean_r, frac_clipped, mean_adv, mean_length (of the trained samples), lr,
// grad_norm and, every --eval-every steps (and at step 0), the held-out greedy accuracy
// and solution length. A resume first cuts both logs back to the checkpoint's step.
#include "prune.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../base/json.h"
#include "../base/rng.h"
#include "../data/dataset.h"
#include "../engine/dist.h"
#include "../engine/modeldir.h"
#include "../engine/progress.h"
#include "../engine/tokset.h"
#include "eval.h"
#include "objective.h"
#include "pool.h"
#include "presample.h"

#define PRUNE_STREAM 0x7072756eULL  // "prun"

static int save_ref(const char *path, const Objective *ob, Err *e) {
    AtomicFile af;
    if (atomic_open(&af, path, e)) return -1;
    int rows = ob->n_rows;
    fprintf(af.f, "{\"rows\": %d, \"sample\": [", rows);
    for (int i = 0; i < rows; i++) fprintf(af.f, "%s%d", i ? "," : "", ob->sample[i]);
    fputs("],\n \"sum_logprob\": [", af.f);
    for (int i = 0; i < rows; i++) fprintf(af.f, "%s%.17g", i ? "," : "", ob->ref[i]);
    fputc(']', af.f);
    if (ob->ref_tok) {
        // 9 significant digits give a float back exactly
        fputs(",\n \"token_logprob\": [", af.f);
        for (int i = 0; i < rows; i++) {
            fputs(i ? ",\n  [" : "\n  [", af.f);
            for (int j = 0; j < ob->ref_n[i]; j++)
                fprintf(af.f, "%s%.9g", j ? "," : "", ob->ref_tok[ob->ref_off[i] + j]);
            fputc(']', af.f);
        }
        fputc(']', af.f);
    }
    fputs("}\n", af.f);
    return atomic_commit(&af, e);
}

// Index of the unit at data position pos (epoch = pos / n; a permutation per epoch).
typedef struct {
    int n;
    int64_t epoch;
    int *perm;
    uint64_t seed;
} Order;

static int order_at(Order *o, uint64_t pos) {
    int64_t ep = (int64_t)(pos / (uint64_t)o->n);
    if (ep != o->epoch) {
        for (int i = 0; i < o->n; i++) o->perm[i] = i;
        Rng r = rng_derive(o->seed, PRUNE_STREAM, (uint64_t)ep);
        rng_shuffle_ints(&r, o->perm, o->n);
        o->epoch = ep;
    }
    return o->perm[pos % (uint64_t)o->n];
}

// The held-out evaluation during training (greedy, first eval_n problems).
typedef struct {
    Dataset ds;
    TokSet prompts;
    int32_t stop[2];
    int n_stop;
    EvalOpts o;
} HeldOut;

static int heldout_run(Model *m, const Tokenizer *tok, HeldOut *h, double *acc, double *len, Err *e) {
    EvalResult r;
    if (eval_decode(m, tok, h->stop, h->n_stop, &h->ds, &h->prompts, &h->o, "prune", "held-out", &r, e)) return -1;
    *acc = r.all.accuracy;
    *len = r.all.mean_length;
    eval_result_free(&r);
    return 0;
}

// Everything a prune run holds.
typedef struct {
    const PruneOpts *o;
    TrainRun r;
    Presample ps;
    Dataset ds;
    ChatTemplate tmpl;  // the training template
    TokSet prompts;     // the prompts of ds under it
    Pool pool;
    Objective ob;
    TokExample *rows;   // [ob.n_rows] the trained rows
    int *idx;           // [K B] the step's rows, indices into rows
    int U;              // units per micro-batch
    Order ord;
    HeldOut ho;
    int eval_every;
    FILE *plog;         // OUT/prune_metrics.jsonl
} Prune;

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
    presample_free(&P->ps);
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

// pi_ref (the run's own checkpoint on --resume), the pre-samples, their problems'
// prompts under the training template, and the objective's rows: prompt ++ pre-sample.
static int load_rows(Prune *P, const ObjectiveOps *ops, const ObjectiveConfig *oc, const Kernels *k, Err *e) {
    const PruneOpts *o = P->o;
    if (o->run.resume ? trainer_can_resume(o->out, e) : trainer_check_out(o->out, o->run.force, e)) return -1;
    if (run_load(&P->r, o->run.resume ? o->out : o->model, k, e) || presample_load(o->presample, &P->ps, e))
        return -1;
    const char *data_path = o->data ? o->data : P->ps.data_path;
    if (!*data_path) return err_fmt(e, "%s does not name its dataset: give --data", o->presample);
    unsigned char *keep = NULL;
    int rc = check_sources(P, data_path, e) || prompt_template(P, e) || dataset_load(data_path, &P->ds, e) ||
             examples_tokenize(P->r.tok, &P->ds, data_path, &P->tmpl, EX_PROMPTS_ONLY, &P->prompts, e) ||
             pool_difficulty_half(o->difficulty, &P->ps, &keep, e) ||
             pool_from_presample(&P->ps, o->presample, &P->ds, data_path, &P->prompts, &P->r.m->cfg, keep, &P->pool, e);
    free(keep);
    if (rc) return -1;
    Pool *pl = &P->pool;
    int ctx = P->r.m->cfg.max_seq_len, cutoff = o->cutoff > 0 && o->cutoff < ctx ? (int)o->cutoff : ctx;
    int cut = batch_cutoff(pl->ex, pl->n, cutoff);
    if (cut && !o->run.quiet)
        fprintf(stderr, "prune: %d of %d pre-samples cut to --cutoff %d tokens\n", cut, pl->n, cutoff);
    for (int i = 0; i < pl->n; i++) pl->trained[i] = pl->ex[i].completion_len;
    RewardInput in = {pl->n, pl->problem, pl->length, pl->correct};
    if (objective_open(&P->ob, ops, oc, &in, pl->trained, pl->k, o->presample, e)) return -1;
    P->rows = malloc((P->ob.n_rows ? (size_t)P->ob.n_rows : 1) * sizeof *P->rows);
    if (!P->rows) return err_fmt(e, "out of memory for %d training rows", P->ob.n_rows);
    for (int i = 0; i < P->ob.n_rows; i++) P->rows[i] = P->pool.ex[P->ob.sample[i]];
    return 0;
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

// The run: micro-batches of U units (B rows, up to the context), K a step.
static int open_run(Prune *P, Err *e) {
    const PruneOpts *o = P->o;
    const Objective *ob = &P->ob;
    int K = (int)o->accum, rpu = ob->rows_per_unit;
    P->U = (int)o->batch / rpu > 0 ? (int)o->batch / rpu : 1;
    int B = P->U * rpu, per_step = P->U * K, T = P->r.m->cfg.max_seq_len;
    int steps = (int)ceil(o->epochs * ob->n_units / per_step);
    if (steps < 1) steps = 1;
    if (!o->run.quiet) report(P, steps);
    P->idx = malloc((size_t)K * B * sizeof *P->idx);
    P->ord = (Order){.n = ob->n_units, .epoch = -1, .seed = (uint64_t)o->seed};
    P->ord.perm = malloc((size_t)ob->n_units * sizeof(int));
    if (!P->idx || !P->ord.perm) return err_fmt(e, "out of memory for %d x %d x %d token batches", K, B, T);

    OptimConfig oc = optim_config(o->lr, o->beta2, o->weight_decay, o->grad_clip, o->min_lr_ratio,
                                  (int)lround(o->warmup_frac * steps), steps);
    char sig[640], tok_src[4200];
    if (path_join(tok_src, sizeof tok_src, o->model, "tokenizer.json", e)) return -1;
    snprintf(sig, sizeof sig,
             "objective=%s lr=%g beta2=%g warmup=%d wd=%g clip=%g steps=%d batch=%ld accum=%d seed=%ld "
             "lambda=%g eps=%g beta=%g m=%ld no_clip=%d no_normalize=%d loo=%d group=%d ratio=%s cutoff=%ld "
             "difficulty=%s units=%d presample=%d alpha=%g dr_grpo=%d simpo_beta=%g simpo_gamma=%g",
             o->objective, o->lr, o->beta2, oc.warmup_steps, o->weight_decay, o->grad_clip, steps, o->batch, K,
             o->seed, o->lambda, o->eps, o->beta, o->m, o->no_clip, o->no_normalize, o->loo, o->group, o->ratio,
             o->cutoff, o->difficulty ? o->difficulty : "all", ob->n_units, P->pool.n, o->alpha, o->dr_grpo,
             o->simpo_beta, o->simpo_gamma);
    RunPlan p = {.out = o->out, .stage = "prune", .K = K, .B = B, .T = T, .steps = steps, .optim = oc,
                 .signature = sig, .seed = (uint64_t)o->seed, .tokenizer_src = tok_src};
    if (run_open(&P->r, &p, &o->run, e)) return -1;
    int same = chat_template_same(&P->tmpl, &P->ps.tmpl);
    return model_dir_save_template(o->out, "prune", &P->tmpl, same ? NULL : &P->ps.tmpl, e);
}

// pi_ref's log-prob sums (and per-token log-probs) of every row, B rows at a time in
// micro-batch 0, with the current weights.
static void compute_ref(Prune *P) {
    TrainRun *r = &P->r;
    Objective *ob = &P->ob;
    int rows = ob->n_rows, B = r->B, idx[B];
    Progress p = progress_start(P->o->run.quiet);
    for (int i = 0; i < rows; i += B) {
        int nr = rows - i < B ? rows - i : B;
        for (int b = 0; b < nr; b++) idx[b] = i + b;
        run_fill(r, 0, P->rows, idx, nr);
        int T = run_forward(r, NULL);
        run_logprobs(r, T);
        const float *lp = r->mb_logprob, *mask = r->mb_weights;
        row_logp_sums(lp, mask, nr, T, ob->ref + i, NULL);
        for (int b = 0; ob->ref_tok && b < nr; b++) {
            float *dst = ob->ref_tok + ob->ref_off[i + b];
            int n = 0;
            for (int t = 0; t < T; t++)
                if (mask[b * T + t] != 0) dst[n++] = lp[b * T + t];
            ob->ref_n[i + b] = n;
        }
        if (progress_due(&p, i + nr == rows))
            fprintf(stderr, "%sprune: reference log-probs %d/%d%s", progress_head(&p), i + nr, rows, progress_tail(&p));
    }
    progress_end(&p);
}

// The per-token log-probs read back: row i must have as many as batch_fill trains of it
// (its solution tokens, cut to the context T as in every batch).
static int load_ref_tokens(const char *path, const JsonValue *tk, const TokExample *rows, Objective *ob, int T,
                           Err *e) {
    int *tokens = malloc((size_t)T * sizeof *tokens), *targets = malloc((size_t)T * sizeof *targets), len;
    float *mask = malloc((size_t)T * sizeof *mask);
    int rc = !tokens || !targets || !mask ? err_fmt(e, "out of memory") : 0;
    for (int i = 0; i < ob->n_rows && !rc; i++) {
        const JsonValue *a = &tk->items[i];
        int want = 0;
        batch_fill(rows, &i, 1, 1, T, 0, tokens, targets, mask, &len);
        for (int t = 0; t < T; t++) want += mask[t] != 0;
        if (a->type != JSON_ARRAY || a->len != (size_t)want) {
            rc = err_fmt(e, "%s: \"token_logprob\" row %d: expected %d numbers (its solution tokens)", path, i, want);
            break;
        }
        for (size_t t = 0; t < a->len && !rc; t++) {
            if (a->items[t].type != JSON_NUMBER)
                rc = err_fmt(e, "%s: \"token_logprob\" row %d, item %zu: expected a number", path, i, t);
            else
                ob->ref_tok[ob->ref_off[i] + t] = (float)a->items[t].num;
        }
        ob->ref_n[i] = want;
    }
    free(tokens);
    free(targets);
    free(mask);
    return rc;
}

// Reads the reference log-probs back; the rows must be the same samples (same options).
static int load_ref(const char *path, Prune *P, Err *e) {
    Objective *ob = &P->ob;
    Json *j = json_parse_file(path, e);
    if (!j) return err_wrap(e, "resume needs the reference log-probs of the run");
    const JsonValue *root = json_root(j), *s = json_get(root, "sample"), *v = json_get(root, "sum_logprob");
    size_t rows = (size_t)ob->n_rows;
    int rc = 0;
    if (!s || !v || s->type != JSON_ARRAY || v->type != JSON_ARRAY || s->len != rows || v->len != rows) {
        rc = err_fmt(e, "%s: expected %zu rows in \"sample\" and \"sum_logprob\" (was the run started with other options?)",
                     path, rows);
    } else {
        for (size_t i = 0; i < rows && !rc; i++) {
            if (s->items[i].type != JSON_NUMBER || v->items[i].type != JSON_NUMBER ||
                (int)s->items[i].num != ob->sample[i])
                rc = err_fmt(e, "%s: row %zu is not the same sample as in this run", path, i);
            else
                ob->ref[i] = v->items[i].num;
        }
    }
    const JsonValue *tk = json_get(root, "token_logprob");
    if (!rc && ob->ref_tok && (!tk || tk->type != JSON_ARRAY || tk->len != rows))
        rc = err_fmt(e, "%s: expected %zu rows in \"token_logprob\" (was the run started with another --ratio?)", path,
                     rows);
    if (!rc && ob->ref_tok) rc = load_ref_tokens(path, tk, P->rows, ob, P->r.T, e);
    json_free(j);
    return rc;
}

// pi_ref's log-probs of the rows: computed now with the initial weights, or read back.
static int reference(Prune *P, Err *e) {
    if (!P->ob.ops->uses_ref) return 0;
    char path[4200];
    if (path_join(path, sizeof path, P->o->out, "ref_logprobs.json", e)) return -1;
    if (P->o->run.resume) return load_ref(path, P, e);
    compute_ref(P);
    return dist_rank() == 0 ? save_ref(path, &P->ob, e) : 0;
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
    if (heldout_open(P, e)) return -1;
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
            int unit = order_at(&P->ord, r->tr.data_pos + (uint64_t)(kk * P->U + j));
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
    ObjectiveConfig oc;
    const ObjectiveOps *ops = objective_find(o->objective, e);
    if (!ops || objective_config(o, &oc, e)) return -1;
    const Kernels *k = run_backend(&o->run, e);
    if (!k) return -1;
    Prune P = {.o = o};
    int rc = -1;
    if (load_rows(&P, ops, &oc, k, e) || open_run(&P, e) || reference(&P, e) || open_logs(&P, e)) goto done;
    while (!trainer_done(&P.r.tr))
        if (prune_step(&P, e)) goto done;
    rc = trainer_finish(&P.r.tr, e);
done:
    prune_free(&P);
    return rc;
}
