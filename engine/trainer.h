// engine/trainer.h -- the run state every training stage shares: the output folder,
// checkpoints, --resume, Ctrl-C, the progress line and the metrics log.
//
// The output folder is a model folder that also holds the run's state:
//   config.json, model.safetensors   the weights after `step` optimizer steps (model_save)
//   tokenizer.json                   written once when the run starts
//   train_state.bin                  optimizer moments (of what trains), step, RNG, data
//                                    position, train_layers (model/io.h)
//   metrics.jsonl                    one JSON object per optimizer step
// so any checkpoint can be used at once by generate/presample/eval, and the run
// continued with --resume.
//
// A run holds an exclusive lock (flock) on the folder: a second run on it fails at once.
// A fresh run refuses a folder that holds a run (pass --resume) or a model (config.json
// or model.safetensors) unless forced; it removes their state files and the temporary
// files of dead processes.
//
// Checkpoint protocol (every save_every steps, at the end, and on Ctrl-C). Each file is
// written atomically, but a checkpoint is two of them (weights and state), so a crash
// between the two writes must never leave a pair that does not belong together. The
// state records a fingerprint of the weights it belongs to (FNV-1a of the parameter
// floats) and the writes go in this order:
//   1. train_state.next.bin   the new state, naming the new weights' fingerprint
//   2. model.safetensors      the new weights (config.json too: the same bytes)
//   3. rename train_state.next.bin -> train_state.bin
// Resume loads the weights and takes whichever of train_state.next.bin (crash between
// 2 and 3) and train_state.bin (crash before 2) matches their fingerprint, so every crash
// point leaves a resumable, consistent folder. Before the first checkpoint completes
// there is no train_state.bin; a train_state.next.bin then counts only with both
// config.json and model.safetensors in place (model_save renames the weights first),
// else the same fresh command starts over. A folder where neither matches (edited by
// hand) is refused with a message saying so. A corrupt state (bad magic, checksum,
// parameter count) is refused before anything in the folder is touched.
//
// Bit-identical resume: the weights and moments are saved exactly (F32); the state keeps
// the step (hence the learning-rate schedule), the stage's RNG, the data position and
// the running token count; the stage's options that shape the run (learning rate, batch,
// steps, seed, ...) are hashed into the state and must match on resume. A run of N steps
// and a run of N/2 steps + resume + N/2 steps give the same bits (tests/test_sft.sh).
//
// A stage opens it through engine/run.h (run_open) and calls, per optimizer step,
// trainer_done, then trainer_step_done after run_update; trainer_finish at the end.
// Ctrl-C (SIGINT) or SIGTERM between or during a step sets a flag: the step in flight
// completes, trainer_done() turns true, trainer_finish() saves, prints how to resume and
// returns 1 (the command line exits 130).
// A second Ctrl-C kills at once (the folder stays consistent: see above).
#ifndef O1P_TRAINER_H
#define O1P_TRAINER_H

#include <stdint.h>
#include <stdio.h>

#include "../base/err.h"
#include "../base/rng.h"
#include "../data/batch.h"
#include "../model/model.h"
#include "../tokenizer/tokenizer.h"
#include "optim.h"
#include "progress.h"

typedef struct {
    const char *out_dir;    // the output folder (created if needed)
    const char *stage;      // "sft", "prune", ...: a state is resumed by the same stage only
    int total_steps;        // optimizer steps of the whole run
    int save_every;         // checkpoint every N steps (0: only at the end and on Ctrl-C)
    int log_every;          // progress line every N steps when stderr is not a TTY (>= 1)
    int resume;             // continue the run in out_dir (its state must exist)
    int stop_at;            // > 0: stop after this step as if interrupted (a resumable
                            // checkpoint; for time-boxed runs and the resume tests)
    const char *signature;  // the options that must match on resume, as text, e.g.
                            // "lr=0.0003 batch=8 seq=256 accum=1 steps=1000 seed=1"
    uint64_t seed;          // seeds the stage's RNG on a fresh run
    int quiet;              // no progress line or summary on stderr (an interruption is
                            // still reported)
    int force;              // fresh run: replace a model or run the folder holds
    const char *tokenizer_src;  // fresh run: copy this tokenizer.json verbatim into out_dir
                                // (else the Tokenizer given to trainer_open is saved)
} TrainerOpts;

// What a stage reports after each optimizer step. Unknown values are NAN (use
// step_metrics() to start from all-unknown).
typedef struct {
    double loss;        // mean training loss of the step (over its trained tokens)
    double grad_norm;   // global gradient norm before clipping (run_update's result)
    float lr;           // the learning rate used (run_update's *lr_out)
    int64_t tokens;     // tokens processed in the step (sum of the rows' lengths)
    int64_t trained;    // tokens with a non-zero weight in the step
    double eval_loss;   // held-out loss after the step, NAN when not computed
    double comm_s;      // seconds in the gradient sum across ranks, NAN with one process
} StepMetrics;
StepMetrics step_metrics(void);

typedef struct {
    TrainerOpts o;
    Model *m;
    Optimizer *opt;
    int step;             // optimizer steps done (== opt->step)
    uint64_t data_pos;    // examples consumed, across epochs (the stage advances it)
    Rng rng;              // the stage's RNG (saved and restored)
    int64_t tokens;       // tokens processed in all steps so far (across resumes)
    double elapsed;       // training seconds so far (across resumes)
    double elapsed0;      // of which before this process
    int start_step;       // step at which this process started (fresh: 0)
    int64_t start_tokens; // tokens at that step
    int saved_step;       // step of the last checkpoint (-1: none yet)
    Progress progress;    // the clock since trainer_open and the terminal/log line rule
    double last_loss;     // for the progress line
    FILE *metrics;        // out_dir/metrics.jsonl, appended
    int lock_fd;          // the folder, flock'ed while the run writes it (-1: none)
    char path_state[4200], path_next[4200], path_metrics[4200];
} Trainer;

// Opens the output folder and locks it. Fresh run (o->resume == 0): trainer_claim_out,
// then writes tokenizer.json (o->tokenizer_src copied, else tok saved; neither
// when both are NULL) and starts an empty metrics.jsonl. Resume: m must hold the folder's weights (the stage
// loads them with model_dir_load(out_dir)); the matching state is found (see the
// protocol above), checked (stage, m->train_layers, moment count, signature) and restored into *opt
// (moments, step), the RNG, data_pos and the counters; metrics.jsonl lines past the
// restored step (from the steps that are now redone) are dropped. m must have gradients
// allocated and opt be created for m. Installs the SIGINT/SIGTERM handlers.
// trainer_close is safe after a failed trainer_open.
// On several ranks rank 0 alone opens the folder and restores its slice of the moments
// (opt's, ZeRO-1); the others call trainer_restore_slice after it.
int trainer_open(Trainer *t, const TrainerOpts *o, Model *m, Optimizer *opt, const Tokenizer *tok,
                 Err *e);
// A rank other than 0 of a resumed run, once rank 0's trainer_open has settled the folder:
// its slice of the moments from train_state.bin (rank 0 verified the checksum).
int trainer_restore_slice(Trainer *t, Err *e);
// Whether out_dir holds a completed checkpoint to resume; the error says "nothing to
// resume" otherwise. Stages call it before loading the folder.
int trainer_can_resume(const char *out_dir, Err *e);
// Whether a fresh run (or `o1p init`) may write out_dir: not when it holds a run or a
// model, unless force. The error names the file found. No side effects.
int trainer_check_out(const char *out_dir, int force, Err *e);
// trainer_check_out, then removes the folder's old state files and stale temporaries.
int trainer_claim_out(const char *out_dir, int force, Err *e);
// Takes the exclusive lock on out_dir (the fd to close), or fails naming the folder.
int trainer_lock(const char *out_dir, Err *e);
// Keeps the lines {"step":S,...} of a JSONL log with S <= step (the steps after it are
// redone on resume) and drops a half-written last line; rewritten atomically.
int trainer_trim_log(const char *path, int step, Err *e);
// 1 when the run is complete, was interrupted (Ctrl-C, SIGTERM) or reached stop_at.
int trainer_done(const Trainer *t);
int trainer_interrupted(void);
// After the update: advances t->step, appends the metrics line, refreshes the progress
// line, prints the held-out loss when given, and checkpoints every save_every steps.
int trainer_step_done(Trainer *t, const StepMetrics *sm, Err *e);
// Writes a checkpoint now (the protocol above); on several ranks every rank calls it and
// rank 0 writes the moments' slices into train_state.next.bin as they arrive, one slice
// in memory at a time. Usually called for you.
int trainer_checkpoint(Trainer *t, Err *e);
// Saves the final checkpoint (unless the last step's is already saved) and prints the
// summary, or on interruption "interrupted at step S/N; saved; continue with --resume".
// Returns 1 when interrupted (Ctrl-C, SIGTERM), 0 when done or stopped at stop_at.
int trainer_finish(Trainer *t, Err *e);
// Restores the default signal handlers, closes the metrics log and drops the lock.
void trainer_close(Trainer *t);

// data_pos <-> a Batcher position, for a batcher whose epochs hold `kept` examples
// (pos = data_pos mod kept, epoch = data_pos / kept).
BatchPos trainer_batch_pos(const Trainer *t, int kept);
void trainer_set_batch_pos(Trainer *t, BatchPos p, int kept);

// FNV-1a over n bytes at p (64-bit words, then the tail bytes), continuing from h
// (FNV_OFFSET to start).
#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
uint64_t fnv1a(uint64_t h, const void *p, size_t n);

// FNV-1a over the parameter floats of m (downloaded from the backend): the fingerprint
// that ties a state to its weights.
uint64_t model_fingerprint(const Model *m);

#endif
