// pruner/eval_compare.c -- the comparison of methods over seeds (see eval.h): accuracy,
// length, AES and costs per method, and the length per difficulty level against the
// reference's.
#include <math.h>
#include <string.h>

#include "eval.h"

// The mean, min and max of the known (not NAN) values added.
typedef struct {
    double sum, min, max;
    int n;
} Span;

static void span_add(Span *s, double v) {
    if (isnan(v)) return;
    if (!s->n || v < s->min) s->min = v;
    if (!s->n || v > s->max) s->max = v;
    s->sum += v;
    s->n++;
}

// " MEAN [MIN, MAX] |" in the printf format fmt of one number, or " n/a |".
static void span_cell(FILE *f, const Span *s, const char *fmt) {
    char a[32], b[32], c[32];
    if (!s->n) {
        fputs(" n/a |", f);
        return;
    }
    snprintf(a, sizeof a, fmt, s->sum / s->n);
    snprintf(b, sizeof b, fmt, s->min);
    snprintf(c, sizeof c, fmt, s->max);
    fprintf(f, " %s [%s, %s] |", a, b, c);
}

int eval_compare_first(const CompareRun *runs, int i) {
    for (int j = 0; j < i; j++)
        if (!strcmp(runs[j].eval->model, runs[i].eval->model)) return 0;
    return 1;
}

static void table_methods(FILE *f, const EvalResult *ref, const CompareRun *runs, int n, long drawn) {
    char d[32] = "-";
    if (drawn >= 0) snprintf(d, sizeof d, "%ld", drawn);
    double unknown = drawn < 0 ? NAN : 0;  // a run's own samples count only beside the shared
    fprintf(f, "| method | test Acc (%%) | test Length | AES | samples drawn | tokens trained | wall (s) |\n"
               "|---|---:|---:|---:|---:|---:|---:|\n"
               "| %s | %.1f | %.1f | - | %s | - | - |\n",
            ref->model, 100 * ref->all.accuracy, ref->all.mean_length, d);
    for (int i = 0; i < n; i++) {
        if (!eval_compare_first(runs, i)) continue;
        Span acc = {0}, len = {0}, aes = {0}, drew = {0}, tok = {0}, wall = {0};
        for (int j = i; j < n; j++) {
            const EvalResult *r = runs[j].eval;
            if (strcmp(r->model, runs[i].eval->model)) continue;
            span_add(&acc, 100 * r->all.accuracy);
            span_add(&len, r->all.mean_length);
            span_add(&aes, eval_aes(r->all.accuracy, r->all.mean_length, ref->all.accuracy, ref->all.mean_length));
            span_add(&drew, drawn + unknown + (isnan(runs[j].sampled) ? 0 : runs[j].sampled));
            span_add(&tok, runs[j].trained_tokens);
            span_add(&wall, runs[j].wall_s);
        }
        fprintf(f, "| %s |", runs[i].eval->model);
        span_cell(f, &acc, "%.1f");
        span_cell(f, &len, "%.1f");
        span_cell(f, &aes, "%+.3f");
        span_cell(f, &drew, "%.0f");
        span_cell(f, &tok, "%.0f");
        span_cell(f, &wall, "%.0f");
        fputc('\n', f);
    }
}

// The stat of level l of r (l < 0: all).
static const EvalStat *level_stat(const EvalResult *r, int l) { return l < 0 ? &r->all : &r->level[l]; }

static void table_levels(FILE *f, const EvalResult *ref, const CompareRun *runs, int n) {
    // the columns: ref's levels with problems, then all (-1)
    int lev[DATASET_MAX_LEVEL + 2], L = 0;
    for (int l = 0; l <= DATASET_MAX_LEVEL; l++)
        if (ref->level[l].n) lev[L++] = l;
    lev[L++] = -1;
    fputs("| method |", f);
    for (int c = 0; c < L; c++)
        if (lev[c] < 0) fprintf(f, " all (%d) |", ref->all.n);
        else if (lev[c] == 0) fprintf(f, " unknown level (%d) |", ref->level[0].n);
        else fprintf(f, " level %d (%d) |", lev[c], ref->level[lev[c]].n);
    fputs("\n|---|", f);
    for (int c = 0; c < L; c++) fputs("---:|", f);
    fprintf(f, "\n| %s |", ref->model);
    for (int c = 0; c < L; c++) fprintf(f, " %.1f |", level_stat(ref, lev[c])->mean_length);
    fputc('\n', f);
    for (int i = 0; i < n; i++) {
        if (!eval_compare_first(runs, i)) continue;
        fprintf(f, "| %s |", runs[i].eval->model);
        for (int c = 0; c < L; c++) {
            Span len = {0};
            for (int j = i; j < n; j++) {
                const EvalStat *st = level_stat(runs[j].eval, lev[c]);
                if (!strcmp(runs[j].eval->model, runs[i].eval->model) && st->n) span_add(&len, st->mean_length);
            }
            double base = level_stat(ref, lev[c])->mean_length;
            if (!len.n) fputs(" n/a |", f);
            else if (base > 0) fprintf(f, " %.1f (%.2f) |", len.sum / len.n, len.sum / len.n / base);
            else fprintf(f, " %.1f |", len.sum / len.n);
        }
        fputc('\n', f);
    }
}

int eval_compare_markdown(FILE *f, const EvalResult *ref, const CompareRun *runs, int n, long drawn) {
    int methods = 0;
    for (int i = 0; i < n; i++) methods += eval_compare_first(runs, i);
    table_methods(f, ref, runs, n, drawn);
    fprintf(f, "\nMean [min, max] over the runs of each method (%d runs in all); %d problems of %s, "
               "%d sample(s) each. AES against %s. Tokens trained and wall time per run.\n\n",
            n, ref->n_problems, ref->dataset, ref->k, ref->model);
    table_levels(f, ref, runs, n);
    fprintf(f, "\nMean solution length (tokens) per difficulty level (problems in brackets in the header), "
               "the mean over each method's runs; in brackets the ratio to %s's on the same level.\n",
            ref->model);
    return methods;
}
