// cli/cmd_eval.c -- `o1p eval`: evaluates a model (and a baseline) on a dataset into a
// results JSON and Markdown tables, or on several (--data A,B,C) into the paper's Table 2
// with the average over them; or, in table mode, builds one table from results files
// (pruner/eval.h).
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "../base/io.h"
#include "../engine/backend.h"
#include "../engine/dist.h"
#include "../pruner/eval.h"

#define MAX_DATASETS 16  // in one --data list

typedef struct {
    const char *model, *data, *baseline, *out, *name, *table, *results, *device;
    long limit, slots;
    EvalOpts eo;
    PromptOpts prompt;
} EvalArgs;

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

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

// `o1p eval --table OUT.md --baseline B.json[,..] --results A.json,...`: one table.
static int table_mode(const char *out, const char *baseline, const char *results) {
    Err e;
    EvalResult *runs = NULL, *bases = NULL;
    int n_runs = 0, n_bases = 0, rc = 1;
    if (output_check(out, &e)) return cli_fail(&e);
    TableDataset td = {{0}, {0}};
    if (read_runs(results, &runs, &n_runs, &td, &e) || (baseline && read_runs(baseline, &bases, &n_bases, &td, &e))) {
        cli_fail(&e);
        goto done;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) goto done;
    eval_table_markdown(mem, runs, n_runs, bases, n_bases);
    for (int i = 0; i < n_runs; i++) {
        const EvalResult *b = NULL;
        for (int j = 0; j < n_bases && !b; j++)
            if (!strcmp(bases[j].dataset, runs[i].dataset)) b = &bases[j];
        if (!b || !strcmp(b->model, runs[i].model)) continue;
        fprintf(mem, "\n%s on %s, per level:\n\n", runs[i].model, runs[i].dataset);
        eval_levels_markdown(mem, &runs[i], b);
    }
    fclose(mem);
    fputs(text, stdout);
    if (write_file_atomic(out, text, len, &e))
        cli_fail(&e);
    else
        rc = 0;
    free(text);
done:
    free_runs(runs, n_runs);
    free_runs(bases, n_bases);
    return rc;
}

// OUT.json -> OUT + tail (".md": the tables; ".NAME.json": the results on dataset NAME of
// a several-dataset eval)
static void out_sibling(char *dst, size_t cap, const char *json_path, const char *tail) {
    size_t n = strlen(json_path);
    if (n > 5 && !strcmp(json_path + n - 5, ".json")) n -= 5;
    snprintf(dst, cap, "%.*s%s", (int)n, json_path, tail);
}

// Splits the comma-separated list in copy (modified) into items[0..cap); returns the count,
// -1 when there are more than cap.
static int split_list(char *copy, char **items, int cap) {
    int n = 0;
    char *save = NULL;
    for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (n == cap) return -1;
        items[n++] = p;
    }
    return n;
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
static int baseline_for(const EvalArgs *a, const Kernels *kern, const char *data, const Dataset *ds,
                        const char *dname, EvalResult *b, Err *e) {
    char nm[256];
    if (is_dir(a->baseline)) {
        eval_name(nm, sizeof nm, a->baseline);
        return eval_model_dir(a->baseline, nm, data, ds, &a->prompt, &a->eo, kern, b, e);
    }
    if (!strchr(a->baseline, ',')) return eval_read_json(a->baseline, b, e);
    char *copy = strdup(a->baseline), *paths[MAX_DATASETS];
    int n = copy ? split_list(copy, paths, MAX_DATASETS) : 0, rc = 1;
    if (n < 0) rc = err_fmt(e, "--baseline: more than %d files", MAX_DATASETS);
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
static int evaluate(const EvalArgs *a, const Kernels *kern, const char *data, const Dataset *ds, const char *out,
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

// The tables text (malloc'ed; freed here): printed, and written beside out_json as .md.
static int publish_markdown(const char *out_json, char *text, size_t len, Err *e) {
    char path[4200];
    fputs(text, stdout);
    out_sibling(path, sizeof path, out_json, ".md");
    int rc = write_file_atomic(path, text, len, e);
    free(text);
    return rc;
}

// The tables: printed and written next to the JSON (OUT.md).
static int write_tables(const EvalArgs *a, const EvalResult *r, const EvalResult *b, int have_base, Err *e) {
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
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
    fclose(mem);
    return publish_markdown(a->out, text, len, e);
}

static void print_memory(const DecodeMemory *d) { cli_print_decode_memory("eval", d); }

// Parses the options into *a. Returns as opt_parse.
static int parse_args(int argc, char **argv, EvalArgs *a) {
    long k = 1, max_new = 8192, seed = 1;
    double temperature = -1, top_p = 1.0;  // temperature -1: not given
    int quiet = 0;
    const char *grader = "paper";
    *a = (EvalArgs){.device = "cpu", .slots = 16};
    Opt opts[] = {
        {"model", OPT_STR, &a->model, "model folder to evaluate (required)"},
        {"data", OPT_STR, &a->data,
         "dataset: JSON array or JSONL with problem, answer, optional level (required); A,B,C: several, "
         "Table 2 with their average"},
        {"out", OPT_STR, &a->out, "results JSON to write; the tables go to the same name with .md (required)"},
        {"baseline", OPT_STR, &a->baseline,
         "baseline for AES: a model folder (evaluated too), an eval JSON or, with several datasets, "
         "eval JSONs A,B,C (matched by dataset)"},
        {"name", OPT_STR, &a->name, "the model's name in the tables (default: the folder's name)"},
        {"k", OPT_INT, &k, "samples per problem (default 1: greedy, the paper's protocol); k > 1: also the majority vote",
         .min = 1, .max = 100000},
        {"temperature", OPT_FLOAT, &temperature, "sampling temperature (default 0 for k = 1, else 0.5)",
         .min = 0, .max = 1e3},
        {"top-p", OPT_FLOAT, &top_p, "nucleus sampling (default 1: off)", .min = 0, .max = 1, .open = OPT_GT},
        {"max-new", OPT_INT, &max_new,
         "most tokens generated per problem (default 8192: official inference.py; capped at the context; 0: the "
         "context)", .min = 0, .max = INT_MAX},
        {"limit", OPT_INT, &a->limit, "evaluate the first N problems of each dataset only",
         .min = 0, .max = INT_MAX},
        {"slots", OPT_INT, &a->slots, "sequences decoded together (default 16)", .min = 1, .max = 4096},
        {"seed", OPT_INT, &seed, "sampling seed (default 1)", .min = 0, .max = INT_MAX},
        {"quiet", OPT_FLAG, &quiet, "no progress line"},
        {"device", OPT_STR, &a->device, "ref, cpu (default) or cuda"},
        {"table", OPT_STR, &a->table, "table mode: write the Markdown table of --results vs --baseline here"},
        {"results", OPT_STR, &a->results, "table mode: comma-separated eval JSON files"},
        CLI_PROMPT_OPTS(&a->prompt, "the one each model folder records, else default"),
        CLI_GRADER_OPT(&grader),
        {0},
    };
    int rc = opt_parse("eval", "--model DIR --data FILE[,FILE..] --out FILE.json [--baseline DIR|FILE.json[,..]]\n"
                               "       o1p eval --table OUT.md --results A.json,B.json --baseline BASE.json",
                       opts, argc, argv);
    if (temperature < 0) temperature = k == 1 ? 0.0 : 0.5;
    a->eo = (EvalOpts){.k = (int)k, .temperature = temperature, .top_p = top_p, .max_new = (int)max_new,
                       .slots = (int)a->slots, .seed = (uint64_t)seed, .quiet = quiet,
                       .on_memory = quiet ? NULL : print_memory};
    if (rc != OPT_RUN || (rc = cli_prompt_check("eval", &a->prompt)) != OPT_RUN) return rc;
    return cli_grader("eval", grader, &a->eo.grader);
}

// One dataset of --data: loaded, cut to --limit, evaluated; the model's results go to out.
static int eval_one(const EvalArgs *a, const Kernels *kern, const char *data, const char *out, EvalResult *r,
                    EvalResult *b, int *have_base, Err *e) {
    Dataset ds = {0};
    if (dataset_load(data, &ds, e)) return -1;
    if (a->limit > 0 && a->limit < ds.n) dataset_keep(&ds, (int)a->limit);
    int rc = evaluate(a, kern, data, &ds, out, r, b, have_base, e);
    dataset_free(&ds);
    return rc;
}

// Table 2 over the n datasets: OUT.json (one object per dataset and the average) and
// OUT.md (printed too).
static int write_table2(const EvalArgs *a, const EvalResult *r, const EvalResult *b, const int *have_base, int n,
                        Err *e) {
    const EvalResult *rp[MAX_DATASETS] = {0}, *bp[MAX_DATASETS] = {0};
    EvalResult bases[MAX_DATASETS];
    int nb = 0;
    for (int d = 0; d < n; d++) {
        rp[d] = &r[d];
        bp[d] = have_base[d] ? &b[d] : NULL;
        if (have_base[d]) bases[nb++] = b[d];  // shallow copies, for the table
    }
    if (eval_write_table_json(a->out, rp, bp, n, e)) return -1;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) return err_fmt(e, "out of memory");
    eval_table2_markdown(mem, r, n, bases, nb);
    if (r[0].k > 1) {
        fputc('\n', mem);
        eval_sampling_markdown(mem, r, n);
    }
    fprintf(mem, "\n%d datasets x %d sample(s) per problem (batched decoding, %ld slots)\n", n, r[0].k, a->slots);
    fclose(mem);
    return publish_markdown(a->out, text, len, e);
}

// --data A,B,C: each dataset's results to OUT.NAME.json, then Table 2 over them.
static int eval_several(const EvalArgs *a, const Kernels *kern, char **paths, int n, Err *e) {
    char out[MAX_DATASETS][4200], names[MAX_DATASETS][256];
    for (int d = 0; d < n; d++) {
        eval_name(names[d], sizeof names[d], paths[d]);
        for (int j = 0; j < d; j++)
            if (!strcmp(names[j], names[d]))
                return err_fmt(e, "--data: %s and %s have the same name '%s' in the table", paths[j], paths[d],
                               names[d]);
        char tail[300];
        snprintf(tail, sizeof tail, ".%s.json", names[d]);
        out_sibling(out[d], sizeof out[d], a->out, tail);
        if (output_check(out[d], e)) return -1;  // before the decoding
    }
    EvalResult r[MAX_DATASETS] = {0}, b[MAX_DATASETS] = {0};
    int have_base[MAX_DATASETS] = {0}, rc = 0;
    for (int d = 0; d < n && !rc; d++) rc = eval_one(a, kern, paths[d], out[d], &r[d], &b[d], &have_base[d], e);
    if (!rc && dist_rank() == 0) rc = write_table2(a, r, b, have_base, n, e);
    for (int d = 0; d < n; d++) {
        eval_result_free(&r[d]);
        eval_result_free(&b[d]);
    }
    return rc;
}

int cmd_eval(int argc, char **argv) {
    EvalArgs a;
    int rc = parse_args(argc, argv, &a);
    if (rc != OPT_RUN) return rc;
    if (a.table) {
        if (!a.results) return cli_usage_error("eval", "--table needs --results");
        if (dist_rank() != 0) return 0;  // rank 0 writes the table
        return table_mode(a.table, a.baseline, a.results);
    }
    if (!a.model || !a.data || !a.out) return cli_usage_error("eval", "--model, --data and --out are required");
    char *list = strdup(a.data), *paths[MAX_DATASETS];
    int n = list ? split_list(list, paths, MAX_DATASETS) : 0;
    if (n < 1) {
        free(list);
        return cli_usage_error("eval", "--data: give 1 to %d comma-separated datasets", MAX_DATASETS);
    }
    Err e;
    char md[4200];
    out_sibling(md, sizeof md, a.out, ".md");
    const Kernels *kern = NULL;
    if ((dist_rank() == 0 && (output_check(a.out, &e) || output_check(md, &e))) ||  // before the decoding
        !(kern = backend_by_name(a.device, &e))) {
        free(list);
        return cli_fail(&e);
    }
    if (n > 1) {
        rc = eval_several(&a, kern, paths, n, &e) ? cli_fail(&e) : 0;
    } else {
        EvalResult r = {0}, b = {0};
        int have_base = 0;
        rc = eval_one(&a, kern, a.data, a.out, &r, &b, &have_base, &e) ||
             (dist_rank() == 0 && write_tables(&a, &r, &b, have_base, &e));
        if (rc) cli_fail(&e);
        eval_result_free(&r);
        eval_result_free(&b);
    }
    free(list);
    return rc;
}
