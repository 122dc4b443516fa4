// pruner/eval_run.c -- what `o1p eval` runs (eval_run.h): one dataset or several into
// results JSONs and Markdown tables, the baseline matched by dataset; table mode.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eval_run.h"
#include "../base/io.h"
#include "../engine/backend.h"
#include "../engine/dist.h"

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int eval_split_list(char *copy, char **items, int cap) {
    int n = 0;
    char *save = NULL;
    for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (n == cap) return -1;
        items[n++] = p;
    }
    return n;
}

// The Markdown text of mem (opened on *text) closed, written to path; the text stays with
// the caller.
static int close_markdown(FILE *mem, const char *path, char **text, size_t *len, Err *e) {
    fclose(mem);
    return write_file_atomic(path, *text, *len, e);
}

// ---- table mode ---------------------------------------------------------------------

// The dataset of a table: that of the first results file read (path).
typedef struct {
    char dataset[256], path[4096];
} TableDataset;

// Reads a comma-separated list of eval JSON files, each of which must hold results on
// td's dataset (the first file read sets it).
static int read_runs(const char *list, EvalResult **out, int *n, TableDataset *td, Err *e) {
    *out = NULL;
    *n = 0;
    char *copy = strdup(list), *save = NULL;
    int cap = 0, rc = 0;
    for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 4;
            EvalResult *g = realloc(*out, (size_t)cap * sizeof *g);
            if (!g) {
                rc = err_fmt(e, "out of memory");
                break;
            }
            *out = g;
        }
        if (eval_read_json(p, &(*out)[*n], e)) {
            rc = -1;
            break;
        }
        const char *ds = (*out)[(*n)++].dataset;
        if (!*td->path) {
            snprintf(td->dataset, sizeof td->dataset, "%s", ds);
            snprintf(td->path, sizeof td->path, "%s", p);
        } else if (strcmp(ds, td->dataset)) {
            rc = err_fmt(e, "%s holds results on dataset '%s', %s on '%s': one table compares one dataset", p, ds,
                         td->path, td->dataset);
            break;
        }
    }
    free(copy);
    return rc;
}

static void free_runs(EvalResult *r, int n) {
    for (int i = 0; i < n; i++) eval_result_free(&r[i]);
    free(r);
}

// The table of runs against bases, then each run's per-level breakdown against its
// baseline (a run that is its own baseline has none).
static void runs_markdown(FILE *f, const EvalResult *runs, int n_runs, const EvalResult *bases, int n_bases) {
    eval_table_markdown(f, runs, n_runs, bases, n_bases);
    for (int i = 0; i < n_runs; i++) {
        const EvalResult *b = NULL;
        for (int j = 0; j < n_bases && !b; j++)
            if (!strcmp(bases[j].dataset, runs[i].dataset)) b = &bases[j];
        if (!b || !strcmp(b->model, runs[i].model)) continue;
        fprintf(f, "\n%s on %s, per level:\n\n", runs[i].model, runs[i].dataset);
        eval_levels_markdown(f, &runs[i], b);
    }
}

int eval_table_files(const char *results, const char *baseline, const char *out, char **md, size_t *md_len,
                     Err *e) {
    *md = NULL;
    if (output_check(out, e)) return -1;
    EvalResult *runs = NULL, *bases = NULL;
    int n_runs = 0, n_bases = 0, rc = -1;
    TableDataset td = {{0}, {0}};
    if (read_runs(results, &runs, &n_runs, &td, e) || (baseline && read_runs(baseline, &bases, &n_bases, &td, e)))
        goto done;
    FILE *mem = open_memstream(md, md_len);
    if (!mem) {
        rc = err_fmt(e, "out of memory");
        goto done;
    }
    runs_markdown(mem, runs, n_runs, bases, n_bases);
    rc = close_markdown(mem, out, md, md_len, e);
done:
    free_runs(runs, n_runs);
    free_runs(bases, n_bases);
    return rc;
}

// ---- one dataset --------------------------------------------------------------------

// OUT.json -> OUT + tail (".md": the tables; ".NAME.json": the results on dataset NAME of
// a several-dataset eval)
static void out_sibling(char *dst, size_t cap, const char *json_path, const char *tail) {
    size_t n = strlen(json_path);
    if (n > 5 && !strcmp(json_path + n - 5, ".json")) n -= 5;
    snprintf(dst, cap, "%.*s%s", (int)n, json_path, tail);
}

// Keeps the first n examples of ds.
static void dataset_keep(Dataset *ds, int n) {
    for (int i = n; i < ds->n; i++) {
        free(ds->ex[i].problem);
        free(ds->ex[i].answer);
        free(ds->ex[i].solution);
    }
    ds->n = n;
}

// The baseline of the dataset named dname: a model folder (evaluated on it), one eval JSON,
// or (several) the one of a comma-separated list of eval JSON files that holds dname.
static int baseline_for(const EvalRun *a, const Kernels *kern, const char *data, const Dataset *ds,
                        const char *dname, EvalResult *b, Err *e) {
    char nm[256];
    if (is_dir(a->baseline)) {
        eval_name(nm, sizeof nm, a->baseline);
        return eval_model_dir(a->baseline, nm, data, ds, &a->prompt, &a->eo, kern, b, e);
    }
    if (!strchr(a->baseline, ',')) return eval_read_json(a->baseline, b, e);
    char *copy = strdup(a->baseline), *paths[EVAL_MAX_DATASETS];
    int n = copy ? eval_split_list(copy, paths, EVAL_MAX_DATASETS) : 0, rc = 1;
    if (n < 0) rc = err_fmt(e, "--baseline: more than %d files", EVAL_MAX_DATASETS);
    for (int i = 0; i < n && rc > 0; i++) {
        if (eval_read_json(paths[i], b, e))
            rc = -1;
        else if (!strcmp(b->dataset, dname))
            rc = 0;
        else
            eval_result_free(b);
    }
    if (rc > 0) rc = err_fmt(e, "--baseline %s: no results on dataset '%s'", a->baseline, dname);
    free(copy);
    return rc;
}

// Evaluates the baseline (when given) and the model on the dataset ds read from data;
// writes the model's results JSON to out. *have_base: a baseline is in b.
static int evaluate(const EvalRun *a, const Kernels *kern, const char *data, const Dataset *ds, const char *out,
                    EvalResult *r, EvalResult *b, int *have_base, Err *e) {
    char nm[256], dname[256];
    eval_name(dname, sizeof dname, data);
    if (a->baseline) {
        if (baseline_for(a, kern, data, ds, dname, b, e)) return -1;
        *have_base = 1;
    }
    if (a->name)
        snprintf(nm, sizeof nm, "%s", a->name);
    else
        eval_name(nm, sizeof nm, a->model);
    if (eval_model_dir(a->model, nm, data, ds, &a->prompt, &a->eo, kern, r, e) ||
        (dist_rank() == 0 && eval_write_json(out, r, e)))
        return -1;
    if (*have_base && strcmp(b->dataset, r->dataset))
        return err_fmt(e, "the baseline was evaluated on '%s', the model on '%s'", b->dataset, r->dataset);
    return 0;
}

// One dataset of --data: loaded, cut to --limit, evaluated; the model's results go to out.
static int eval_one(const EvalRun *a, const Kernels *kern, const char *data, const char *out, EvalResult *r,
                    EvalResult *b, int *have_base, Err *e) {
    Dataset ds = {0};
    if (dataset_load(data, &ds, e)) return -1;
    if (a->limit > 0 && a->limit < ds.n) dataset_keep(&ds, (int)a->limit);
    int rc = evaluate(a, kern, data, &ds, out, r, b, have_base, e);
    dataset_free(&ds);
    return rc;
}

// The tables of one dataset, to OUT.md.
static int write_tables(const EvalRun *a, const EvalResult *r, const EvalResult *b, int have_base, char **md,
                        size_t *md_len, Err *e) {
    FILE *mem = open_memstream(md, md_len);
    if (!mem) return err_fmt(e, "out of memory");
    eval_table_markdown(mem, r, 1, have_base ? b : NULL, have_base);
    if (have_base) {
        fputc('\n', mem);
        eval_levels_markdown(mem, r, b);
    }
    if (r->k > 1) {
        fputc('\n', mem);
        eval_sampling_markdown(mem, r, 1);
    }
    fprintf(mem, "\n%d problems x %d sample(s), %.2f s per problem (batched decoding, %ld slots)\n", r->n_problems,
            r->k, r->seconds / r->n_problems, a->slots);
    char path[4200];
    out_sibling(path, sizeof path, a->out, ".md");
    return close_markdown(mem, path, md, md_len, e);
}

static int eval_single(const EvalRun *a, const Kernels *kern, char **md, size_t *md_len, Err *e) {
    EvalResult r = {0}, b = {0};
    int have_base = 0;
    int rc = eval_one(a, kern, a->data, a->out, &r, &b, &have_base, e) ||
             (dist_rank() == 0 && write_tables(a, &r, &b, have_base, md, md_len, e));
    eval_result_free(&r);
    eval_result_free(&b);
    return rc ? -1 : 0;
}

// ---- several datasets: Table 2 ------------------------------------------------------

// Table 2 over the n datasets: OUT.json (one object per dataset and the average) and
// OUT.md.
static int write_table2(const EvalRun *a, const EvalResult *r, const EvalResult *b, const int *have_base, int n,
                        char **md, size_t *md_len, Err *e) {
    const EvalResult *rp[EVAL_MAX_DATASETS] = {0}, *bp[EVAL_MAX_DATASETS] = {0};
    EvalResult bases[EVAL_MAX_DATASETS];
    int nb = 0;
    for (int d = 0; d < n; d++) {
        rp[d] = &r[d];
        bp[d] = have_base[d] ? &b[d] : NULL;
        if (have_base[d]) bases[nb++] = b[d];  // shallow copies, for the table
    }
    if (eval_write_table_json(a->out, rp, bp, n, e)) return -1;
    FILE *mem = open_memstream(md, md_len);
    if (!mem) return err_fmt(e, "out of memory");
    eval_table2_markdown(mem, r, n, bases, nb);
    if (r[0].k > 1) {
        fputc('\n', mem);
        eval_sampling_markdown(mem, r, n);
    }
    fprintf(mem, "\n%d datasets x %d sample(s) per problem (batched decoding, %ld slots)\n", n, r[0].k, a->slots);
    char path[4200];
    out_sibling(path, sizeof path, a->out, ".md");
    return close_markdown(mem, path, md, md_len, e);
}

// --data A,B,C: each dataset's results to OUT.NAME.json, then Table 2 over them.
static int eval_several(const EvalRun *a, const Kernels *kern, char **paths, int n, char **md, size_t *md_len,
                        Err *e) {
    char out[EVAL_MAX_DATASETS][4200], names[EVAL_MAX_DATASETS][256];
    for (int d = 0; d < n; d++) {
        eval_name(names[d], sizeof names[d], paths[d]);
        for (int j = 0; j < d; j++)
            if (!strcmp(names[j], names[d]))
                return err_fmt(e, "--data: %s and %s have the same name '%s' in the table", paths[j], paths[d],
                               names[d]);
        char tail[300];
        snprintf(tail, sizeof tail, ".%.255s.json", names[d]);  // a name is < 256 bytes
        out_sibling(out[d], sizeof out[d], a->out, tail);
        if (output_check(out[d], e)) return -1;  // before the decoding
    }
    EvalResult r[EVAL_MAX_DATASETS] = {0}, b[EVAL_MAX_DATASETS] = {0};
    int have_base[EVAL_MAX_DATASETS] = {0}, rc = 0;
    for (int d = 0; d < n && !rc; d++) rc = eval_one(a, kern, paths[d], out[d], &r[d], &b[d], &have_base[d], e);
    if (!rc && dist_rank() == 0) rc = write_table2(a, r, b, have_base, n, md, md_len, e);
    for (int d = 0; d < n; d++) {
        eval_result_free(&r[d]);
        eval_result_free(&b[d]);
    }
    return rc;
}

int eval_run(const EvalRun *a, char **md, size_t *md_len, Err *e) {
    *md = NULL;
    char *list = strdup(a->data), *paths[EVAL_MAX_DATASETS], path[4200];
    int n = list ? eval_split_list(list, paths, EVAL_MAX_DATASETS) : 0, rc = -1;
    if (n < 1) {
        free(list);
        return err_fmt(e, "--data: give 1 to %d comma-separated datasets", EVAL_MAX_DATASETS);
    }
    out_sibling(path, sizeof path, a->out, ".md");
    const Kernels *kern = NULL;
    if ((dist_rank() == 0 && (output_check(a->out, e) || output_check(path, e))) ||  // before the decoding
        !(kern = backend_by_name(a->device, e)))
        goto done;
    rc = n > 1 ? eval_several(a, kern, paths, n, md, md_len, e) : eval_single(a, kern, md, md_len, e);
done:
    free(list);
    return rc;
}
