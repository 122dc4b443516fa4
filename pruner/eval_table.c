// pruner/eval_table.c -- the results tables of eval (see eval.h): the paper's Table 2
// (one dataset, or several with their average and the inference time), the per-level
// breakdown, the sampling summary (k > 1), and Table 2's JSON.
#include <math.h>
#include <string.h>

#include "../base/io.h"
#include "../base/json.h"
#include "eval.h"

#define MAX_COLS 64  // distinct models, distinct datasets in one table

double eval_run_aes(const EvalResult *run, const EvalResult *base) {
    if (!base || !strcmp(base->model, run->model)) return NAN;
    return eval_aes(run->all.accuracy, run->all.mean_length, base->all.accuracy, base->all.mean_length);
}

void eval_average(const EvalResult *const *runs, const EvalResult *const *bases, int n, EvalAverage *avg) {
    *avg = (EvalAverage){0};
    for (int d = 0; d < n; d++) {
        avg->accuracy += runs[d]->all.accuracy / n;
        avg->vote_accuracy += runs[d]->vote_accuracy / n;
        avg->mean_length += runs[d]->all.mean_length / n;
        avg->aes += eval_run_aes(runs[d], bases[d]) / n;  // one NAN makes it NAN
        avg->seconds += runs[d]->seconds;
    }
    if (!n) avg->aes = NAN;
}

static const EvalResult *find_run(const EvalResult *runs, int n, const char *model, const char *dataset) {
    for (int i = 0; i < n; i++)
        if ((!model || !strcmp(runs[i].model, model)) && !strcmp(runs[i].dataset, dataset)) return &runs[i];
    return NULL;
}

// The rows and columns of a table: distinct models and datasets in the order met (bases
// first: the baseline row leads), and per (model, dataset) its run and its baseline.
typedef struct {
    const char *ds[MAX_COLS], *models[MAX_COLS];
    int n_ds, n_models;
    const EvalResult *runs, *bases;
    int n_runs, n_bases;
} Grid;

static void add_name(const char **names, int *n, const char *name) {
    for (int i = 0; i < *n; i++)
        if (!strcmp(names[i], name)) return;
    if (*n < MAX_COLS) names[(*n)++] = name;
}

static Grid grid_make(const EvalResult *runs, int n_runs, const EvalResult *bases, int n_bases) {
    Grid g = {.runs = runs, .bases = bases, .n_runs = n_runs, .n_bases = n_bases};
    for (int i = 0; i < n_bases + n_runs; i++) {
        const EvalResult *r = i < n_bases ? &bases[i] : &runs[i - n_bases];
        add_name(g.ds, &g.n_ds, r->dataset);
        add_name(g.models, &g.n_models, r->model);
    }
    return g;
}

// The run of model m on dataset d (NULL: none) and its baseline in *base.
static const EvalResult *grid_at(const Grid *g, int m, int d, const EvalResult **base) {
    const EvalResult *r = find_run(g->runs, g->n_runs, g->models[m], g->ds[d]);
    if (!r) r = find_run(g->bases, g->n_bases, g->models[m], g->ds[d]);
    *base = find_run(g->bases, g->n_bases, NULL, g->ds[d]);
    return r;
}

// An AES cell: "-" for no baseline or the baseline itself, "n/a" when undefined.
static void aes_cell(FILE *f, double aes, int none) {
    if (none)
        fputs(" - |", f);
    else if (isnan(aes))
        fputs(" n/a |", f);
    else
        fprintf(f, " %.3f |", aes);
}

// Table 2; average: with the average column over the datasets.
static void table_render(FILE *f, const Grid *g, int average) {
    fputs("| Model |", f);
    for (int d = 0; d < g->n_ds; d++) fprintf(f, " %s Acc (%%) | %s Length | %s AES |", g->ds[d], g->ds[d], g->ds[d]);
    if (average) fputs(" Average Acc (%) | Average Length | Average AES |", f);
    fputs("\n|---|", f);
    for (int d = 0; d < g->n_ds + average; d++) fputs("---:|---:|---:|", f);
    fputc('\n', f);
    for (int m = 0; m < g->n_models; m++) {
        fprintf(f, "| %s |", g->models[m]);
        const EvalResult *row[MAX_COLS], *rbase[MAX_COLS];
        int complete = 1, all_self = 1;
        for (int d = 0; d < g->n_ds; d++) {
            row[d] = grid_at(g, m, d, &rbase[d]);
            if (!row[d]) {
                fputs(" - | - | - |", f);
                complete = 0;
                continue;
            }
            fprintf(f, " %.1f | %.1f |", 100 * row[d]->all.accuracy, row[d]->all.mean_length);
            int none = !rbase[d] || !strcmp(rbase[d]->model, row[d]->model);
            all_self &= none;
            aes_cell(f, eval_run_aes(row[d], rbase[d]), none);
        }
        if (average && complete) {
            EvalAverage a;
            eval_average(row, rbase, g->n_ds, &a);
            fprintf(f, " %.1f | %.1f |", 100 * a.accuracy, a.mean_length);
            aes_cell(f, a.aes, all_self);
        } else if (average) {
            fputs(" - | - | - |", f);
        }
        fputc('\n', f);
    }
}

void eval_table_markdown(FILE *f, const EvalResult *runs, int n_runs, const EvalResult *bases, int n_bases) {
    Grid g = grid_make(runs, n_runs, bases, n_bases);
    table_render(f, &g, 0);
}

void eval_table2_markdown(FILE *f, const EvalResult *runs, int n_runs, const EvalResult *bases, int n_bases) {
    Grid g = grid_make(runs, n_runs, bases, n_bases);
    table_render(f, &g, 1);
    // the inference time: wall seconds of the decoding per dataset, and their sum
    fputs("\n| Model |", f);
    for (int d = 0; d < g.n_ds; d++) fprintf(f, " %s Time (s) |", g.ds[d]);
    fputs(" Total Time (s) |\n|---|", f);
    for (int d = 0; d <= g.n_ds; d++) fputs("---:|", f);
    fputc('\n', f);
    for (int m = 0; m < g.n_models; m++) {
        fprintf(f, "| %s |", g.models[m]);
        double total = 0;
        for (int d = 0; d < g.n_ds; d++) {
            const EvalResult *b, *r = grid_at(&g, m, d, &b);
            if (r) {
                fprintf(f, " %.2f |", r->seconds);
                total += r->seconds;
            } else {
                fputs(" - |", f);
            }
        }
        fprintf(f, " %.2f |\n", total);
    }
}

void eval_sampling_markdown(FILE *f, const EvalResult *runs, int n_runs) {
    fputs("| Model | Dataset | k | Acc, mean over samples (%) | Majority vote Acc (%) | Length |\n"
          "|---|---|---:|---:|---:|---:|\n", f);
    for (int i = 0; i < n_runs; i++)
        fprintf(f, "| %s | %s | %d | %.1f | %.1f | %.1f |\n", runs[i].model, runs[i].dataset, runs[i].k,
                100 * runs[i].all.accuracy, 100 * runs[i].vote_accuracy, runs[i].all.mean_length);
}

// ---- Table 2's JSON ------------------------------------------------------------------------
static void json_num(FILE *f, const char *key, double v) {
    if (isnan(v))
        fprintf(f, ", \"%s\": null", key);
    else
        fprintf(f, ", \"%s\": %.9g", key, v);
}

int eval_write_table_json(const char *path, const EvalResult *const *runs, const EvalResult *const *bases, int n,
                          Err *e) {
    if (n < 1) return err_fmt(e, "%s: a table needs at least one dataset", path);
    AtomicFile af;
    if (atomic_open(&af, path, e)) return -1;
    FILE *f = af.f;
    const EvalResult *b0 = NULL;
    for (int d = 0; d < n && !b0; d++) b0 = bases[d];
    fputs("{\"model\": ", f);
    json_write_string(f, runs[0]->model, strlen(runs[0]->model));
    fputs(", \"baseline\": ", f);
    if (b0)
        json_write_string(f, b0->model, strlen(b0->model));
    else
        fputs("null", f);
    fputs(",\n \"datasets\": [", f);
    for (int d = 0; d < n; d++) {
        const EvalResult *r = runs[d];
        fputs(d ? ",\n  {\"dataset\": " : "\n  {\"dataset\": ", f);
        json_write_string(f, r->dataset, strlen(r->dataset));
        fprintf(f, ", \"n_problems\": %d, \"k\": %d", r->n_problems, r->k);
        json_num(f, "accuracy", r->all.accuracy);
        if (r->k > 1) json_num(f, "vote_accuracy", r->vote_accuracy);
        json_num(f, "mean_length", r->all.mean_length);
        json_num(f, "aes", eval_run_aes(r, bases[d]));
        json_num(f, "seconds", r->seconds);
        fputc('}', f);
    }
    EvalAverage a;
    eval_average(runs, bases, n, &a);
    fputs("],\n \"average\": {\"datasets\": ", f);
    fprintf(f, "%d", n);
    json_num(f, "accuracy", a.accuracy);
    if (runs[0]->k > 1) json_num(f, "vote_accuracy", a.vote_accuracy);
    json_num(f, "mean_length", a.mean_length);
    json_num(f, "aes", a.aes);
    json_num(f, "seconds", a.seconds);
    fputs("}}\n", f);
    return atomic_commit(&af, e);
}

// ---- per level ---------------------------------------------------------------------------
void eval_levels_markdown(FILE *f, const EvalResult *run, const EvalResult *base) {
    fprintf(f, "| Level | Problems | %s Acc (%%) | %s Acc (%%) | %s Length | %s Length | Length change |\n",
            base->model, run->model, base->model, run->model);
    fputs("|---:|---:|---:|---:|---:|---:|---:|\n", f);
    for (int l = 0; l <= DATASET_MAX_LEVEL + 1; l++) {
        int all = l == DATASET_MAX_LEVEL + 1;
        const EvalStat *r = all ? &run->all : &run->level[l], *b = all ? &base->all : &base->level[l];
        if (!r->n || (!all && r->n == run->all.n)) continue;  // one level only: the total says it
        if (all)
            fputs("| all |", f);
        else if (l == 0)
            fputs("| unknown |", f);
        else
            fprintf(f, "| %d |", l);
        fprintf(f, " %d | %.1f | %.1f | %.1f | %.1f |", r->n, 100 * b->accuracy, 100 * r->accuracy, b->mean_length,
                r->mean_length);
        if (b->mean_length > 0)
            fprintf(f, " %+.1f%% |\n", 100 * (r->mean_length - b->mean_length) / b->mean_length);
        else
            fputs(" - |\n", f);
    }
}
