// pruner/sft.h -- supervised fine-tuning on problems with worked solutions: a fresh
// model (config.json, its BPE tokenizer trained on the data or given) or a model folder.
#ifndef O1P_SFT_H
#define O1P_SFT_H

#include "../base/err.h"
#include "../data/chat.h"
#include "../engine/run.h"

typedef struct {
    const char *data;       // training data: JSON/JSONL with problem, answer, solution
    const char *out;        // the output model folder (checkpoints, metrics.jsonl)
    const char *config;     // a fresh model of this config.json, or
    const char *model;      // this model folder (on resume: out)
    const char *tokenizer;  // with config: this tokenizer.json (NULL: train one on data)
    const char *eval_data;  // held-out data (NULL: eval_frac of data)
    const char *overlong;   // examples longer than seq: "truncate" or "drop"
    long vocab;             // with config and no tokenizer: the trained vocab (0: vocab_size)
    long batch, accum;      // rows per micro-batch, micro-batches per step
    long seq;               // tokens per row (0: the longest example, up to the context)
    long cutoff;            // each example first cut to this many tokens as batch_cutoff does
                            // (0: none; then over-long examples follow overlong)
    long steps;             // optimizer steps (0: from epochs)
    long warmup;            // warmup steps (< 0: 5% of the steps)
    long eval_every;        // held-out loss every N steps (0: 10 times per run)
    long eval_max;          // held-out examples used
    long seed;              // initialisation, data order, held-out split
    double lr, beta2, epochs, eval_frac, weight_decay, grad_clip, min_lr_ratio;
    PromptOpts prompt;      // the prompt template (default: the one model records, else
                            // default; on resume the one out records, which it must match)
    RunOpts run;
} SftOpts;

// The template is recorded in out/prompt.json (engine/modeldir.h).
// 0 when done (or stopped at run.stop_at), 1 when interrupted (a resumable checkpoint
// saved), -1 on error.
int sft_run(const SftOpts *o, Err *e);

#endif
