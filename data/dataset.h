// data/dataset.h -- problems with reference answers: the paper's JSON arrays and JSONL.
//
// The first non-blank byte tells the two shapes apart:
//   '['  a JSON array of objects, as the paper ships its sets (datasets/*.json);
//   '{'  JSON Lines, one object per line, blank lines skipped.
// Each object has a "problem" string and an answer, "answer" or "ground_truth_answer":
// a string, or a number whose source text is taken (18).
// Optional members:
//   "solution" or "ground_truth_solution"  a string;
//   "level"            an integer, or MATH's "Level 3";
//   "redundant_chars"  an integer from `o1p data synth`: the overthinking characters.
// Other members are ignored; the paper's files carry pre_generated_* fields. A record
// with a null answer is skipped and counted in Dataset.skipped for the caller to report
// (math_train_hard.json has three). Anything else wrong is an error naming the file,
// the line and column and, in a JSON array, the element index: a record that is not an
// object, a missing problem or answer, a field of the wrong type, bad JSON or UTF-8, an
// empty file.
#ifndef O1P_DATASET_H
#define O1P_DATASET_H

#include <stddef.h>

#include "../base/err.h"

typedef struct {
    char *problem;        // UTF-8, NUL-terminated
    char *answer;         // the reference answer (no \boxed{}), e.g. "\frac{1}{2}"
    char *solution;       // a worked solution ending in \boxed{answer}, or NULL
    int level;            // difficulty 1..5 where known, else 0
    long redundant_chars; // characters of solution that are overthinking, -1 if unknown
} Example;

typedef struct {
    Example *ex;  // ex[0..n), owned (each string malloc'ed)
    int n, cap;
    int skipped;        // records skipped for a null answer
    int first_skipped;  // the first one's line (JSONL) or element index (JSON array); 0 if none
} Dataset;

// Reads a dataset file (JSON array or JSONL). On error *ds is left empty.
int dataset_load(const char *path, Dataset *ds, Err *e);
// The same from memory; name is used in messages.
int dataset_parse(const char *text, size_t len, const char *name, Dataset *ds, Err *e);
// Appends a copy of the strings (solution may be NULL).
int dataset_add(Dataset *ds, const char *problem, const char *answer, const char *solution, int level,
                long redundant_chars, Err *e);
void dataset_free(Dataset *ds);

// Writes JSONL atomically (base/io.h): one object per example with "problem", "answer",
// and where present "solution", "level" (when > 0) and "redundant_chars" (when >= 0).
// dataset_load reads it back identically.
int dataset_write_jsonl(const char *path, const Dataset *ds, Err *e);

// Per-level statistics of a dataset's solutions, levels 0..DATASET_MAX_LEVEL (level 0:
// unknown). redundant_frac = sum of redundant_chars / sum of solution chars, over the
// examples that know their redundant_chars. correct counts the solutions whose boxed
// answer grades equal to the answer (grade.h).
#define DATASET_MAX_LEVEL 10
typedef struct {
    int count[DATASET_MAX_LEVEL + 1];
    double mean_chars[DATASET_MAX_LEVEL + 1];     // mean solution length (bytes)
    double redundant_frac[DATASET_MAX_LEVEL + 1]; // -1 if unknown at that level
    int graded[DATASET_MAX_LEVEL + 1];            // examples with a solution
    int correct[DATASET_MAX_LEVEL + 1];           // of those, solutions that grade correct
    int total;
    double total_mean_chars, total_redundant_frac;
} DatasetStats;
void dataset_stats(const Dataset *ds, DatasetStats *st);

#endif
