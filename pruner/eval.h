// pruner/eval.h -- evaluation results: accuracy, solution length, latency, AES, and the
// tables of the paper.
//
// An evaluation (eval_decode; `o1p eval` in cli/cmd_eval.c) decodes every problem of a
// dataset (greedy, one sample per problem: the paper's protocol; k samples at a
// temperature instead), grades the boxed answer and counts the solution's tokens (the
// stop token not counted: the reward's L, and the official scripts' lengths).
// An EvalResult is what one (model, dataset) run gives; it is written to JSON with
// every per-problem result and read back to build tables across runs.
//
// Accuracy-Efficiency Score (O1-Pruner, section 4.1), against a baseline run:
//   dL = (L_base - L) / L_base,  dAcc = (Acc - Acc_base) / Acc_base
//   AES = dL + 3 |dAcc|   if dAcc >= 0,   dL - 5 |dAcc|   otherwise.
#ifndef O1P_EVAL_H
#define O1P_EVAL_H

#include <stdio.h>

#include "../base/err.h"
#include "../data/dataset.h"
#include "../model/model.h"
#include "../tokenizer/tokenizer.h"
#include "../engine/tokset.h"

typedef struct {
    int index;      // problem index in the dataset
    int sample;     // 0..k-1
    int level;      // 0: unknown
    int correct;
    int length;     // solution tokens, the stop token not counted
    int truncated;  // hit max_new or the context end
    char *answer;   // extracted boxed answer (NULL: none)
    char *output;   // the decoded solution (special tokens left out)
} EvalItem;

typedef struct {
    int n;               // items
    double accuracy;     // fraction correct, 0..1
    double mean_length;  // tokens
} EvalStat;

typedef struct {
    char model[256];    // a name for the table (the model folder's last component)
    char dataset[256];  // the dataset file's name without folder and extension
    int k;              // samples per problem
    double temperature;
    double seconds;     // wall time of the decoding
    int n_problems;
    EvalStat all;
    EvalStat level[DATASET_MAX_LEVEL + 1];  // level[0]: unknown level
    EvalItem *items;    // [all.n] (may be NULL in a result read back with summary only)
} EvalResult;

// Decoding settings: k samples per problem at temperature (0: greedy), top_p; max_new
// tokens per sample (0: up to the context); slots sequences decoded together.
typedef struct {
    int k;
    double temperature, top_p;
    int max_new, slots;
    uint64_t seed;
    int quiet;  // no progress line
} EvalOpts;

// Decodes the problems of ds (prompts: their tokenized chat prompts) with model m and
// grades them into r (named model / dataset). stop: the ids that end a solution. Only
// the tokenizer's ids are sampled (a model vocab padded past them is masked).
int eval_decode(Model *m, const Tokenizer *tok, const int32_t *stop, int n_stop, const Dataset *ds,
                const TokSet *prompts, const EvalOpts *o, const char *model, const char *dataset, EvalResult *r,
                Err *e);

// Loads the model folder dir (engine/modeldir.h) on backend k, tokenizes the prompts of
// ds (read from data_path) and decodes them: a run named `name` on the dataset named
// eval_name(data_path).
int eval_model_dir(const char *dir, const char *name, const char *data_path, const Dataset *ds,
                   const EvalOpts *o, const Kernels *k, EvalResult *r, Err *e);
// A run's or a dataset's name in the tables: "path/to/name.ext" -> "name".
void eval_name(char *out, size_t cap, const char *path);

// AES of (acc, len) against (acc_base, len_base); NAN when len_base or acc_base is 0.
double eval_aes(double acc, double len, double acc_base, double len_base);

// Fills all, level[] from items[0..all.n).
void eval_summarize(EvalResult *r);
void eval_result_free(EvalResult *r);

// JSON with the summary, the per-level breakdown and every item (atomically).
int eval_write_json(const char *path, const EvalResult *r, Err *e);
// Reads what eval_write_json wrote (items included). A file of an older o1p (no
// "length_counts": its lengths counted the stop token) is converted.
int eval_read_json(const char *path, EvalResult *r, Err *e);

// The paper's Table 2 layout: one row per run (model), for each dataset three columns
// Accuracy (%), Length (tokens), AES against the baseline run of the same dataset
// (bases[]; a run that is its own baseline shows "-"). Rows are the distinct models in
// the order met, columns the distinct datasets in the order met.
void eval_table_markdown(FILE *f, const EvalResult *runs, int n_runs, const EvalResult *bases,
                         int n_bases);
// Per-level breakdown of run against base (same dataset): level, problems, accuracy and
// length of both, length change. Levels with no problem are left out.
void eval_levels_markdown(FILE *f, const EvalResult *run, const EvalResult *base);

#endif
