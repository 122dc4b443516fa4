// cli/cmd_plot.c -- `o1p plot`: the two figures of the demo, drawn with cli/plot.h.
//   o1p plot --metrics RUN/metrics.jsonl --out curves.png        training curves
//   o1p plot --levels BASE.json,RUN.json,... --out levels.png   per-level length and accuracy
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../base/json.h"
#include "../pruner/eval.h"
#include "cli.h"
#include "plot.h"

// Training curves from metrics.jsonl: step and loss; prune's lines add mean_length,
// heldout_acc and heldout_length. A later line of the same step, as after a resume,
// replaces the earlier.
typedef struct {
    double *step, *loss, *len, *acc, *hlen;
    int n, cap;
    const char *path;  // for messages
} Curves;

static int curve_line(const JsonValue *v, int line, void *ctx, Err *e) {
    (void)line;
    Curves *cv = ctx;
    double step = NAN, loss = NAN, len = NAN, acc = NAN, hlen = NAN;
    const char *f = cv->path;
    if (json_get_number(v, "step", f, &step, e) || json_opt_number(v, "loss", f, &loss, e) ||
        json_opt_number(v, "mean_length", f, &len, e) || json_opt_number(v, "heldout_acc", f, &acc, e) ||
        json_opt_number(v, "heldout_length", f, &hlen, e))
        return -1;
    int i = 0;
    while (i < cv->n && cv->step[i] != step) i++;
    if (i == cv->n) {
        if (cv->n == cv->cap) {
            cv->cap = cv->cap ? 2 * cv->cap : 64;
            double **arrs[5] = {&cv->step, &cv->loss, &cv->len, &cv->acc, &cv->hlen};
            for (int a = 0; a < 5; a++) {
                double *g = realloc(*arrs[a], (size_t)cv->cap * sizeof(double));
                if (!g) return err_fmt(e, "out of memory");
                *arrs[a] = g;
            }
        }
        cv->n++;
        cv->loss[i] = cv->len[i] = cv->acc[i] = cv->hlen[i] = NAN;
    }
    cv->step[i] = step;
    if (!isnan(loss)) cv->loss[i] = loss;
    if (!isnan(len)) cv->len[i] = len;
    if (!isnan(acc)) cv->acc[i] = 100 * acc;
    if (!isnan(hlen)) cv->hlen[i] = hlen;
    return 0;
}

static int plot_curves(const char *metrics, const char *out, const char *title, Err *e) {
    char *text;
    size_t len;
    if (read_file(metrics, &text, &len, e)) return -1;
    Curves cv = {.path = metrics};
    int rc = jsonl_parse(text, len, metrics, curve_line, &cv, e);
    free(text);
    if (!rc && cv.n == 0) rc = err_fmt(e, "%s: no metrics lines", metrics);
    Canvas c = {0};
    if (!rc) rc = canvas_init(&c, 1500, 460, e);
    if (!rc) {
        char t0[160];
        snprintf(t0, sizeof t0, "%s: loss", title);
        // the length panel: held-out greedy solutions when logged, and the trained samples
        int has_h = 0;
        for (int i = 0; i < cv.n; i++) has_h |= !isnan(cv.hlen[i]);
        Series s[4] = {{"loss", cv.step, cv.loss, cv.n},
                       {"held-out (greedy)", cv.step, cv.hlen, cv.n},
                       {"trained samples", cv.step, cv.len, cv.n},
                       {"held-out accuracy", cv.step, cv.acc, cv.n}};
        Chart ch[3] = {{.title = t0, .xlabel = "step", .ylabel = "loss", .series = &s[0], .n_series = 1},
                       {.title = "Mean solution length", .xlabel = "step", .ylabel = "tokens",
                        .series = has_h ? &s[1] : &s[2], .n_series = has_h ? 2 : 1, .zero_based = 1},
                       {.title = "Held-out accuracy", .xlabel = "step", .ylabel = "accuracy (%)", .series = &s[3],
                        .n_series = 1, .ymax = 100}};
        for (int p = 0; p < 3; p++) chart_lines(&c, 500 * p, 0, 500, 460, &ch[p]);
        rc = canvas_save_png(&c, out, e);
    }
    canvas_free(&c);
    free(cv.step);
    free(cv.loss);
    free(cv.len);
    free(cv.acc);
    free(cv.hlen);
    return rc;
}

// Per-level mean length and accuracy of eval runs, the reference first.
static int plot_levels(const char *list, const char *out, Err *e) {
    EvalResult runs[6];
    int n = 0, rc = 0;
    char *copy = strdup(list), *save = NULL;
    for (char *p = strtok_r(copy, ",", &save); p && !rc; p = strtok_r(NULL, ",", &save)) {
        if (n == 6) {
            rc = err_fmt(e, "--levels: at most 6 runs");
            break;
        }
        if (eval_read_json(p, &runs[n], e)) rc = -1;
        else n++;
    }
    free(copy);
    // the groups: the levels of the first run, then "all"
    int lev[DATASET_MAX_LEVEL + 2], G = 0;
    char names[DATASET_MAX_LEVEL + 2][16];
    const char *groups[DATASET_MAX_LEVEL + 2];
    if (!rc && n == 0) rc = err_fmt(e, "--levels: no eval results");
    if (!rc) {
        for (int l = 0; l <= DATASET_MAX_LEVEL; l++)
            if (runs[0].level[l].n && runs[0].level[l].n < runs[0].all.n) {
                lev[G] = l;
                snprintf(names[G], sizeof names[G], l ? "level %d" : "unknown", l);
                G++;
            }
        lev[G] = -1;
        snprintf(names[G], sizeof names[G], "all");
        G++;
        for (int g = 0; g < G; g++) groups[g] = names[g];
    }
    double len[6][DATASET_MAX_LEVEL + 2], acc[6][DATASET_MAX_LEVEL + 2];
    Series sl[6], sa[6];
    for (int r = 0; r < n && !rc; r++) {
        for (int g = 0; g < G; g++) {
            const EvalStat *st = lev[g] < 0 ? &runs[r].all : &runs[r].level[lev[g]];
            len[r][g] = st->n ? st->mean_length : NAN;
            acc[r][g] = st->n ? 100 * st->accuracy : NAN;
        }
        sl[r] = (Series){runs[r].model, NULL, len[r], G};
        sa[r] = (Series){runs[r].model, NULL, acc[r], G};
    }
    Canvas c = {0};
    if (!rc) rc = canvas_init(&c, 1400, 520, e);
    if (!rc) {
        char t0[300], t1[300];
        snprintf(t0, sizeof t0, "Mean solution length (%s)", runs[0].dataset);
        snprintf(t1, sizeof t1, "Accuracy (%s)", runs[0].dataset);
        Chart cl = {.title = t0, .xlabel = "difficulty", .ylabel = "tokens", .series = sl, .n_series = n,
                    .groups = groups, .zero_based = 1};
        Chart ca = {.title = t1, .xlabel = "difficulty", .ylabel = "accuracy (%)", .series = sa, .n_series = n,
                    .groups = groups, .zero_based = 1};
        chart_bars(&c, 0, 0, 700, 520, &cl);
        chart_bars(&c, 700, 0, 700, 520, &ca);
        rc = canvas_save_png(&c, out, e);
    }
    canvas_free(&c);
    for (int r = 0; r < n; r++) eval_result_free(&runs[r]);
    return rc;
}

int cmd_plot(int argc, char **argv) {
    const char *metrics = NULL, *levels = NULL, *out = NULL, *title = "training";
    Opt opts[] = {
        {"metrics", OPT_STR, &metrics, "training curves from a run's metrics.jsonl"},
        {"levels", OPT_STR, &levels, "per-level bars from eval JSON files, comma-separated (reference first)"},
        {"title", OPT_STR, &title, "with --metrics: the run's name in the title (default: training)"},
        {"out", OPT_STR, &out, "PNG file to write (required)"},
        {0},
    };
    int rc = opt_parse("plot", "(--metrics RUN/metrics.jsonl | --levels A.json,B.json) --out FILE.png", opts, argc, argv);
    if (rc != OPT_RUN) return rc;
    if (!out || !metrics == !levels) return cli_usage_error("plot", "give --out and one of --metrics or --levels");
    Err e;
    if (output_check(out, &e)) return cli_fail(&e);
    if (metrics ? plot_curves(metrics, out, title, &e) : plot_levels(levels, out, &e)) return cli_fail(&e);
    printf("wrote %s\n", out);
    return 0;
}
