// cli/cmd_compare.c -- `o1p compare`: prune methods side by side over seeds, the tables
// and the accuracy-length picture (scripts/compare.sh runs it).
//   o1p compare --reference REF.json --runs D1,D2,... [--presample F.jsonl] --table OUT.md --plot OUT.png
// A run folder D holds eval.json (o1p eval's; its --name is the method's) and, when
// known, model/metrics.jsonl (tokens trained: the sum of its "trained_tokens") and
// wall_s (the run's seconds, one number).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../base/json.h"
#include "../pruner/eval.h"
#include "../pruner/eval_run.h"
#include "../pruner/presample.h"
#include "cli.h"
#include "plot.h"

typedef struct {
    const char *field;  // the number summed over the lines
    double sum;
    const char *path;   // for messages
} FieldSum;

static int sum_field(const JsonValue *v, int line, void *ctx, Err *e) {
    (void)line;
    FieldSum *fs = ctx;
    double t = 0;
    if (json_opt_number(v, fs->field, fs->path, &t, e)) return -1;
    fs->sum += t;
    return 0;
}

// The sum of field over the lines of dir/name; NAN when the file does not exist.
static int sum_log(const char *dir, const char *name, const char *field, double *sum, Err *e) {
    char path[1200], *text;
    size_t len;
    *sum = NAN;
    if (path_join(path, sizeof path, dir, name, e)) return -1;
    if (!file_exists(path)) return 0;
    if (read_file(path, &text, &len, e)) return -1;
    FieldSum fs = {field, 0, path};
    int rc = jsonl_parse(text, len, path, sum_field, &fs, e);
    free(text);
    if (!rc) *sum = fs.sum;
    return rc;
}

// The costs of the run in dir: tokens trained, samples it drew itself and seconds, NAN
// when not recorded.
static int read_costs(const char *dir, CompareRun *cr, Err *e) {
    char path[1200], *text;
    size_t len;
    cr->wall_s = NAN;
    if (sum_log(dir, "model/metrics.jsonl", "trained_tokens", &cr->trained_tokens, e) ||
        sum_log(dir, "model/prune_metrics.jsonl", "sampled", &cr->sampled, e))
        return -1;
    if (path_join(path, sizeof path, dir, "wall_s", e)) return -1;
    if (file_exists(path)) {
        if (read_file(path, &text, &len, e)) return -1;
        char *end;
        cr->wall_s = strtod(text, &end);
        int bad = end == text || strspn(end, " \n") != strlen(end) || !isfinite(cr->wall_s);
        free(text);
        if (bad) return err_fmt(e, "%s: line 1: expected one number (seconds)", path);
    }
    return 0;
}

// The runs of the comma-separated folders in list, on ref's dataset, into evals[]/runs[]
// (n of them read, up to cap).
static int read_runs(const char *list, const EvalResult *ref, EvalResult *evals, CompareRun *runs, int cap, int *n,
                     Err *e) {
    char *copy = strdup(list), *dirs[cap];
    int n_dirs = copy ? eval_split_list(copy, dirs, cap) : 0;
    int rc = !copy ? err_fmt(e, "out of memory") : n_dirs < 0 ? err_fmt(e, "--runs: more than %d runs", cap) : 0;
    for (int i = 0; i < n_dirs && !rc; i++) {
        const char *d = dirs[i];
        char path[1200];
        if (path_join(path, sizeof path, d, "eval.json", e) || eval_read_json(path, &evals[*n], e)) {
            rc = -1;
        } else {
            CompareRun *run = &runs[*n];
            run->eval = &evals[(*n)++];
            if (strcmp(run->eval->dataset, ref->dataset))
                rc = err_fmt(e, "%s holds results on dataset '%s', the reference on '%s'", path,
                             run->eval->dataset, ref->dataset);
            else
                rc = read_costs(d, run, e);
        }
    }
    free(copy);
    return rc;
}

// Accuracy (%) against mean length: a series per method, its runs' points in the order met.
static int plot_compare(const char *out, const EvalResult *ref, const CompareRun *runs, int n, Err *e) {
    double *xs = malloc((size_t)(n + 1) * sizeof(double)), *ys = malloc((size_t)(n + 1) * sizeof(double));
    Series *s = malloc((size_t)(n + 1) * sizeof(Series));
    Canvas c = {0};
    int rc = xs && ys && s ? canvas_init(&c, 1100, 620, e) : err_fmt(e, "out of memory");
    int ns = 0, k = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (!eval_compare_first(runs, i)) continue;
        s[ns] = (Series){runs[i].eval->model, &xs[k], &ys[k], 0};
        for (int j = i; j < n; j++)
            if (!strcmp(runs[j].eval->model, runs[i].eval->model))
                xs[k] = runs[j].eval->all.mean_length, ys[k] = 100 * runs[j].eval->all.accuracy, k++, s[ns].n++;
        ns++;
    }
    if (!rc) {
        char title[320];
        snprintf(title, sizeof title, "Accuracy against length (%s)", ref->dataset);
        double r[2] = {ref->all.mean_length, 100 * ref->all.accuracy};
        Chart ch = {.title = title, .xlabel = "mean solution length (tokens)", .ylabel = "accuracy (%)",
                    .series = s, .n_series = ns, .ref = r, .ref_name = ref->model};
        chart_scatter(&c, 0, 0, 1100, 620, &ch);
        rc = canvas_save_png(&c, out, e);
    }
    canvas_free(&c);
    free(xs);
    free(ys);
    free(s);
    return rc;
}

// The tables: printed and written to out.
static int write_tables(const char *out, const EvalResult *ref, const CompareRun *runs, int n, long drawn, Err *e) {
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) return err_fmt(e, "out of memory");
    eval_compare_markdown(mem, ref, runs, n, drawn);
    fclose(mem);
    fputs(text, stdout);
    int rc = write_file_atomic(out, text, len, e);
    free(text);
    return rc;
}

// The samples in the complete problems of a pre-sample file.
static int count_drawn(const char *path, long *drawn, Err *e) {
    Presample ps;
    if (presample_load(path, &ps, e)) return -1;
    *drawn = (long)ps.n_problems * ps.k;
    presample_free(&ps);
    return 0;
}

int cmd_compare(int argc, char **argv) {
    const char *reference = NULL, *list = NULL, *presample = NULL, *table = NULL, *plot = NULL;
    Opt opts[] = {
        {"reference", OPT_STR, &reference, "the reference's eval JSON (required)"},
        {"runs", OPT_STR, &list, "run folders, comma-separated: DIR/eval.json, DIR/model/metrics.jsonl, DIR/wall_s"},
        {"presample", OPT_STR, &presample, "the pre-samples the methods shared: the samples drawn"},
        {"table", OPT_STR, &table, "Markdown tables to write"},
        {"plot", OPT_STR, &plot, "PNG to write: accuracy against length, a point per run"},
        {0},
    };
    int rc = opt_parse("compare", "--reference REF.json --runs D1,D2,... [--presample F.jsonl] --table OUT.md --plot OUT.png",
                       opts, argc, argv);
    if (rc != OPT_RUN) return rc;
    if (!reference || !list || (!table && !plot))
        return cli_usage_error("compare", "give --reference, --runs and --table or --plot");
    Err e;
    if ((table && output_check(table, &e)) || (plot && output_check(plot, &e))) return cli_fail(&e);
    enum { MAX_RUNS = 256 };
    EvalResult ref = {0}, *evals = calloc(MAX_RUNS, sizeof(EvalResult));
    CompareRun *runs = calloc(MAX_RUNS, sizeof(CompareRun));
    int n = 0;
    long drawn = -1;
    rc = evals && runs ? eval_read_json(reference, &ref, &e) : err_fmt(&e, "out of memory");
    if (!rc) rc = read_runs(list, &ref, evals, runs, MAX_RUNS, &n, &e);
    if (!rc && presample) rc = count_drawn(presample, &drawn, &e);
    if (!rc && table) rc = write_tables(table, &ref, runs, n, drawn, &e);
    if (!rc && plot) rc = plot_compare(plot, &ref, runs, n, &e);
    if (rc) cli_fail(&e);
    else printf("wrote%s%s%s%s\n", table ? " " : "", table ? table : "", plot ? " " : "", plot ? plot : "");
    eval_result_free(&ref);
    for (int i = 0; i < n; i++) eval_result_free(&evals[i]);
    free(evals);
    free(runs);
    return rc ? 1 : 0;
}
