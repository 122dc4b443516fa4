// data/dataset.c -- loading and writing datasets (JSON arrays and JSONL).
#include "dataset.h"

#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../base/json.h"
#include "grade.h"

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int dataset_add(Dataset *ds, const char *problem, const char *answer, const char *solution, int level,
                long redundant_chars, Err *e) {
    if (ds->n == ds->cap) {
        int cap = ds->cap ? ds->cap * 2 : 64;
        Example *ex = realloc(ds->ex, (size_t)cap * sizeof *ex);
        if (!ex) return err_fmt(e, "out of memory for %d examples", cap);
        ds->ex = ex;
        ds->cap = cap;
    }
    Example *x = &ds->ex[ds->n];
    x->problem = dup_str(problem);
    x->answer = dup_str(answer);
    x->solution = solution ? dup_str(solution) : NULL;
    x->level = level;
    x->redundant_chars = redundant_chars;
    if (!x->problem || !x->answer || (solution && !x->solution)) {
        free(x->problem);
        free(x->answer);
        free(x->solution);
        return err_fmt(e, "out of memory");
    }
    ds->n++;
    return 0;
}

void dataset_free(Dataset *ds) {
    for (int i = 0; i < ds->n; i++) {
        free(ds->ex[i].problem);
        free(ds->ex[i].answer);
        free(ds->ex[i].solution);
    }
    free(ds->ex);
    memset(ds, 0, sizeof *ds);
}

typedef struct {
    Dataset *ds;
    const char *name;
    long index;  // element index in a JSON array, -1 for JSONL
} Loader;

// "NAME: line L, column C[, element I]: WHAT"
static int record_error(const Loader *ld, const JsonValue *v, const char *what, Err *e) {
    if (ld->index >= 0)
        return err_fmt(e, "%s: line %d, column %d, element %ld: %s", ld->name, v->line, v->col, ld->index, what);
    return err_fmt(e, "%s: line %d, column %d: %s", ld->name, v->line, v->col, what);
}

// First present member among two names; both present is fine (the first wins).
static const JsonValue *member2(const JsonValue *obj, const char *a, const char *b) {
    const JsonValue *v = json_get(obj, a);
    return v ? v : json_get(obj, b);
}

static int add_record(const JsonValue *v, const Loader *ld, Err *e) {
    char msg[256];
    if (v->type != JSON_OBJECT) {
        snprintf(msg, sizeof msg, "expected an object with \"problem\" and \"answer\", found %s",
                 json_type_name(v->type));
        return record_error(ld, v, msg, e);
    }
    const JsonValue *p = json_get(v, "problem");
    const JsonValue *a = member2(v, "answer", "ground_truth_answer");
    const JsonValue *s = member2(v, "solution", "ground_truth_solution");
    const JsonValue *l = json_get(v, "level");
    const JsonValue *r = json_get(v, "redundant_chars");
    if (!p) return record_error(ld, v, "missing member \"problem\" (a string)", e);
    if (p->type != JSON_STRING) {
        snprintf(msg, sizeof msg, "expected a string for \"problem\", found %s", json_type_name(p->type));
        return record_error(ld, p, msg, e);
    }
    if (!a) return record_error(ld, v, "missing member \"answer\" (or \"ground_truth_answer\")", e);
    if (a->type == JSON_NULL) {
        if (!ld->ds->skipped++) ld->ds->first_skipped = ld->index >= 0 ? (int)ld->index : v->line;
        return 0;
    }
    if (a->type != JSON_STRING && a->type != JSON_NUMBER) {
        snprintf(msg, sizeof msg, "expected a string or a number for the answer, found %s",
                 json_type_name(a->type));
        return record_error(ld, a, msg, e);
    }
    if (s && s->type != JSON_STRING && s->type != JSON_NULL) {
        snprintf(msg, sizeof msg, "expected a string for the solution, found %s", json_type_name(s->type));
        return record_error(ld, s, msg, e);
    }
    int level = 0;
    if (l) {
        char *end = NULL;
        long x = -1;
        if (l->type == JSON_NUMBER) x = strtol(l->str, &end, 10);
        else if (l->type == JSON_STRING && !strncmp(l->str, "Level ", 6)) x = strtol(l->str + 6, &end, 10);
        if (!end || end == l->str || *end || x < 0 || x > DATASET_MAX_LEVEL) {
            snprintf(msg, sizeof msg, "expected an integer 0..%d (or \"Level N\") for \"level\"",
                     DATASET_MAX_LEVEL);
            return record_error(ld, l, msg, e);
        }
        level = (int)x;
    }
    long redundant = -1;
    if (r) {
        char *end = NULL;
        if (r->type == JSON_NUMBER) redundant = strtol(r->str, &end, 10);
        if (!end || *end || redundant < 0)
            return record_error(ld, r, "expected a non-negative integer for \"redundant_chars\"", e);
    }
    const char *sol = s && s->type == JSON_STRING ? s->str : NULL;
    if (dataset_add(ld->ds, p->str, a->str, sol, level, redundant, e)) return err_wrap(e, "%s", ld->name);
    return 0;
}

static int jsonl_record(const JsonValue *v, int line, void *ctx, Err *e) {
    (void)line;
    return add_record(v, ctx, e);
}

int dataset_parse(const char *text, size_t len, const char *name, Dataset *ds, Err *e) {
    memset(ds, 0, sizeof *ds);
    size_t i = 0;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) i = 3;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) i++;
    Loader ld = {ds, name, -1};
    int rc;
    if (i < len && text[i] == '[') {
        Json *j = json_parse(text, len, name, e);
        if (!j) return -1;
        const JsonValue *root = json_root(j);
        rc = 0;
        for (size_t k = 0; k < root->len && !rc; k++) {
            ld.index = (long)k;
            rc = add_record(&root->items[k], &ld, e);
        }
        json_free(j);
    } else if (i < len && text[i] == '{') {
        rc = jsonl_parse(text, len, name, jsonl_record, &ld, e);
    } else if (i < len) {
        rc = err_fmt(e, "%s: expected a JSON array ('[') or JSON Lines (one object per line, '{'), found %s",
                     name, (unsigned char)text[i] < 0x80 ? "other text" : "a non-ASCII byte");
    } else {
        rc = 0;
    }
    if (!rc && ds->n == 0) rc = err_fmt(e, "%s: no examples with an answer in the file", name);
    if (rc) dataset_free(ds);
    return rc;
}

int dataset_load(const char *path, Dataset *ds, Err *e) {
    memset(ds, 0, sizeof *ds);
    char *text;
    size_t len;
    if (read_file(path, &text, &len, e)) return -1;
    int rc = dataset_parse(text, len, path, ds, e);
    free(text);
    return rc;
}

int dataset_write_jsonl(const char *path, const Dataset *ds, Err *e) {
    AtomicFile a;
    if (atomic_open(&a, path, e)) return -1;
    for (int i = 0; i < ds->n; i++) {
        const Example *x = &ds->ex[i];
        fputs("{\"problem\": ", a.f);
        json_write_string(a.f, x->problem, strlen(x->problem));
        fputs(", \"answer\": ", a.f);
        json_write_string(a.f, x->answer, strlen(x->answer));
        if (x->solution) {
            fputs(", \"solution\": ", a.f);
            json_write_string(a.f, x->solution, strlen(x->solution));
        }
        if (x->level > 0) fprintf(a.f, ", \"level\": %d", x->level);
        if (x->redundant_chars >= 0) fprintf(a.f, ", \"redundant_chars\": %ld", x->redundant_chars);
        fputs("}\n", a.f);
    }
    return atomic_commit(&a, e);
}

void dataset_stats(const Dataset *ds, DatasetStats *st) {
    memset(st, 0, sizeof *st);
    double chars[DATASET_MAX_LEVEL + 2] = {0}, red[DATASET_MAX_LEVEL + 2] = {0},
           red_base[DATASET_MAX_LEVEL + 2] = {0};
    int with_sol[DATASET_MAX_LEVEL + 2] = {0};
    const int T = DATASET_MAX_LEVEL + 1;  // the "total" slot
    for (int i = 0; i < ds->n; i++) {
        const Example *x = &ds->ex[i];
        int l = x->level >= 0 && x->level <= DATASET_MAX_LEVEL ? x->level : 0;
        st->count[l]++;
        st->total++;
        if (!x->solution) continue;
        st->graded[l]++;
        st->correct[l] += grade_solution(x->solution, x->answer);
        double n = (double)strlen(x->solution);
        int slots[2] = {l, T};
        for (int k = 0; k < 2; k++) {
            chars[slots[k]] += n;
            with_sol[slots[k]]++;
            if (x->redundant_chars >= 0) {
                red[slots[k]] += (double)x->redundant_chars;
                red_base[slots[k]] += n;
            }
        }
    }
    for (int l = 0; l <= T; l++) {
        double mean = with_sol[l] ? chars[l] / with_sol[l] : 0;
        double frac = red_base[l] > 0 ? red[l] / red_base[l] : -1;
        if (l < T) {
            st->mean_chars[l] = mean;
            st->redundant_frac[l] = frac;
        } else {
            st->total_mean_chars = mean;
            st->total_redundant_frac = frac;
        }
    }
}
