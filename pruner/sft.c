// pruner/sft.c -- `o1p sft`: supervised fine-tuning on problems with worked solutions.
//
// The loss of an optimizer step is the mean next-token cross-entropy over the solution
// tokens (completion = solution + <|im_end|>) of its K micro-batches of B rows:
//   loss = sum_{k,b,t} w[k,b,t] * -log p(target) / sum_{k,b,t} w[k,b,t],  w in {0, 1}
// The step's batches are drawn first so that the weights can be scaled by 1 / sum(w)
// before the backward passes: the gradient is that of the mean, whatever K and B.
// The step's K B rows are sorted by length and cut into micro-batches of similar rows,
// each cut to its longest row (a (B, T') grid, T' <= T): less padding, and no row's
// result changes (kernels.h: a row does not depend on the others in the call).
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../base/rng.h"
#include "../data/dataset.h"
#include "../model/io.h"
#include "../cli/cli.h"
#include "../engine/backend.h"
#include "../engine/modeldir.h"
#include "../engine/tokset.h"
#include "../engine/optim.h"
#include "../engine/trainer.h"

typedef struct {
    const char *data, *out, *config, *model, *tokenizer, *eval_data, *overlong;
    long vocab, batch, seq, accum, steps, warmup, eval_every, eval_max, seed;
    double lr, epochs, eval_frac, weight_decay, grad_clip, min_lr_ratio;
    RunArgs run;
} SftArgs;

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

// Gathers rows rows[0..B) of a (.., T) grid into a (B, Tc) grid, Tc = the longest of
// them: the micro-batch without the padding columns no row needs. Returns Tc.
static int gather_rows(const int *tokens, const int *targets, const float *weights, const int *lens,
                       const int *rows, int B, int T, int *tk, int *tg, float *w, int *ln) {
    int Tc = 1;
    for (int b = 0; b < B; b++)
        if (lens[rows[b]] > Tc) Tc = lens[rows[b]];
    for (int b = 0; b < B; b++) {
        size_t from = (size_t)rows[b] * T, to = (size_t)b * Tc;
        memcpy(tk + to, tokens + from, (size_t)Tc * sizeof *tk);
        memcpy(tg + to, targets + from, (size_t)Tc * sizeof *tg);
        memcpy(w + to, weights + from, (size_t)Tc * sizeof *w);
        ln[b] = lens[rows[b]];
    }
    return Tc;
}

// Orders the step's rows by length, longest first (ties by index), so that each
// micro-batch holds rows of similar length and little padding: insertion sort, n = K B.
static void sort_rows_by_length(const int *lens, int *rows, int n) {
    for (int i = 0; i < n; i++) rows[i] = i;
    for (int i = 1; i < n; i++) {
        int r = rows[i], j = i;
        while (j > 0 && lens[rows[j - 1]] < lens[r]) {
            rows[j] = rows[j - 1];
            j--;
        }
        rows[j] = r;
    }
}

// Mean loss over the completion tokens of the held-out examples (at most `max` of them),
// B rows at a time, each cut to T tokens. grid (tokens, targets, weights, lens: B rows
// of T) and mb (the same, compacted) are scratch.
static double eval_loss(Model *m, Acts *a, const TokSet *ev, int max, int B, int T, int pad, int *tokens,
                        int *targets, float *weights, int *lens, int *mb_tokens, int *mb_targets,
                        float *mb_weights, int *mb_lens) {
    int n = ev->n < max ? ev->n : max, idx[B], rows[B];
    double sum = 0, count = 0;
    for (int r = 0; r < B; r++) rows[r] = r;
    for (int i = 0; i < n; i += B) {
        int nrows = n - i < B ? n - i : B;
        for (int r = 0; r < nrows; r++) idx[r] = i + r;
        batch_fill(ev->ex, idx, nrows, B, T, pad, tokens, targets, weights, lens);
        for (int r = nrows; r < B; r++) lens[r] = 1;  // empty rows: one pad token, no target
        int Tc = gather_rows(tokens, targets, weights, lens, rows, B, T, mb_tokens, mb_targets, mb_weights, mb_lens);
        model_forward(m, a, mb_tokens, mb_lens, B, Tc);
        sum += model_loss(m, a, mb_targets, mb_weights, NULL, B, Tc);
        for (int j = 0; j < B * Tc; j++) count += mb_weights[j];
    }
    return count > 0 ? sum / count : NAN;
}

static int run_sft(const SftArgs *A, Err *e) {
    const Kernels *k = backend_by_name(A->run.device, e);
    if (!k) return -1;
    BatchPolicy policy = !strcmp(A->overlong, "drop") ? BATCH_DROP : BATCH_TRUNCATE;
    if (A->run.threads > 0) omp_set_num_threads((int)A->run.threads);

    int rc = -1;
    Dataset ds = {0}, held = {0};
    TokSet tr = {0}, ev = {0};
    ModelDir md = {0};
    Model *m = &md.m;
    Tokenizer *tok = NULL;  // the tokenizer in use (md.tok or a trained/loaded one)
    int own_tok = 0, have_model = 0;
    Batcher bt = {0};
    Acts acts = {0};
    Optimizer opt = {0};
    Trainer tr_ = {0};
    int trainer_opened = 0;
    int *tokens = NULL, *targets = NULL, *lens = NULL, *rows = NULL;  // the step's K B rows
    float *weights = NULL;
    int *mb_tokens = NULL, *mb_targets = NULL, *mb_lens = NULL;  // one micro-batch
    float *mb_weights = NULL;

    if (dataset_load(A->data, &ds, e)) goto done;
    if (A->eval_data) {
        if (dataset_load(A->eval_data, &held, e)) goto done;
    } else if (split_eval(&ds, A->eval_frac, (uint64_t)A->seed, &held, e)) {
        goto done;
    }

    // The model and its tokenizer: the run's own folder on --resume, else --model or --config.
    const char *tok_src = NULL;  // a tokenizer.json to copy verbatim into --out
    char tok_path[4200];
    if (A->run.resume && trainer_can_resume(A->out, e)) goto done;
    if (!A->run.resume && trainer_can_resume(A->out, NULL) == 0) {  // before a long tokenizer training
        err_fmt(e, "%s holds a training run already (train_state.bin): pass --resume to continue it, or "
                   "choose another --out",
                A->out);
        goto done;
    }
    if (A->run.resume || A->model) {
        if (model_dir_load(&md, A->run.resume ? A->out : A->model, k, e)) goto done;
        have_model = 1;
        tok = md.tok;
        if (!A->run.resume) {
            if (path_join(tok_path, sizeof tok_path, A->model, "tokenizer.json", e)) goto done;
            tok_src = tok_path;
        }
    } else {
        Config c;
        if (config_load(A->config, &c, e)) goto done;
        if (A->tokenizer) {
            if (!(tok = tok_load(A->tokenizer, e))) goto done;
            tok_src = A->tokenizer;
        } else {
            int v = A->vocab > 0 ? (int)A->vocab : c.vocab_size;
            if (v > c.vocab_size) {
                err_fmt(e, "--vocab %d exceeds the config's vocab_size %d", v, c.vocab_size);
                goto done;
            }
            if (!A->run.quiet) fprintf(stderr, "sft: training a %d-token BPE tokenizer on %s\n", v, A->data);
            if (!(tok = examples_train_tokenizer(&ds, v, e))) goto done;
        }
        own_tok = 1;
        const char *tname = A->tokenizer ? A->tokenizer : "the trained tokenizer";
        if (tok_check_fits(tok, tname, &c, e) || chat_tokens(tok, tname, &md.chat, e)) goto done;
        if (c.eos_token_id < 0) c.eos_token_id = md.chat.im_end;
        if (model_create(m, &c, k, e)) goto done;
        have_model = 1;
        model_init_random(m, (uint64_t)A->seed);
    }
    const Config *c = &m->cfg;

    if (examples_tokenize(tok, &ds, A->data, NULL, 0, &tr, e)) goto done;
    if (held.n && examples_tokenize(tok, &held, A->eval_data ? A->eval_data : "held-out", NULL, 0, &ev, e))
        goto done;
    int B = (int)A->batch, K = (int)A->accum;
    int T = A->seq > 0 ? (int)A->seq : (tr.max_len < c->max_seq_len ? tr.max_len : c->max_seq_len);
    if (T > c->max_seq_len) {
        err_fmt(e, "--seq %d exceeds the model's max_position_embeddings %d", T, c->max_seq_len);
        goto done;
    }
    int pad = md.chat.endoftext >= 0 ? md.chat.endoftext : md.chat.im_end;
    if (batcher_init(&bt, tr.ex, tr.n, B, T, policy, (uint64_t)A->seed, e)) goto done;
    const BatchStats *bs = &bt.stats;
    int steps = (int)A->steps;
    if (steps <= 0) steps = (int)ceil(A->epochs * bs->kept / ((double)B * K));
    if (steps < 1) steps = 1;
    if (!A->run.quiet) {
        fprintf(stderr, "sft: %d training examples (%d kept, %d truncated by %lld tokens, %d dropped: "
                        "--overlong %s, --seq %d), %d held out\n",
                bs->total, bs->kept, bs->truncated, (long long)bs->truncated_tokens, bs->dropped, A->overlong,
                T, ev.n);
        fprintf(stderr, "sft: %zu parameters, %d steps of %d x %d sequences (%.2f epochs)\n", m->n_params, steps,
                K, B, (double)steps * B * K / bs->kept);
    }

    OptimConfig oc = optim_defaults();
    oc.lr = (float)A->lr;
    oc.weight_decay = (float)A->weight_decay;
    oc.grad_clip = (float)A->grad_clip;
    oc.min_lr_ratio = (float)A->min_lr_ratio;
    oc.total_steps = steps;
    oc.warmup_steps = A->warmup >= 0 ? (int)A->warmup : steps / 20;
    if (model_alloc_grads(m, e) || acts_create(&acts, m, B, T, 1, e) || optim_create(&opt, m, oc, e)) goto done;
    size_t grid = (size_t)K * B * T;
    tokens = malloc(grid * sizeof *tokens);
    targets = malloc(grid * sizeof *targets);
    weights = malloc(grid * sizeof *weights);
    lens = malloc((size_t)K * B * sizeof *lens);
    rows = malloc((size_t)K * B * sizeof *rows);
    mb_tokens = malloc((size_t)B * T * sizeof *mb_tokens);
    mb_targets = malloc((size_t)B * T * sizeof *mb_targets);
    mb_weights = malloc((size_t)B * T * sizeof *mb_weights);
    mb_lens = malloc((size_t)B * sizeof *mb_lens);
    if (!tokens || !targets || !weights || !lens || !rows || !mb_tokens || !mb_targets || !mb_weights || !mb_lens) {
        err_fmt(e, "out of memory for %d x %d x %d token batches", K, B, T);
        goto done;
    }

    // What must match on --resume for the run to continue bit-identically.
    char sig[512];
    snprintf(sig, sizeof sig,
             "lr=%g warmup=%d min_lr_ratio=%g wd=%g clip=%g steps=%d batch=%d accum=%d seq=%d seed=%ld "
             "overlong=%s examples=%d kept=%d completion_tokens=%lld",
             A->lr, oc.warmup_steps, A->min_lr_ratio, A->weight_decay, A->grad_clip, steps, B, K, T, A->seed,
             A->overlong, bs->total, bs->kept, (long long)tr.completion_tokens);
    TrainerOpts to = {.out_dir = A->out, .stage = "sft", .total_steps = steps, .save_every = (int)A->run.save_every,
                      .log_every = (int)A->run.log_every, .resume = A->run.resume, .stop_at = (int)A->run.stop_at,
                      .signature = sig, .seed = (uint64_t)A->seed, .quiet = A->run.quiet, .tokenizer_src = tok_src};
    if (trainer_open(&tr_, &to, m, &opt, A->run.resume ? NULL : tok, e)) goto done;
    trainer_opened = 1;
    if (batcher_seek(&bt, trainer_batch_pos(&tr_, bs->kept), e)) goto done;
    int eval_every = (int)A->eval_every;
    if (eval_every <= 0) eval_every = steps / 10 > 0 ? steps / 10 : 1;

    while (!trainer_done(&tr_)) {
        StepMetrics sm = step_metrics();
        double wsum = 0, loss = 0;
        for (int kk = 0; kk < K; kk++)
            batcher_next(&bt, tokens + (size_t)kk * B * T, targets + (size_t)kk * B * T,
                         weights + (size_t)kk * B * T, lens + (size_t)kk * B);
        for (size_t j = 0; j < grid; j++) wsum += weights[j];
        for (int j = 0; j < K * B; j++) sm.tokens += lens[j];
        sm.trained = (int64_t)wsum;
        float inv = wsum > 0 ? (float)(1.0 / wsum) : 0.0f;
        for (size_t j = 0; j < grid; j++) weights[j] *= inv;
        sort_rows_by_length(lens, rows, K * B);
        for (int kk = 0; kk < K; kk++) {
            int Tc = gather_rows(tokens, targets, weights, lens, rows + kk * B, B, T, mb_tokens, mb_targets,
                                 mb_weights, mb_lens);
            model_forward(m, &acts, mb_tokens, mb_lens, B, Tc);
            loss += model_loss(m, &acts, mb_targets, mb_weights, NULL, B, Tc);
            model_backward(m, &acts, mb_weights, B, Tc);
        }
        sm.loss = loss;
        sm.grad_norm = optim_step(&opt, m, &sm.lr);
        trainer_set_batch_pos(&tr_, bt.at, bs->kept);
        int next = tr_.step + 1;
        if (ev.n && (next % eval_every == 0 || next == steps))
            sm.eval_loss = eval_loss(m, &acts, &ev, (int)A->eval_max, B, T, pad, tokens, targets, weights, lens,
                                     mb_tokens, mb_targets, mb_weights, mb_lens);
        if (trainer_step_done(&tr_, &sm, e)) goto done;
    }
    if (trainer_finish(&tr_, e)) goto done;
    rc = 0;
done:
    if (trainer_opened) trainer_close(&tr_);
    free(tokens);
    free(targets);
    free(weights);
    free(lens);
    free(rows);
    free(mb_tokens);
    free(mb_targets);
    free(mb_weights);
    free(mb_lens);
    if (have_model) {
        optim_free(&opt, m);
        acts_free(&acts, m);
    }
    batcher_free(&bt);
    tokset_free(&tr);
    tokset_free(&ev);
    if (own_tok) tok_free(tok);
    if (md.tok) model_dir_free(&md);
    else if (have_model) model_free(m);
    dataset_free(&ds);
    dataset_free(&held);
    return rc;
}

int cmd_sft(int argc, char **argv) {
    SftArgs A = {.overlong = "truncate", .batch = 8, .accum = 1, .warmup = -1, .eval_max = 256, .seed = 1,
                 .lr = 3e-4, .epochs = 1, .eval_frac = 0.05, .weight_decay = 0.1, .grad_clip = 1.0,
                 .min_lr_ratio = 0.1};
    Opt opts[] = {
        {"data", OPT_STR, &A.data, "training data: JSON/JSONL with problem, answer, solution (required)"},
        {"out", OPT_STR, &A.out, "output model folder (required); checkpoints and metrics.jsonl go there"},
        {"config", OPT_STR, &A.config, "start from a fresh model with this HF config.json"},
        {"model", OPT_STR, &A.model, "start from this model folder (config.json, model.safetensors, tokenizer.json)"},
        {"tokenizer", OPT_STR, &A.tokenizer, "with --config: this tokenizer.json (default: train one on --data)"},
        {"vocab", OPT_INT, &A.vocab, "with --config: vocab of the trained tokenizer (default: vocab_size)"},
        {"batch", OPT_INT, &A.batch, "sequences per micro-batch (default 8)"},
        {"seq", OPT_INT, &A.seq, "max tokens per sequence (default: the longest example, up to the context)"},
        {"accum", OPT_INT, &A.accum, "micro-batches per optimizer step (default 1)"},
        {"epochs", OPT_FLOAT, &A.epochs, "passes over the data (default 1; --steps overrides)"},
        {"steps", OPT_INT, &A.steps, "optimizer steps"},
        {"lr", OPT_FLOAT, &A.lr, "peak learning rate (default 3e-4)"},
        {"warmup", OPT_INT, &A.warmup, "linear warmup steps (default 5% of the steps)"},
        {"min-lr-ratio", OPT_FLOAT, &A.min_lr_ratio, "the cosine ends at lr * this (default 0.1)"},
        {"weight-decay", OPT_FLOAT, &A.weight_decay, "AdamW weight decay (default 0.1)"},
        {"grad-clip", OPT_FLOAT, &A.grad_clip, "max global gradient norm, 0: none (default 1)"},
        {"overlong", OPT_STR, &A.overlong, "examples longer than --seq: truncate (default) or drop"},
        {"eval-data", OPT_STR, &A.eval_data, "held-out data (default: a slice of --data)"},
        {"eval-frac", OPT_FLOAT, &A.eval_frac, "fraction of --data held out (default 0.05; 0: none)"},
        {"eval-every", OPT_INT, &A.eval_every, "held-out loss every N steps (default: steps / 10)"},
        {"eval-max", OPT_INT, &A.eval_max, "held-out examples used (default 256)"},
        {"seed", OPT_INT, &A.seed, "seed of the initialisation, data order and held-out split (default 1)"},
        {0},
    };
    int rc = opt_parse_run("sft", "--data FILE --out DIR (--config FILE.json | --model DIR) [options]", opts, &A.run,
                           argc, argv);
    if (rc) return rc == 3 ? 0 : rc;
    if (!A.data || !A.out) return cli_usage_error("sft", "--data and --out are required");
    if (!A.run.resume && !A.config == !A.model)
        return cli_usage_error("sft", "give one of --config (a fresh model) or --model (a model folder)");
    if (A.model && (A.tokenizer || A.vocab))
        return cli_usage_error("sft", "--tokenizer and --vocab go with --config (a model folder has its tokenizer)");
    if (A.batch < 1 || A.accum < 1 || A.seq < 0 || A.steps < 0 || A.eval_max < 1)
        return cli_usage_error("sft", "--batch, --accum, --eval-max must be >= 1; --seq, --steps >= 0");
    if (!(A.lr > 0) || !(A.epochs > 0) || !(A.eval_frac >= 0 && A.eval_frac < 1))
        return cli_usage_error("sft", "--lr and --epochs must be > 0, --eval-frac in [0, 1)");
    if (A.seq == 1) return cli_usage_error("sft", "--seq must be at least 2");
    if (strcmp(A.overlong, "drop") && strcmp(A.overlong, "truncate"))
        return cli_usage_error("sft", "--overlong must be drop or truncate, not '%s'", A.overlong);
    Err e;
    return run_sft(&A, &e) ? cli_fail(&e) : 0;
}
