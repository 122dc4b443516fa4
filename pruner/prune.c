// pruner/prune.c -- `o1p prune`: length-harmonizing fine-tuning (O1-Pruner), and the
// paper's two baselines in the same loop.
//
//   --objective ppo (default)  the chosen pre-samples (m per problem) with advantages A
//                              from pruner/reward.h; loss = mean over the step's sequences
//                              of max(-A r, -A clip(r, 1-eps, 1+eps)), r the per-sequence
//                              ratio to pi_ref (--ratio per-token: a mean over each
//                              sequence's tokens, with a ratio and a clip per token).
//   --objective sft-shortest   plain SFT on the 2 shortest correct samples per problem.
//   --objective dpo            DPO with chosen = the shortest correct sample of a problem,
//                              rejected = its longest sample, beta = 0.1.
//
// pi_ref is the starting model (--model). Its log-probs of every trained sequence are
// computed once before the first step, with the initial weights, and kept in
// OUT/ref_logprobs.json (sums per sequence; with --ratio per-token also every token's),
// which a resumed run reads back: there is never a second model in memory. Each step
// is: forward, per-token log-probs (model_loss), per-token weights from reward.h, and
// the engine's ordinary cross-entropy backward with those weights.
//
// Data order: the training units (sequences, or pairs for DPO) of epoch k are visited
// in the permutation drawn from rng_derive(seed, PRUNE_STREAM, k); a step takes the next
// accum x batch units, running on into the next epoch. The position is the trainer's
// data_pos, so --resume continues bit-identically. With --group (PPO) a unit is one
// problem's m samples: a problem's samples are trained in the same step, where their
// advantages, centred on the problem's own baselines, meet in one gradient.
//
// Logs: the trainer's metrics.jsonl (loss, lr, grad norm, tokens) and
// OUT/prune_metrics.jsonl, one line per step with loss, mean_r, frac_clipped, mean_adv,
// mean_length (of the trained samples), lr, grad_norm and, every --eval-every steps
// (and at step 0), the held-out greedy accuracy and solution length. After a resume the
// redone steps are appended again; a reader keeps the last line of each step.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../base/json.h"
#include "../base/rng.h"
#include "../data/dataset.h"
#include "../cli/cli.h"
#include "../engine/backend.h"
#include "eval.h"
#include "../engine/modeldir.h"
#include "../engine/tokset.h"
#include "../engine/optim.h"
#include "presample.h"
#include "../engine/progress.h"
#include "reward.h"
#include "../engine/trainer.h"

#define PRUNE_STREAM 0x7072756eULL  // "prun"

typedef enum { OBJ_PPO, OBJ_SFT_SHORTEST, OBJ_DPO } Objective;

typedef struct {
    const char *model, *presample, *data, *out, *objective, *ratio, *eval_data;
    long batch, accum, m, seed, eval_every, eval_n, eval_max_new;
    double lr, lambda, eps, beta, epochs, warmup_frac, grad_clip, weight_decay, min_lr_ratio;
    int no_clip, no_normalize, loo, group;
    RunArgs run;
} PruneArgs;

// The pre-samples as training rows: prompt of their problem ++ their tokens.
typedef struct {
    int n, k;                         // samples, samples per problem
    int *problem, *length, *correct;  // [n]
    TokExample *ex;                   // [n]
} Pool;

// What is trained: rows grouped in units of rows_per_unit consecutive rows.
typedef struct {
    int n_units, rows_per_unit;
    TokExample *rows;  // [n_units * rows_per_unit]
    int *src;          // [rows] index into the pool
    double *adv;       // [rows] PPO advantages (NULL otherwise)
    double *ref;       // [rows] reference log-prob sums (PPO, DPO)
    // --ratio per-token: pi_ref's log-probs of each row's solution tokens, row i's
    // ref_n[i] of them at ref_tok + ref_off[i] (NULL otherwise)
    float *ref_tok;
    size_t *ref_off;
    int *ref_n;
} Units;

static void pool_free(Pool *p) {
    free(p->problem);
    free(p->length);
    free(p->correct);
    free(p->ex);
    memset(p, 0, sizeof *p);
}

// Rows from the pre-samples: the prompt of problem i (prompts of the dataset that was
// pre-sampled) followed by the sample's token ids, as generated (end token included).
static int pool_from_presample(const Presample *ps, const char *ps_path, const Dataset *ds, const char *data_path,
                               const TokSet *prompts, const Config *c, Pool *p, Err *e) {
    memset(p, 0, sizeof *p);
    if (ps->n_problems_total != ds->n)
        return err_fmt(e, "%s: pre-sampled a dataset of %d problems, but %s has %d (not the same dataset?)", ps_path,
                       ps->n_problems_total, data_path, ds->n);
    int n = ps->n_problems * ps->k;
    if (n == 0) return err_fmt(e, "%s: no complete problem (run o1p presample to the end)", ps_path);
    p->n = n;
    p->k = ps->k;
    p->problem = malloc((size_t)n * sizeof(int));
    p->length = malloc((size_t)n * sizeof(int));
    p->correct = malloc((size_t)n * sizeof(int));
    p->ex = malloc((size_t)n * sizeof *p->ex);
    if (!p->problem || !p->length || !p->correct || !p->ex) return err_fmt(e, "out of memory for %d samples", n);
    for (int i = 0; i < n; i++) {
        const PresampleItem *it = &ps->items[i];
        for (int t = 0; t < it->length; t++)
            if (it->ids[t] < 0 || it->ids[t] >= c->vocab_size)
                return err_fmt(e, "%s: problem %d, sample %d: token id %d is outside the model's vocab of %d", ps_path,
                               it->problem, it->sample, it->ids[t], c->vocab_size);
        p->problem[i] = it->problem;
        p->length[i] = it->length;
        p->correct[i] = it->correct;
        p->ex[i] = prompts->ex[it->problem];
        p->ex[i].completion = (const int *)it->ids;
        p->ex[i].completion_len = it->length;
    }
    return 0;
}

static void units_free(Units *u) {
    free(u->rows);
    free(u->src);
    free(u->adv);
    free(u->ref);
    free(u->ref_tok);
    free(u->ref_off);
    free(u->ref_n);
    memset(u, 0, sizeof *u);
}

static int units_alloc(Units *u, int n_units, int rpu, Err *e) {
    u->n_units = n_units;
    u->rows_per_unit = rpu;
    size_t rows = (size_t)n_units * rpu;
    u->rows = calloc(rows ? rows : 1, sizeof *u->rows);
    u->src = calloc(rows ? rows : 1, sizeof *u->src);
    u->ref = calloc(rows ? rows : 1, sizeof *u->ref);
    if (!u->rows || !u->src || !u->ref) return err_fmt(e, "out of memory for %d training units", n_units);
    return 0;
}

static void set_row(Units *u, const Pool *p, int row, int sample) {
    u->rows[row] = p->ex[sample];
    u->src[row] = sample;
}

// Room for pi_ref's log-probs of every solution token of every row (--ratio per-token).
static int units_alloc_ref_tok(Units *u, Err *e) {
    int rows = u->n_units * u->rows_per_unit;
    u->ref_off = malloc(((size_t)rows + 1) * sizeof *u->ref_off);
    u->ref_n = calloc(rows ? rows : 1, sizeof *u->ref_n);
    if (!u->ref_off || !u->ref_n) return err_fmt(e, "out of memory");
    u->ref_off[0] = 0;
    for (int i = 0; i < rows; i++) u->ref_off[i + 1] = u->ref_off[i] + (size_t)u->rows[i].completion_len;
    u->ref_tok = malloc((u->ref_off[rows] ? u->ref_off[rows] : 1) * sizeof *u->ref_tok);
    if (!u->ref_tok) return err_fmt(e, "out of memory for %zu reference log-probs", u->ref_off[rows]);
    return 0;
}

// The training units of each objective.
static int select_units(Objective obj, const PruneArgs *A, const Pool *p, Units *u, RewardOut *rw, Err *e) {
    memset(u, 0, sizeof *u);
    RewardInput in = {p->n, p->problem, p->length, p->correct};
    if (obj == OBJ_PPO) {
        RewardConfig rc = reward_defaults();
        rc.lambda = A->lambda;
        rc.m = (int)A->m;
        rc.clip = !A->no_clip;
        rc.normalize = !A->no_normalize;
        rc.leave_one_out = A->loo;
        rc.seed = (uint64_t)A->seed;
        // reward_compute keeps the same number of samples of every problem, consecutive
        int per_problem = rc.m <= 0 || rc.m > p->k ? p->k : rc.m;
        if (reward_compute(&rc, &in, rw, e)) return -1;
        int rpu = A->group ? per_problem : 1;
        if (units_alloc(u, rw->n / rpu, rpu, e)) return -1;
        u->adv = malloc((size_t)rw->n * sizeof(double));
        if (!u->adv) return err_fmt(e, "out of memory");
        for (int j = 0; j < rw->n; j++) {
            set_row(u, p, j, rw->index[j]);
            u->adv[j] = rw->adv[j];
        }
        return 0;
    }
    int rpu = obj == OBJ_DPO ? 2 : 1;
    int *pick = malloc((size_t)p->n * sizeof(int));
    if (!pick) return err_fmt(e, "out of memory");
    int n = obj == OBJ_DPO ? select_dpo_pairs(&in, pick, e) : select_shortest_correct(&in, 2, pick, e);
    int rc = n < 0 ? -1 : 0;
    if (!rc && n == 0)
        rc = err_fmt(e, "%s: no training %s (no problem has a correct sample%s)", A->presample,
                     obj == OBJ_DPO ? "pairs" : "samples", obj == OBJ_DPO ? " and another one" : "");
    if (!rc) rc = units_alloc(u, n, rpu, e);
    for (int r = 0; !rc && r < n * rpu; r++) set_row(u, p, r, pick[r]);
    free(pick);
    return rc;
}

// Fills a (B, T') micro-batch from rows[idx[0..nrows)), T' the longest row (<= Tmax).
// Unused rows get one pad token and no target.
static int fill_batch(const TokExample *rows, const int *idx, int nrows, int B, int Tmax, int pad, int *tokens,
                      int *targets, float *mask, int *lens) {
    int T = 2;
    for (int r = 0; r < nrows; r++) {
        int l = rows[idx[r]].prompt_len + rows[idx[r]].completion_len;
        if (l > T) T = l;
    }
    if (T > Tmax) T = Tmax;
    batch_fill(rows, idx, nrows, B, T, pad, tokens, targets, mask, lens);
    for (int r = nrows; r < B; r++) lens[r] = 1;
    return T;
}

// pi_ref's log-prob sums of every row, B rows at a time, with the current weights.
static void compute_ref(Model *m, Acts *a, Units *u, int B, int Tmax, int pad, int *tokens, int *targets,
                        float *mask, float *lp, int *lens, int quiet) {
    int rows = u->n_units * u->rows_per_unit, idx[B];
    Progress p = progress_start(quiet);
    for (int i = 0; i < rows; i += B) {
        int nr = rows - i < B ? rows - i : B;
        for (int r = 0; r < nr; r++) idx[r] = i + r;
        int T = fill_batch(u->rows, idx, nr, B, Tmax, pad, tokens, targets, mask, lens);
        model_forward(m, a, tokens, lens, B, T);
        model_loss(m, a, targets, NULL, lp, B, T);
        row_logp_sums(lp, mask, nr, T, u->ref + i, NULL);
        for (int r = 0; u->ref_tok && r < nr; r++) {
            float *dst = u->ref_tok + u->ref_off[i + r];
            int n = 0;
            for (int t = 0; t < T; t++)
                if (mask[r * T + t] != 0) dst[n++] = lp[r * T + t];
            u->ref_n[i + r] = n;
        }
        if (progress_due(&p, i + nr == rows))
            fprintf(stderr, "%sprune: reference log-probs %d/%d%s", progress_head(&p), i + nr, rows, progress_tail(&p));
    }
    progress_end(&p);
}

static int save_ref(const char *path, const Units *u, Err *e) {
    AtomicFile af;
    if (atomic_open(&af, path, e)) return -1;
    int rows = u->n_units * u->rows_per_unit;
    fprintf(af.f, "{\"rows\": %d, \"sample\": [", rows);
    for (int i = 0; i < rows; i++) fprintf(af.f, "%s%d", i ? "," : "", u->src[i]);
    fputs("],\n \"sum_logprob\": [", af.f);
    for (int i = 0; i < rows; i++) fprintf(af.f, "%s%.17g", i ? "," : "", u->ref[i]);
    fputc(']', af.f);
    if (u->ref_tok) {
        // 9 significant digits give a float back exactly
        fputs(",\n \"token_logprob\": [", af.f);
        for (int i = 0; i < rows; i++) {
            fputs(i ? ",\n  [" : "\n  [", af.f);
            for (int j = 0; j < u->ref_n[i]; j++)
                fprintf(af.f, "%s%.9g", j ? "," : "", u->ref_tok[u->ref_off[i] + j]);
            fputc(']', af.f);
        }
        fputc(']', af.f);
    }
    fputs("}\n", af.f);
    return atomic_commit(&af, e);
}

// Reads the reference sums back; the rows must be the same samples (same options). With
// per-token storage, row i must have as many log-probs as batch_fill trains of it
// (its solution tokens, cut to Tmax as in every batch).
static int load_ref(const char *path, Units *u, int Tmax, Err *e) {
    Json *j = json_parse_file(path, e);
    if (!j) return err_wrap(e, "resume needs the reference log-probs of the run");
    const JsonValue *root = json_root(j), *s = json_get(root, "sample"), *v = json_get(root, "sum_logprob");
    size_t rows = (size_t)u->n_units * u->rows_per_unit;
    int rc = 0;
    if (!s || !v || s->type != JSON_ARRAY || v->type != JSON_ARRAY || s->len != rows || v->len != rows) {
        rc = err_fmt(e, "%s: expected %zu rows in \"sample\" and \"sum_logprob\" (was the run started with other options?)",
                     path, rows);
    } else {
        for (size_t i = 0; i < rows && !rc; i++) {
            if (s->items[i].type != JSON_NUMBER || v->items[i].type != JSON_NUMBER ||
                (int)s->items[i].num != u->src[i])
                rc = err_fmt(e, "%s: row %zu is not the same sample as in this run", path, i);
            else
                u->ref[i] = v->items[i].num;
        }
    }
    const JsonValue *tk = json_get(root, "token_logprob");
    if (!rc && u->ref_tok && (!tk || tk->type != JSON_ARRAY || tk->len != rows))
        rc = err_fmt(e, "%s: expected %zu rows in \"token_logprob\" (was the run started with another --ratio?)", path,
                     rows);
    int *tokens = NULL, *targets = NULL, len;
    float *mask = NULL;
    if (!rc && u->ref_tok) {
        tokens = malloc((size_t)Tmax * sizeof *tokens);
        targets = malloc((size_t)Tmax * sizeof *targets);
        mask = malloc((size_t)Tmax * sizeof *mask);
        if (!tokens || !targets || !mask) rc = err_fmt(e, "out of memory");
    }
    for (size_t i = 0; i < rows && !rc && u->ref_tok; i++) {
        const JsonValue *a = &tk->items[i];
        int row = (int)i, want = 0;
        batch_fill(u->rows, &row, 1, 1, Tmax, 0, tokens, targets, mask, &len);
        for (int t = 0; t < Tmax; t++) want += mask[t] != 0;
        if (a->type != JSON_ARRAY || a->len != (size_t)want) {
            rc = err_fmt(e, "%s: \"token_logprob\" row %zu: expected %d numbers (its solution tokens)", path, i, want);
            break;
        }
        for (size_t t = 0; t < a->len && !rc; t++) {
            if (a->items[t].type != JSON_NUMBER)
                rc = err_fmt(e, "%s: \"token_logprob\" row %zu, item %zu: expected a number", path, i, t);
            else
                u->ref_tok[u->ref_off[i] + t] = (float)a->items[t].num;
        }
        u->ref_n[i] = want;
    }
    free(tokens);
    free(targets);
    free(mask);
    json_free(j);
    return rc;
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

static int parse_objective(const char *s, Objective *o, Err *e) {
    if (!strcmp(s, "ppo")) *o = OBJ_PPO;
    else if (!strcmp(s, "sft-shortest")) *o = OBJ_SFT_SHORTEST;
    else if (!strcmp(s, "dpo")) *o = OBJ_DPO;
    else return err_fmt(e, "--objective must be ppo, sft-shortest or dpo, not '%s'", s);
    return 0;
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

static int run_prune(const PruneArgs *A, Err *e) {
    Objective obj = OBJ_PPO;
    RatioMode ratio = RATIO_TOKEN_MEAN;
    if (parse_objective(A->objective, &obj, e)) return -1;
    if (!strcmp(A->ratio, "token")) ratio = RATIO_TOKEN_MEAN;
    else if (!strcmp(A->ratio, "seq")) ratio = RATIO_SEQ;
    else if (!strcmp(A->ratio, "per-token")) ratio = RATIO_PER_TOKEN;
    else return err_fmt(e, "--ratio must be token, seq or per-token, not '%s'", A->ratio);
    const Kernels *k = backend_by_name(A->run.device, e);
    if (!k) return -1;
    if (A->run.threads > 0) omp_set_num_threads((int)A->run.threads);

    int rc = -1, trainer_opened = 0, have_acts = 0;
    ModelDir md = {0};
    Model *m = &md.m;
    Presample ps = {0};
    Dataset ds = {0};
    TokSet prompts = {0};
    Pool pool = {0};
    Units u = {0};
    RewardOut rw = {0};
    HeldOut ho = {0};
    Acts acts = {0};
    Optimizer opt = {0};
    Trainer tr = {0};
    Order ord = {0};
    FILE *plog = NULL;
    int *tokens = NULL, *targets = NULL, *lens = NULL, *idx = NULL;
    float *mask = NULL, *w = NULL, *lp = NULL;
    char path[4200], tok_src[4200];

    // pi_ref on a fresh run; the run's own checkpoint on --resume.
    if (model_dir_load(&md, A->run.resume ? A->out : A->model, k, e)) goto done;
    if (path_join(tok_src, sizeof tok_src, A->model, "tokenizer.json", e)) goto done;
    const Config *c = &m->cfg;
    int pad = md.chat.endoftext >= 0 ? md.chat.endoftext : md.chat.im_end;

    // The pre-samples, their problems' prompts, and the rows they make.
    if (presample_load(A->presample, &ps, e)) goto done;
    const char *data_path = A->data ? A->data : ps.data_path;
    if (!*data_path) {
        err_fmt(e, "%s does not name its dataset: give --data", A->presample);
        goto done;
    }
    if (dataset_load(data_path, &ds, e) ||
        examples_tokenize(md.tok, &ds, data_path, NULL, EX_PROMPTS_ONLY, &prompts, e))
        goto done;
    if (pool_from_presample(&ps, A->presample, &ds, data_path, &prompts, c, &pool, e)) goto done;
    if (select_units(obj, A, &pool, &u, &rw, e)) goto done;
    if (obj == OBJ_PPO && ratio == RATIO_PER_TOKEN && units_alloc_ref_tok(&u, e)) goto done;

    int B = (int)A->batch, K = (int)A->accum;
    int U = B / u.rows_per_unit > 0 ? B / u.rows_per_unit : 1;  // units per micro-batch
    int rows_mb = U * u.rows_per_unit;                           // rows per micro-batch
    int per_step = U * K;
    // the loss is a mean over the step's terms: its pairs (DPO) or its sequences
    int terms = obj == OBJ_DPO ? per_step : per_step * u.rows_per_unit;
    int steps = (int)ceil(A->epochs * u.n_units / per_step);
    if (steps < 1) steps = 1;
    int Tmax = c->max_seq_len;
    if (!A->run.quiet) {
        fprintf(stderr, "prune: %s, %d pre-samples of %d problems -> %d training %s", A->objective, pool.n,
                ps.n_problems, u.n_units * (obj == OBJ_DPO ? 1 : u.rows_per_unit), obj == OBJ_DPO ? "pairs" : "sequences");
        if (obj == OBJ_PPO)
            fprintf(stderr, " (m = %ld; reward mean %.3f, std %.3f, %d clipped)", A->m, rw.mean, rw.std, rw.n_clipped);
        fprintf(stderr, "\nprune: %d steps of %d x %d %s%s, lr %g\n", steps, K, obj == OBJ_DPO ? U : rows_mb,
                obj == OBJ_DPO ? "pairs" : "sequences", u.rows_per_unit > 1 && obj == OBJ_PPO ? " (whole problems)" : "",
                A->lr);
    }

    OptimConfig oc = optim_defaults();
    oc.lr = (float)A->lr;
    oc.weight_decay = (float)A->weight_decay;
    oc.grad_clip = (float)A->grad_clip;
    oc.min_lr_ratio = (float)A->min_lr_ratio;
    oc.total_steps = steps;
    oc.warmup_steps = (int)lround(A->warmup_frac * steps);
    if (model_alloc_grads(m, e) || acts_create(&acts, m, rows_mb, Tmax, 1, e) || optim_create(&opt, m, oc, e))
        goto done;
    have_acts = 1;
    size_t grid = (size_t)K * rows_mb * Tmax;
    tokens = malloc(grid * sizeof *tokens);
    targets = malloc(grid * sizeof *targets);
    mask = malloc(grid * sizeof *mask);
    w = malloc((size_t)rows_mb * Tmax * sizeof *w);
    lp = malloc((size_t)rows_mb * Tmax * sizeof *lp);
    lens = malloc((size_t)K * rows_mb * sizeof *lens);
    idx = malloc((size_t)K * rows_mb * sizeof *idx);
    ord.n = u.n_units;
    ord.epoch = -1;
    ord.seed = (uint64_t)A->seed;
    ord.perm = malloc((size_t)u.n_units * sizeof(int));
    if (!tokens || !targets || !mask || !w || !lp || !lens || !idx || !ord.perm) {
        err_fmt(e, "out of memory for %d x %d x %d token batches", K, rows_mb, Tmax);
        goto done;
    }

    char sig[640];
    snprintf(sig, sizeof sig,
             "objective=%s lr=%g warmup=%d wd=%g clip=%g steps=%d batch=%d accum=%d seed=%ld lambda=%g eps=%g "
             "beta=%g m=%ld no_clip=%d no_normalize=%d loo=%d group=%d ratio=%s units=%d presample=%d",
             A->objective, A->lr, oc.warmup_steps, A->weight_decay, A->grad_clip, steps, B, K, A->seed, A->lambda,
             A->eps, A->beta, A->m, A->no_clip, A->no_normalize, A->loo, A->group, A->ratio, u.n_units, pool.n);
    TrainerOpts to = {.out_dir = A->out, .stage = "prune", .total_steps = steps, .save_every = (int)A->run.save_every,
                      .log_every = (int)A->run.log_every, .resume = A->run.resume, .stop_at = (int)A->run.stop_at,
                      .signature = sig, .seed = (uint64_t)A->seed, .quiet = A->run.quiet, .tokenizer_src = tok_src};
    if (trainer_open(&tr, &to, m, &opt, NULL, e)) goto done;
    trainer_opened = 1;

    // pi_ref's log-probs: computed now with the initial weights, or read back.
    if (path_join(path, sizeof path, A->out, "ref_logprobs.json", e)) goto done;
    if (obj != OBJ_SFT_SHORTEST) {
        if (A->run.resume) {
            if (load_ref(path, &u, Tmax, e)) goto done;
        } else {
            compute_ref(m, &acts, &u, rows_mb, Tmax, pad, tokens, targets, mask, lp, lens, A->run.quiet);
            if (save_ref(path, &u, e)) goto done;
        }
    }

    if (path_join(path, sizeof path, A->out, "prune_metrics.jsonl", e)) goto done;
    if (!(plog = fopen(path, A->run.resume ? "a" : "w"))) {
        err_fmt(e, "%s: cannot open for writing", path);
        goto done;
    }
    int eval_every = (int)A->eval_every;
    if (A->eval_data) {
        if (dataset_load(A->eval_data, &ho.ds, e)) goto done;
        if (A->eval_n > 0 && A->eval_n < ho.ds.n) {
            Dataset cut = {0};
            for (int i = 0; i < A->eval_n; i++)
                if (dataset_add(&cut, ho.ds.ex[i].problem, ho.ds.ex[i].answer, NULL, ho.ds.ex[i].level, -1, e)) {
                    dataset_free(&cut);
                    goto done;
                }
            dataset_free(&ho.ds);
            ho.ds = cut;
        }
        if (examples_tokenize(md.tok, &ho.ds, A->eval_data, NULL, EX_PROMPTS_ONLY, &ho.prompts, e)) goto done;
        ho.stop[ho.n_stop++] = md.chat.im_end;
        if (md.chat.endoftext >= 0) ho.stop[ho.n_stop++] = md.chat.endoftext;
        ho.o = (EvalOpts){.k = 1, .temperature = 0, .top_p = 1, .max_new = (int)A->eval_max_new, .slots = 16,
                          .seed = 1, .quiet = 1};
        if (eval_every <= 0) eval_every = steps / 4 > 0 ? steps / 4 : 1;
        if (!A->run.resume) {
            double acc, len;
            if (heldout_run(m, md.tok, &ho, &acc, &len, e)) goto done;
            fprintf(plog, "{\"step\":0,\"heldout_acc\":%.6g,\"heldout_length\":%.6g}\n", acc, len);
            fflush(plog);
            if (!A->run.quiet)
                fprintf(stderr, "prune step 0 | held-out accuracy %.1f%%, mean length %.1f (%d problems)\n", 100 * acc,
                        len, ho.ds.n);
        }
    }

    while (!trainer_done(&tr)) {
        StepMetrics sm = step_metrics();
        BatchLoss bl = {0};
        double wsum = 0, adv_sum = 0, len_sum = 0;
        int Tk[K];
        // The step's K micro-batches, filled first (SFT divides by the step's token count).
        for (int kk = 0; kk < K; kk++) {
            int *ix = idx + (size_t)kk * rows_mb;
            for (int j = 0; j < U; j++) {
                int unit = order_at(&ord, tr.data_pos + (uint64_t)(kk * U + j));
                for (int r = 0; r < u.rows_per_unit; r++) {
                    int row = unit * u.rows_per_unit + r;
                    ix[j * u.rows_per_unit + r] = row;
                    if (u.adv) adv_sum += u.adv[row];
                }
            }
            size_t off = (size_t)kk * rows_mb * Tmax;
            Tk[kk] = fill_batch(u.rows, ix, rows_mb, rows_mb, Tmax, pad, tokens + off, targets + off, mask + off,
                                lens + (size_t)kk * rows_mb);
            for (int r = 0; r < rows_mb; r++) {
                sm.tokens += lens[kk * rows_mb + r];
                len_sum += u.rows[ix[r]].completion_len;
            }
            for (size_t j = 0; j < (size_t)rows_mb * Tk[kk]; j++) wsum += mask[off + j];
        }
        sm.trained = (int64_t)wsum;
        for (int kk = 0; kk < K; kk++) {
            size_t off = (size_t)kk * rows_mb * Tmax;
            int T = Tk[kk], *ix = idx + (size_t)kk * rows_mb, *ln = lens + (size_t)kk * rows_mb;
            float *mk = mask + off;
            model_forward(m, &acts, tokens + off, ln, rows_mb, T);
            model_loss(m, &acts, targets + off, NULL, lp, rows_mb, T);
            if (obj == OBJ_SFT_SHORTEST) {
                for (int j = 0; j < rows_mb * T; j++) {
                    w[j] = (float)(mk[j] / wsum);
                    bl.loss -= w[j] * lp[j];
                }
            } else {
                double ref[rows_mb], adv[rows_mb];
                const float *ref_tok[rows_mb];
                for (int r = 0; r < rows_mb; r++) {
                    ref[r] = u.ref[ix[r]];
                    adv[r] = u.adv ? u.adv[ix[r]] : 0;
                    ref_tok[r] = u.ref_tok ? u.ref_tok + u.ref_off[ix[r]] : NULL;
                }
                if (obj == OBJ_PPO)
                    ppo_batch(lp, mk, rows_mb, T, rows_mb, ref, ref_tok, adv, A->eps, ratio, terms, w, &bl);
                else
                    dpo_batch(lp, mk, rows_mb, T, U, ref, A->beta, terms, w, &bl);
            }
            model_backward(m, &acts, w, rows_mb, T);
        }
        sm.loss = bl.loss;
        sm.grad_norm = optim_step(&opt, m, &sm.lr);
        tr.data_pos += (uint64_t)per_step;
        int step = tr.step + 1;
        fprintf(plog, "{\"step\":%d,\"loss\":%.9g,\"mean_r\":%.9g,\"frac_clipped\":%.6g,\"mean_adv\":%.6g,"
                      "\"mean_length\":%.6g,\"lr\":%.6g,\"grad_norm\":%.6g",
                step, bl.loss, obj == OBJ_SFT_SHORTEST ? 1.0 : bl.sum_r / terms,
                obj == OBJ_SFT_SHORTEST ? 0.0 : bl.clipped / terms, adv_sum / (per_step * u.rows_per_unit),
                len_sum / (per_step * u.rows_per_unit), (double)sm.lr, sm.grad_norm);
        if (ho.ds.n && (step % eval_every == 0 || step == steps)) {
            double acc, len;
            if (heldout_run(m, md.tok, &ho, &acc, &len, e)) goto done;
            fprintf(plog, ",\"heldout_acc\":%.6g,\"heldout_length\":%.6g", acc, len);
            if (!A->run.quiet) {
                progress_clear(&tr.progress);
                fprintf(stderr, "prune step %d | held-out accuracy %.1f%%, mean length %.1f\n", step, 100 * acc, len);
            }
        }
        fputs("}\n", plog);
        fflush(plog);
        if (trainer_step_done(&tr, &sm, e)) goto done;
    }
    if (trainer_finish(&tr, e)) goto done;
    rc = 0;
done:
    if (plog) fclose(plog);
    if (trainer_opened) trainer_close(&tr);
    free(tokens);
    free(targets);
    free(mask);
    free(w);
    free(lp);
    free(lens);
    free(idx);
    free(ord.perm);
    if (have_acts) {
        optim_free(&opt, m);
        acts_free(&acts, m);
    }
    dataset_free(&ho.ds);
    tokset_free(&ho.prompts);
    units_free(&u);
    reward_free(&rw);
    pool_free(&pool);
    tokset_free(&prompts);
    dataset_free(&ds);
    presample_free(&ps);
    if (md.tok) model_dir_free(&md);
    return rc;
}

int cmd_prune(int argc, char **argv) {
    PruneArgs A = {.objective = "ppo", .ratio = "token", .batch = 8, .accum = 1, .m = 2, .seed = 1, .eval_n = 64,
                   .lr = 1e-5, .lambda = 2, .eps = 0.2, .beta = 0.1, .epochs = 1, .warmup_frac = 0.1,
                   .grad_clip = 10, .weight_decay = 0.0, .min_lr_ratio = 0.0};
    Opt opts[] = {
        {"model", OPT_STR, &A.model, "the reference model folder pi_ref (required)"},
        {"presample", OPT_STR, &A.presample, "pre-samples of the reference (o1p presample; required)"},
        {"out", OPT_STR, &A.out, "output model folder (required); checkpoints and logs go there"},
        {"data", OPT_STR, &A.data, "the dataset that was pre-sampled (default: the one the pre-samples name)"},
        {"objective", OPT_STR, &A.objective, "ppo (O1-Pruner, default), sft-shortest or dpo (the baselines)"},
        {"lambda", OPT_FLOAT, &A.lambda, "accuracy weight of the reward (default 2)"},
        {"eps", OPT_FLOAT, &A.eps, "PPO clip range (default 0.2)"},
        {"m", OPT_INT, &A.m, "samples per problem trained on, drawn at random (default 2; 0: all K)"},
        {"no-clip", OPT_FLAG, &A.no_clip, "do not clip the reward to [-2, 4]"},
        {"no-normalize", OPT_FLAG, &A.no_normalize, "do not z-score the reward"},
        {"loo", OPT_FLAG, &A.loo, "leave-one-out baselines (Lbar, Abar over the other K-1 samples)"},
        {"group", OPT_FLAG, &A.group, "train a problem's m samples in the same step (--batch: a multiple of m)"},
        {"ratio", OPT_STR, &A.ratio,
         "token (length-normalised ratio, default), seq (exp(sum - sum)) or per-token (standard PPO's)"},
        {"beta", OPT_FLOAT, &A.beta, "DPO beta (default 0.1)"},
        {"batch", OPT_INT, &A.batch, "sequences per micro-batch (default 8; DPO: batch/2 pairs)"},
        {"accum", OPT_INT, &A.accum, "micro-batches per optimizer step (default 1)"},
        {"epochs", OPT_FLOAT, &A.epochs, "passes over the training units (default 1)"},
        {"lr", OPT_FLOAT, &A.lr, "peak learning rate (default 1e-5)"},
        {"warmup", OPT_FLOAT, &A.warmup_frac, "warmup as a fraction of the steps (default 0.1)"},
        {"min-lr-ratio", OPT_FLOAT, &A.min_lr_ratio, "the cosine ends at lr * this (default 0)"},
        {"weight-decay", OPT_FLOAT, &A.weight_decay, "AdamW weight decay (default 0)"},
        {"grad-clip", OPT_FLOAT, &A.grad_clip, "max global gradient norm (default 10)"},
        {"eval-data", OPT_STR, &A.eval_data, "held-out problems for the accuracy during training"},
        {"eval-n", OPT_INT, &A.eval_n, "held-out problems used (default 64)"},
        {"eval-every", OPT_INT, &A.eval_every, "held-out accuracy every N steps (default: 4 times per run)"},
        {"eval-max-new", OPT_INT, &A.eval_max_new, "most tokens per held-out solution (default: the context)"},
        {"seed", OPT_INT, &A.seed, "seed of the choice of m samples and the data order (default 1)"},
        {0},
    };
    int rc = opt_parse_run("prune", "--model REF --presample FILE.jsonl --out DIR [options]", opts, &A.run, argc,
                           argv);
    if (rc) return rc == 3 ? 0 : rc;
    if (!A.model || !A.presample || !A.out) return cli_usage_error("prune", "--model, --presample and --out are required");
    if (A.batch < 1 || A.accum < 1 || A.m < 0 || A.eval_n < 0)
        return cli_usage_error("prune", "--batch and --accum must be >= 1; --m and --eval-n >= 0");
    if (!(A.lr > 0) || !(A.epochs > 0) || !(A.eps > 0) || !(A.beta > 0) || !(A.warmup_frac >= 0 && A.warmup_frac < 1))
        return cli_usage_error("prune", "--lr, --epochs, --eps and --beta must be > 0, --warmup in [0, 1)");
    if (A.group && strcmp(A.objective, "ppo"))
        return cli_usage_error("prune", "--group is for --objective ppo (the baselines choose their own samples)");
    Err e;
    return run_prune(&A, &e) ? cli_fail(&e) : 0;
}
