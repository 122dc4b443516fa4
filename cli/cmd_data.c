// cli/cmd_data.c -- `o1p data`:
//   o1p data synth   writes a synthetic long-thought dataset, chain or walk (data/synth.h)
//   o1p data stats   per level: solution length, redundant fraction, solutions graded correct
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../data/dataset.h"
#include "../data/synth.h"
#include "cli.h"

// "3" or "1-5" within 1..SYNTH_MAX_LEVEL.
static int parse_levels(const char *s, int *lo, int *hi) {
    char *end;
    long a = strtol(s, &end, 10), b = a;
    if (end == s) return -1;
    if (*end == '-') {
        const char *t = end + 1;
        b = strtol(t, &end, 10);
        if (end == t) return -1;
    }
    if (*end || a < 1 || b > SYNTH_MAX_LEVEL || a > b) return -1;
    *lo = (int)a;
    *hi = (int)b;
    return 0;
}

static int data_synth(int argc, char **argv) {
    long n = -1, seed = 1;
    const char *levels = "1-5", *split = "train", *task = "chain", *out = NULL;
    Opt opts[] = {
        {"n", OPT_INT, &n, "number of examples (required)", .min = 0, .max = 10000000},
        {"seed", OPT_INT, &seed, "seed (default 1); same seed, same file", .min = 0, .max = INT_MAX},
        {"levels", OPT_STR, &levels, "difficulty levels, N or A-B within 1-5 (default 1-5)"},
        {"split", OPT_STR, &split, "train or test (default train); the splits share no problem"},
        {"task", OPT_STR, &task, "chain (arithmetic steps) or walk (arrows between letters) (default chain)"},
        {"out", OPT_STR, &out, "JSONL file to write (required)"},
        {0},
    };
    int rc = opt_parse("data synth",
                       "--n N --out FILE.jsonl [--seed S] [--levels 1-5] [--split train|test] [--task chain|walk]",
                       opts, argc, argv);
    if (rc != OPT_RUN) return rc;
    if (n < 0 || !out) return cli_usage_error("data synth", "--n and --out are required");
    SynthConfig cfg = {.seed = (uint64_t)seed};
    if (parse_levels(levels, &cfg.level_min, &cfg.level_max))
        return cli_usage_error("data synth", "--levels '%s': expected N or A-B within 1-%d", levels,
                               SYNTH_MAX_LEVEL);
    if (!strcmp(split, "train")) cfg.split = SYNTH_TRAIN;
    else if (!strcmp(split, "test")) cfg.split = SYNTH_TEST;
    else return cli_usage_error("data synth", "--split '%s': expected train or test", split);
    if (synth_task_find(task, &cfg.task))
        return cli_usage_error("data synth", "--task '%s': expected chain or walk", task);
    Dataset ds = {0};
    Err e;
    if (output_check(out, &e)) return cli_fail(&e);
    if (synth_generate(&cfg, (int)n, &ds, &e) || dataset_write_jsonl(out, &ds, &e)) {
        dataset_free(&ds);
        return cli_fail(&e);
    }
    fprintf(stderr, "wrote %d %s examples (levels %d-%d, seed %ld) to %s\n", ds.n, split, cfg.level_min,
            cfg.level_max, seed, out);
    dataset_free(&ds);
    return 0;
}

static int data_stats(int argc, char **argv) {
    const char *path = NULL;
    Opt opts[] = {
        {"data", OPT_STR, &path, "dataset file, JSON array or JSONL (required)"},
        {0},
    };
    int rc = opt_parse("data stats", "--data FILE", opts, argc, argv);
    if (rc != OPT_RUN) return rc;
    if (!path) return cli_usage_error("data stats", "--data is required");
    Dataset ds;
    Err e;
    if (dataset_load(path, &ds, &e)) return cli_fail(&e);
    DatasetStats st;
    dataset_stats(&ds, &st);
    printf("%s: %d examples", path, ds.n);
    if (ds.skipped)
        printf(" (%d records with a null answer skipped; the first is JSONL line or array element %d)", ds.skipped,
               ds.first_skipped);
    printf("\nlevel  count  mean_solution_chars  redundant_frac  solutions_correct\n");
    for (int l = 0; l <= DATASET_MAX_LEVEL; l++) {
        if (!st.count[l]) continue;
        printf("%5d  %5d  %19.1f  ", l, st.count[l], st.mean_chars[l]);
        if (st.redundant_frac[l] >= 0) printf("%14.3f  ", st.redundant_frac[l]);
        else printf("%14s  ", "-");
        if (st.graded[l]) printf("%d/%d\n", st.correct[l], st.graded[l]);
        else printf("-\n");
    }
    printf("  all  %5d  %19.1f  ", st.total, st.total_mean_chars);
    if (st.total_redundant_frac >= 0) printf("%14.3f\n", st.total_redundant_frac);
    else printf("%14s\n", "-");
    dataset_free(&ds);
    return 0;
}

int cmd_data(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: o1p data synth --n N --out FILE.jsonl [--seed S] [--levels 1-5] [--split train|test]\n"
                   "                       [--task chain|walk]\n"
                   "       o1p data stats --data FILE\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "synth")) return data_synth(argc - 1, argv + 1);
    if (!strcmp(argv[1], "stats")) return data_stats(argc - 1, argv + 1);
    return cli_usage_error("data", "unknown subcommand '%s' (expected synth or stats)", argv[1]);
}
