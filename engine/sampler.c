// engine/sampler.c -- batched sampling with a KV cache (see sampler.h for the scheme).
#include "sampler.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

// ---- the batched sampler ------------------------------------------------------------

// Most token rows in one model_decode_step call. Up to the backend's max_rows_invariant
// rows (kernels/kernels.h) a row's bits do not depend on the call's size, so a step cut
// into such calls samples the same tokens however many sequences share it. 0 (any size)
// leaves the step whole, and so does -1 (nothing promised, so cutting buys nothing): one
// pass over the weights per step, however many slots.
static int sampler_call_rows(const Model *m, int rows) {
    int most = m->k->max_rows_invariant;
    return most > 0 && most < rows ? most : rows;
}

// What the host gets of a step's logits row, by its request's settings (fetch_rows).
typedef enum {
    ROW_GREEDY,       // temperature 0: the argmax and its log-prob (argmax_logprob)
    ROW_TEMPERATURE,  // a temperature alone: the draws (temperature_draws)
    ROW_CANDIDATES,   // top-p or top-k: the candidates (sampling_candidates), their logits
                      // in Sampler.logits' row
} RowKind;

// Per logits row of a step, and per draw at a temperature alone (a slot's; a prefill's
// followers draw from their leader's row), in one allocation `mem`: STEP_ROW_DOUBLES
// double and STEP_ROW_INTS int arrays of [slots], then ids [slots, V], then kind [slots].
enum { STEP_ROW_DOUBLES = 8, STEP_ROW_INTS = 6 };
typedef struct {
    void *mem;
    unsigned char *kind;          // RowKind
    int *tok;                     // ROW_GREEDY: the argmax ...
    double *lp;                   // ... and its log-prob
    double *inv_t, *cut;          // the request's 1 / T; ROW_CANDIDATES: (1 - p) / 2V, ...
    int *top_k;                   // ... top-k ...
    int *count, *ids;             // ... the candidates
    double *z, *lse1;
    int *draw_slot, *draw_row;    // ROW_TEMPERATURE: the slot and row of each draw, ...
    double *draw_inv_t, *draw_u;  // its 1 / T and uniform
    int *draw_tok;                // ... and the token drawn
    double *draw_lp;              // and its log-prob
} StepRows;

typedef enum {
    SLOT_FREE,
    SLOT_PREFILL,  // prompt tokens 0..P-2 being prefilled (chunked), then P-1 with logits
    SLOT_FOLLOW,   // waits for the sibling `leader` to finish its prefill, then shares it
    SLOT_DECODE,   // feeds `feed` at position `feed_pos` each step and samples the next
    SLOT_HELD,     // its sample is done, but siblings still read the prompt in it
} SlotState;

typedef struct {
    SlotState state;
    int req, sample;
    int P;           // prompt length
    int prefilled;   // prompt tokens 0..prefilled-1 in the cache (SLOT_PREFILL)
    int leader;      // SLOT_FOLLOW: the slot being prefilled
    int pslot, plen; // positions 0..plen-1 of the sequence are in slot pslot (the prompt)
    int refs;        // slots whose pslot is this one
    int32_t next;    // the token drawn this step ...
    double next_lp;  // ... and its log-prob at temperature 1
    int32_t feed;    // SLOT_DECODE: the token fed this step ...
    int feed_pos;    // ... at this position
    int row;         // this step's logits row, or -1
    int n_gen;
    int32_t *gen;    // [max_len] generated ids
    double sum_lp;
    Rng rng;
} Slot;

struct Sampler {
    Model *m;
    KVCache kv;
    int slots, max_len, chunk, V;  // V: the model's vocab (logits row stride)
    int n_ids;                     // ids that may be sampled (<= V)
    int max_N;          // rows per model_decode_step call
    int32_t stop[SAMPLER_MAX_STOP];
    int n_stop;
    Slot *slot;         // [slots]
    int32_t *gen_mem;   // [slots, max_len]
    int *step_mem;      // one allocation: tokens, slots, positions, prefix slots and lengths
    int *tok, *sl, *pos, *psl, *plen;  // [slots + chunk] each
    float *logits;      // [slots, V] host: a ROW_CANDIDATES row's candidates' logits
    StepRows rows;      // what the host has of each logits row of a step
    SampleScratch *sc;  // [n_sc]: one per thread, the draws of a step run in parallel
    int n_sc;
    SamplerStats st;
};

void sampler_free(Sampler *s) {
    if (!s) return;
    kvcache_free(&s->kv, s->m);
    free(s->slot);
    free(s->gen_mem);
    free(s->step_mem);
    free(s->logits);
    free(s->rows.mem);
    for (int i = 0; i < s->n_sc; i++) sample_scratch_free(&s->sc[i]);
    free(s->sc);
    free(s);
}

// sampler_create's sizes: the options with their defaults, checked against m's config.
typedef struct {
    int slots, max_len, chunk, n_ids;
    int max_N;  // rows per model_decode_step call
} SamplerPlan;

static int sampler_plan(const Model *m, const SamplerOpts *o, SamplerPlan *p, Err *e) {
    const Config *c = &m->cfg;
    p->slots = o->slots > 0 ? o->slots : 16;
    p->max_len = o->max_len > 0 ? o->max_len : c->max_seq_len;
    p->chunk = o->prefill_chunk > 0 ? o->prefill_chunk : 256;
    p->n_ids = o->n_ids > 0 ? o->n_ids : c->vocab_size;
    p->max_N = sampler_call_rows(m, p->slots + p->chunk);
    if (p->max_len > c->max_seq_len)
        return err_fmt(e, "a sampling context of %d positions exceeds the model's max_position_embeddings = %d",
                       p->max_len, c->max_seq_len);
    if (o->n_stop < 0 || o->n_stop > SAMPLER_MAX_STOP)
        return err_fmt(e, "%d stop tokens given; at most %d", o->n_stop, SAMPLER_MAX_STOP);
    if (p->n_ids > c->vocab_size)
        return err_fmt(e, "%d sampled ids asked for; the model's vocab_size is %d", p->n_ids, c->vocab_size);
    for (int i = 0; i < o->n_stop; i++)
        if (o->stop_ids[i] < 0 || o->stop_ids[i] >= p->n_ids)
            return err_fmt(e, "stop token id %d is outside the vocab (%d ids)", (int)o->stop_ids[i], p->n_ids);
    return 0;
}

// The host buffers of plan p, in bytes, with n_sc sampling scratches.
typedef struct {
    size_t slot, gen, step, logits, rows, scratch;
} HostBytes;

static HostBytes host_bytes(const SamplerPlan *p, int V, int n_sc) {
    return (HostBytes){
        .slot = (size_t)p->slots * sizeof(Slot),
        .gen = (size_t)p->slots * p->max_len * sizeof(int32_t),  // [slots, max_len]
        .step = 5 * (size_t)(p->slots + p->chunk) * sizeof(int),  // tokens, slots, positions, prefixes
        .logits = (size_t)p->slots * V * sizeof(float),           // [slots, V]
        .rows = (size_t)p->slots * (STEP_ROW_DOUBLES * sizeof(double) + (STEP_ROW_INTS + (size_t)V) * sizeof(int) + 1),
        .scratch = (size_t)n_sc * (sizeof(SampleScratch) + (size_t)p->n_ids * sizeof(SampleCand)),
    };
}

int sampler_max_len(int max_prompt, int max_new, int ctx) {
    return max_new > 0 && max_prompt + max_new < ctx ? max_prompt + max_new : ctx;
}

int sampler_new_tokens(int max_len, int prompt_len, int max_new) {
    int room = max_len - prompt_len;
    return max_new > 0 && max_new < room ? max_new : room;
}

int sampler_memory(const Model *m, const SamplerOpts *o, SamplerMemory *mem, Err *e) {
    SamplerPlan p;
    if (sampler_plan(m, o, &p, e)) return -1;
    KVCacheBytes kv = kvcache_bytes(&m->cfg, m->k, p.slots, p.max_len, p.max_N);
    HostBytes h = host_bytes(&p, m->cfg.vocab_size, omp_get_max_threads());
    *mem = (SamplerMemory){.kv_cache = kv.cache, .step = kv.step,
                           .host = h.slot + h.gen + h.step + h.logits + h.rows + h.scratch};
    return 0;
}

Sampler *sampler_create(Model *m, const SamplerOpts *o, Err *e) {
    SamplerPlan p;
    if (sampler_plan(m, o, &p, e)) return NULL;
    Sampler *s = calloc(1, sizeof *s);
    if (!s) {
        err_fmt(e, "out of memory for a sampler");
        return NULL;
    }
    int slots = p.slots, max_len = p.max_len, chunk = p.chunk;
    s->m = m;
    s->slots = slots;
    s->max_len = max_len;
    s->chunk = chunk;
    s->max_N = p.max_N;
    s->V = m->cfg.vocab_size;
    s->n_ids = p.n_ids;
    s->n_stop = o->n_stop;
    if (o->n_stop) memcpy(s->stop, o->stop_ids, (size_t)o->n_stop * sizeof(int32_t));
    if (kvcache_create(&s->kv, m, slots, max_len, s->max_N, e)) {
        free(s);
        return NULL;
    }
    int n_sc = omp_get_max_threads();
    HostBytes h = host_bytes(&p, s->V, n_sc);
    s->slot = calloc(1, h.slot);
    s->gen_mem = malloc(h.gen);
    s->step_mem = malloc(h.step);
    s->logits = malloc(h.logits);
    StepRows *r = &s->rows;
    r->mem = malloc(h.rows);
    s->sc = calloc((size_t)n_sc, sizeof *s->sc);
    int ok = s->slot && s->gen_mem && s->step_mem && s->logits && r->mem && s->sc;
    for (int i = 0; ok && i < n_sc; i++, s->n_sc++) ok = !sample_scratch_init(&s->sc[i], s->n_ids, e);
    if (!ok) {
        sampler_free(s);
        err_fmt(e, "out of memory for a sampler of %d slots x %d positions", slots, max_len);
        return NULL;
    }
    double **doubles[STEP_ROW_DOUBLES] = {&r->lp, &r->inv_t, &r->cut, &r->z, &r->lse1, &r->draw_inv_t, &r->draw_u,
                                          &r->draw_lp};
    int **ints[STEP_ROW_INTS] = {&r->tok, &r->count, &r->top_k, &r->draw_slot, &r->draw_row, &r->draw_tok};
    for (int i = 0; i < STEP_ROW_DOUBLES; i++) *doubles[i] = (double *)r->mem + (size_t)i * slots;
    for (int i = 0; i < STEP_ROW_INTS; i++) *ints[i] = (int *)((double *)r->mem + STEP_ROW_DOUBLES * slots) + i * slots;
    r->ids = *ints[STEP_ROW_INTS - 1] + slots;
    r->kind = (unsigned char *)(r->ids + (size_t)slots * s->V);
    s->tok = s->step_mem;
    s->sl = s->tok + slots + chunk;
    s->pos = s->sl + slots + chunk;
    s->psl = s->pos + slots + chunk;
    s->plen = s->psl + slots + chunk;
    for (int i = 0; i < slots; i++) s->slot[i].gen = s->gen_mem + (size_t)i * max_len;
    return s;
}

const SamplerStats *sampler_stats(const Sampler *s) { return &s->st; }

int sample_solution_len(int n, int truncated) { return truncated ? n : n - 1; }

int sampler_check(const Sampler *s, const SampleRequest *r, int i, Err *e) {
    if (r->prompt_len < 1) return err_fmt(e, "request %d: empty prompt", i);
    if (r->prompt_len >= s->max_len)
        return err_fmt(e, "request %d: the prompt has %d tokens; the context holds %d (prompt + at least one generated token)",
                       i, r->prompt_len, s->max_len);
    if (r->k < 1) return err_fmt(e, "request %d: k = %d samples; expected k >= 1", i, r->k);
    if (r->max_new < 1) return err_fmt(e, "request %d: max_new = %d; expected >= 1", i, r->max_new);
    if (!(r->temperature >= 0) || !isfinite(r->temperature))
        return err_fmt(e, "request %d: temperature %g; expected a finite number >= 0", i, r->temperature);
    if (!(r->top_p > 0 && r->top_p <= 1))
        return err_fmt(e, "request %d: top_p %g; expected 0 < top_p <= 1", i, r->top_p);
    if (r->top_k < 0) return err_fmt(e, "request %d: top_k %d; expected >= 0", i, r->top_k);
    for (int t = 0; t < r->prompt_len; t++)
        if (r->prompt[t] < 0 || r->prompt[t] >= s->V)
            return err_fmt(e, "request %d: prompt token %d has id %d, outside the vocab (vocab_size = %d)",
                           i, t, (int)r->prompt[t], s->V);
    return 0;
}

typedef struct {
    Sampler *s;
    const SampleRequest *reqs;
    int n_reqs;
    const SamplerCallbacks *cb;
    int *left;           // [n_reqs] samples not yet done
    int next_r, next_j;  // the next sample waiting for a slot: sample next_j of request next_r
} Run;

// Slot i's sequence reads positions 0..n-1 from slot owner (which holds its prompt).
static void share_prompt(Sampler *s, int i, int owner, int n) {
    s->slot[i].pslot = owner;
    s->slot[i].plen = n;
    s->slot[owner].refs++;
    s->st.prefills_shared++;
}

// Slot i's sample is done: the slot is free unless siblings still read its prompt, and
// the slot it read its own prompt from loses a reader.
static void release(Sampler *s, int i) {
    Slot *q = &s->slot[i];
    q->state = q->refs ? SLOT_HELD : SLOT_FREE;
    if (!q->plen) return;
    Slot *o = &s->slot[q->pslot];
    if (--o->refs == 0 && o->state == SLOT_HELD) o->state = SLOT_FREE;
}

// Takes the token drawn for slot i; frees the slot when the sample ends. Returns non-zero
// when a callback asks to stop.
static int take_token(Run *run, int i) {
    Sampler *s = run->s;
    Slot *q = &s->slot[i];
    const SampleRequest *r = &run->reqs[q->req];
    int32_t t = q->next;
    q->gen[q->n_gen++] = t;
    q->sum_lp += q->next_lp;
    s->st.tokens_generated++;
    const SamplerCallbacks *cb = run->cb;
    if (cb->on_token && cb->on_token(cb->user, q->req, q->sample, t)) return 1;
    int stop = 0;
    for (int j = 0; j < s->n_stop; j++) stop |= t == s->stop[j];
    // The token would be fed at position P + n_gen - 1 next step.
    int full = q->n_gen >= r->max_new || q->P + q->n_gen - 1 >= s->max_len;
    if (!stop && !full) {
        q->state = SLOT_DECODE;
        q->feed = t;
        q->feed_pos = q->P + q->n_gen - 1;
        return 0;
    }
    SampleResult res = {q->req, q->sample, q->gen, q->n_gen, stop, !stop,
                        q->sum_lp / q->n_gen, q->sum_lp};
    release(s, i);
    s->st.samples_done++;
    if (--run->left[q->req] == 0) s->st.requests_done++;
    if (cb->on_sample && cb->on_sample(cb->user, &res)) return 1;
    return 0;
}

// Puts sample j of request r into free slot i: reads the prompt from a sibling's slot
// when one holds it, else starts a prefill.
static void admit(Run *run, int i, int r, int j) {
    Sampler *s = run->s;
    const SampleRequest *rq = &run->reqs[r];
    Slot *q = &s->slot[i];
    memset(q, 0, sizeof *q);
    q->gen = s->gen_mem + (size_t)i * s->max_len;
    q->req = r;
    q->sample = j;
    q->P = rq->prompt_len;
    q->rng = rng_derive(rq->seed, rq->id, (uint64_t)j);
    q->pslot = i;
    q->state = SLOT_PREFILL;
    for (int o = 0; o < s->slots; o++) {
        Slot *b = &s->slot[o];
        if (o == i || b->req != r) continue;
        if (b->state == SLOT_DECODE || b->state == SLOT_HELD) {
            // The prompt of a running or held sibling is in the cache at 0..P-2 (at least),
            // in its slot or in the one it reads: read it there, then feed the last prompt
            // token to get the first logits.
            share_prompt(s, i, b->plen ? b->pslot : o, q->P - 1);
            q->state = SLOT_DECODE;
            q->feed = rq->prompt[q->P - 1];
            q->feed_pos = q->P - 1;
            return;
        }
        if (b->state == SLOT_PREFILL) {
            q->state = SLOT_FOLLOW;
            q->leader = o;
            return;
        }
    }
}

// Step 1, admission: waiting samples, in order, into free slots.
static void admit_waiting(Run *run) {
    Sampler *s = run->s;
    for (int i = 0; i < s->slots && run->next_r < run->n_reqs; i++) {
        if (s->slot[i].state != SLOT_FREE) continue;
        admit(run, i, run->next_r, run->next_j);
        if (++run->next_j == run->reqs[run->next_r].k) run->next_r++, run->next_j = 0;
    }
}

// A row's kind by its request's settings, and its parameters.
static void set_row_kind(Sampler *s, int row, const SampleRequest *r) {
    StepRows *x = &s->rows;
    if (r->temperature <= 0) {
        x->kind[row] = ROW_GREEDY;
        return;
    }
    x->inv_t[row] = 1.0 / r->temperature;
    x->kind[row] = r->top_k > 0 || r->top_p < 1 ? ROW_CANDIDATES : ROW_TEMPERATURE;
    x->top_k[row] = r->top_k;
    x->cut[row] = (1.0 - r->top_p) / (2.0 * s->n_ids);
}

// Step 2, the rows of the step: prompt chunks without logits first, then one logits token
// per slot (the slot's row). Returns the number of rows; *first_out is the first logits row.
static int plan_rows(Run *run, int *first_out) {
    Sampler *s = run->s;
    int n = 0, budget = s->chunk;
    for (int i = 0; i < s->slots; i++) {
        Slot *q = &s->slot[i];
        q->row = -1;
        if (q->state != SLOT_PREFILL) continue;
        const int32_t *p = run->reqs[q->req].prompt;
        while (q->prefilled < q->P - 1 && budget > 0) {
            s->tok[n] = p[q->prefilled];
            s->sl[n] = s->psl[n] = i;
            s->plen[n] = 0;
            s->pos[n++] = q->prefilled++;
            budget--;
        }
    }
    *first_out = n;
    for (int i = 0; i < s->slots; i++) {
        Slot *q = &s->slot[i];
        if (q->state == SLOT_PREFILL && q->prefilled == q->P - 1) {
            s->tok[n] = run->reqs[q->req].prompt[q->P - 1];
            s->pos[n] = q->P - 1;
        } else if (q->state == SLOT_DECODE) {
            s->tok[n] = q->feed;
            s->pos[n] = q->feed_pos;
        } else {
            continue;
        }
        s->sl[n] = i;
        s->psl[n] = q->pslot;
        s->plen[n] = q->plen;
        q->row = n++ - *first_out;
        set_row_kind(s, q->row, &run->reqs[q->req]);
    }
    return n;
}

// The draws from the call's ROW_TEMPERATURE rows r0 .. r0 + n_out - 1, one per slot
// reading such a row: its uniform from its own stream, the draw on the backend.
static void draw_at_temperature(Sampler *s, int r0, int n_out) {
    StepRows *x = &s->rows;
    int n = 0;
    for (int i = 0; i < s->slots; i++) {
        Slot *q = &s->slot[i];
        if (q->row < r0 || q->row >= r0 + n_out || x->kind[q->row] != ROW_TEMPERATURE) continue;
        x->draw_slot[n] = i;
        x->draw_row[n] = q->row - r0;
        x->draw_inv_t[n] = x->inv_t[q->row];
        x->draw_u[n++] = rng_double(&q->rng);
    }
    s->m->k->temperature_draws(x->draw_tok, x->draw_lp, s->kv.logits, x->draw_row, x->draw_inv_t, x->draw_u, n,
                               s->n_ids, s->V);
    for (int d = 0; d < n; d++) {
        Slot *q = &s->slot[x->draw_slot[d]];
        q->next = x->draw_tok[d];
        q->next_lp = x->draw_lp[d];
    }
}

// What the host needs of a call's logits rows, rows r0 .. r0 + n_out - 1 of the step, a
// run of like rows at a time (RowKind): never a whole row.
static void fetch_rows(Sampler *s, int r0, int n_out) {
    const Kernels *k = s->m->k;
    const float *lg = s->kv.logits;
    StepRows *x = &s->rows;
    size_t V = (size_t)s->V;
    for (int r = 0, end; r < n_out; r = end) {
        int kind = x->kind[r0 + r], i = r0 + r;
        for (end = r + 1; end < n_out && x->kind[r0 + end] == kind;) end++;
        int n = end - r;
        if (kind == ROW_GREEDY)
            k->argmax_logprob(x->tok + i, x->lp + i, lg + r * V, n, s->n_ids, s->V);
        else if (kind == ROW_CANDIDATES)
            k->sampling_candidates(x->count + i, x->ids + i * V, s->logits + i * V, x->z + i, x->lse1 + i,
                                   lg + r * V, x->inv_t + i, x->cut + i, x->top_k + i, n, s->n_ids, s->V);
    }
    draw_at_temperature(s, r0, n_out);
}

// Step 3: siblings waiting for a prefill that finishes in this step share its logits row
// now and read its prompt (0..P-1) from the next step on.
static void follow_leaders(Sampler *s) {
    for (int i = 0; i < s->slots; i++) {
        Slot *q = &s->slot[i];
        if (q->state != SLOT_FOLLOW || s->slot[q->leader].row < 0) continue;
        share_prompt(s, i, q->leader, q->P);
        q->row = s->slot[q->leader].row;
    }
}

// Step 4: runs the model on the step's n rows; what the host needs of the logits rows
// first_out.. (fetch_rows).
static void decode_rows(Sampler *s, int n, int first_out) {
    // Calls of at most max_N rows, in order (a call's keys and values are in the cache
    // for the next). A call of prompt tokens only still computes one logits row, unread:
    // every call has a head of at least one row.
    for (int c0 = 0; c0 < n; c0 += s->max_N) {
        int len = n - c0 < s->max_N ? n - c0 : s->max_N;
        int out0 = c0 > first_out ? c0 : first_out, n_out = c0 + len - out0;
        model_decode_step(s->m, &s->kv, s->tok + c0, s->sl + c0, s->pos + c0, s->psl + c0, s->plen + c0,
                          len, n_out > 0 ? n_out : 1, NULL);
        if (n_out > 0) fetch_rows(s, out0 - first_out, n_out);
    }
    s->st.steps++;
    s->st.prompt_tokens += (uint64_t)first_out;
    for (int i = 0; i < s->slots; i++)
        if (s->slot[i].state == SLOT_PREFILL && s->slot[i].row >= 0)
            s->st.prompt_tokens++;
}

// Step 5, sample: the draws in parallel (each slot has its own stream, so the result does
// not depend on the threads), then the bookkeeping and callbacks in slot order. Returns
// non-zero when a callback asks to stop.
static int sample_rows(Run *run) {
    Sampler *s = run->s;
#pragma omp parallel for schedule(dynamic, 1) num_threads(s->n_sc)
    for (int i = 0; i < s->slots; i++) {
        Slot *q = &s->slot[i];
        if (q->row < 0) continue;
        const SampleRequest *r = &run->reqs[q->req];
        const StepRows *x = &s->rows;
        size_t row = (size_t)q->row;
        if (x->kind[row] == ROW_GREEDY) {
            q->next = x->tok[row];
            q->next_lp = x->lp[row];
        } else if (x->kind[row] == ROW_CANDIDATES) {
            q->next = sample_from_candidates(&s->sc[omp_get_thread_num()], x->ids + row * s->V,
                                             s->logits + row * s->V, x->count[row], x->z[row], x->lse1[row],
                                             r->temperature, r->top_k, r->top_p, &q->rng, &q->next_lp);
        }  // ROW_TEMPERATURE: drawn with the call (draw_at_temperature)
    }
    int rc = 0;
    for (int i = 0; i < s->slots && !rc; i++)
        if (s->slot[i].row >= 0) rc = take_token(run, i);
    const SamplerCallbacks *cb = run->cb;
    if (!rc && cb->on_step) rc = cb->on_step(cb->user, &s->st);
    return rc;
}

int sampler_run(Sampler *s, const SampleRequest *reqs, int n_reqs, const SamplerCallbacks *cb,
                Err *e) {
    static const SamplerCallbacks none = {0};
    memset(&s->st, 0, sizeof s->st);
    for (int i = 0; i < n_reqs; i++)
        if (sampler_check(s, &reqs[i], i, e)) return -1;
    Run run = {s, reqs, n_reqs, cb ? cb : &none, malloc((size_t)(n_reqs > 0 ? n_reqs : 1) * sizeof(int)), 0, 0};
    if (!run.left) return err_fmt(e, "out of memory for %d requests", n_reqs);
    for (int i = 0; i < n_reqs; i++) run.left[i] = reqs[i].k;
    for (int i = 0; i < s->slots; i++) s->slot[i].state = SLOT_FREE;
    int rc = 0;
    for (;;) {
        admit_waiting(&run);
        int first_out, n = plan_rows(&run, &first_out);
        if (n == 0) break;  // nothing running, nothing waiting
        follow_leaders(s);
        decode_rows(s, n, first_out);
        if ((rc = sample_rows(&run))) break;
    }
    free(run.left);
    return rc ? 1 : 0;
}
