// pruner/eval_run.h -- what `o1p eval` runs (cli/cmd_eval.c parses, calls, prints): a
// model folder on one dataset or several (the paper's Table 2 with the average over
// them), against an optional baseline matched by dataset name; or one table built from
// results files. Every rank decodes; rank 0 writes the outputs.
#ifndef O1P_EVAL_RUN_H
#define O1P_EVAL_RUN_H

#include <stddef.h>

#include "eval.h"

#define EVAL_MAX_DATASETS 16  // in one --data list

typedef struct {
    const char *model;     // the model folder
    const char *name;      // its name in the tables (NULL: the folder's)
    const char *data;      // a dataset file, or A,B,C: several
    const char *baseline;  // NULL; a model folder (evaluated too); an eval JSON; with several
                           // datasets, eval JSONs A,B,C (each matched by its dataset)
    const char *out;       // the results JSON; the tables go to OUT.md and, with several
                           // datasets, each one's results to OUT.NAME.json
    const char *device;    // backend: ref, cpu or cuda
    long limit;            // > 0: the first `limit` problems of each dataset only
    long slots;            // sequences decoded together (as in eo; shown in the tables)
    EvalOpts eo;
    PromptOpts prompt;
} EvalRun;

// Splits the comma-separated list in copy (modified) into items[0..cap), empty items
// skipped; returns the count, -1 when there are more than cap.
int eval_split_list(char *copy, char **items, int cap);

// Runs a->model (and the baseline) on the datasets of a->data, writes the results JSONs
// and OUT.md (the outputs are checked before any decoding). *md: the tables' text
// (malloc'ed, for the caller to print and free; rank 0 only, else NULL), set also when
// writing OUT.md failed.
int eval_run(const EvalRun *a, char **md, size_t *md_len, Err *e);

// Table mode: the Markdown table (eval_table_markdown, then the per-level breakdown of
// each run against its baseline) of the eval JSONs `results` (a comma-separated list)
// against those of `baseline` (NULL: none), all on one dataset, written to out. *md as
// eval_run's.
int eval_table_files(const char *results, const char *baseline, const char *out, char **md, size_t *md_len,
                     Err *e);

#endif
