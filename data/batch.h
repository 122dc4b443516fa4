// data/batch.h -- packing tokenized (prompt, completion) examples into (B, T) batches.
//
// One row per example, left-aligned, padded on the right:
//   tokens[b*T + t]  = seq[t] for t < lens[b], pad_id after          seq = prompt ++ completion
//   targets[b*T + t] = seq[t+1] for t < lens[b]-1, else -1          (next-token targets)
//   weights[b*T + t] = 1 where targets[b*T + t] is a completion token, else 0:
//                      0 on the prompt, on padding and on the last position
//   lens[b]          = tokens in row b, 0 for an empty padding row
// The loss is sum(weights * CE(logits, targets)) / sum(weights); the model attends
// within lens[b] only.
//
// Over-long examples, prompt + completion > T, follow a policy:
//   BATCH_DROP      the example is never used;
//   BATCH_TRUNCATE  the completion is cut to fit T, the prompt kept whole; an example
//                   whose prompt leaves no room for a completion token is dropped.
// An example with an empty completion is dropped: nothing to learn. Batcher.stats has
// the counts for the caller to report.
//
// Order: epoch k visits the kept examples in the permutation of rng_derive(seed, k, 0).
// A batch is always B full rows and runs on into the next epoch. The position is the
// plain struct BatchPos, which a training state saves and batcher_seek restores: same
// seed and position, same batches.
#ifndef O1P_BATCH_H
#define O1P_BATCH_H

#include <stdint.h>

#include "../base/err.h"

typedef struct {
    const int *prompt;      // prompt token ids (host memory, owned by the caller)
    int prompt_len;
    const int *completion;  // completion token ids (trained)
    int completion_len;
} TokExample;

typedef enum { BATCH_DROP, BATCH_TRUNCATE } BatchPolicy;

typedef struct {
    int64_t epoch;  // epochs completed
    int64_t pos;    // next index into the current epoch's order
} BatchPos;

typedef struct {
    int total;       // examples given
    int kept;        // examples used (kept = total - dropped)
    int truncated;   // kept but cut to T (BATCH_TRUNCATE)
    int dropped;     // over-long under BATCH_DROP, no room for a completion, or empty completion
    int64_t truncated_tokens;  // completion tokens cut off in all
} BatchStats;

typedef struct {
    const TokExample *ex;
    int B, T, pad_id;
    BatchPolicy policy;
    uint64_t seed;
    int *keep;   // indices into ex of the kept examples, [stats.kept]
    int *order;  // the current epoch's permutation of keep, [stats.kept]
    BatchPos at;
    BatchStats stats;
} Batcher;

// ex must outlive the batcher. Fails when no example is kept or B, T < 1 (T >= 2).
int batcher_init(Batcher *b, const TokExample *ex, int n, int B, int T, BatchPolicy policy, uint64_t seed,
                 Err *e);
void batcher_free(Batcher *b);
// Fills the next batch: tokens, targets [B*T], weights [B*T], lens [B]; advances b->at.
void batcher_next(Batcher *b, int *tokens, int *targets, float *weights, int *lens);
// Restores a position saved from b->at (pos must be < stats.kept).
int batcher_seek(Batcher *b, BatchPos at, Err *e);

// LLaMA-Factory's cutoff_len (the official O1-Pruner trainer's; its
// data/processors/processor_utils.py infer_seqlen, one turn): each example keeps the
// first P prompt and the first C completion tokens, P + C <= cutoff, with p, c its
// prompt and completion lengths:
//   C = c                                        if 2 c < cutoff (the prompt is cut)
//       min(c, cutoff - p)                       elif 2 p < cutoff (the completion is cut)
//       min(c, floor(cutoff * (c / (p + c))))    else (both, in proportion)
//   P = min(p, cutoff - C)
// An example that fits is unchanged; a cut completion loses its end token too. In place
// on ex[0..n); returns how many examples were cut. cutoff <= 0: none.
int batch_cutoff(TokExample *ex, int n, int cutoff);

// The row layout alone, for stages that pick their own examples (prune, eval): row r <
// nrows holds ex[idx[r]], truncated to T; rows nrows..B-1 are empty (lens 0, targets -1,
// weights 0). Returns the number of completion tokens cut off.
long batch_fill(const TokExample *ex, const int *idx, int nrows, int B, int T, int pad_id, int *tokens,
                int *targets, float *weights, int *lens);

#endif
