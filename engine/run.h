// engine/run.h -- one training run: the model and its tokenizer, activations, optimizer,
// the run state (trainer.h) and the step's batch buffers, opened and closed once.
//
// A stage reads as its loop:
//   TrainRun r = {0};
//   run_load(&r, dir, k, &e);  or  run_fresh(&r, cfg, tok, name, seed, k, &e);
//   run_open(&r, &plan, &run_opts, &e);
//   while (!trainer_done(&r.tr)) {
//       StepMetrics sm = step_metrics();
//       for (kk < K) run_fill(&r, kk, ex, idx, B);     // or a Batcher's next rows
//       run_tally(&r, &sm);
//       sm.loss = run_passes(&r, weights_fn, ctx);      // forward, loss weights, backward
//       sm.grad_norm = run_update(&r, &sm.lr);          // AdamW
//       trainer_step_done(&r.tr, &sm, &e);
//   }
//   trainer_finish(&r.tr, &e);
//   run_close(&r);
//
// The step is K micro-batches of B rows of at most T tokens, filled first into a
// (K B, T) grid (data/batch.h's layout). Each micro-batch is cut to its longest row, a
// (B, Tc) grid with Tc <= T, before its passes: less padding, and no row's result changes
// (kernels.h: a row does not depend on the others in the call).
#ifndef O1P_RUN_H
#define O1P_RUN_H

#include "../base/err.h"
#include "../data/batch.h"
#include "dist.h"
#include "dist_nccl.h"
#include "modeldir.h"
#include "optim.h"
#include "sampler.h"
#include "trainer.h"

// The options every training stage takes alike: where it computes and how it logs,
// checkpoints, stops and resumes.
typedef struct {
    const char *device;  // ref, cpu or cuda
    long save_every;     // checkpoint every N steps (0: at the end and on Ctrl-C)
    long log_every;      // progress line every N steps when stderr is not a terminal
    long threads;        // CPU threads (0: OMP_NUM_THREADS or all cores)
    long stop_at;        // > 0: stop after this step, resumable
    int resume, quiet;
    int force;           // fresh run: replace a model or run in the output folder
    long train_layers;   // freeze-tuning: train the last N blocks only (0: everything);
                         // recorded in the run's state, resume must give the same
    int recompute;       // activation recomputation (ACTS_RECOMPUTE): less memory, one
                         // more forward per layer, the same bits (not in the state)
    long vocab_chunk;    // the head's vocabulary chunk (acts_create): 0 the full logits,
                         // ACTS_VOCAB_AUTO the automatic choice
} RunOpts;

// What run_open plans from.
typedef struct {
    const char *out, *stage;  // the output folder; "sft", "prune"
    int K, B, T;              // micro-batches per step, rows per micro-batch, tokens per row
    int steps;                // optimizer steps of the run
    OptimConfig optim;
    const char *signature;    // the options that must match on resume (trainer.h; copied)
    uint64_t seed;            // the trainer's RNG
    const char *tokenizer_src;  // fresh run: the tokenizer.json to copy (NULL: save r->tok)
    size_t sampler;           // backend bytes of the largest sampler the stage runs between
                              // steps (sampler_memory: KV cache + step buffers); 0: none
} RunPlan;

typedef struct {
    ModelDir md;     // a loaded folder, or a fresh model with its own tokenizer
    Model *m;        // &md.m
    Tokenizer *tok;  // md.tok
    int pad;         // the padding token: <|endoftext|>, else <|im_end|>
    Acts acts;
    Optimizer opt;
    Trainer tr;
    int opened;      // tr is open
    char signature[1024];  // the plan's, kept for the trainer's checkpoints
    int K, B, T;
    // the step's K B rows, micro-batch kk at rows kk B .. kk B + B-1
    int *tokens, *targets;  // [K B, T]
    float *weights;         // [K B, T] batch_fill's weights (1 on completion targets)
    int *lens;              // [K B]
    int *rows;              // [K B] the order in which rows go into micro-batches
    // one micro-batch cut to its longest row: (B, Tc)
    int *mb_tokens, *mb_targets, *mb_lens;
    float *mb_weights;      // the step's weights of the micro-batch's rows
    float *mb_logprob;      // per-token log-probs (run_logprobs)
    float *mb_loss_w;       // the objective's loss weights (run_passes)
    // several ranks (run_dist.c): this rank's micro-batches' gradients, and their sum
    DistSum dsum;           // the plan of the sum of the K micro-batches' gradients
    float *grad_parts;      // [its micro-batches, n_trained] host
    float *grad_sum;        // [n_trained] host
    DistNccl *nccl;         // the sum on the GPUs instead (dist_nccl_usable), else NULL
    double comm_s;          // the last step's seconds in the sum (several ranks), else NAN
} TrainRun;

// The backend named o->device; sets the CPU threads when o->threads > 0.
const Kernels *run_backend(const RunOpts *o, Err *e);
// The model of a folder (model_dir_load).
int run_load(TrainRun *r, const char *dir, const Kernels *k, Err *e);
// A fresh model of config c, initialised from seed, with tokenizer tok (taken over:
// freed by run_close even on error; tok_name names it in errors). A config without an
// eos_token_id gets <|im_end|>.
int run_fresh(TrainRun *r, Config c, Tokenizer *tok, const char *tok_name, uint64_t seed, const Kernels *k,
              Err *e);
// The backend memory of a training run on k, in bytes, as run_open allocates it: the
// parameters (and their weights when a copy, model_weight_copy_bytes), the gradients of
// what trains (o->train_layers), the AdamW moments (two floats per trained one; on
// several ranks this rank's ZeRO-1 slice, rank 0's the largest), the activations of a
// (B, T) micro-batch with the head in o->vocab_chunk's chunks (acts_bytes and the
// backend's operand buffer, model_operand_bytes: acts, as planned with o->recompute; the
// other two with and without recompute), and their total. sampler: an in-process
// sampler's (RunPlan.sampler), which run_open adds to the total; 0 here.
typedef struct {
    size_t params, grads, moments, acts, sampler, total;
    size_t acts_full, acts_recompute;
} TrainMemory;
TrainMemory run_train_memory(const Config *c, const Kernels *k, int B, int T, const RunOpts *o, int rank,
                             int ranks);
// "parameters 6.17 GB, gradients 6.17 GB, optimizer state 12.3 GB, activations 17.7 GB
// (--recompute: 2.15 GB), total 42.4 GB" into buf (ranks > 1: the state "per rank
// (sliced over N ranks)"; with a sampler ", sampler (KV cache, step buffers) 1.2 GB"
// before the total);
// returns buf.
const char *run_format_memory(char *buf, size_t cap, const TrainMemory *tm, int recompute, int ranks);
// Whether the plan's allocations beyond the parameters (gradients, moments, activations)
// fit in k->memory_available(), which the loaded parameters already hold; the error names
// the plan's parts and the options that shrink it.
int run_check_memory(const TrainMemory *tm, const Kernels *k, int recompute, Err *e);
// Plans the run: checks the memory (run_check_memory), then allocates the gradients and
// optimizer moments of what trains (o->train_layers), activations for (B, T) (with
// o->recompute, the head in o->vocab_chunk's chunks), the step buffers, then
// trainer_open (fresh or resumed, o->resume). The rows' order starts as 0..K B-1. Unless
// quiet, prints what trains and the memory plan.
int run_open(TrainRun *r, const RunPlan *p, const RunOpts *o, Err *e);
// The memory of a decoding stage (presample, eval, generate), in bytes: the weights (the
// fp32 parameters where kept, and a bf16 copy: model_create_weights), the sampler's KV
// cache and step buffers (sampler_memory: backend and host), the tokenizer (tok_memory).
typedef struct {
    size_t weights, kv_cache, step, tokenizer;
} DecodeMemory;
int run_decode_memory(const Model *m, const Tokenizer *tok, const SamplerOpts *o, DecodeMemory *d, Err *e);
// Frees all of it, model included; safe on a run that failed anywhere.
void run_close(TrainRun *r);

// Fills micro-batch kk with rows ex[idx[0..n)], n <= B (over-long ones cut to T); rows
// n..B-1 get one pad token and no target.
void run_fill(TrainRun *r, int kk, const TokExample *ex, const int *idx, int n);
// Orders the step's rows by length, longest first (ties by index), so that each
// micro-batch holds rows of similar length.
void run_sort_rows(TrainRun *r);
// Tokens of the step (its rows' lengths) and trained tokens (non-zero weights) into sm;
// returns the sum of the weights.
double run_tally(const TrainRun *r, StepMetrics *sm);

// Gathers grid rows rows[0..B) (NULL: micro-batch 0 as filled) into the micro-batch
// buffers, cut to their longest row, and runs the forward pass. Returns Tc.
int run_forward(TrainRun *r, const int *rows);
// After run_forward: per-token log-probs of the micro-batch's targets into mb_logprob.
void run_logprobs(TrainRun *r, int Tc);
// After run_forward: the micro-batch's weighted cross-entropy, sum mb_weights * -log p.
double run_loss(TrainRun *r, int Tc);

// An objective's loss weights of one (B, Tc) micro-batch: from the per-token log-probs
// and the step's weights (mask) of grid rows rows[0..B), writes w [B*Tc] and adds the
// micro-batch's loss to *loss.
typedef void (*LossWeightsFn)(void *ctx, const int *rows, int B, int Tc, const float *logprob,
                              const float *mask, float *w, double *loss);
// Forward, loss and backward over the step's K micro-batches; the gradients accumulate
// in r->m. Without fn the loss is the weighted cross-entropy with the step's weights,
//   loss = sum_{rows,t} weights * -log p(target).
// Returns the step's loss.
double run_passes(TrainRun *r, LossWeightsFn fn, void *ctx);
// The optimizer step on the gradients of run_passes (optim_step); on several ranks each
// rank updates its slice and the slices are gathered (run_gather_params). Returns the
// global gradient norm before clipping; *lr gets the rate used.
double run_update(TrainRun *r, float *lr);
// Forward, loss and backward of micro-batch kk; the gradients accumulate in r->m and
// its loss is added to *loss.
void run_micro_batch(TrainRun *r, int kk, LossWeightsFn fn, void *ctx, double *loss);

// ---- several ranks (engine/run_dist.c; docs/distributed.md) -------------------------
// Data parallel: every rank fills the whole step (the same rows in the same order), runs
// its share of the K micro-batches, and the gradients of the K micro-batches are summed
// in order 0..K-1 (dist_sum_ordered): N ranks give the same weights for any N >= 2. One
// process accumulates in place in the backward kernels instead, so it agrees with them
// to float rounding, not bit for bit. ZeRO-1: each rank holds the AdamW moments of its
// slice of the trained floats only (optim.h) and updates that slice of the weights; the
// slices are then all-gathered. Rank 0 alone writes the folder (trainer.c).

// After trainer_open: checks that every rank has the same plan and weights, gives the
// others rank 0's run counters (a resumed run's) and has them load their slice of the
// moments. Allocates the gradient buffers: on the GPU with NCCL (dist_nccl.h) when the
// backend and build allow, else on the host for dist_sum_ordered.
int run_sync_ranks(TrainRun *r, Err *e);
// run_passes on several ranks; returns the step's loss (the sum of the micro-batches'
// losses in order). Sets r->comm_s: the seconds from the end of this rank's backward
// passes to the sums' end (waiting for slower ranks included).
double run_passes_ranks(TrainRun *r, LossWeightsFn fn, void *ctx);
// After optim_step on several ranks: every rank's updated slice of the trained weights to
// every rank (through grad_sum); zeroes the gradients.
void run_gather_params(TrainRun *r);

#endif
