// engine/trainer.c -- output folder, checkpoints, resume, signals, progress, metrics.
// The checkpoint protocol is explained in trainer.h.
#include "trainer.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "../base/io.h"
#include "../model/io.h"
#include "dist.h"
#include "interrupt.h"
#include "progress.h"

// TrainState.extra slots used by the trainer. 64-bit values are stored as two exact
// 32-bit halves (a double holds any integer below 2^53).
// X_TRAIN_LAYERS: the model's train_layers (0 in states from before freeze-tuning).
enum { X_FP_LO, X_FP_HI, X_SIG_LO, X_SIG_HI, X_TOKENS, X_ELAPSED, X_TRAIN_LAYERS };

int trainer_interrupted(void) { return interrupt_requested(); }

// FNV-1a over 64-bit words (then the tail bytes): 8x faster than bytewise on a model's
// weights, and still a bijection of each word, so any single change alters the hash.
uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * UINT64_C(0x100000001b3);
    }
    for (; i < n; i++) h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}

// A stage window at a time (windows are whole words): no host copy of the model.
uint64_t model_fingerprint(const Model *m) {
    Err e;
    ParamStage st;
    if (param_stage_open(&st, m, &e)) return 0;  // out of memory: 0, which no real fingerprint equals
    uint64_t h = FNV_OFFSET;
    for (size_t at = 0; at < m->n_params; at += MODEL_STAGE_FLOATS) {
        size_t n = m->n_params - at < MODEL_STAGE_FLOATS ? m->n_params - at : MODEL_STAGE_FLOATS;
        h = fnv1a(h, param_stage_get(&st, at, n), n * sizeof(float));
    }
    param_stage_close(&st);
    return h | 1;  // never 0
}

static void put_u64(double *x, uint64_t v) {
    x[0] = (double)(v & 0xffffffffu);
    x[1] = (double)(v >> 32);
}
static uint64_t get_u64(const double *x) { return (uint64_t)x[0] | (uint64_t)x[1] << 32; }

static uint64_t signature_hash(const TrainerOpts *o) {
    const char *s = o->signature ? o->signature : "";
    return fnv1a(FNV_OFFSET, s, strlen(s));
}

StepMetrics step_metrics(void) {
    StepMetrics s = {.loss = NAN, .grad_norm = NAN, .lr = NAN, .tokens = 0, .trained = 0, .eval_loss = NAN,
                     .comm_s = NAN};
    return s;
}

BatchPos trainer_batch_pos(const Trainer *t, int kept) {
    BatchPos p = {.epoch = (int64_t)(t->data_pos / (uint64_t)kept), .pos = (int64_t)(t->data_pos % (uint64_t)kept)};
    return p;
}

void trainer_set_batch_pos(Trainer *t, BatchPos p, int kept) {
    t->data_pos = (uint64_t)p.epoch * (uint64_t)kept + (uint64_t)p.pos;
}

int trainer_trim_log(const char *path, int step, Err *e) {
    if (!file_exists(path)) return 0;
    char *text;
    size_t len, out = 0;
    if (read_file(path, &text, &len, e)) return -1;
    for (size_t i = 0; i < len;) {
        char *eol = memchr(text + i, '\n', len - i);
        if (!eol) break;  // no newline: cut off mid-line
        size_t n = (size_t)(eol - (text + i)) + 1;
        int s;
        if (sscanf(text + i, "{\"step\":%d", &s) == 1 && s <= step) {
            memmove(text + out, text + i, n);
            out += n;
        }
        i += n;
    }
    int rc = write_file_atomic(path, text, out, e);
    free(text);
    return rc;
}

// Reads a state file's header and says whether it belongs to the weights with
// fingerprint fp.
static int state_try(const char *path, const Trainer *t, uint64_t fp, TrainState *s, Err *e) {
    if (train_state_header(path, s, e)) return -1;
    if (!strcmp(s->stage, t->o.stage)) return get_u64(&s->extra[X_FP_LO]) == fp ? 1 : 0;
    return err_fmt(e, "%s: a training state of stage '%s', not '%s'", path, s->stage, t->o.stage);
}

// This rank's slice of the moments of state file path into the optimizer; check: read
// the whole file to verify its checksum.
static int load_moments(Trainer *t, const char *path, int check, Err *e) {
    const Optimizer *o = t->opt;
    size_t nb = o->n * sizeof(float);
    float *mom = malloc(nb ? nb : 1), *vel = malloc(nb ? nb : 1);
    TrainState s;
    int rc = !mom || !vel ? err_fmt(e, "%s: out of memory for the optimizer moments", path)
                          : train_state_load_slice(path, &s, o->lo, o->n, mom, vel, t->m->n_trained, check, e);
    if (!rc) {
        t->m->k->upload(o->m, mom, nb);
        t->m->k->upload(o->v, vel, nb);
    }
    free(mom);
    free(vel);
    return rc;
}

int trainer_restore_slice(Trainer *t, Err *e) { return load_moments(t, t->path_state, 0, e); }

// dir/name exists.
static int in_dir(const char *dir, const char *name) {
    char p[4200];
    return snprintf(p, sizeof p, "%s/%s", dir, name) < (int)sizeof p && file_exists(p);
}

typedef enum { FOLDER_EMPTY, FOLDER_MODEL, FOLDER_RUN } FolderKind;

// What dir holds. A train_state.next.bin without train_state.bin is a first checkpoint:
// complete (resumable) once config.json and model.safetensors are both in place, else
// cut short before any checkpoint existed (a fresh run starts over).
static FolderKind folder_kind(const char *dir, const char **state_file) {
    int next = in_dir(dir, "train_state.next.bin");
    int cfg = in_dir(dir, "config.json"), weights = in_dir(dir, "model.safetensors");
    *state_file = "train_state.bin";
    if (in_dir(dir, "train_state.bin")) return FOLDER_RUN;
    *state_file = "train_state.next.bin";
    if (next) return cfg && weights ? FOLDER_RUN : FOLDER_EMPTY;
    return cfg || weights ? FOLDER_MODEL : FOLDER_EMPTY;
}

int trainer_can_resume(const char *out_dir, Err *e) {
    const char *state;
    if (folder_kind(out_dir, &state) != FOLDER_RUN)
        return err_fmt(e, "%s: no completed checkpoint (train_state.bin): nothing to resume (start without "
                          "--resume)", out_dir);
    return 0;
}

int trainer_check_out(const char *out_dir, int force, Err *e) {
    const char *state;
    FolderKind k = folder_kind(out_dir, &state);
    if (k == FOLDER_RUN && !force)
        return err_fmt(e, "%s holds a training run already (%s): pass --resume to continue it, --force to start "
                          "over, or choose another --out", out_dir, state);
    if (k == FOLDER_MODEL && !force)
        return err_fmt(e, "%s holds a model already (config.json, model.safetensors): pass --force to replace "
                          "it, or choose another --out", out_dir);
    return 0;
}

int trainer_claim_out(const char *out_dir, int force, Err *e) {
    if (trainer_check_out(out_dir, force, e)) return -1;
    char p[4200];
    const char *stale[] = {"train_state.bin", "train_state.next.bin"};
    for (int i = 0; i < 2; i++)
        if (!path_join(p, sizeof p, out_dir, stale[i], NULL)) remove(p);
    remove_stale_tmp(out_dir);
    return 0;
}

int trainer_lock(const char *out_dir, Err *e) {
    int fd = open(out_dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return err_fmt(e, "%s: cannot open the folder: %s", out_dir, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        close(fd);
        return err_fmt(e, "%s: another o1p run is writing this folder (it holds the lock)", out_dir);
    }
    return fd;
}

// The chosen state's checks beyond its weights: freeze-tuning's layers, the moments' size
// (which follows from them), the options, the step.
static int state_check(const Trainer *t, const char *path, const TrainState *s, Err *e) {
    int layers = (int)s->extra[X_TRAIN_LAYERS];
    if (layers != t->m->train_layers)
        return err_fmt(e, "%s: the run was started with --train-layers %d, not %d; resume it with the same value",
                       path, layers, t->m->train_layers);
    if (s->n_params != t->m->n_trained)
        return err_fmt(e, "%s: holds optimizer moments for %llu parameters, but the run trains %zu", path,
                       (unsigned long long)s->n_params, t->m->n_trained);
    if (get_u64(&s->extra[X_SIG_LO]) != signature_hash(&t->o))
        return err_fmt(e, "%s: the run was started with other options; resume it with the same ones "
                          "(compared: %s)",
                       t->o.out_dir, t->o.signature ? t->o.signature : "");
    if (s->step > (uint64_t)t->o.total_steps)
        return err_fmt(e, "%s: the state is at step %llu, past the run's %d steps", t->o.out_dir,
                       (unsigned long long)s->step, t->o.total_steps);
    return 0;
}

// Finds and restores the state that belongs to the folder's weights.
static int trainer_restore(Trainer *t, Err *e) {
    const char *dir = t->o.out_dir;
    int has_next = file_exists(t->path_next), has_state = file_exists(t->path_state);
    if (trainer_can_resume(dir, e)) return -1;
    uint64_t fp = model_fingerprint(t->m);
    TrainState s;
    int which = -1;  // 0: train_state.bin, 1: train_state.next.bin
    // A crash between steps 2 and 3 of the protocol leaves the new weights with .next.
    if (has_next) {
        Err e2;
        if (state_try(t->path_next, t, fp, &s, &e2) == 1) which = 1;
    }
    if (which < 0) {
        if (!has_state)
            return err_fmt(e, "%s: model.safetensors does not belong to train_state.next.bin and there is "
                              "no train_state.bin: the folder cannot be resumed",
                           dir);
        int r = state_try(t->path_state, t, fp, &s, e);
        if (r < 0) return -1;
        if (r == 0)
            return err_fmt(e, "%s: model.safetensors does not belong to train_state.bin (step %llu): the "
                              "weights were changed after the checkpoint; the folder cannot be resumed",
                           dir, (unsigned long long)s.step);
        which = 0;
    }
    const char *chosen = which ? t->path_next : t->path_state;
    if (state_check(t, chosen, &s, e) || load_moments(t, chosen, 1, e)) return -1;
    // Settle the folder on the chosen state before anything else is written.
    if (which == 1 && io_rename(t->path_next, t->path_state) != 0)
        return err_fmt(e, "%s: cannot rename to %s: %s", t->path_next, t->path_state, strerror(errno));
    if (which == 0 && has_next) remove(t->path_next);  // the state of weights never written
    t->opt->step = t->step = t->start_step = t->saved_step = (int)s.step;
    t->rng.state = s.rng_state;
    t->data_pos = s.data_pos;
    t->tokens = t->start_tokens = (int64_t)s.extra[X_TOKENS];
    t->elapsed = t->elapsed0 = s.extra[X_ELAPSED];
    return trainer_trim_log(t->path_metrics, t->step, e);
}

int trainer_open(Trainer *t, const TrainerOpts *o, Model *m, Optimizer *opt, const Tokenizer *tok,
                 Err *e) {
    memset(t, 0, sizeof *t);
    t->o = *o;
    if (t->o.log_every < 1) t->o.log_every = 1;
    t->m = m;
    t->opt = opt;
    t->saved_step = -1;
    t->lock_fd = -1;
    t->rng = rng_seed(o->seed);
    const char *dir = o->out_dir;
    if (path_join(t->path_state, sizeof t->path_state, dir, "train_state.bin", e) ||
        path_join(t->path_next, sizeof t->path_next, dir, "train_state.next.bin", e) ||
        path_join(t->path_metrics, sizeof t->path_metrics, dir, "metrics.jsonl", e))
        return -1;
    if (dist_rank() != 0) {  // rank 0 alone writes the folder; run_sync_ranks gives its state
        t->progress = progress_start(1);
        interrupt_install();
        return 0;
    }
    if (!o->resume && make_dirs(dir, e)) return -1;
    if ((t->lock_fd = trainer_lock(dir, e)) < 0) return -1;
    if (o->resume) {
        remove_stale_tmp(dir);
        if (trainer_restore(t, e)) return -1;
    } else {
        char tpath[4200];
        if (trainer_claim_out(dir, o->force, e) || path_join(tpath, sizeof tpath, dir, "tokenizer.json", e)) return -1;
        if (o->tokenizer_src ? copy_into_folder(o->tokenizer_src, dir, "tokenizer.json", e)
                             : tok && tok_save(tok, tpath, e))
            return -1;
        if (write_file_atomic(t->path_metrics, "", 0, e)) return -1;
    }
    t->metrics = fopen(t->path_metrics, "a");
    if (!t->metrics) return err_fmt(e, "%s: cannot open for appending: %s", t->path_metrics, strerror(errno));
    t->progress = progress_start(t->o.quiet);
    t->last_loss = NAN;
    interrupt_install();
    return 0;
}

// A signal on any rank stops every rank after the same step.
static int interrupted_anywhere(void) {
    return dist_size() > 1 ? dist_max_int(interrupt_requested()) : interrupt_requested();
}

int trainer_done(const Trainer *t) {
    return t->step >= t->o.total_steps || interrupted_anywhere() || (t->o.stop_at > 0 && t->step >= t->o.stop_at);
}

// Ranks other than 0 at a checkpoint: their slice of m, then of v, to rank 0.
static int send_moments(const Trainer *t, Err *e) {
    const Optimizer *o = t->opt;
    float *buf = malloc(o->n * sizeof(float) + 1);
    if (!buf) return err_fmt(e, "out of memory for the checkpoint's %zu moments", o->n);
    for (int which = 0; which < 2; which++) {
        t->m->k->download(buf, which ? o->v : o->m, o->n * sizeof(float));
        dist_send_floats(buf, o->n, 0);
    }
    free(buf);
    return 0;
}

// Rank 0: every rank's slice of m, then of v, into w in file order: its own straight
// from host memory or downloaded into buf (rank 0's slice, the largest), the others'
// received into buf.
static void put_moments(const Trainer *t, StateWriter *w, float *buf) {
    const Optimizer *o = t->opt;
    for (int which = 0; which < 2; which++)
        for (int r = 0; r < dist_size(); r++) {
            size_t lo, n;
            optim_slice_of(t->m->n_trained, r, dist_size(), &lo, &n);
            const float *mine = which ? o->v : o->m;
            if (r == 0 && t->m->k->host_memory) {
                train_state_put(w, mine, n);
                continue;
            }
            if (r == 0) t->m->k->download(buf, mine, n * sizeof(float));
            else dist_recv_floats(buf, n, r);
            train_state_put(w, buf, n);
        }
}

int trainer_checkpoint(Trainer *t, Err *e) {
    if (dist_rank() != 0) {
        t->saved_step = t->step;
        return send_moments(t, e);
    }
    const Model *m = t->m;
    TrainState s;
    memset(&s, 0, sizeof s);
    snprintf(s.stage, sizeof s.stage, "%s", t->o.stage);
    s.step = (uint64_t)t->step;
    s.rng_state = t->rng.state;
    s.data_pos = t->data_pos;
    s.n_params = m->n_trained;
    put_u64(&s.extra[X_FP_LO], model_fingerprint(m));
    put_u64(&s.extra[X_SIG_LO], signature_hash(&t->o));
    s.extra[X_TOKENS] = (double)t->tokens;
    s.extra[X_ELAPSED] = t->elapsed;
    s.extra[X_TRAIN_LAYERS] = m->train_layers;
    // 1. the new state beside the old one; 2. the weights; 3. the state into place.
    // a host buffer only for moments that are not in host memory or not on this rank
    float *buf = NULL;
    if (!m->k->host_memory || dist_size() > 1) {
        buf = malloc(t->opt->n * sizeof(float) + 1);
        if (!buf) return err_fmt(e, "%s: out of memory for the checkpoint", t->o.out_dir);
    }
    StateWriter w;
    int rc = train_state_begin(&w, t->path_next, &s, e);
    if (!rc) {
        put_moments(t, &w, buf);
        rc = train_state_commit(&w, e);
    }
    free(buf);
    if (rc || model_save(m, t->o.out_dir, e)) return -1;
    fsync_parent(t->path_state);
    if (io_rename(t->path_next, t->path_state) != 0)
        return err_fmt(e, "%s: cannot rename to %s: %s", t->path_next, t->path_state, strerror(errno));
    t->saved_step = t->step;
    return 0;
}

static void progress(const Trainer *t) {
    if (t->o.quiet) return;
    const Progress *p = &t->progress;
    double dt = progress_elapsed(p);
    double tps = dt > 0 ? (double)(t->tokens - t->start_tokens) / dt : 0;
    fprintf(stderr, "%s%s step %d/%d | loss %.4f | %.0f tok/s | ", progress_head(p), t->o.stage, t->step,
            t->o.total_steps, t->last_loss, tps);
    progress_eta(p, t->step - t->start_step, t->o.total_steps - t->start_step);
    fflush(stderr);
}

// Rank 0's part of a step: the metrics line, the loss check, the progress line.
static int log_step(Trainer *t, const StepMetrics *sm, Err *e) {
    fprintf(t->metrics, "{\"step\":%d,\"loss\":%.9g,\"lr\":%.9g,\"grad_norm\":%.9g,\"tokens\":%lld,"
                        "\"trained_tokens\":%lld,\"elapsed\":%.3f",
            t->step, sm->loss, (double)sm->lr, sm->grad_norm, (long long)t->tokens, (long long)sm->trained,
            t->elapsed);
    if (!isnan(sm->eval_loss)) fprintf(t->metrics, ",\"eval_loss\":%.9g", sm->eval_loss);
    if (!isnan(sm->comm_s)) fprintf(t->metrics, ",\"comm_s\":%.6f", sm->comm_s);
    fputs("}\n", t->metrics);
    if (io_flush(t->metrics) != 0) return err_fmt(e, "%s: write failed: %s", t->path_metrics, strerror(errno));
    if (!isfinite(sm->loss))
        return err_fmt(e, "%s: step %d: the loss is %g (diverged; lower --lr?)", t->o.stage, t->step, sm->loss);
    if (!isnan(sm->eval_loss) && !t->o.quiet) {
        progress_clear(&t->progress);
        fprintf(stderr, "%s step %d/%d | held-out loss %.4f\n", t->o.stage, t->step, t->o.total_steps, sm->eval_loss);
    }
    if (t->progress.tty || t->step % t->o.log_every == 0 || t->step == t->o.total_steps) progress(t);
    return 0;
}

int trainer_step_done(Trainer *t, const StepMetrics *sm, Err *e) {
    t->step++;
    t->tokens += sm->tokens;
    t->elapsed = t->elapsed0 + progress_elapsed(&t->progress);
    t->last_loss = sm->loss;
    if (dist_rank() == 0 && log_step(t, sm, e)) return -1;
    // every rank takes part in a checkpoint: rank 0 gathers the moments' slices
    if (t->o.save_every > 0 && t->step % t->o.save_every == 0 && t->step < t->o.total_steps)
        return trainer_checkpoint(t, e);
    return 0;
}

int trainer_finish(Trainer *t, Err *e) {
    if (t->saved_step != t->step && trainer_checkpoint(t, e)) return -1;
    int stopped = interrupted_anywhere() ? 1 : 0;
    if (dist_rank() != 0 || (t->o.quiet && t->step == t->o.total_steps)) return stopped;
    progress_end(&t->progress);
    char took[32];
    format_duration(took, sizeof took, t->elapsed);
    if (t->step < t->o.total_steps)
        fprintf(stderr, "%s: %s at step %d/%d; checkpoint saved in %s; continue with the same "
                        "command and --resume\n",
                t->o.stage, stopped ? "interrupted" : "stopped", t->step, t->o.total_steps, t->o.out_dir);
    else
        fprintf(stderr, "%s: done, %d steps, %lld tokens in %s; model in %s\n", t->o.stage, t->step,
                (long long)t->tokens, took, t->o.out_dir);
    return stopped;
}

void trainer_close(Trainer *t) {
    interrupt_restore();
    if (t->metrics) fclose(t->metrics);
    t->metrics = NULL;
    if (t->lock_fd >= 0) close(t->lock_fd);
    t->lock_fd = -1;
}
