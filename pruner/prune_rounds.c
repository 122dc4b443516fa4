// pruner/prune_rounds.c -- the rows prune trains and their old policy's log-probs, per
// round (--rounds; round 1: the pre-samples, the old policy pi_ref) or per step
// (--online; see prune.h).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/io.h"
#include "../base/json.h"
#include "../engine/dist.h"
#include "../engine/interrupt.h"
#include "../engine/progress.h"
#include "prune_state.h"

// OUT/round_R.NAME (R 1-based) into path.
static int round_path(const Prune *P, int round, const char *name, char *path, size_t cap, Err *e) {
    char file[64];
    snprintf(file, sizeof file, "round_%d.%s", round + 1, name);
    return path_join(path, cap, P->o->out, file, e);
}

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

// The old policy's log-probs of the round's rows (round 1: pi_ref's; round r >= 2: the
// round's starting weights', OUT/round_r.ref_logprobs.json): computed now at the round's
// first step, or read back by a run resumed inside the round.
static int reference(Prune *P, Err *e) {
    if (!P->ob.ops->uses_ref) return 0;
    char path[4200];
    if (P->round == 0 ? path_join(path, sizeof path, P->o->out, "ref_logprobs.json", e)
                      : round_path(P, P->round, "ref_logprobs.json", path, sizeof path, e))
        return -1;
    int at_start = P->round == 0 ? !P->o->run.resume : P->r.tr.step == P->round * P->round_steps;
    if (!at_start) return load_ref(path, P, e);
    compute_ref(P);
    return dist_rank() == 0 ? save_ref(path, &P->ob, e) : 0;
}

// Round r >= 1 (0-based)'s samples into path and P->rps: K per pre-sampled problem from
// the current weights with the pre-samples' settings. At the round's first step the
// sampler runs (continuing a partial file); a run resumed later in the round reads the
// file back (its weights no longer those that sampled it). 0 done, 1 interrupted, -1 error.
static int round_samples(Prune *P, const char *path, Err *e) {
    const Presample *ps = &P->ps;
    if (P->r.tr.step == P->round * P->round_steps) {
        PresampleOpts po = {.model = P->o->out, .data = P->data_path, .out = path, .kernels = P->k,
                            .loaded = &P->r.md, .k = ps->k, .temperature = ps->temperature, .top_p = ps->top_p,
                            .top_k = ps->top_k, .max_new = ps->max_new, .seed = ps->seed, .slots = 16,
                            .limit = ps->n_problems, .quiet = P->o->run.quiet,
                            .prompt = {.system = ps->tmpl.system, .user_template = ps->tmpl.user},
                            .grader = ps->grader};
        PresampleReport rep;
        Presampler *s = presample_open(&po, &rep, e);
        int rc = s ? presample_sample(s, &rep, e) : -1;
        presample_close(s);
        if (rc) return rc;
        interrupt_install();  // presample_sample put the default handlers back
    }
    if (presample_load(path, &P->rps, e)) return -1;
    if (P->r.tr.step == P->round * P->round_steps) P->step_sampled = P->rps.n_problems * P->rps.k;
    if (P->rps.n_problems != ps->n_problems)
        return err_fmt(e, "%s: %d complete problems, expected %d (those of %s)", path, P->rps.n_problems,
                       ps->n_problems, P->o->presample);
    return 0;
}

int prune_clear_rounds(const Prune *P, Err *e) {
    char a[4200], b[4200];
    for (int r = 1;; r++) {
        if (round_path(P, r, "presample.jsonl", a, sizeof a, e) ||
            round_path(P, r, "ref_logprobs.json", b, sizeof b, e))
            return -1;
        if (!file_exists(a) && !file_exists(b)) return 0;
        if ((unlink(a) && errno != ENOENT) || (unlink(b) && errno != ENOENT))
            return err_fmt(e, "%s: cannot remove an earlier run's round files: %s", P->o->out, strerror(errno));
    }
}

// Frees the rows of a round or step, and its samples.
static void drop_rows(Prune *P) {
    objective_free(&P->ob);
    pool_free(&P->pool);
    free(P->rows);
    P->rows = NULL;
    presample_free(&P->rps);
}

// The mean of a pre-sample file's Lbar and Abar over its problems.
static void sample_means(const Presample *ps, double *len, double *acc) {
    *len = *acc = 0;
    for (int i = 0; i < ps->n_problems; i++) {
        *len += ps->mean_length[i] / ps->n_problems;
        *acc += ps->accuracy[i] / ps->n_problems;
    }
}

// Loads round `round`'s rows (round 0: the pre-samples', built by load_rows; round r:
// OUT/round_{r+1}.presample.jsonl's) and its old policy's log-probs, and points the data
// order at the round. 0 done, 1 interrupted, -1 error.
static int enter_round(Prune *P, int round, Err *e) {
    P->round = round;
    if (round > 0) {
        char path[4200];
        if (round_path(P, round, "presample.jsonl", path, sizeof path, e)) return -1;
        int units = P->ob.n_units;
        drop_rows(P);
        int rc = round_samples(P, path, e);
        if (rc) return rc;
        if (prune_build_rows(P, &P->rps, path, strcmp(P->o->baseline, "ref") ? NULL : &P->ps, e)) return -1;
        if (P->ob.n_units != units)
            return err_fmt(e, "%s: round %d trains %d %s, round 1 %d: --rounds needs an objective that trains as "
                              "many every round (ppo, kimi, efficient, grpo-len)",
                           path, round + 1, P->ob.n_units, P->ob.ops->term, units);
        double l0, a0, l, a;
        sample_means(&P->ps, &l0, &a0);
        sample_means(&P->rps, &l, &a);
        if (!P->o->run.quiet) {
            progress_clear(&P->r.tr.progress);
            fprintf(stderr, "prune: round %d/%ld: samples' mean length %.1f, accuracy %.1f%% (pi_ref's %.1f, %.1f%%)\n",
                    round + 1, P->o->rounds, l, 100 * a, l0, 100 * a0);
        }
    }
    P->ord.stream = PRUNE_STREAM + (uint64_t)round;
    P->ord.base = (uint64_t)round * P->round_steps * P->U * P->r.K;
    P->ord.epoch = -1;
    return reference(P, e);
}

// The round of the next step (the last one once done).
static int round_of(const Prune *P) {
    int r = P->r.tr.step / P->round_steps;
    return r < P->o->rounds ? r : (int)P->o->rounds - 1;
}

// --online: the trained problems (the pre-samples' rows give them), the step's share of
// them, the data order over them, and their prompts to sample from.
int prune_online_open(Prune *P, Err *e) {
    const Pool *pl = &P->pool;
    int n = pl->n / pl->k, rows = P->U * P->r.K * P->ob.rows_per_unit, per_problem = P->ob.n_rows / n;
    if (P->ob.n_rows % n || rows % per_problem)
        return err_fmt(e, "--online: a step trains %d sequences, not a whole number of problems' %d each (ppo: "
                          "give a --batch x --accum that is a multiple of --m)", rows, per_problem);
    if (rows / per_problem > n)
        return err_fmt(e, "--online: a step samples %d problems, more than the %d trained", rows / per_problem, n);
    P->n_trained = n;
    P->step_problems = rows / per_problem;
    P->trained = malloc((size_t)n * sizeof *P->trained);
    int *perm = realloc(P->ord.perm, (size_t)n * sizeof *perm);
    if (!P->trained || !perm) return err_fmt(e, "out of memory for %d problems", n);
    P->ord.perm = perm;
    P->ord.n = n;
    for (int i = 0; i < n; i++) P->trained[i] = pl->problem[i * pl->k];
    return 0;
}

// --online, before each step: the step's problems sampled from the current weights
// (their log-probs the ratio's old policy) and the objective's rows on them. An epoch is
// n_trained / n whole steps; the problems its order leaves over wait for the next.
static int online_rows(Prune *P, Err *e) {
    int n = P->step_problems, units = P->U * P->r.K, step = P->r.tr.step, per_epoch = P->n_trained / n;
    uint64_t pos = (uint64_t)(step / per_epoch) * P->n_trained + (uint64_t)(step % per_epoch) * n;
    int *problems = malloc((size_t)n * sizeof *problems);
    if (!problems) return err_fmt(e, "out of memory");
    for (int i = 0; i < n; i++) problems[i] = P->trained[order_at(&P->ord, pos + (uint64_t)i)];
    drop_rows(P);
    int rc = presample_memory(&P->r.md, &P->ds, &P->sample_prompts, problems, n, &P->ps, (uint64_t)(step + 1) << 32,
                              &P->rps, e);
    free(problems);
    P->step_sampled = n * P->ps.k;
    if (rc || prune_build_rows(P, &P->rps, "--online", strcmp(P->o->baseline, "ref") ? NULL : &P->ps, e)) return -1;
    if (P->ob.n_units != units)
        return err_fmt(e, "--online: step %d trains %d %s, expected %d", step + 1, P->ob.n_units, P->ob.ops->term,
                       units);
    if (P->ob.ops->uses_ref) compute_ref(P);
    return 0;
}

// Before each step: --online's rows, or the next round's. 0, 1 interrupted, -1 error.
int prune_before_step(Prune *P, Err *e) {
    if (P->o->online) return online_rows(P, e);
    return round_of(P) != P->round ? enter_round(P, round_of(P), e) : 0;
}

