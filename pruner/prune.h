// pruner/prune.h -- length-harmonizing fine-tuning (O1-Pruner) of pi_ref on its
// pre-samples, the paper's two baselines and other papers' length objectives
// (objective.h) in the same loop.
#ifndef O1P_PRUNE_H
#define O1P_PRUNE_H

#include "../base/err.h"
#include "../data/chat.h"
#include "../engine/run.h"

typedef struct {
    const char *model;      // pi_ref, the starting model folder
    const char *presample;  // its pre-samples (o1p presample)
    const char *data;       // the dataset pre-sampled (NULL: the one the pre-samples name)
    const char *out;        // the output model folder (checkpoints and logs)
    const char *objective;  // objective.h: ppo, sft-shortest, dpo, kimi, efficient, grpo-len, dast
    const char *ratio;      // ppo's ratio: token (length-normalised), seq or per-token
    const char *difficulty; // all, or easier / harder: train on that half of the problems by
                            // the pre-sample accuracy Abar (select_difficulty_half)
    const char *eval_data;  // held-out problems for the accuracy during training (NULL: none)
    long batch, accum;      // rows per micro-batch (dpo: 2 a pair), micro-batches per step
    long m;                 // samples per problem trained on (0: all K)
    long seed;              // the choice of the m samples and the data order
    long rounds;            // iterative O1-Pruner: round r >= 2 trains on K fresh samples per
                            // problem from the current weights (1: the pre-samples only)
    int online;             // GRPO-style: each step samples K for its problems from the
                            // current weights and trains on them
    const char *baseline;   // rounds >= 2 and online, ppo's Lbar, Abar: "ref" (pi_ref's
                            // pre-samples) or "current" (the round's, the step's samples)
    long eval_every;        // held-out accuracy every N steps (0: 4 times per run)
    long eval_n;            // held-out problems used (0: all)
    long eval_max_new;      // most tokens per held-out solution, capped at the context (0: the context)
    long cutoff;            // each row cut to this many tokens as batch_cutoff does, capped at
                            // the context (0: the context)
    double lr, beta2, lambda, eps, beta, epochs;
    double alpha;                      // efficient, grpo-len: the length term's weight
    double simpo_beta, simpo_gamma;    // dast: SimPO's scale and margin
    double warmup_frac;     // warmup as a fraction of the steps
    double grad_clip, weight_decay, min_lr_ratio;
    int no_clip, no_normalize, loo, group;  // reward.h's options; group: objective.h
    PromptOpts prompt;      // the training template (default: the one the pre-samples record)
    int dr_grpo;                            // grpo-len: Dr. GRPO's advantage
    RunOpts run;
} PruneOpts;

// The rows are prompt ++ pre-sample under the training template; pi_ref's log-probs
// (teacher forcing) and the held-out problems follow it too. One other than the
// pre-samples' is said on stderr and recorded with theirs in out/prompt.json
// (engine/modeldir.h). On resume it must match the record.
// --rounds R: the run is R rounds of the steps --epochs gives on the pre-samples, one
// learning-rate schedule over all. Before round r >= 2 the current weights sample
// OUT/round_r.presample.jsonl with the pre-samples' settings (presample.h; a partial file
// is continued); the round trains on it, its ratio taken to the round's starting weights
// (their log-probs in OUT/round_r.ref_logprobs.json). The objective must train as many
// units every round (ppo, kimi, efficient, grpo-len); one process only.
// --online: each step's problems (the data order over the trained problems) get K fresh
// samples from the current weights (presample_memory, the pre-samples' settings, sample j
// of problem p at step s from stream (seed, (s + 1) 2^32 + p, j)); the step trains the
// objective's rows on them, the ratio taken to those weights. A step's rows must be a
// whole number of problems' (ppo: batch x accum a multiple of m).
// 0 when done (or stopped at run.stop_at), 1 when interrupted (a resumable checkpoint
// saved), -1 on error.
int prune_run(const PruneOpts *o, Err *e);

#endif
