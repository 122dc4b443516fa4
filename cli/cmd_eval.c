// cli/cmd_eval.c -- `o1p eval`: evaluates a model (and a baseline) on a dataset into a
// results JSON and Markdown tables, or on several (--data A,B,C) into the paper's Table 2
// with the average over them; or, in table mode, builds one table from results files
// (pruner/eval_run.h runs them).
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../engine/backend.h"
#include "../engine/dist.h"
#include "../pruner/eval_run.h"

typedef struct {
    EvalRun run;
    const char *table, *results;
} EvalArgs;

static void print_memory(const DecodeMemory *d) { cli_print_decode_memory("eval", d); }

// Parses the options into *a. Returns as opt_parse.
static int parse_args(int argc, char **argv, EvalArgs *a) {
    long k = 1, max_new = 8192, seed = 1;
    double temperature = -1, top_p = 1.0;  // temperature -1: not given
    int quiet = 0;
    const char *grader = "paper";
    *a = (EvalArgs){.run = {.device = "cpu", .slots = 16}};
    EvalRun *r = &a->run;
    Opt opts[] = {
        {"model", OPT_STR, &r->model, "model folder to evaluate (required)"},
        {"data", OPT_STR, &r->data,
         "dataset: JSON array or JSONL with problem, answer, optional level (required); A,B,C: several, "
         "Table 2 with their average"},
        {"out", OPT_STR, &r->out, "results JSON to write; the tables go to the same name with .md (required)"},
        {"baseline", OPT_STR, &r->baseline,
         "baseline for AES: a model folder (evaluated too), an eval JSON or, with several datasets, "
         "eval JSONs A,B,C (matched by dataset)"},
        {"name", OPT_STR, &r->name, "the model's name in the tables (default: the folder's name)"},
        {"k", OPT_INT, &k, "samples per problem (default 1: greedy, the paper's protocol); k > 1: also the majority vote",
         .min = 1, .max = 100000},
        {"temperature", OPT_FLOAT, &temperature, "sampling temperature (default 0 for k = 1, else 0.5)",
         .min = 0, .max = 1e3},
        {"top-p", OPT_FLOAT, &top_p, "nucleus sampling (default 1: off)", .min = 0, .max = 1, .open = OPT_GT},
        {"max-new", OPT_INT, &max_new,
         "most tokens generated per problem (default 8192: official inference.py; capped at the context; 0: the "
         "context)", .min = 0, .max = INT_MAX},
        {"limit", OPT_INT, &r->limit, "evaluate the first N problems of each dataset only",
         .min = 0, .max = INT_MAX},
        {"slots", OPT_INT, &r->slots, "sequences decoded together (default 16)", .min = 1, .max = 4096},
        {"seed", OPT_INT, &seed, "sampling seed (default 1)", .min = 0, .max = INT_MAX},
        {"quiet", OPT_FLAG, &quiet, "no progress line"},
        {"device", OPT_STR, &r->device, BACKEND_NAMES},
        {"table", OPT_STR, &a->table, "table mode: write the Markdown table of --results vs --baseline here"},
        {"results", OPT_STR, &a->results, "table mode: comma-separated eval JSON files"},
        CLI_PROMPT_OPTS(&r->prompt, "the one each model folder records, else default"),
        CLI_GRADER_OPT(&grader),
        {0},
    };
    int rc = opt_parse("eval", "--model DIR --data FILE[,FILE..] --out FILE.json [--baseline DIR|FILE.json[,..]]\n"
                               "       o1p eval --table OUT.md --results A.json,B.json --baseline BASE.json",
                       opts, argc, argv);
    if (temperature < 0) temperature = k == 1 ? 0.0 : 0.5;
    r->eo = (EvalOpts){.k = (int)k, .temperature = temperature, .top_p = top_p, .max_new = (int)max_new,
                       .slots = (int)r->slots, .seed = (uint64_t)seed, .quiet = quiet,
                       .on_memory = quiet ? NULL : print_memory};
    if (rc != OPT_RUN || (rc = cli_prompt_check("eval", &r->prompt)) != OPT_RUN) return rc;
    return cli_grader("eval", grader, &r->eo.grader);
}

// Prints the tables' text (when there is one) and fails on e when rc says so.
static int finish(int rc, char *md, Err *e) {
    if (md) fputs(md, stdout);
    free(md);
    return rc ? cli_fail(e) : 0;
}

int cmd_eval(int argc, char **argv) {
    EvalArgs a;
    int rc = parse_args(argc, argv, &a);
    if (rc != OPT_RUN) return rc;
    Err e;
    char *md = NULL;
    size_t len = 0;
    if (a.table) {
        if (!a.results) return cli_usage_error("eval", "--table needs --results");
        if (dist_rank() != 0) return 0;  // rank 0 writes the table
        rc = eval_table_files(a.results, a.run.baseline, a.table, &md, &len, &e);
        return finish(rc, md, &e);
    }
    const EvalRun *r = &a.run;
    if (!r->model || !r->data || !r->out) return cli_usage_error("eval", "--model, --data and --out are required");
    char *list = strdup(r->data), *paths[EVAL_MAX_DATASETS];
    int n = list ? eval_split_list(list, paths, EVAL_MAX_DATASETS) : 0;
    free(list);
    if (n < 1) return cli_usage_error("eval", "--data: give 1 to %d comma-separated datasets", EVAL_MAX_DATASETS);
    rc = eval_run(r, &md, &len, &e);
    return finish(rc, md, &e);
}
