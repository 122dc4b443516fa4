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
#include "../data/chat.h"
#include "../data/dataset.h"
#include "../data/grade.h"
#include "../model/model.h"
#include "../tokenizer/tokenizer.h"
#include "../engine/run.h"
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
    ChatTemplate tmpl;  // the prompt template the problems were posed with
    GradeMode grader;   // what graded them
    EvalStat all;       // k > 1: accuracy and length are means over all samples
    EvalStat level[DATASET_MAX_LEVEL + 1];  // level[0]: unknown level
    double vote_accuracy;  // fraction of problems the majority vote of their k samples gets right
    EvalItem *items;    // [n_problems * k]: item p k + j is sample j of problem p
} EvalResult;

// Decoding settings: k samples per problem at temperature (0: greedy), top_p; max_new
// tokens per sample (0: up to the context); slots sequences decoded together.
typedef struct {
    int k;
    double temperature, top_p;
    int max_new, slots;
    uint64_t seed;
    int quiet;  // no progress line
    GradeMode grader;
    // Called with the decoding's memory plan before it starts (cli prints it); NULL: none.
    void (*on_memory)(const DecodeMemory *d);
} EvalOpts;

// Decodes the problems of ds (prompts: their tokenized chat prompts) with model m and
// grades them into r (named model / dataset). The KV cache holds the longest prompt and
// max_new tokens, at most the model's context. stop: the ids that end a solution. Only
// the tokenizer's ids are sampled (a model vocab padded past them is masked).
int eval_decode(Model *m, const Tokenizer *tok, const int32_t *stop, int n_stop, const Dataset *ds,
                const TokSet *prompts, const EvalOpts *o, const char *model, const char *dataset, EvalResult *r,
                Err *e);

// Loads the model folder dir (engine/modeldir.h) on backend k, tokenizes the prompts of
// ds (read from data_path) under the template prompt asks for (over the one dir records)
// and decodes them: a run named `name` on the dataset named eval_name(data_path).
int eval_model_dir(const char *dir, const char *name, const char *data_path, const Dataset *ds,
                   const PromptOpts *prompt, const EvalOpts *o, const Kernels *k, EvalResult *r, Err *e);
// A run's or a dataset's name in the tables: "path/to/name.ext" -> "name".
void eval_name(char *out, size_t cap, const char *path);

// AES of (acc, len) against (acc_base, len_base); NAN when len_base or acc_base is 0.
double eval_aes(double acc, double len, double acc_base, double len_base);

// Fills all, level[] from items[0..all.n).
void eval_summarize(EvalResult *r);

// Majority vote over one problem's k samples items[0..k) (the official code's
// result_analysis.py): in sample order, each extracted answer joins the first group whose
// head (first answer) it equals under the grader (grade_equal_as(answer, head, mode)),
// else heads a new group; a sample without an answer abstains. The largest group wins; a
// tie goes to the group opened first, i.e. the one whose head has the lowest sample index.
// Returns the winner's head (0..k-1), -1 when no sample has an answer. The vote is right
// when its head is correct. scratch: [2 k] ints.
int eval_vote(const EvalItem *items, int k, GradeMode mode, int *scratch);
// Sets r->vote_accuracy from the items (problem-major, k a problem).
int eval_summarize_votes(EvalResult *r, GradeMode mode, Err *e);
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
// The paper's Table 2 over several datasets: eval_table_markdown's columns, then the
// average over the datasets (unweighted means of Acc, Length and AES; eval_average),
// then a second table of the inference time: seconds per dataset and in total.
void eval_table2_markdown(FILE *f, const EvalResult *runs, int n_runs, const EvalResult *bases, int n_bases);

// AES of run against base (same dataset); NAN when base is NULL or run itself (same model).
double eval_run_aes(const EvalResult *run, const EvalResult *base);
// The average column of one model's Table 2 row, over its runs runs[0..n) on n datasets
// against the baselines bases[0..n) (NULL: none): unweighted means over the datasets of
// accuracy, majority-vote accuracy, length and AES (NAN unless every dataset has one);
// seconds summed.
typedef struct {
    double accuracy, vote_accuracy, mean_length, aes, seconds;
} EvalAverage;
void eval_average(const EvalResult *const *runs, const EvalResult *const *bases, int n, EvalAverage *avg);
// That row as JSON: {"model", "baseline", "datasets": [one object per dataset], "average"}.
int eval_write_table_json(const char *path, const EvalResult *const *runs, const EvalResult *const *bases, int n,
                          Err *e);
// k > 1: per run, the accuracy over all samples, the majority-vote accuracy and the mean
// length.
void eval_sampling_markdown(FILE *f, const EvalResult *runs, int n_runs);

// Per-level breakdown of run against base (same dataset): level, problems, accuracy and
// length of both, length change. Levels with no problem are left out.
void eval_levels_markdown(FILE *f, const EvalResult *run, const EvalResult *base);

// A comparison of methods (scripts/compare.sh, `o1p compare`): one run of a method on one
// seed, its results on the reference's dataset and what it cost (NAN: not known).
typedef struct {
    const EvalResult *eval;  // its model name is its method's
    double trained_tokens;   // tokens the fine-tuning trained on
    double sampled;          // samples it drew itself (--rounds, --online); 0 or NAN: none
    double wall_s;           // seconds of the run
} CompareRun;
// Groups runs[0..n) by model name (methods in the order met, a method's runs its seeds)
// and writes two tables against ref. Table 1: per method accuracy (%), length and AES:
// the mean [min, max] over its runs; the samples drawn per run (the drawn pre-samples
// every method shares, < 0: not known, and its own sampled); tokens trained and wall
// time per run. Table 2: per level of ref
// (levels with problems), then all, each method's length (the mean over its runs) and
// its ratio to ref's. Returns the methods' count.
int eval_compare_markdown(FILE *f, const EvalResult *ref, const CompareRun *runs, int n, long drawn);
// Whether runs[i] is the first run of its method (no earlier run has its model name).
int eval_compare_first(const CompareRun *runs, int i);

#endif
