// pruner/eval.c -- evaluation: accuracy, solution length, latency and AES of a model on a
// dataset; majority votes; results JSON (see eval.h; the tables: eval_table.c).
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../base/json.h"
#include "../data/grade.h"
#include "../engine/dist.h"
#include "../engine/modeldir.h"
#include "../engine/tokset.h"
#include "../engine/progress.h"
#include "../engine/sampler.h"
#include "../engine/trainer.h"

double eval_aes(double acc, double len, double acc_base, double len_base) {
    if (len_base <= 0 || acc_base <= 0) return NAN;
    double dl = (len_base - len) / len_base, dacc = (acc - acc_base) / acc_base;
    return dacc >= 0 ? dl + 3 * fabs(dacc) : dl - 5 * fabs(dacc);
}

static void stat_add(EvalStat *s, const EvalItem *it) {
    s->accuracy += it->correct;
    s->mean_length += it->length;
    s->n++;
}

static void stat_close(EvalStat *s) {
    if (s->n) {
        s->accuracy /= s->n;
        s->mean_length /= s->n;
    }
}

void eval_summarize(EvalResult *r) {
    int n = r->all.n;
    memset(&r->all, 0, sizeof r->all);
    memset(r->level, 0, sizeof r->level);
    for (int i = 0; i < n; i++) {
        const EvalItem *it = &r->items[i];
        stat_add(&r->all, it);
        int l = it->level >= 0 && it->level <= DATASET_MAX_LEVEL ? it->level : 0;
        stat_add(&r->level[l], it);
    }
    stat_close(&r->all);
    for (int l = 0; l <= DATASET_MAX_LEVEL; l++) stat_close(&r->level[l]);
}

int eval_vote(const EvalItem *items, int k, GradeMode mode, int *scratch) {
    int *head = scratch, *count = scratch + k, n_groups = 0, best = -1;
    // pass 1: each answer joins the first group whose head answer it equals, else heads one
    for (int j = 0; j < k; j++) {
        if (!items[j].answer) continue;  // no answer: abstains
        int g = 0;
        while (g < n_groups && !grade_equal_as(items[j].answer, items[head[g]].answer, mode)) g++;
        if (g == n_groups) {
            head[n_groups] = j;
            count[n_groups++] = 0;
        }
        count[g]++;
    }
    // pass 2: the largest group; a tie goes to the group opened first
    for (int g = 0; g < n_groups; g++)
        if (best < 0 || count[g] > count[best]) best = g;
    return best < 0 ? -1 : head[best];
}

int eval_summarize_votes(EvalResult *r, GradeMode mode, Err *e) {
    r->vote_accuracy = 0;
    if (r->k < 1 || !r->n_problems) return 0;
    int *scratch = malloc(2 * (size_t)r->k * sizeof *scratch), right = 0;
    if (!scratch) return err_fmt(e, "out of memory for the votes of %d samples", r->k);
    for (int p = 0; p < r->n_problems; p++) {
        const EvalItem *its = &r->items[(size_t)p * r->k];
        int w = eval_vote(its, r->k, mode, scratch);
        right += w >= 0 && its[w].correct;
    }
    free(scratch);
    r->vote_accuracy = (double)right / r->n_problems;
    return 0;
}

void eval_result_free(EvalResult *r) {
    if (r->items)
        for (int i = 0; i < r->all.n; i++) {
            free(r->items[i].answer);
            free(r->items[i].output);
        }
    free(r->items);
    memset(r, 0, sizeof *r);
}

void eval_name(char *out, size_t cap, const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && path[s - 1] != '/') s--;
    size_t end = n;
    for (size_t i = n; i > s + 1; i--)
        if (path[i - 1] == '.') {
            end = i - 1;
            break;
        }
    snprintf(out, cap, "%.*s", (int)(end - s), path + s);
}

// ---- JSON ------------------------------------------------------------------------------
static void write_str(FILE *f, const char *s) {
    if (s)
        json_write_string(f, s, strlen(s));
    else
        fputs("null", f);
}

int eval_write_json(const char *path, const EvalResult *r, Err *e) {
    AtomicFile af;
    if (atomic_open(&af, path, e)) return -1;
    FILE *f = af.f;
    fputs("{\"model\": ", f);
    write_str(f, r->model);
    fputs(", \"dataset\": ", f);
    write_str(f, r->dataset);
    fprintf(f, ", \"k\": %d, \"temperature\": %.6g, \"seconds\": %.6f, \"n_problems\": %d, "
               "\"length_counts\": \"solution\",\n ", r->k, r->temperature, r->seconds, r->n_problems);
    chat_template_write_json(f, &r->tmpl);
    fprintf(f, ", \"grader\": \"%s\"", grade_mode_name(r->grader));
    fprintf(f, ",\n \"n\": %d, \"accuracy\": %.9g, \"mean_length\": %.9g, \"sec_per_problem\": %.9g,",
            r->all.n, r->all.accuracy, r->all.mean_length, r->n_problems ? r->seconds / r->n_problems : 0.0);
    if (r->k > 1) fprintf(f, " \"vote_accuracy\": %.9g,", r->vote_accuracy);
    fputs("\n \"levels\": [", f);
    int first = 1;
    for (int l = 0; l <= DATASET_MAX_LEVEL; l++) {
        if (!r->level[l].n) continue;
        fprintf(f, "%s{\"level\": %d, \"n\": %d, \"accuracy\": %.9g, \"mean_length\": %.9g}", first ? "" : ", ", l,
                r->level[l].n, r->level[l].accuracy, r->level[l].mean_length);
        first = 0;
    }
    fputs("],\n \"problems\": [", f);
    for (int i = 0; i < r->all.n; i++) {
        const EvalItem *it = &r->items[i];
        fprintf(f, "%s\n  {\"index\": %d, \"sample\": %d, \"level\": %d, \"correct\": %d, \"length\": %d, \"truncated\": %d, \"answer\": ",
                i ? "," : "", it->index, it->sample, it->level, it->correct, it->length, it->truncated);
        write_str(f, it->answer);
        fputs(", \"output\": ", f);
        write_str(f, it->output);
        fputc('}', f);
    }
    fputs("]}\n", f);
    return atomic_commit(&af, e);
}

static int get_int(const JsonValue *o, const char *key, const char *path, int *out, Err *e) {
    long long v;
    if (json_get_int(o, key, path, &v, e)) return -1;
    *out = (int)v;
    return 0;
}

static int copy_name(char *dst, size_t cap, const JsonValue *o, const char *key, const char *path, Err *e) {
    const char *s;
    if (json_get_string(o, key, path, &s, e)) return -1;
    snprintf(dst, cap, "%s", s);
    return 0;
}

int eval_read_json(const char *path, EvalResult *r, Err *e) {
    memset(r, 0, sizeof *r);
    Json *j = json_parse_file(path, e);
    if (!j) return -1;
    const JsonValue *root = json_root(j), *probs = json_get(root, "problems");
    const char *grader = "paper";  // (a file of an older o1p: the paper's grader, the default template)
    if (root->type != JSON_OBJECT) {
        json_free(j);
        return err_fmt(e, "%s: expected an eval result (a JSON object)", path);
    }
    if (copy_name(r->model, sizeof r->model, root, "model", path, e) ||
        copy_name(r->dataset, sizeof r->dataset, root, "dataset", path, e) ||
        get_int(root, "k", path, &r->k, e) || get_int(root, "n_problems", path, &r->n_problems, e) ||
        json_get_number(root, "temperature", path, &r->temperature, e) ||
        json_get_number(root, "seconds", path, &r->seconds, e) || chat_template_read_json(root, path, &r->tmpl, e) ||
        json_opt_string(root, "grader", path, &grader, e))
        goto fail;
    if (grade_mode_find(grader, &r->grader)) {
        err_fmt(e, "%s: line %d: \"grader\" must be \"paper\" or \"lenient\", not \"%s\"", path,
                json_get(root, "grader")->line, grader);
        goto fail;
    }
    if (!probs || probs->type != JSON_ARRAY) {
        err_fmt(e, "%s: expected a \"problems\" array", path);
        goto fail;
    }
    // lengths: without the stop token; an older o1p's (no "length_counts") counted it
    const JsonValue *lc = json_get(root, "length_counts");
    if (lc && (lc->type != JSON_STRING || strcmp(lc->str, "solution"))) {
        err_fmt(e, "%s: line %d: expected \"length_counts\": \"solution\"", path, lc->line);
        goto fail;
    }
    r->items = calloc(probs->len ? probs->len : 1, sizeof *r->items);
    if (!r->items) {
        err_fmt(e, "%s: out of memory", path);
        goto fail;
    }
    for (size_t i = 0; i < probs->len; i++) {
        const JsonValue *p = &probs->items[i];
        EvalItem *it = &r->items[i];
        const char *ans = NULL, *out = NULL;
        const JsonValue *a = json_get(p, "answer");
        if (get_int(p, "index", path, &it->index, e) || get_int(p, "sample", path, &it->sample, e) ||
            get_int(p, "level", path, &it->level, e) || get_int(p, "correct", path, &it->correct, e) ||
            get_int(p, "length", path, &it->length, e) || get_int(p, "truncated", path, &it->truncated, e) ||
            (a && a->type != JSON_NULL && json_get_string(p, "answer", path, &ans, e)) ||
            json_get_string(p, "output", path, &out, e))
            goto fail;
        if (!lc) it->length = sample_solution_len(it->length, it->truncated);
        it->answer = ans ? strdup(ans) : NULL;
        it->output = strdup(out);
        r->all.n = (int)i + 1;
    }
    json_free(j);
    if ((int64_t)r->n_problems * r->k != r->all.n) {
        err_fmt(e, "%s: expected %d problems x %d samples, found %d", path, r->n_problems, r->k, r->all.n);
        goto fail_items;
    }
    eval_summarize(r);
    if (eval_summarize_votes(r, r->grader, e)) goto fail_items;
    return 0;
fail:
    json_free(j);
fail_items:
    eval_result_free(r);
    return -1;
}

// ---- decoding -------------------------------------------------------------------------
typedef struct {
    EvalResult *r;
    int base;      // sampler_run's request 0 is problem base
    const Dataset *ds;
    const Tokenizer *tok;
    int total;     // samples expected
    int done;
    int failed;  // a callback set *e
    Progress progress;
    Err *e;
} EvalRun;

static int on_sample(void *user, const SampleResult *s) {
    EvalRun *run = user;
    int p = run->base + s->request;
    EvalItem *it = &run->r->items[p * run->r->k + s->sample];
    const Example *ex = &run->ds->ex[p];
    size_t len;
    if (tok_decode(run->tok, s->ids, (size_t)s->n, TOK_DEC_SKIP_SPECIAL, &it->output, &len, run->e))
        return run->failed = 1;
    it->index = p;
    it->sample = s->sample;
    it->level = ex->level;
    it->length = sample_solution_len(s->n, s->truncated);
    it->truncated = s->truncated;
    it->answer = grade_extract_as(it->output, run->r->grader);
    it->correct = grade_solution_as(it->output, ex->answer, run->r->grader);
    run->done++;
    return 0;
}

static int on_step(void *user, const SamplerStats *st) {
    EvalRun *run = user;
    Progress *p = &run->progress;
    if (!progress_due(p, run->done == run->total)) return 0;
    double el = progress_elapsed(p);
    fprintf(stderr, "%seval %s: %d/%d samples, %.0f tok/s, %.0fs elapsed, ", progress_head(p), run->r->model,
            run->done, run->total, st->tokens_generated / (el > 0 ? el : 1), el);
    progress_eta(p, run->done, run->total);
    return 0;
}

// The decoding options, the model's weights and the prompts: what every rank must share.
static uint64_t eval_inputs_hash(const Model *m, const TokSet *prompts, int n, const EvalOpts *o) {
    if (dist_size() == 1) return 0;
    double x[] = {o->k, o->temperature, o->top_p, o->max_new, (double)o->seed, n};
    uint64_t h = fnv1a(FNV_OFFSET, x, sizeof x), w = model_fingerprint(m);
    h = fnv1a(h, &w, sizeof w);
    for (int i = 0; i < n; i++) h = fnv1a(h, prompts->ex[i].prompt, (size_t)prompts->ex[i].prompt_len * sizeof(int));
    return h;
}

// A string (NULL: length -1) as its int32 length and bytes.
static void pack_str(FILE *f, const char *s) {
    int32_t n = s ? (int32_t)strlen(s) : -1;
    fwrite(&n, sizeof n, 1, f);
    if (s) fwrite(s, 1, (size_t)n, f);
}

static int unpack_str(const char *buf, size_t len, size_t *off, char **s) {
    int32_t n;
    if (*off + sizeof n > len) return -1;
    memcpy(&n, buf + *off, sizeof n);
    *off += sizeof n;
    *s = NULL;
    if (n < 0) return 0;
    if (*off + (size_t)n > len || !(*s = malloc((size_t)n + 1))) return -1;
    memcpy(*s, buf + *off, (size_t)n);
    (*s)[n] = 0;
    *off += (size_t)n;
    return 0;
}

// Every rank's items (problems lo..hi-1 here) into rank 0's r->items, in problem order;
// the other ranks' r keeps no items.
static int gather_items(EvalResult *r, int lo, int hi, Err *e) {
    char *mine = NULL, *all;
    size_t n_mine = 0, n_all, off = 0;
    FILE *f = open_memstream(&mine, &n_mine);
    if (!f) return err_fmt(e, "out of memory for the eval items");
    for (int i = lo * r->k; i < hi * r->k; i++) {
        const EvalItem *it = &r->items[i];
        int32_t x[6] = {it->index, it->sample, it->level, it->correct, it->length, it->truncated};
        fwrite(x, sizeof x, 1, f);
        pack_str(f, it->answer);
        pack_str(f, it->output);
    }
    if (fclose(f)) return err_fmt(e, "out of memory for the eval items");
    int rc = dist_gather_bytes(mine, n_mine, &all, &n_all, e);
    free(mine);
    if (rc) return -1;
    int n = r->all.n;
    for (int i = lo * r->k; i < hi * r->k; i++) {
        free(r->items[i].answer);
        free(r->items[i].output);
        r->items[i].answer = r->items[i].output = NULL;
    }
    r->all.n = 0;
    for (int i = 0; i < n && dist_rank() == 0 && !rc; i++) {
        EvalItem *it = &r->items[i];
        int32_t x[6];
        if (off + sizeof x > n_all) {
            rc = -1;
            break;
        }
        memcpy(x, all + off, sizeof x);
        off += sizeof x;
        *it = (EvalItem){x[0], x[1], x[2], x[3], x[4], x[5], NULL, NULL};
        r->all.n = i + 1;
        rc = unpack_str(all, n_all, &off, &it->answer) || unpack_str(all, n_all, &off, &it->output);
    }
    free(all);
    return rc ? err_fmt(e, "rank 0 received %zu bytes of eval items: short of %d items", n_all, n) : 0;
}

int eval_decode(Model *m, const Tokenizer *tok, const int32_t *stop, int n_stop, const Dataset *ds,
                const TokSet *prompts, const EvalOpts *o, const char *model, const char *dataset, EvalResult *r,
                Err *e) {
    memset(r, 0, sizeof *r);
    int max_len = sampler_max_len(prompts->max_prompt_len, o->max_new, m->cfg.max_seq_len);
    SamplerOpts so = {.slots = o->slots, .max_len = max_len, .prefill_chunk = 256, .stop_ids = stop,
                      .n_stop = n_stop, .n_ids = tok_vocab_size(tok)};
    DecodeMemory mem;
    if (run_decode_memory(m, tok, &so, &mem, e)) return -1;
    if (o->on_memory) o->on_memory(&mem);
    Sampler *s = sampler_create(m, &so, e);
    if (!s) return -1;
    int rc = -1;
    SampleRequest *reqs = calloc((size_t)ds->n, sizeof *reqs);
    r->items = calloc((size_t)ds->n * o->k, sizeof *r->items);
    if (!reqs || !r->items) {
        err_fmt(e, "out of memory for %d problems", ds->n);
        goto done;
    }
    for (int i = 0; i < ds->n; i++) {
        const TokExample *x = &prompts->ex[i];
        if (x->prompt_len >= m->cfg.max_seq_len) {
            err_fmt(e, "%s: problem %d: the prompt (%d tokens) fills the model's context of %d", dataset, i + 1,
                    x->prompt_len, m->cfg.max_seq_len);
            goto done;
        }
        reqs[i] = (SampleRequest){.prompt = (const int32_t *)x->prompt, .prompt_len = x->prompt_len, .k = o->k,
                                  .max_new = sampler_new_tokens(max_len, x->prompt_len, o->max_new),
                                  .temperature = (float)o->temperature, .top_k = 0, .top_p = (float)o->top_p,
                                  .seed = o->seed, .id = (uint64_t)i};
    }
    snprintf(r->model, sizeof r->model, "%s", model);
    snprintf(r->dataset, sizeof r->dataset, "%s", dataset);
    r->k = o->k;
    r->temperature = o->temperature;
    r->grader = o->grader;
    r->n_problems = ds->n;
    r->all.n = ds->n * o->k;
    // With several ranks each decodes its share lo..hi-1 of the problems and rank 0
    // gathers the items (problem j of request (seed, j) is the same whichever rank).
    int lo, hi;
    dist_share(ds->n, dist_rank(), dist_size(), &lo, &hi);
    if (dist_check_same(eval_inputs_hash(m, prompts, ds->n, o), "eval options, model or data", e)) goto done;
    EvalRun run = {r, lo, ds, tok, (hi - lo) * o->k, 0, 0, progress_start(o->quiet), e};
    SamplerCallbacks cb = {.user = &run, .on_sample = on_sample, .on_step = on_step};
    int sr = hi > lo ? sampler_run(s, reqs + lo, hi - lo, &cb, e) : 0;
    if (sr) {
        if (sr > 0 && !run.failed) err_fmt(e, "eval of %s stopped early", model);
        goto done;
    }
    if (dist_size() > 1 && gather_items(r, lo, hi, e)) goto done;
    r->seconds = progress_elapsed(&run.progress);
    progress_end(&run.progress);
    eval_summarize(r);
    rc = eval_summarize_votes(r, r->grader, e);
done:
    if (rc) eval_result_free(r);
    free(reqs);
    sampler_free(s);
    return rc;
}

int eval_model_dir(const char *dir, const char *name, const char *data_path, const Dataset *ds,
                   const PromptOpts *prompt, const EvalOpts *o, const Kernels *k, EvalResult *r, Err *e) {
    ChatTemplate tmpl;
    ModelDir md;
    if (model_dir_resolve_template(dir, prompt, &tmpl, e) || model_dir_load(&md, dir, k, 1, e)) return -1;
    TokSet ts = {0};
    int rc = -1;
    char dname[256];
    eval_name(dname, sizeof dname, data_path);
    model_dir_sample_ids(&md, dir, o->quiet);
    if (!examples_tokenize(md.tok, ds, data_path, &tmpl, EX_PROMPTS_ONLY, &ts, e)) {
        int32_t stop[2];
        rc = eval_decode(&md.m, md.tok, stop, chat_stop_ids(&md.chat, stop), ds, &ts, o, name, dname, r, e);
        if (!rc) r->tmpl = tmpl;
    }
    tokset_free(&ts);
    model_dir_free(&md);
    return rc;
}
