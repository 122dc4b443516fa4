// pruner/presample_format.c -- the pre-sample file: its reader, its line writers and the
// fingerprints of its sources (format in presample.h).
#include "presample.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../base/json.h"
#include "../engine/sampler.h"
#include "../engine/trainer.h"

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

// The file is good up to the end of line `line`.
static void mark_complete(LoadCtx *c, int line) {
    while (c->cursor_line <= line) {
        const char *nl = strchr(c->text + c->cursor_off, '\n');
        c->cursor_off = (size_t)(nl - c->text) + 1;
        c->cursor_line++;
    }
    c->ps->complete_bytes = c->cursor_off;
}

// The header's fingerprints: all three, or none (a file of an older o1p).
static int load_sources(const JsonValue *v, const char *name, PresampleSources *s, Err *e) {
    static const char *keys[3] = {"weights_fnv1a", "tokenizer_fnv1a", "data_fnv1a"};
    uint64_t *out[3] = {&s->weights, &s->tokenizer, &s->data};
    if (!json_get(v, keys[0])) return 0;
    for (int i = 0; i < 3; i++) {
        const char *hex;
        char *end;
        if (json_get_string(v, keys[i], name, &hex, e)) return -1;
        errno = 0;
        *out[i] = strtoull(hex, &end, 16);
        if (errno || end - hex != 16 || *end)
            return err_fmt(e, "%s: line 1: \"%s\" must be 16 hex digits, not \"%s\"", name, keys[i], hex);
    }
    return 0;
}

static int load_header(LoadCtx *c, const JsonValue *v, Err *e) {
    Presample *ps = c->ps;
    const char *name = c->name, *model, *data, *grader = "paper";
    long long n, k, top_k, max_new, seed;
    const JsonValue *mark = json_get(v, "presample");
    if (v->type != JSON_OBJECT || !mark)
        return err_fmt(e, "%s: line 1: expected the header {\"presample\": 1, ...} of an `o1p presample` file", name);
    if (json_get_string(v, "model", name, &model, e) || json_get_string(v, "data", name, &data, e) ||
        json_get_int(v, "n_problems", name, &n, e) || json_get_int(v, "k", name, &k, e) ||
        json_get_number(v, "temperature", name, &ps->temperature, e) ||
        json_get_number(v, "top_p", name, &ps->top_p, e) || json_get_int(v, "top_k", name, &top_k, e) ||
        json_get_int(v, "max_new", name, &max_new, e) || json_get_int(v, "seed", name, &seed, e) ||
        chat_template_read_json(v, name, &ps->tmpl, e) || json_opt_string(v, "grader", name, &grader, e) ||
        load_sources(v, name, &ps->src, e))
        return -1;
    if (grade_mode_find(grader, &ps->grader))
        return err_fmt(e, "%s: line 1: \"grader\" must be \"paper\" or \"lenient\", not \"%s\"", name, grader);
    const JsonValue *lc = json_get(v, "length_counts");
    if (lc && (lc->type != JSON_STRING || strcmp(lc->str, "solution")))
        return err_fmt(e, "%s: line 1: expected \"length_counts\": \"solution\"", name);
    ps->converted = !lc;
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
    int len = 0;
    if (get_intv(v, "length", name, &len, e) || get_bool(v, "correct", name, &it->correct, e) ||
        get_bool(v, "truncated", name, &it->truncated, e) ||
        json_get_number(v, "mean_logprob", name, &it->mean_logprob, e) ||
        json_get_string(v, "text", name, &text, e))
        return -1;
    if (len == 0x7fffffff) return err_fmt(e, "%s: line %d: \"length\" = %d is out of range", name, line, len);
    // an older file's "length" counted the end token: it is the number of ids
    it->n_ids = ps->converted ? len : len + !it->truncated;
    it->length = sample_solution_len(it->n_ids, it->truncated);
    if (it->n_ids < 1 || it->length < 0)
        return err_fmt(e, "%s: line %d: \"length\" = %d %s (a sample has at least its first token)", name, line,
                       len, it->truncated ? "and truncated" : "with the end token counted");
    if (!ids || ids->type != JSON_ARRAY || (int)ids->len != it->n_ids)
        return err_fmt(e, "%s: line %d: expected \"ids\", an array of %d token ids (\"length\" = %d%s)", name,
                       line, it->n_ids, len, it->truncated || ps->converted ? "" : " and the end token");
    if (!ans || (ans->type != JSON_STRING && ans->type != JSON_NULL))
        return err_fmt(e, "%s: line %d: expected \"answer\", a string or null", name, line);
    it->ids = malloc((size_t)it->n_ids * sizeof(int32_t));
    it->text_len = json_get(v, "text")->len;
    it->text = dup_str(text, it->text_len);
    it->answer = ans->type == JSON_STRING ? dup_str(ans->str, ans->len) : NULL;
    if (!it->ids || !it->text || (ans->type == JSON_STRING && !it->answer))
        return err_fmt(e, "%s: out of memory at line %d", name, line);
    for (int t = 0; t < it->n_ids; t++) {
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
    double sl = 0, sa = 0, sl_file = 0;  // sl_file: of the lengths as the file counts them
    for (int j = 0; j < k; j++) {
        const PresampleItem *it = &ps->items[p * k + j];
        sl += it->length;
        sl_file += ps->converted ? it->n_ids : it->length;
        sa += it->correct;
    }
    if (fabs(sl_file / k - lbar) > 1e-9 * (1 + sl_file / k) || fabs(sa / k - abar) > 1e-9)
        return err_fmt(e, "%s: line %d: the summary of problem %d (Lbar %g, Abar %g) disagrees with its samples (%g, %g)",
                       name, line, p, lbar, abar, sl_file / k, sa / k);
    lbar = sl / k;
    double *ml = realloc(ps->mean_length, (size_t)(p + 1) * sizeof *ml);
    if (ml) ps->mean_length = ml;
    double *ac = realloc(ps->accuracy, (size_t)(p + 1) * sizeof *ac);
    if (ac) ps->accuracy = ac;
    if (!ml || !ac) return err_fmt(e, "%s: out of memory at line %d", name, line);
    ml[p] = lbar;
    ac[p] = abar;
    ps->n_problems++;
    c->next_sample = 0;
    mark_complete(c, line);  // the block is complete
    return 0;
}

static int load_line(const JsonValue *v, int line, void *ctx, Err *e) {
    LoadCtx *c = ctx;
    if (!c->have_header) {
        if (load_header(c, v, e)) return -1;
        mark_complete(c, line);  // the header alone is a valid (empty) file
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

// ---- writing ------------------------------------------------------------------------

// The shortest of %.15g / %.16g / %.17g that reads back as x (0.8, not 0.80000000000000004).
static void put_double(FILE *f, double x) {
    char b[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, x);
        if (strtod(b, NULL) == x) break;
    }
    fputs(b, f);
}

void presample_write_header(FILE *f, const Presample *h) {
    fputs("{\"presample\": 1, \"model\": ", f);
    json_write_string(f, h->model_path, strlen(h->model_path));
    fputs(", \"data\": ", f);
    json_write_string(f, h->data_path, strlen(h->data_path));
    fprintf(f, ", \"n_problems\": %d, \"k\": %d, \"temperature\": ", h->n_problems_total, h->k);
    put_double(f, h->temperature);
    fputs(", \"top_p\": ", f);
    put_double(f, h->top_p);
    fprintf(f, ", \"top_k\": %d, \"max_new\": %d, \"seed\": %llu, ", h->top_k, h->max_new, (unsigned long long)h->seed);
    chat_template_write_json(f, &h->tmpl);
    fprintf(f, ", \"grader\": \"%s\", \"length_counts\": \"solution\"", grade_mode_name(h->grader));
    fprintf(f, ", \"weights_fnv1a\": \"%016llx\", \"tokenizer_fnv1a\": \"%016llx\", \"data_fnv1a\": \"%016llx\"}\n",
            (unsigned long long)h->src.weights, (unsigned long long)h->src.tokenizer,
            (unsigned long long)h->src.data);
}

void presample_write_sample(FILE *f, const PresampleItem *it) {
    fprintf(f, "{\"problem\": %d, \"sample\": %d, \"length\": %d, \"correct\": %s, \"truncated\": %s, \"answer\": ",
            it->problem, it->sample, it->length, it->correct ? "true" : "false", it->truncated ? "true" : "false");
    if (it->answer) json_write_string(f, it->answer, strlen(it->answer));
    else fputs("null", f);
    fputs(", \"mean_logprob\": ", f);
    put_double(f, it->mean_logprob);
    fputs(", \"ids\": [", f);
    for (int t = 0; t < it->n_ids; t++) fprintf(f, t ? ",%d" : "%d", (int)it->ids[t]);
    fputs("], \"text\": ", f);
    json_write_string(f, it->text, it->text_len);
    fputs("}\n", f);
}

void presample_write_summary(FILE *f, int problem, int k, double mean_length, double accuracy) {
    fprintf(f, "{\"problem\": %d, \"summary\": true, \"k\": %d, \"mean_length\": ", problem, k);
    put_double(f, mean_length);
    fputs(", \"accuracy\": ", f);
    put_double(f, accuracy);
    fputs("}\n", f);
}

// ---- sources ------------------------------------------------------------------------

static int file_fingerprint(const char *path, uint64_t *fp, Err *e) {
    char *text;
    size_t len;
    if (read_file(path, &text, &len, e)) return -1;
    *fp = fnv1a(FNV_OFFSET, text, len) | 1;  // never 0 (unknown)
    free(text);
    return 0;
}

int presample_sources(const char *model_dir, const Model *m, const char *data_path, PresampleSources *s, Err *e) {
    char tok[4200];
    *s = (PresampleSources){m ? model_fingerprint(m) : 0, 0, 0};
    if (path_join(tok, sizeof tok, model_dir, "tokenizer.json", e) || file_fingerprint(tok, &s->tokenizer, e) ||
        file_fingerprint(data_path, &s->data, e))
        return -1;
    return 0;
}

int presample_check_sources(const Presample *ps, const char *ps_path, const PresampleSources *have,
                            const char *model_dir, const char *data_path, Err *e) {
    const PresampleSources *rec = &ps->src;
    if (!rec->weights && !rec->tokenizer && !rec->data) return 1;
    struct { const char *what, *now; uint64_t rec, have; } f[] = {
        {"another dataset (data_fnv1a)", data_path, rec->data, have->data},
        {"another tokenizer (tokenizer_fnv1a)", model_dir, rec->tokenizer, have->tokenizer},
        {"other model weights (weights_fnv1a)", model_dir, rec->weights, have->weights},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].rec && f[i].have && f[i].rec != f[i].have)
            return err_fmt(e, "%s was pre-sampled from %s than %s holds now (recorded %016llx, now %016llx)",
                           ps_path, f[i].what, f[i].now, (unsigned long long)f[i].rec, (unsigned long long)f[i].have);
    return 0;
}
