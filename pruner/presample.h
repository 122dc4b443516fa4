// pruner/presample.h -- the pre-samples of O1-Pruner: K solutions per problem from the
// reference model, with what the length-harmonizing reward needs. The file format, its
// reader and writer (presample_format.c) and the sampling run (presample.c).
//
// `o1p presample` writes one JSONL file (FILE.jsonl), in this order:
//   a header line (the settings; a resumed run must match them):
//     {"presample": 1, "model": DIR, "data": FILE, "n_problems": N, "k": K,
//      "temperature": T, "top_p": P, "top_k": TK, "max_new": M, "seed": S,
//      "system": "..", "user_template": "..", "grader": "paper", "length_counts": "solution",
//      "weights_fnv1a": "16 hex digits", "tokenizer_fnv1a": "..", "data_fnv1a": ".."}
//   "system" and "user_template": the prompt template sampled with (data/chat.h);
//   "grader": what graded "correct" (data/grade.h). A file of an older o1p has neither:
//   it reads as the default template and the paper's grader.
//   the fingerprints (FNV-1a) of the model's weights (model_fingerprint), of the bytes of
//   its tokenizer.json and of the dataset file. Resuming and `o1p prune` check them: a
//   folder whose contents were replaced, or another dataset with as many problems, is
//   refused. A file of an older o1p has none; it is accepted, unchecked (the caller
//   warns).
//   then one block per problem, problems in dataset order 0, 1, 2, ...: K sample lines
//     {"problem": i, "sample": j, "length": L, "correct": true, "truncated": false,
//      "answer": "42" (null: no \boxed{}), "mean_logprob": -0.31, "ids": [..], "text": ".."}
//   followed by the problem's summary line
//     {"problem": i, "summary": true, "k": K, "mean_length": Lbar, "accuracy": Abar}
// L counts the solution's tokens, the end token (<|im_end|>) not counted, as the official
// code's len(tokenizer(solution)) ("length_counts": "solution"); "ids" are all the
// generated tokens, L + 1 of them when the sample ended with the end token, L when
// truncated; "text" is their decoding without special tokens; "mean_logprob" is the mean
// over the ids of log pi_ref(token) at temperature 1 (the sampler's decode path, equal to
// the training forward's to ~1e-6); Lbar and Abar are the means of L and correct over
// the K samples. A file of an older o1p (no "length_counts") counted the end token in
// L and Lbar: it is converted on load (L less 1 for each sample not truncated), and
// refused for a resume (its blocks would mix the two counts).
//
// A block is written only when its K samples are done, so the summary line marks a
// complete problem. Resuming: the blocks before the first incomplete one are kept, a
// torn or partial last block is cut off, and sampling continues with the next problem;
// each sample draws from rng_derive(seed, problem, sample), so the file is byte-for-byte
// that of an uninterrupted run.
#ifndef O1P_PRESAMPLE_H
#define O1P_PRESAMPLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../base/err.h"
#include "../data/chat.h"
#include "../data/dataset.h"
#include "../data/grade.h"
#include "../engine/modeldir.h"
#include "../engine/run.h"
#include "../engine/tokset.h"
#include "../kernels/kernels.h"
#include "../model/model.h"

// The fingerprints of what pre-samples come from; 0: not known (not recorded, or not
// computed: then not compared).
typedef struct {
    uint64_t weights;    // model_fingerprint of the model
    uint64_t tokenizer;  // FNV-1a of its tokenizer.json's bytes
    uint64_t data;       // FNV-1a of the dataset file's bytes
} PresampleSources;

typedef struct {
    int problem, sample;
    int length;           // L: solution tokens, the end token not counted
    int n_ids;            // generated tokens: L + 1 when ended by the end token, else L
    int correct;          // 0/1
    int truncated;        // 0/1
    double mean_logprob;  // at temperature 1
    char *answer;         // extracted boxed answer, NULL when none (malloc'ed)
    char *text;           // the solution text (malloc'ed; may hold NUL bytes) ...
    size_t text_len;      // ... of this many bytes
    int32_t *ids;         // [n_ids] generated token ids (malloc'ed)
} PresampleItem;

typedef struct {
    // the header
    char model_path[1024], data_path[1024];  // as given to `o1p presample`
    int n_problems_total;  // problems in the dataset
    int k;
    double temperature, top_p;
    int top_k, max_new;
    uint64_t seed;
    ChatTemplate tmpl;     // the prompt template sampled with
    GradeMode grader;
    PresampleSources src;  // all 0: a file of an older o1p
    int converted;         // the file counted the end token in L (an older o1p): converted
    // the complete problems: 0 .. n_problems-1
    int n_problems;
    PresampleItem *items;  // [n_problems * k]: item i*k + j is sample j of problem i
    double *mean_length;   // [n_problems] Lbar (of the converted L)
    double *accuracy;      // [n_problems] Abar
    size_t complete_bytes; // file bytes holding the header and the complete blocks
    int items_cap;         // items allocated (a partial last block's items are freed too)
} Presample;

// Reads a pre-sample file: the header and every complete problem block (a torn or
// incomplete last block is ignored; its bytes are those after complete_bytes). Errors
// name the file, the line and what was expected: a missing or malformed header, a line
// out of order (problem/sample indices), a summary that disagrees with its samples, a
// damaged line followed by more lines (not a crash's torn end). An older file's lengths
// are converted (ps->converted set).
int presample_load(const char *path, Presample *ps, Err *e);
void presample_free(Presample *ps);

// The fingerprints of model folder model_dir (its weights from m, loaded from it; m NULL:
// weights 0) and of the dataset file data_path.
int presample_sources(const char *model_dir, const Model *m, const char *data_path, PresampleSources *s, Err *e);
// Compares the fingerprints recorded in ps (the file ps_path) with have (of model_dir
// and data_path), skipping those unknown on either side. Returns 0 when they agree, 1
// when ps records none (an older file: unchecked), -1 with an error naming the files and
// what differs.
int presample_check_sources(const Presample *ps, const char *ps_path, const PresampleSources *have,
                            const char *model_dir, const char *data_path, Err *e);

// Writers of the three kinds of line (the caller flushes). The header comes from the
// header fields of h; a summary from the problem's k, Lbar and Abar.
void presample_write_header(FILE *f, const Presample *h);
void presample_write_sample(FILE *f, const PresampleItem *it);
void presample_write_summary(FILE *f, int problem, int k, double mean_length, double accuracy);

// Sample j of problem p (truth: its answer) as an item: ids[n] (taken over: freed on
// error), decoded without special tokens, graded by grader. The caller frees the item's
// answer, text and ids.
int presample_item(const Tokenizer *tok, GradeMode grader, const char *truth, int p, int j, int32_t *ids, int n,
                   int truncated, double mean_logprob, PresampleItem *it, Err *e);

// In memory: K samples of each of problems[0..n) (prompts: the dataset's, under the
// template) from md's weights with h's settings (k, temperature, top-p, top-k, max-new,
// seed, grader), sample j of problems[i] drawn from rng_derive(seed, id_base +
// problems[i], j). *out gets h's header and the blocks in that order (items i*k + j,
// mean_length and accuracy [n]) as presample_load gives a file's. Free with
// presample_free.
#define PRESAMPLE_MEMORY_SLOTS 16  // its sampler's slots (prefill chunks: the sampler's default)
int presample_memory(ModelDir *md, const Dataset *ds, const TokSet *prompts, const int *problems, int n,
                     const Presample *h, uint64_t id_base, Presample *out, Err *e);

// ---- the run ------------------------------------------------------------------------
// Samples K solutions of every problem of a dataset into the file, resuming what is there.

typedef struct {
    const char *model, *data, *out;  // model folder, dataset, pre-sample file
    const Kernels *kernels;          // the backend
    ModelDir *loaded;                // model's weights already in memory (borrowed; NULL:
                                     // load the folder): a training run's current policy
    int k;                           // samples per problem
    double temperature, top_p;
    int top_k;                       // 0: off
    int max_new;                     // most tokens per sample, capped at the context (0: the context)
    uint64_t seed;
    int slots;                       // sequences decoded together (the file does not depend on it)
    int limit;                       // sample problems 0..limit-1 only (0: all)
    int quiet;                       // no progress line
    PromptOpts prompt;               // the template (default: the one model records, else default)
    GradeMode grader;
} PresampleOpts;

// What a run found and did, for the command's messages.
typedef struct {
    int n_problems;         // in the dataset
    int first, end;         // this run samples problems first..end-1 (none when first >= end)
    size_t kept, dropped;   // bytes of the existing file kept; cut off after them (a partial block)
    int unverified;         // the existing file records no fingerprints (an older o1p): unchecked
    DecodeMemory memory;    // the sampler's plan (when problems are left)
    int done;               // after presample_sample: the file holds problems 0..done-1
    double seconds;         // sampling time
    uint64_t tokens_generated;
} PresampleReport;

typedef struct Presampler Presampler;

// Prepares a run: loads the dataset and the model, locks an existing file and checks its
// header against the settings (the template and grader too: another is an error naming
// the file and both) and the fingerprints (its complete blocks are kept). When problems are left, it
// then plans the sampler and cuts the file to its complete blocks, or creates it with its
// header. Fills rep's n_problems, first, end, kept, dropped, memory. NULL on error.
Presampler *presample_open(const PresampleOpts *o, PresampleReport *rep, Err *e);
// Samples problems first..end-1 into the file, a block written as soon as it is complete
// and in order; a progress line unless quiet. Ctrl-C and SIGTERM stop it cleanly. Returns
// 0 when done, 1 when interrupted (rerun to continue), -1 on error. Fills rep's done,
// seconds, tokens_generated.
int presample_sample(Presampler *p, PresampleReport *rep, Err *e);
// Frees everything and unlocks the file.
void presample_close(Presampler *p);

#endif
