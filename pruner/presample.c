// pruner/presample.c -- the pre-sampling run: K samples per problem from the reference
// model, graded, with their lengths and log-probs (format and resume rules in presample.h).
#include "presample.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/io.h"
#include "../data/grade.h"
#include "../engine/dist.h"
#include "../engine/modeldir.h"
#include "../engine/tokset.h"
#include "../engine/interrupt.h"
#include "../engine/progress.h"
#include "../engine/sampler.h"
#include "../engine/trainer.h"

// A finished sample, kept until its problem's block is written.
typedef struct {
    int32_t *ids;
    int n, truncated;
    double mean_logprob;
} Done;

struct Presampler {
    PresampleOpts o;
    Presample want;        // the header this run writes or continues
    Dataset ds;
    ModelDir own;          // the model loaded here (o.loaded NULL) ...
    ModelDir *md;          // ... or the caller's
    TokSet ts;             // the prompts
    Sampler *s;
    SampleRequest *reqs;   // [end - first]
    int fd;                // the locked file until f takes it, else -1
    FILE *f;
    int first, end;        // problems first..end-1 in this run
    Done *done;            // [(end - first) * k]
    int *left;             // [end - first] samples still running
    int next_write;        // the next problem to write
    int req_base;          // sampler_run's request 0 is problem first + req_base
    int in_order;          // write each block once it and those before it are done
                           // (one process; with several ranks rank 0 writes per round)
    double samples_base, tokens_base;  // several ranks: the rounds done so far, all ranks'
    Progress progress;
    double last_sync;
    int failed;
    Err *e;
};

// ---- writing blocks -----------------------------------------------------------------

// Grades and writes problem p's K samples and its summary; frees their ids.
static int write_block(Presampler *r, int p, Err *e) {
    int k = r->o.k;
    double sl = 0, sa = 0;
    for (int j = 0; j < k; j++) {
        Done *d = &r->done[(size_t)(p - r->first) * k + j];
        PresampleItem it;
        int rc = presample_item(r->md->tok, r->o.grader, r->ds.ex[p].answer, p, j, d->ids, d->n, d->truncated,
                                d->mean_logprob, &it, e);
        d->ids = NULL;
        if (rc) return -1;
        sl += it.length;
        sa += it.correct;
        presample_write_sample(r->f, &it);
        free(it.answer);
        free(it.text);
        free(it.ids);
    }
    presample_write_summary(r->f, p, k, sl / k, sa / k);
    return 0;
}

int presample_item(const Tokenizer *tok, GradeMode grader, const char *truth, int p, int j, int32_t *ids, int n,
                   int truncated, double mean_logprob, PresampleItem *it, Err *e) {
    *it = (PresampleItem){.problem = p, .sample = j, .length = sample_solution_len(n, truncated), .n_ids = n,
                          .truncated = truncated, .mean_logprob = mean_logprob, .ids = ids};
    if (tok_decode(tok, ids, (size_t)n, TOK_DEC_SKIP_SPECIAL, &it->text, &it->text_len, e)) {
        free(ids);
        it->ids = NULL;
        return -1;
    }
    it->answer = grade_extract_as(it->text, grader);
    it->correct = it->answer && grade_equal_as(it->answer, truth, grader);
    return 0;
}

// Writes the finished problems that are next in order; syncs at most once a second (a
// crash loses at most that much; the reader cuts a torn end).
static int flush_blocks(Presampler *r, int force, Err *e) {
    int wrote = 0;
    while (r->next_write < r->end && r->left[r->next_write - r->first] == 0) {
        if (write_block(r, r->next_write, e)) return -1;
        r->next_write++;
        wrote = 1;
    }
    double t = wall_seconds();
    if ((wrote && t - r->last_sync >= 1.0) || force) {
        if (io_flush(r->f) || io_fsync(fileno(r->f)))
            return err_fmt(e, "%s: write failed: %s", r->o.out, strerror(errno));
        r->last_sync = t;
    }
    return 0;
}

static int on_sample(void *user, const SampleResult *s) {
    Presampler *r = user;
    int p = r->first + r->req_base + s->request;
    Done *d = &r->done[(size_t)(p - r->first) * r->o.k + s->sample];
    d->ids = malloc((size_t)s->n * sizeof(int32_t));
    if (!d->ids) {
        err_fmt(r->e, "out of memory");
        return r->failed = 1;
    }
    memcpy(d->ids, s->ids, (size_t)s->n * sizeof(int32_t));
    d->n = s->n;
    d->truncated = s->truncated;
    d->mean_logprob = s->mean_logprob;
    r->left[p - r->first]--;
    if (r->in_order && flush_blocks(r, 0, r->e)) return r->failed = 1;
    return 0;
}

static int on_step(void *user, const SamplerStats *st) {
    Presampler *r = user;
    if (interrupt_requested()) return 1;
    Progress *p = &r->progress;
    if (!progress_due(p, 0)) return 0;
    int done = r->next_write - r->first, total = r->end - r->first;
    // several ranks: the round in flight estimated as rank 0's share times the ranks
    int n = r->in_order ? 1 : dist_size();
    double samples = r->samples_base + (double)st->samples_done * n;
    double tokens = r->tokens_base + (double)st->tokens_generated * n;
    double el = progress_elapsed(p);
    el = el > 1e-9 ? el : 1e-9;
    fprintf(stderr, "%spresample: %d/%d problems (%d..%d), %.1f samples/s, %.0f tok/s, ", progress_head(p), done,
            total, r->first, r->end - 1, samples / el, tokens / el);
    progress_eta(p, samples, (double)total * r->o.k);
    return 0;
}

// ---- opening ------------------------------------------------------------------------

// Checks an existing file's header against this run's settings.
static int same_settings(const Presample *ps, const Presample *want, const char *out, Err *e) {
    if (!chat_template_same(&ps->tmpl, &want->tmpl)) {
        char a[200], b[200];
        chat_template_describe(&ps->tmpl, a, sizeof a);
        chat_template_describe(&want->tmpl, b, sizeof b);
        return err_fmt(e, "%s was sampled with the prompt %s, this run asks for %s; to resume, give the same "
                          "prompt options, or use another --out", out, a, b);
    }
    if (ps->grader != want->grader)
        return err_fmt(e, "%s was graded with --grader %s, this run asks for %s; to resume, give the same grader, "
                          "or use another --out", out, grade_mode_name(ps->grader), grade_mode_name(want->grader));
    struct { const char *what; int same; } f[] = {
        {"model", !strcmp(ps->model_path, want->model_path)},
        {"data", !strcmp(ps->data_path, want->data_path)},
        {"n_problems", ps->n_problems_total == want->n_problems_total},
        {"k", ps->k == want->k},
        {"temperature", ps->temperature == want->temperature},
        {"top_p", ps->top_p == want->top_p},
        {"top_k", ps->top_k == want->top_k},
        {"max_new", ps->max_new == want->max_new},
        {"seed", ps->seed == want->seed},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!f[i].same)
            return err_fmt(e, "%s was written with another %s (model %s, data %s, %d problems, k %d, temperature %g, "
                              "top_p %g, top_k %d, max_new %d, seed %llu); to resume, give the same settings, "
                              "or use another --out",
                           out, f[i].what, ps->model_path, ps->data_path, ps->n_problems_total, ps->k, ps->temperature,
                           ps->top_p, ps->top_k, ps->max_new, (unsigned long long)ps->seed);
    return 0;
}

// Opens (create: a new file, which must not exist) the output and takes an exclusive
// lock on it; fails when another process holds it.
static int open_locked(const char *path, int create, Err *e) {
    int fd = open(path, create ? O_RDWR | O_CREAT | O_EXCL : O_RDWR, 0644);
    if (fd < 0) return err_fmt(e, "%s: cannot open: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        close(fd);
        return err_fmt(e, "%s: another process (an `o1p presample` still running?) holds it", path);
    }
    return fd;
}

// Resume: an existing file is locked for the whole run (two runs appending to one file
// would interleave) and its complete blocks are kept: sets first, rep->kept and dropped.
static int find_resume_point(Presampler *r, PresampleReport *rep, Err *e) {
    const char *out = r->o.out;
    struct stat sb;
    if (stat(out, &sb) != 0) return 0;
    if ((r->fd = open_locked(out, 0, e)) < 0) return -1;
    char *text;
    size_t len;
    if (read_file(out, &text, &len, e)) return -1;
    int any_line = memchr(text, '\n', len) != NULL;
    free(text);
    if (!any_line) return 0;  // a file without one complete line holds nothing: start over
    Presample have;
    if (presample_load(out, &have, e)) return err_wrap(e, "cannot resume (move the file away to start over)");
    int bad = have.converted ? err_fmt(e, "%s counts the end token in its lengths (an older o1p): resuming would "
                                          "mix two counts; sample into a new --out", out)
                             : same_settings(&have, &r->want, out, e);
    if (!bad) {
        int rc = presample_check_sources(&have, out, &r->want.src, r->o.model, r->o.data, e);
        bad = rc < 0;
        rep->unverified = rc > 0;
    }
    r->first = have.n_problems;
    rep->kept = have.complete_bytes;
    rep->dropped = rep->kept < (size_t)sb.st_size ? (size_t)sb.st_size - rep->kept : 0;
    presample_free(&have);
    return bad ? -1 : 0;
}

// The dataset and the header it gives.
static int load_dataset(Presampler *r, Err *e) {
    const PresampleOpts *o = &r->o;
    if (dataset_load(o->data, &r->ds, e)) return -1;
    Presample *w = &r->want;
    snprintf(w->model_path, sizeof w->model_path, "%s", o->model);
    snprintf(w->data_path, sizeof w->data_path, "%s", o->data);
    w->n_problems_total = r->ds.n;
    w->k = o->k;
    w->temperature = o->temperature;
    w->top_p = o->top_p;
    w->top_k = o->top_k;
    w->max_new = o->max_new;
    w->seed = o->seed;
    w->grader = o->grader;
    return 0;
}

// The model and the prompts under the template, each of which must leave room in its
// context to answer.
static int load_model(Presampler *r, Err *e) {
    const PresampleOpts *o = &r->o;
    r->md = o->loaded ? o->loaded : &r->own;
    if ((!o->loaded && model_dir_load(&r->own, o->model, o->kernels, 1, e)) ||
        model_dir_resolve_template(o->model, &o->prompt, &r->want.tmpl, e) ||
        examples_tokenize(r->md->tok, &r->ds, o->data, &r->want.tmpl, EX_PROMPTS_ONLY, &r->ts, e))
        return -1;
    int ctx = r->md->m.cfg.max_seq_len;
    for (int i = 0; i < r->ds.n; i++)
        if (r->ts.ex[i].prompt_len >= ctx)
            return err_fmt(e, "%s: problem %d: the prompt has %d tokens; the model's context (%d) leaves no room to answer",
                           o->data, i + 1, r->ts.ex[i].prompt_len, ctx);
    return 0;
}

// The sampler and one request per problem of this run.
static int plan_requests(Presampler *r, DecodeMemory *mem, Err *e) {
    const PresampleOpts *o = &r->o;
    int n_run = r->end - r->first, ctx = r->md->m.cfg.max_seq_len;
    int max_p = 0;
    for (int i = r->first; i < r->end; i++)
        if (r->ts.ex[i].prompt_len > max_p) max_p = r->ts.ex[i].prompt_len;
    int max_len = sampler_max_len(max_p, o->max_new, ctx);
    int32_t stop[2];
    SamplerOpts so = {o->slots, max_len, 256, stop, chat_stop_ids(&r->md->chat, stop),
                      model_dir_sample_ids(r->md, o->model, o->quiet)};
    if (run_decode_memory(&r->md->m, r->md->tok, &so, mem, e)) return -1;
    if (!(r->s = sampler_create(&r->md->m, &so, e))) return -1;
    r->reqs = calloc((size_t)n_run, sizeof *r->reqs);
    r->done = calloc((size_t)n_run * o->k, sizeof *r->done);
    r->left = malloc((size_t)n_run * sizeof *r->left);
    if (!r->reqs || !r->done || !r->left) return err_fmt(e, "out of memory for %d problems", n_run);
    for (int i = 0; i < n_run; i++) {
        const TokExample *x = &r->ts.ex[r->first + i];
        r->reqs[i] = (SampleRequest){(const int32_t *)x->prompt, x->prompt_len, o->k,
                                     sampler_new_tokens(max_len, x->prompt_len, o->max_new), (float)o->temperature,
                                     o->top_k, (float)o->top_p, o->seed, (uint64_t)(r->first + i)};
        r->left[i] = o->k;
    }
    return 0;
}

// The file: a fresh header, or the kept part of the old one; then append. (A torn
// header is no loss: a file without a complete line is started over.)
static int open_output(Presampler *r, size_t keep, Err *e) {
    const char *out = r->o.out;
    if (r->fd < 0 && (r->fd = open_locked(out, 1, e)) < 0) return -1;
    if (ftruncate(r->fd, (off_t)keep) || lseek(r->fd, 0, SEEK_END) < 0 || !(r->f = fdopen(r->fd, "ab")))
        return err_fmt(e, "%s: cannot cut it to its %zu complete bytes: %s", out, keep, strerror(errno));
    r->fd = -1;  // (closed with r->f)
    if (keep > 0) return 0;
    presample_write_header(r->f, &r->want);
    if (io_flush(r->f) || io_fsync(fileno(r->f))) return err_fmt(e, "%s: write failed: %s", out, strerror(errno));
    return 0;
}

// ---- several ranks -------------------------------------------------------------------
// The problems go in rounds of N x chunk: rank r samples its contiguous share of the
// round, the samples are gathered on rank 0 in rank order (the problems' order) and rank
// 0 writes the round's blocks. Sample j of problem i draws from stream (seed, i, j)
// whichever rank samples it, so the file is the one a single process writes.

// The header's settings, the run's end and the fingerprints of model, tokenizer, data.
static uint64_t settings_hash(const Presample *w, int limit) {
    uint64_t h = fnv1a(FNV_OFFSET, w->model_path, strlen(w->model_path));
    h = fnv1a(h, w->data_path, strlen(w->data_path));
    double x[] = {w->n_problems_total, w->k, w->temperature, w->top_p, w->top_k, w->max_new, (double)w->seed, limit};
    h = fnv1a(h, x, sizeof x);
    return fnv1a(h, &w->src, sizeof w->src);
}

// Problems lo..hi-1's samples as bytes, per sample: n, truncated (int32), mean_logprob
// (double), ids[n] (int32). Frees their ids.
static int pack_samples(Presampler *r, int lo, int hi, char **buf, size_t *len, Err *e) {
    FILE *f = open_memstream(buf, len);
    if (!f) return err_fmt(e, "out of memory for the samples of problems %d..%d", lo, hi - 1);
    for (int p = lo; p < hi; p++)
        for (int j = 0; j < r->o.k; j++) {
            Done *d = &r->done[(size_t)(p - r->first) * r->o.k + j];
            int32_t h[2] = {d->n, d->truncated};
            fwrite(h, sizeof h, 1, f);
            fwrite(&d->mean_logprob, sizeof d->mean_logprob, 1, f);
            fwrite(d->ids, sizeof(int32_t), (size_t)d->n, f);
            free(d->ids);
            d->ids = NULL;
        }
    if (fclose(f)) return err_fmt(e, "out of memory for the samples of problems %d..%d", lo, hi - 1);
    return 0;
}

// The inverse, on rank 0: the samples of problems lo..hi-1 from buf, all done.
static int unpack_samples(Presampler *r, int lo, int hi, const char *buf, size_t len, Err *e) {
    size_t off = 0, head = 2 * sizeof(int32_t) + sizeof(double);
    for (int p = lo; p < hi; p++) {
        for (int j = 0; j < r->o.k; j++) {
            Done *d = &r->done[(size_t)(p - r->first) * r->o.k + j];
            int32_t h[2];
            if (off + head > len) return err_fmt(e, "rank 0 received %zu bytes: short of problem %d", len, p);
            memcpy(h, buf + off, sizeof h);
            memcpy(&d->mean_logprob, buf + off + sizeof h, sizeof(double));
            off += head;
            size_t nb = (size_t)h[0] * sizeof(int32_t);
            if (h[0] < 0 || off + nb > len) return err_fmt(e, "rank 0 received %zu bytes: short of problem %d", len, p);
            if (!(d->ids = malloc(nb ? nb : 1))) return err_fmt(e, "out of memory");
            memcpy(d->ids, buf + off, nb);
            off += nb;
            d->n = h[0];
            d->truncated = h[1];
        }
        r->left[p - r->first] = 0;
    }
    return 0;
}

// Samples problems first..end-1 round by round (above). A rank that fails returns -1
// at once (the command line then ends the job); an interruption on any rank stops all
// after the round in flight, which is not written. Returns as presample_sample.
static int sample_ranks(Presampler *r, PresampleReport *rep, Err *e) {
    int size = dist_size(), rank = dist_rank();
    int chunk = 4 * ((r->o.slots + r->o.k - 1) / r->o.k);  // fills a rank's slots a few times
    SamplerCallbacks cb = {r, NULL, on_sample, on_step};
    for (int a = r->first; a < r->end; a += size * chunk) {
        int b = r->end - a < size * chunk ? r->end : a + size * chunk, lo, hi;
        dist_share(b - a, rank, size, &lo, &hi);
        r->req_base = a + lo - r->first;
        int sr = hi > lo ? sampler_run(r->s, r->reqs + r->req_base, hi - lo, &cb, e) : 0;
        if (r->failed || sr < 0) return -1;
        double tokens = hi > lo ? (double)sampler_stats(r->s)->tokens_generated : 0;
        dist_sum_doubles(&tokens, 1);
        rep->tokens_generated += (uint64_t)tokens;
        r->samples_base += (double)(b - a) * r->o.k;
        r->tokens_base = (double)rep->tokens_generated;
        if (dist_max_int(sr)) return 1;
        char *mine, *all;
        size_t n_mine, n_all;
        if (pack_samples(r, a + lo, a + hi, &mine, &n_mine, e)) return -1;
        int rc = dist_gather_bytes(mine, n_mine, &all, &n_all, e);
        free(mine);
        if (!rc && rank == 0) rc = unpack_samples(r, a, b, all, n_all, e) || flush_blocks(r, 1, e);
        free(all);
        if (rc) return -1;
    }
    return 0;
}

Presampler *presample_open(const PresampleOpts *o, PresampleReport *rep, Err *e) {
    memset(rep, 0, sizeof *rep);
    Presampler *r = calloc(1, sizeof *r);
    if (!r) {
        err_fmt(e, "out of memory");
        return NULL;
    }
    r->o = *o;
    r->fd = -1;
    // With several ranks, rank 0 alone reads and writes the file and tells the others
    // where it resumes.
    int writer = dist_rank() == 0;
    if ((writer && output_check(o->out, e)) || load_dataset(r, e) || load_model(r, e) ||
        presample_sources(o->model, &r->md->m, o->data, &r->want.src, e) ||
        dist_check_same(settings_hash(&r->want, o->limit), "presample options, model or data", e) ||
        (writer && find_resume_point(r, rep, e)))
        goto fail;
    dist_bcast(&r->first, sizeof r->first, 0);
    r->end = o->limit > 0 && o->limit < r->ds.n ? o->limit : r->ds.n;
    rep->n_problems = r->ds.n;
    rep->first = r->first;
    rep->end = r->end;
    rep->done = r->first;
    if (r->first < r->end && (plan_requests(r, &rep->memory, e) || (writer && open_output(r, rep->kept, e)))) goto fail;
    return r;
fail:
    presample_close(r);
    return NULL;
}

int presample_sample(Presampler *r, PresampleReport *rep, Err *e) {
    if (r->first >= r->end) return 0;
    r->next_write = r->first;
    r->progress = progress_start(r->o.quiet);
    r->last_sync = r->progress.t0;
    r->e = e;
    interrupt_install();
    SamplerCallbacks cb = {r, NULL, on_sample, on_step};
    int sr;
    if (dist_size() > 1) {
        sr = sample_ranks(r, rep, e);
    } else {
        r->in_order = 1;
        sr = sampler_run(r->s, r->reqs, r->end - r->first, &cb, e);
        rep->tokens_generated = sampler_stats(r->s)->tokens_generated;
    }
    interrupt_restore();
    progress_end(&r->progress);
    int fr = r->failed || sr < 0 ? -1 : r->f ? flush_blocks(r, 1, e) : 0;
    if (r->f && fclose(r->f) && !fr) fr = err_fmt(e, "%s: write failed: %s", r->o.out, strerror(errno));
    r->f = NULL;
    rep->done = r->next_write;
    rep->seconds = progress_elapsed(&r->progress);
    if (fr) return -1;
    return sr > 0;
}

void presample_close(Presampler *r) {
    if (!r) return;
    if (r->f) fclose(r->f);
    if (r->fd >= 0) close(r->fd);
    if (r->done)
        for (size_t i = 0; i < (size_t)(r->end - r->first) * r->o.k; i++) free(r->done[i].ids);
    free(r->done);
    free(r->left);
    free(r->reqs);
    sampler_free(r->s);
    tokset_free(&r->ts);
    model_dir_free(&r->own);
    dataset_free(&r->ds);
    free(r);
}
