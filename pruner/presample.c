// pruner/presample.c -- `o1p presample`: K samples per problem from the reference model,
// graded, with their lengths and log-probs (format and resume rules in presample.h).
#include "presample.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/io.h"
#include "../base/json.h"
#include "../data/grade.h"
#include "../cli/cli.h"
#include "../engine/backend.h"
#include "../engine/modeldir.h"
#include "../engine/tokset.h"
#include "../engine/interrupt.h"
#include "../engine/progress.h"
#include "../engine/sampler.h"

// ---- reading ------------------------------------------------------------------------

typedef struct {
    Presample *ps;
    const char *name;
    const char *text;
    int cursor_line;       // text offset cursor_off is the start of line cursor_line
    size_t cursor_off;
    int have_header;
    int next_sample;       // of the block being read
} LoadCtx;

static int get_bool(const JsonValue *o, const char *key, const char *name, int *out, Err *e) {
    const JsonValue *v = json_get(o, key);
    if (!v || (v->type != JSON_TRUE && v->type != JSON_FALSE))
        return err_fmt(e, "%s: line %d: expected a boolean \"%s\"", name, o->line, key);
    *out = v->type == JSON_TRUE;
    return 0;
}

static int get_intv(const JsonValue *o, const char *key, const char *name, int *out, Err *e) {
    long long x;
    if (json_get_int(o, key, name, &x, e)) return -1;
    if (x < 0 || x > 0x7fffffff) return err_fmt(e, "%s: line %d: \"%s\" = %lld is out of range", name, o->line, key, x);
    *out = (int)x;
    return 0;
}

static char *dup_str(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n), d[n] = 0;
    return d;
}

static int load_header(LoadCtx *c, const JsonValue *v, Err *e) {
    Presample *ps = c->ps;
    const char *name = c->name, *model, *data;
    long long n, k, top_k, max_new, seed;
    const JsonValue *mark = json_get(v, "presample");
    if (v->type != JSON_OBJECT || !mark)
        return err_fmt(e, "%s: line 1: expected the header {\"presample\": 1, ...} of an `o1p presample` file", name);
    if (json_get_string(v, "model", name, &model, e) || json_get_string(v, "data", name, &data, e) ||
        json_get_int(v, "n_problems", name, &n, e) || json_get_int(v, "k", name, &k, e) ||
        json_get_number(v, "temperature", name, &ps->temperature, e) ||
        json_get_number(v, "top_p", name, &ps->top_p, e) || json_get_int(v, "top_k", name, &top_k, e) ||
        json_get_int(v, "max_new", name, &max_new, e) || json_get_int(v, "seed", name, &seed, e))
        return -1;
    if (n < 1 || n > 0x7fffffff || k < 1 || k > 0x7fffffff || top_k < 0 || max_new < 0 || seed < 0)
        return err_fmt(e, "%s: line 1: header values out of range (n_problems, k >= 1; top_k, max_new, seed >= 0)", name);
    snprintf(ps->model_path, sizeof ps->model_path, "%s", model);
    snprintf(ps->data_path, sizeof ps->data_path, "%s", data);
    ps->n_problems_total = (int)n;
    ps->k = (int)k;
    ps->top_k = (int)top_k;
    ps->max_new = (int)max_new;
    ps->seed = (uint64_t)seed;
    c->have_header = 1;
    return 0;
}

static int load_sample(LoadCtx *c, const JsonValue *v, int line, Err *e) {
    Presample *ps = c->ps;
    const char *name = c->name;
    int p = 0, j = 0;
    if (get_intv(v, "problem", name, &p, e) || get_intv(v, "sample", name, &j, e)) return -1;
    if (p != ps->n_problems || j != c->next_sample)
        return err_fmt(e, "%s: line %d: expected sample %d of problem %d, found sample %d of problem %d", name, line,
                       c->next_sample, ps->n_problems, j, p);
    if (p >= ps->n_problems_total)
        return err_fmt(e, "%s: line %d: problem %d is past the header's n_problems = %d", name, line, p,
                       ps->n_problems_total);
    int idx = p * ps->k + j;
    if (idx >= ps->items_cap) {
        int cap = ps->items_cap ? 2 * ps->items_cap : 64;
        while (cap <= idx) cap *= 2;
        PresampleItem *it = realloc(ps->items, (size_t)cap * sizeof *it);
        if (!it) return err_fmt(e, "%s: out of memory at line %d", name, line);
        memset(it + ps->items_cap, 0, (size_t)(cap - ps->items_cap) * sizeof *it);
        ps->items = it;
        ps->items_cap = cap;
    }
    PresampleItem *it = &ps->items[idx];
    it->problem = p;
    it->sample = j;
    const JsonValue *ids = json_get(v, "ids"), *ans = json_get(v, "answer");
    const char *text;
    if (get_intv(v, "length", name, &it->length, e) || get_bool(v, "correct", name, &it->correct, e) ||
        get_bool(v, "truncated", name, &it->truncated, e) ||
        json_get_number(v, "mean_logprob", name, &it->mean_logprob, e) ||
        json_get_string(v, "text", name, &text, e))
        return -1;
    if (!ids || ids->type != JSON_ARRAY || (int)ids->len != it->length)
        return err_fmt(e, "%s: line %d: expected \"ids\", an array of \"length\" = %d token ids", name, line, it->length);
    if (!ans || (ans->type != JSON_STRING && ans->type != JSON_NULL))
        return err_fmt(e, "%s: line %d: expected \"answer\", a string or null", name, line);
    it->ids = malloc((it->length ? it->length : 1) * sizeof(int32_t));
    it->text = dup_str(text, strlen(text));
    it->answer = ans->type == JSON_STRING ? dup_str(ans->str, ans->len) : NULL;
    if (!it->ids || !it->text || (ans->type == JSON_STRING && !it->answer))
        return err_fmt(e, "%s: out of memory at line %d", name, line);
    for (int t = 0; t < it->length; t++) {
        const JsonValue *x = &ids->items[t];
        if (x->type != JSON_NUMBER || x->num != floor(x->num) || x->num < 0 || x->num > 0x7fffffff)
            return err_fmt(e, "%s: line %d, column %d: expected a token id", name, x->line, x->col);
        it->ids[t] = (int32_t)x->num;
    }
    c->next_sample++;
    return 0;
}

static int load_summary(LoadCtx *c, const JsonValue *v, int line, Err *e) {
    Presample *ps = c->ps;
    const char *name = c->name;
    int p = 0, k = 0;
    double lbar, abar;
    if (get_intv(v, "problem", name, &p, e) || get_intv(v, "k", name, &k, e) ||
        json_get_number(v, "mean_length", name, &lbar, e) || json_get_number(v, "accuracy", name, &abar, e))
        return -1;
    if (p != ps->n_problems || k != ps->k || c->next_sample != ps->k)
        return err_fmt(e, "%s: line %d: a summary of problem %d (k = %d) after %d samples of problem %d (k = %d)",
                       name, line, p, k, c->next_sample, ps->n_problems, ps->k);
    double sl = 0, sa = 0;
    for (int j = 0; j < k; j++) {
        sl += ps->items[p * k + j].length;
        sa += ps->items[p * k + j].correct;
    }
    if (fabs(sl / k - lbar) > 1e-9 * (1 + sl / k) || fabs(sa / k - abar) > 1e-9)
        return err_fmt(e, "%s: line %d: the summary of problem %d (Lbar %g, Abar %g) disagrees with its samples (%g, %g)",
                       name, line, p, lbar, abar, sl / k, sa / k);
    double *ml = realloc(ps->mean_length, (size_t)(p + 1) * sizeof *ml);
    if (ml) ps->mean_length = ml;
    double *ac = realloc(ps->accuracy, (size_t)(p + 1) * sizeof *ac);
    if (ac) ps->accuracy = ac;
    if (!ml || !ac) return err_fmt(e, "%s: out of memory at line %d", name, line);
    ml[p] = lbar;
    ac[p] = abar;
    ps->n_problems++;
    c->next_sample = 0;
    // The block is complete: the file is good up to the end of this line.
    while (c->cursor_line <= line) {
        const char *nl = strchr(c->text + c->cursor_off, '\n');
        c->cursor_off = (size_t)(nl - c->text) + 1;
        c->cursor_line++;
    }
    ps->complete_bytes = c->cursor_off;
    return 0;
}

static int load_line(const JsonValue *v, int line, void *ctx, Err *e) {
    LoadCtx *c = ctx;
    if (!c->have_header) {
        if (load_header(c, v, e)) return -1;
        while (c->cursor_line <= line) {  // the header alone is a valid (empty) file
            c->cursor_off = (size_t)(strchr(c->text + c->cursor_off, '\n') - c->text) + 1;
            c->cursor_line++;
        }
        c->ps->complete_bytes = c->cursor_off;
        return 0;
    }
    if (v->type != JSON_OBJECT) return err_fmt(e, "%s: line %d: expected an object", c->name, line);
    return json_get(v, "summary") ? load_summary(c, v, line, e) : load_sample(c, v, line, e);
}

void presample_free(Presample *ps) {
    for (int i = 0; i < ps->items_cap; i++) {
        free(ps->items[i].answer);
        free(ps->items[i].text);
        free(ps->items[i].ids);
    }
    free(ps->items);
    free(ps->mean_length);
    free(ps->accuracy);
    memset(ps, 0, sizeof *ps);
}

int presample_load(const char *path, Presample *ps, Err *e) {
    memset(ps, 0, sizeof *ps);
    char *text;
    size_t len;
    if (read_file(path, &text, &len, e)) return -1;
    // A crash can leave the last line torn (no newline yet): only whole lines are parsed.
    size_t whole = len;
    while (whole > 0 && text[whole - 1] != '\n') whole--;
    LoadCtx c = {ps, path, text, 1, 0, 0, 0};
    int rc = jsonl_parse(text, whole, path, load_line, &c, e);
    if (!rc && !c.have_header)
        rc = err_fmt(e, "%s: no header line (expected {\"presample\": 1, ...} on line 1)", path);
    free(text);
    if (rc) presample_free(ps);
    return rc;
}

// ---- the command --------------------------------------------------------------------


typedef struct {
    int32_t *ids;
    int n, truncated;
    double mean_logprob;
} Done;

typedef struct {
    FILE *f;
    const char *out;
    const Dataset *ds;
    const Tokenizer *tok;
    int k, first, end;  // problems first..end-1 in this run
    Done *done;         // [(end - first) * k]
    int *left;          // [(end - first)] samples still running
    int next_write;     // the next problem to write
    Progress progress;
    double last_sync;
    int failed;
    Err *e;
} PresampleRun;

// The shortest of %.15g / %.16g / %.17g that reads back as x (0.8, not 0.80000000000000004).
static void put_double(FILE *f, double x) {
    char b[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, x);
        if (strtod(b, NULL) == x) break;
    }
    fputs(b, f);
}

static int write_block(PresampleRun *r, int p, Err *e) {
    FILE *f = r->f;
    int k = r->k;
    const char *truth = r->ds->ex[p].answer;
    double sl = 0, sa = 0;
    for (int j = 0; j < k; j++) {
        Done *d = &r->done[(size_t)(p - r->first) * k + j];
        char *text;
        size_t len;
        if (tok_decode(r->tok, d->ids, (size_t)d->n, TOK_DEC_SKIP_SPECIAL, &text, &len, e)) return -1;
        char *ans = grade_extract_boxed(text);
        int correct = ans && grade_equal(ans, truth);
        sl += d->n;
        sa += correct;
        fprintf(f, "{\"problem\": %d, \"sample\": %d, \"length\": %d, \"correct\": %s, \"truncated\": %s, \"answer\": ", p,
                j, d->n, correct ? "true" : "false", d->truncated ? "true" : "false");
        if (ans) json_write_string(f, ans, strlen(ans));
        else fputs("null", f);
        fputs(", \"mean_logprob\": ", f);
        put_double(f, d->mean_logprob);
        fputs(", \"ids\": [", f);
        for (int t = 0; t < d->n; t++) fprintf(f, t ? ",%d" : "%d", (int)d->ids[t]);
        fputs("], \"text\": ", f);
        json_write_string(f, text, len);
        fputs("}\n", f);
        free(ans);
        free(text);
        free(d->ids);
        d->ids = NULL;
    }
    fprintf(f, "{\"problem\": %d, \"summary\": true, \"k\": %d, \"mean_length\": ", p, k);
    put_double(f, sl / k);
    fputs(", \"accuracy\": ", f);
    put_double(f, sa / k);
    fputs("}\n", f);
    return 0;
}

// Writes the finished problems that are next in order; syncs at most once a second (a
// crash loses at most that much; the reader cuts a torn end).
static int flush_blocks(PresampleRun *r, int force, Err *e) {
    int wrote = 0;
    while (r->next_write < r->end && r->left[r->next_write - r->first] == 0) {
        if (write_block(r, r->next_write, e)) return -1;
        r->next_write++;
        wrote = 1;
    }
    double t = wall_seconds();
    if ((wrote && t - r->last_sync >= 1.0) || force) {
        if (fflush(r->f) || fsync(fileno(r->f)))
            return err_fmt(e, "%s: write failed: %s", r->out, strerror(errno));
        r->last_sync = t;
    }
    return 0;
}

static int on_sample(void *user, const SampleResult *s) {
    PresampleRun *r = user;
    int p = r->first + s->request;
    Done *d = &r->done[(size_t)s->request * r->k + s->sample];
    d->ids = malloc((size_t)s->n * sizeof(int32_t));
    if (!d->ids) {
        err_fmt(r->e, "out of memory");
        return r->failed = 1;
    }
    memcpy(d->ids, s->ids, (size_t)s->n * sizeof(int32_t));
    d->n = s->n;
    d->truncated = s->truncated;
    d->mean_logprob = s->mean_logprob;
    r->left[p - r->first]--;
    if (flush_blocks(r, 0, r->e)) return r->failed = 1;
    return 0;
}

static int on_step(void *user, const SamplerStats *st) {
    PresampleRun *r = user;
    if (interrupt_requested()) return 1;
    Progress *p = &r->progress;
    if (!progress_due(p, 0)) return 0;
    int done = r->next_write - r->first, total = r->end - r->first;
    double el = progress_elapsed(p);
    el = el > 1e-9 ? el : 1e-9;
    fprintf(stderr, "%spresample: %d/%d problems (%d..%d), %.1f samples/s, %.0f tok/s, ", progress_head(p), done,
            total, r->first, r->end - 1, st->samples_done / el, st->tokens_generated / el);
    progress_eta(p, (double)st->samples_done, (double)total * r->k);
    return 0;
}

// Checks an existing file's header against this run's settings.
static int same_settings(const Presample *ps, const Presample *want, const char *out, Err *e) {
    struct { const char *what; int same; } f[] = {
        {"model", !strcmp(ps->model_path, want->model_path)},
        {"data", !strcmp(ps->data_path, want->data_path)},
        {"n_problems", ps->n_problems_total == want->n_problems_total},
        {"k", ps->k == want->k},
        {"temperature", ps->temperature == want->temperature},
        {"top_p", ps->top_p == want->top_p},
        {"top_k", ps->top_k == want->top_k},
        {"max_new", ps->max_new == want->max_new},
        {"seed", ps->seed == want->seed},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!f[i].same)
            return err_fmt(e, "%s was written with another %s (model %s, data %s, %d problems, k %d, temperature %g, "
                              "top_p %g, top_k %d, max_new %d, seed %llu); to resume, give the same settings, "
                              "or use another --out",
                           out, f[i].what, ps->model_path, ps->data_path, ps->n_problems_total, ps->k, ps->temperature,
                           ps->top_p, ps->top_k, ps->max_new, (unsigned long long)ps->seed);
    return 0;
}

static void write_header(FILE *f, const Presample *h) {
    fputs("{\"presample\": 1, \"model\": ", f);
    json_write_string(f, h->model_path, strlen(h->model_path));
    fputs(", \"data\": ", f);
    json_write_string(f, h->data_path, strlen(h->data_path));
    fprintf(f, ", \"n_problems\": %d, \"k\": %d, \"temperature\": ", h->n_problems_total, h->k);
    put_double(f, h->temperature);
    fputs(", \"top_p\": ", f);
    put_double(f, h->top_p);
    fprintf(f, ", \"top_k\": %d, \"max_new\": %d, \"seed\": %llu}\n", h->top_k, h->max_new,
            (unsigned long long)h->seed);
}

// Opens (create: a new file, which must not exist) the output and takes an exclusive
// lock on it; fails when another process holds it.
static int open_locked(const char *path, int create, Err *e) {
    int fd = open(path, create ? O_RDWR | O_CREAT | O_EXCL : O_RDWR, 0644);
    if (fd < 0) return err_fmt(e, "%s: cannot open: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        close(fd);
        return err_fmt(e, "%s: another process (an `o1p presample` still running?) holds it", path);
    }
    return fd;
}

int cmd_presample(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *out = NULL, *backend = "cpu";
    long k = 0, max_new = 0, seed = 1, slots = 16, limit = 0, top_k = 0, quiet = 0;
    double temperature = 0.5, top_p = 0.8;
    int q = 0;
    Opt opts[] = {
        {"model", OPT_STR, &model, "reference model folder (config.json, model.safetensors, tokenizer.json)"},
        {"data", OPT_STR, &data, "problems with answers (JSON array or JSONL)"},
        {"k", OPT_INT, &k, "samples per problem (required, >= 1)"},
        {"out", OPT_STR, &out, "pre-sample file to write or resume (JSONL; format in pruner/presample.h)"},
        {"temperature", OPT_FLOAT, &temperature, "sampling temperature (default 0.5)"},
        {"top-p", OPT_FLOAT, &top_p, "nucleus mass (default 0.8)"},
        {"top-k", OPT_INT, &top_k, "keep the k most probable tokens (default 0: off)"},
        {"max-new", OPT_INT, &max_new, "most tokens per sample (default 0: up to the context)"},
        {"seed", OPT_INT, &seed, "seed; sample j of problem i draws from stream (seed, i, j) (default 1)"},
        {"slots", OPT_INT, &slots, "sequences decoded together (default 16; the results do not depend on it)"},
        {"limit", OPT_INT, &limit, "sample only problems 0..N-1 (default 0: all); rerun without it to continue"},
        {"device", OPT_STR, &backend, "cpu (default) or cuda"},
        {"quiet", OPT_FLAG, &q, "no progress line"},
        {0},
    };
    int rc = opt_parse("presample", "--model DIR --data FILE --k K --out FILE.jsonl [options]", opts, argc, argv);
    if (rc) return rc == 3 ? 0 : rc;
    quiet = q;
    if (!model || !data || !out) return cli_usage_error("presample", "--model, --data, --k and --out are required");
    if (k < 1 || k > 100000) return cli_usage_error("presample", "--k must be between 1 and 100000 (got %ld)", k);
    if (!(temperature >= 0) || !(top_p > 0 && top_p <= 1) || top_k < 0 || max_new < 0 || seed < 0 || slots < 1 ||
        slots > 4096 || limit < 0)
        return cli_usage_error("presample", "expected temperature >= 0, 0 < top-p <= 1, top-k >= 0, max-new >= 0, "
                                            "seed >= 0, 1 <= slots <= 4096, limit >= 0");
    Err e;
    const Kernels *kern = backend_by_name(backend, &e);
    if (!kern) return cli_fail(&e);
    Dataset ds = {0};
    if (dataset_load(data, &ds, &e)) return cli_fail(&e);
    Presample want = {0};
    snprintf(want.model_path, sizeof want.model_path, "%s", model);
    snprintf(want.data_path, sizeof want.data_path, "%s", data);
    want.n_problems_total = ds.n;
    want.k = (int)k;
    want.temperature = temperature;
    want.top_p = top_p;
    want.top_k = (int)top_k;
    want.max_new = (int)max_new;
    want.seed = (uint64_t)seed;

    // Resume: keep the complete blocks of an existing file, cut a torn end. The file is
    // locked for the whole run (two runs appending to one file would interleave).
    int first = 0, fd = -1;
    size_t keep = 0;
    struct stat sb = {0};
    if (stat(out, &sb) == 0) {
        if ((fd = open_locked(out, 0, &e)) < 0) goto fail_ds;
        Presample have;
        char *text;
        size_t len;
        if (read_file(out, &text, &len, &e)) goto fail_fd;
        int any_line = memchr(text, '\n', len) != NULL;
        free(text);
        if (any_line) {  // (a file without one complete line holds nothing: start over)
            if (presample_load(out, &have, &e)) {
                err_wrap(&e, "cannot resume (move the file away to start over)");
                goto fail_fd;
            }
            int bad = same_settings(&have, &want, out, &e);
            first = have.n_problems;
            keep = have.complete_bytes;
            presample_free(&have);
            if (bad) goto fail_fd;
        }
    }
    int end = limit > 0 && limit < ds.n ? (int)limit : ds.n;
    int n_run = end > first ? end - first : 0;

    ModelDir md;
    if (model_dir_load(&md, model, kern, &e)) goto fail_fd;
    TokSet ts = {0};
    rc = 1;
    SampleRequest *reqs = NULL;
    Sampler *s = NULL;
    PresampleRun run = {0};
    if (examples_tokenize(md.tok, &ds, data, NULL, EX_PROMPTS_ONLY, &ts, &e)) goto done;
    int ctx = md.m.cfg.max_seq_len;
    for (int i = 0; i < ds.n; i++)
        if (ts.ex[i].prompt_len >= ctx) {
            err_fmt(&e, "%s: problem %d: the prompt has %d tokens; the model's context (%d) leaves no room to answer",
                    data, i + 1, ts.ex[i].prompt_len, ctx);
            goto done;
        }
    if (first >= end) {
        if (!quiet) fprintf(stderr, "presample: %s already holds problems 0..%d of %d\n", out, first - 1, ds.n);
        rc = 0;
        goto done;
    }
    // The context: the longest prompt of this run + max_new (the context then never ends a
    // sample before max_new does), at most the model's.
    int max_p = 0;
    for (int i = first; i < end; i++) max_p = ts.ex[i].prompt_len > max_p ? ts.ex[i].prompt_len : max_p;
    int max_len = max_new > 0 && max_p + max_new < ctx ? max_p + (int)max_new : ctx;
    int32_t stop[2];
    int n_stop = 0;
    stop[n_stop++] = md.chat.im_end;
    if (md.chat.endoftext >= 0) stop[n_stop++] = md.chat.endoftext;
    SamplerOpts so = {(int)slots, max_len, 256, stop, n_stop};
    s = sampler_create(&md.m, &so, &e);
    if (!s) goto done;
    reqs = calloc((size_t)n_run, sizeof *reqs);
    run.done = calloc((size_t)n_run * k, sizeof *run.done);
    run.left = malloc((size_t)n_run * sizeof *run.left);
    if (!reqs || !run.done || !run.left) {
        err_fmt(&e, "out of memory for %d problems", n_run);
        goto done;
    }
    for (int i = 0; i < n_run; i++) {
        const TokExample *x = &ts.ex[first + i];
        int room = max_len - x->prompt_len;
        reqs[i] = (SampleRequest){(const int32_t *)x->prompt, x->prompt_len, (int)k,
                                  max_new > 0 && max_new < room ? (int)max_new : room, (float)temperature,
                                  (int)top_k, (float)top_p, (uint64_t)seed, (uint64_t)(first + i)};
        run.left[i] = (int)k;
    }
    // The file: a fresh header, or the kept part of the old one; then append. (A torn
    // header is no loss: a file without a complete line is started over.)
    if (fd < 0 && (fd = open_locked(out, 1, &e)) < 0) goto done;
    if (ftruncate(fd, (off_t)keep) || lseek(fd, 0, SEEK_END) < 0 || !(run.f = fdopen(fd, "ab"))) {
        err_fmt(&e, "%s: cannot cut it to its %zu complete bytes: %s", out, keep, strerror(errno));
        goto done;
    }
    fd = -1;  // (closed with run.f)
    if (keep == 0) {
        write_header(run.f, &want);
        if (fflush(run.f) || fsync(fileno(run.f))) {
            err_fmt(&e, "%s: write failed: %s", out, strerror(errno));
            goto done;
        }
    } else if (keep < (size_t)sb.st_size && !quiet) {
        fprintf(stderr, "presample: %s: dropped a partial block after byte %zu\n", out, keep);
    }
    if (!quiet && first > 0) fprintf(stderr, "presample: resuming %s at problem %d of %d\n", out, first, ds.n);
    run.out = out;
    run.ds = &ds;
    run.tok = md.tok;
    run.k = (int)k;
    run.first = first;
    run.end = end;
    run.next_write = first;
    run.progress = progress_start((int)quiet);
    run.last_sync = run.progress.t0;
    run.e = &e;
    interrupt_install();
    SamplerCallbacks cb = {&run, NULL, on_sample, on_step};
    int sr = sampler_run(s, reqs, n_run, &cb, &e);
    interrupt_restore();
    progress_end(&run.progress);
    int fr = run.failed || sr < 0 ? -1 : flush_blocks(&run, 1, &e);
    if (fclose(run.f) && !fr) fr = err_fmt(&e, "%s: write failed: %s", out, strerror(errno));
    run.f = NULL;
    if (fr) goto done;
    const SamplerStats *st = sampler_stats(s);
    double el = progress_elapsed(&run.progress);
    if (sr > 0) {
        fprintf(stderr, "presample: interrupted; %s holds problems 0..%d -- rerun the same command to continue\n", out,
                run.next_write - 1);
        rc = 130;
        goto done;
    }
    if (!quiet)
        fprintf(stderr, "presample: %d problems x %d samples in %.1fs (%.0f tok/s); %s holds %d of %d problems\n",
                n_run, (int)k, el, st->tokens_generated / (el > 0 ? el : 1), out, end, ds.n);
    rc = 0;
done:
    if (rc == 1) cli_fail(&e);
    if (run.f) fclose(run.f);
    if (run.done)
        for (size_t i = 0; i < (size_t)n_run * k; i++) free(run.done[i].ids);
    free(run.done);
    free(run.left);
    free(reqs);
    sampler_free(s);
    tokset_free(&ts);
    model_dir_free(&md);
    if (fd >= 0) close(fd);
    dataset_free(&ds);
    return rc;
fail_fd:
    close(fd);
fail_ds:
    dataset_free(&ds);
    return cli_fail(&e);
}
