// tests/cuda/test_model_cuda.c -- the whole model on the CUDA backend against the CPU
// backend, both in this process (the CUDA kernels one by one are test_kernels_cuda.c's).
// Without a usable GPU it prints "SKIP: no CUDA device" and exits 0 with no pass count.
//
// Models: the three configs of tests/reference.py (qwen2: biases, GQA, untied; llama:
// MHA, tied; mqa: one KV head, explicit head_dim 12) and a "long" one whose sequences span
// several attention tiles (T 80, head_dim 64), built here with the same random weights on
// both backends (model_init_random, then the norms and biases perturbed so that they are
// not all 1 and 0).
//
//   dump parity    dump_run (what `o1p dump` writes) on both: the loss within 1e-5
//                  relative; the logits of every sequence and every parameter gradient
//                  within 1e-4 relative inf-norm, max|gpu - cpu| / max|cpu| per tensor
//                  (cuBLAS and cpu_gemm sum the matmuls in other orders). And dump_run
//                  twice on the GPU, the second with activation recomputation
//                  (ACTS_RECOMPUTE): bitwise equal (the contract's determinism).
//   training       20 AdamW steps (warmup, cosine, clipping, weight decay) on the same
//                  batches: every step's loss within 1e-4 relative and its gradient norm
//                  within 1e-3; after the 20 steps every parameter tensor within 1e-3
//                  relative inf-norm. (Adam divides by sqrt(v): an element whose gradient
//                  is rounding noise moves by up to lr either way, so the parameters get a
//                  looser bound than the losses.) Also with the GPU's head in vocabulary
//                  chunks (model/head.c) against the CPU's full head. And on the
//                  cuda-bf16 table (bf16 inputs to every matmul and attention product):
//                  losses within 2e-3 relative, gradient norms 5e-2, parameters 0.5 (the
//                  emulation's worst: 6.1e-4, 1.8e-2, 0.18; Adam moves noise-gradient
//                  elements by up to lr either way, more of them with bf16 rounding).
//   sampler        greedy decoding (4 prompts x 4 samples, 5 slots: shared prefills,
//                  chunked prefill, continuous batching) on a small random model: the
//                  token sequences identical to the CPU's, mean log-probs within 1e-4;
//                  then a greedy, a temperature-alone (drawn on the GPU), a top-p and a
//                  top-k request (from the GPU's candidates) in one run, the same
//                  checks. On cuda-bf16 (bf16 products, bf16 KV cache) greedy: the same
//                  tokens, mean log-probs within 2e-3 (the emulation's worst: 5.7e-4).
//                  The model's logits are scaled up (lm_head x 5) so that the top-2 gaps
//                  dwarf fp32 noise; a mismatch reports the first diverging position and
//                  the CPU's top-2 gap there. Also on the GPU alone: the same tokens with 1
//                  slot as with 5, and a row's logits whatever the other rows of its step
//                  (1, 4 or 64 rows), within 1e-5 relative; whether they are bitwise equal
//                  is printed (cuBLAS may pick another algorithm for another row count,
//                  which the kernel contract does not allow; see tests/cuda/README.md).
//   graphs         decoding steps recorded once and replayed (CUDA graphs), those of a
//                  backend whose recording fails, and steps that make their calls: the
//                  same logits bit for bit, across new tokens and weights changed in place.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../base/rng.h"
#include "../../engine/dump.h"
#include "../../engine/optim.h"
#include "../../engine/sampler.h"
#include "../test.h"

static const Kernels *cpu, *gpu;

// ---- configs and models -------------------------------------------------------------

static Config make_config(const char *type, int V, int C, int I, int L, int H, int KV, int D,
                          float theta, float eps, int tied, int bias) {
    Config c = {.vocab_size = V, .dim = C, .hidden_dim = I, .n_layers = L, .n_heads = H,
                .n_kv_heads = KV, .head_dim = D, .max_seq_len = 128, .rope_theta = theta,
                .norm_eps = eps, .tie_embeddings = tied, .qkv_bias = bias,
                .bos_token_id = -1, .eos_token_id = -1};
    snprintf(c.model_type, sizeof c.model_type, "%s", type);
    return c;
}

typedef struct {
    const char *name;
    Config cfg;
    int B, lens[4];  // the dump's token lines
} Case;

static Case cases[4];

static void make_cases(void) {
    cases[0] = (Case){"qwen2", make_config("qwen2", 97, 48, 80, 2, 6, 2, 8, 10000.0f, 1e-6f, 0, 1),
                      3, {7, 12, 3}};
    cases[1] = (Case){"llama", make_config("llama", 101, 32, 64, 2, 4, 4, 8, 500000.0f, 1e-5f, 1, 0),
                      3, {7, 12, 3}};
    cases[2] = (Case){"mqa", make_config("llama", 61, 32, 48, 3, 4, 1, 12, 10000.0f, 1e-6f, 0, 0),
                      3, {7, 12, 3}};
    cases[3] = (Case){"long", make_config("qwen2", 300, 128, 256, 2, 4, 2, 64, 10000.0f, 1e-6f, 0, 1),
                      3, {80, 37, 64}};
}

// The same parameters on both models: model_init_random's on the CPU, the vectors (norms,
// biases) moved by up to +-0.1, uploaded to the GPU; the lm_head (or the tied embedding)
// multiplied by head_scale.
static void init_pair(Model *mc, Model *mg, uint64_t seed, float head_scale) {
    model_init_random(mc, seed);
    float *h = malloc(mc->n_params * sizeof(float));
    cpu->download(h, mc->params_mem, mc->n_params * sizeof(float));
    Rng r = rng_seed(seed ^ 0x5eed);
    for (size_t i = mc->n_decay; i < mc->n_params; i++) h[i] += 0.1f * (2.0f * rng_float(&r) - 1.0f);
    size_t head = (size_t)(mc->p.lm_head - mc->params_mem);
    for (size_t i = 0; i < (size_t)mc->cfg.vocab_size * mc->cfg.dim; i++) h[head + i] *= head_scale;
    cpu->upload(mc->params_mem, h, mc->n_params * sizeof(float));
    mg->k->upload(mg->params_mem, h, mc->n_params * sizeof(float));
    model_weights_update(mg, 0, mg->n_params);
    free(h);
}

static int create_pair(Model *mc, Model *mg, const Config *c, const char *name) {
    Err e;
    if (model_create(mc, c, cpu, &e) || model_create(mg, c, gpu, &e)) {
        CHECK(0, "%s: %s", name, e.msg);
        return -1;
    }
    return 0;
}

// max|a - b| / max|b| (NaN counts as infinitely bad).
static double rel_inf(const float *a, const float *b, size_t n) {
    double diff = 0, ref = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= diff)) diff = isnan(d) ? INFINITY : d;
        if (fabs(b[i]) > ref) ref = fabs(b[i]);
    }
    return ref > 0 ? diff / ref : diff;
}

// Every HF tensor of a parameter-sized host array within tol (rel_inf); returns the worst.
static double check_tensors(const Model *m, const char *what, const char *name, const float *g,
                            const float *c, double tol) {
    int n = model_tensors(m, NULL);
    TensorInfo *ti = malloc((size_t)n * sizeof *ti);
    model_tensors(m, ti);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        size_t len = (size_t)ti[i].shape[0] * (ti[i].ndim == 2 ? ti[i].shape[1] : 1);
        double err = rel_inf(g + ti[i].offset, c + ti[i].offset, len);
        CHECK(err <= tol, "%s %s %s: relative error %.3g (tolerance %g)", name, what, ti[i].name,
              err, tol);
        if (err > worst) worst = err;
    }
    free(ti);
    return worst;
}

// ---- dump parity --------------------------------------------------------------------

static void test_dump(const Case *cs, uint64_t seed) {
    Model mc, mg;
    if (create_pair(&mc, &mg, &cs->cfg, cs->name)) return;
    init_pair(&mc, &mg, seed, 1.0f);
    int B = cs->B, T = 0, V = cs->cfg.vocab_size;
    for (int b = 0; b < B; b++) T = cs->lens[b] > T ? cs->lens[b] : T;
    int *tokens = calloc((size_t)B * T, sizeof(int));
    Rng r = rng_seed(seed + 1);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < cs->lens[b]; t++) tokens[b * T + t] = (int)rng_below(&r, (uint64_t)V);
    Err e;
    Acts ac, ag, ag2;
    DumpTensors dc, dg, dg2;
    if (model_alloc_grads(&mc, 0, &e) || model_alloc_grads(&mg, 0, &e) ||
        acts_create(&ac, &mc, B, T, ACTS_BACKWARD, 0, &e) || acts_create(&ag, &mg, B, T, ACTS_BACKWARD, 0, &e) ||
        acts_create(&ag2, &mg, B, T, ACTS_RECOMPUTE, 0, &e) ||
        dump_run(&mc, &ac, tokens, cs->lens, B, T, &dc, &e) ||
        dump_run(&mg, &ag, tokens, cs->lens, B, T, &dg, &e) ||
        dump_run(&mg, &ag2, tokens, cs->lens, B, T, &dg2, &e)) {
        CHECK(0, "%s: %s", cs->name, e.msg);
        exit(test_summary());
    }
    CHECK_NEAR(dg.loss, dc.loss, 1e-5, 0, "dump loss");
    double worst_logits = 0;
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * T * V, n = (size_t)cs->lens[b] * V;
        double err = rel_inf(dg.logits + off, dc.logits + off, n);
        CHECK(err <= 1e-4, "%s logits.%d: relative error %.3g", cs->name, b, err);
        if (err > worst_logits) worst_logits = err;
    }
    double worst_grad = check_tensors(&mc, "grad", cs->name, dg.grads, dc.grads, 1e-4);
    CHECK(dg.loss == dg2.loss &&
              !memcmp(dg.logits, dg2.logits, (size_t)B * T * V * sizeof(float)) &&
              !memcmp(dg.grads, dg2.grads, mg.n_params * sizeof(float)),
          "%s: dump_run twice on the GPU (stored, recomputed activations) is not bitwise the same", cs->name);
    printf("dump %-5s loss cpu %.7f gpu %.7f; worst relative error logits %.2e, gradients %.2e\n",
           cs->name, dc.loss, dg.loss, worst_logits, worst_grad);
    dump_free(&dc), dump_free(&dg), dump_free(&dg2);
    acts_free(&ac, &mc), acts_free(&ag, &mg), acts_free(&ag2, &mg);
    model_free(&mc), model_free(&mg);
    free(tokens);
}

// ---- training parity ----------------------------------------------------------------

#define STEPS 20
#define TB 4   // sequences per batch
#define TT 16  // positions

// Batch s: sequence b is an arithmetic progression mod V (learnable), random length.
static void make_batch(int s, int V, int *tokens, int *lens, int *targets, float *weights) {
    Rng r = rng_seed(1000 + (uint64_t)s);
    int predicted = 0;
    for (int b = 0; b < TB; b++) {
        lens[b] = 2 + (int)rng_below(&r, TT - 1);
        int start = (int)rng_below(&r, (uint64_t)V), stride = 1 + (int)rng_below(&r, 3);
        for (int t = 0; t < TT; t++) tokens[b * TT + t] = (start + t * stride) % V;
        predicted += lens[b] - 1;
    }
    for (int b = 0; b < TB; b++)
        for (int t = 0; t < TT; t++) {
            int n = b * TT + t, has = t + 1 < lens[b];
            targets[n] = has ? tokens[n + 1] : -1;
            weights[n] = has ? 1.0f / predicted : 0.0f;
        }
}

// Relative bounds of a training comparison: every step's loss and gradient norm, and every
// parameter tensor after the steps (inf-norm).
typedef struct {
    double loss, norm, params;
} TrainTol;
static const TrainTol fp32_training = {1e-4, 1e-3, 1e-3};

// The GPU model's weights, when a copy (bf16): bitwise weights_from_params of its
// parameters, whatever the optimizer updated (every range of what trains) or left.
static void check_weights(const Model *mg, const char *name) {
    size_t bytes = mg->n_params * gpu->weight_elem_bytes;
    void *d_want = gpu->alloc(bytes);
    char *want = malloc(bytes), *got = malloc(bytes);
    gpu->weights_from_params(d_want, mg->params_mem, mg->n_params);
    gpu->download(want, d_want, bytes);
    gpu->download(got, mg->weights_mem, bytes);
    CHECK(!memcmp(got, want, bytes), "%s %s training: the weights are not the parameters' (bitwise)",
          gpu->name, name);
    gpu->free(d_want);
    free(want), free(got);
}

// gpu_chunk: the GPU's head in vocabulary chunks of that many (0: the full logits);
// train_layers: model_alloc_grads' (0: every parameter).
static void test_training(const Case *cs, uint64_t seed, int gpu_chunk, int train_layers, TrainTol tol) {
    Model mc, mg;
    if (create_pair(&mc, &mg, &cs->cfg, cs->name)) return;
    init_pair(&mc, &mg, seed, 1.0f);
    Err e;
    Acts ac, ag;
    Optimizer oc, og;
    OptimConfig o = optim_defaults();
    o.lr = 3e-3f;
    o.warmup_steps = 3;
    o.total_steps = STEPS;
    if (model_alloc_grads(&mc, train_layers, &e) || model_alloc_grads(&mg, train_layers, &e) ||
        acts_create(&ac, &mc, TB, TT, ACTS_BACKWARD, 0, &e) ||
        acts_create(&ag, &mg, TB, TT, ACTS_BACKWARD, gpu_chunk, &e) ||
        optim_create(&oc, &mc, o, &e) || optim_create(&og, &mg, o, &e)) {
        CHECK(0, "%s: %s", cs->name, e.msg);
        exit(test_summary());
    }
    int tokens[TB * TT], lens[TB], targets[TB * TT];
    float weights[TB * TT];
    double loss_c[STEPS], loss_g[STEPS], worst_loss = 0, worst_norm = 0;
    int bad_loss = 0, bad_norm = 0;
    for (int s = 0; s < STEPS; s++) {
        make_batch(s, cs->cfg.vocab_size, tokens, lens, targets, weights);
        Model *ms[2] = {&mc, &mg};
        Acts *as[2] = {&ac, &ag};
        double loss[2], norm[2];
        for (int i = 0; i < 2; i++) {
            model_forward(ms[i], as[i], tokens, lens, TB, TT);
            loss[i] = model_loss(ms[i], as[i], targets, weights, NULL, TB, TT);
            model_backward(ms[i], as[i], weights, TB, TT);
            norm[i] = optim_step(i ? &og : &oc, ms[i], NULL);
        }
        loss_c[s] = loss[0], loss_g[s] = loss[1];
        double el = fabs(loss[1] - loss[0]) / fabs(loss[0]);
        double en = fabs(norm[1] - norm[0]) / fabs(norm[0]);
        if (!(el <= tol.loss)) bad_loss++;
        if (!(en <= tol.norm)) bad_norm++;
        if (!(el <= worst_loss)) worst_loss = el;
        if (!(en <= worst_norm)) worst_norm = en;
    }
    CHECK(bad_loss == 0, "%s %s training: %d of %d steps' losses off by more than %g (worst %.3g)",
          gpu->name, cs->name, bad_loss, STEPS, tol.loss, worst_loss);
    CHECK(bad_norm == 0, "%s %s training: %d of %d steps' gradient norms off by more than %g "
          "(worst %.3g)", gpu->name, cs->name, bad_norm, STEPS, tol.norm, worst_norm);
    CHECK(loss_c[STEPS - 1] < loss_c[0], "%s training: the loss did not go down (%.4f -> %.4f)",
          cs->name, loss_c[0], loss_c[STEPS - 1]);
    float *pc = malloc(mc.n_params * sizeof(float)), *pg = malloc(mc.n_params * sizeof(float));
    cpu->download(pc, mc.params_mem, mc.n_params * sizeof(float));
    gpu->download(pg, mg.params_mem, mg.n_params * sizeof(float));
    double worst_param = check_tensors(&mc, "after 20 steps", cs->name, pg, pc, tol.params);
    if (mg.weights_mem != mg.params_mem) check_weights(&mg, cs->name);
    printf("train %-9s %-5s (gpu vocab chunk %d, %d layers trained) loss %.4f -> %.4f (gpu %.4f -> "
           "%.4f); worst relative error loss %.2e, grad norm %.2e, parameters after %d steps %.2e\n",
           gpu->name, cs->name, gpu_chunk, train_layers ? train_layers : cs->cfg.n_layers, loss_c[0],
           loss_c[STEPS - 1], loss_g[0], loss_g[STEPS - 1], worst_loss, worst_norm, STEPS, worst_param);
    free(pc), free(pg);
    optim_free(&oc, &mc), optim_free(&og, &mg);
    acts_free(&ac, &mc), acts_free(&ag, &mg);
    model_free(&mc), model_free(&mg);
}

// ---- sampler parity -----------------------------------------------------------------

#define NREQ 4
#define KS 4
#define MAX_NEW 24
#define MAX_LEN 96

typedef struct {
    int32_t ids[NREQ][KS][MAX_NEW];
    int n[NREQ][KS], finished[NREQ][KS];
    double mean_lp[NREQ][KS];
} Outputs;

static int collect(void *user, const SampleResult *r) {
    Outputs *o = user;
    memcpy(o->ids[r->request][r->sample], r->ids, (size_t)r->n * sizeof(int32_t));
    o->n[r->request][r->sample] = r->n;
    o->finished[r->request][r->sample] = r->finished;
    o->mean_lp[r->request][r->sample] = r->mean_logprob;
    return 0;
}

static int run_sampler(Model *m, int slots, const SampleRequest *reqs, Outputs *out) {
    static const int32_t stop[1] = {0};
    SamplerOpts so = {.slots = slots, .max_len = MAX_LEN, .prefill_chunk = 16, .stop_ids = stop,
                      .n_stop = 1};
    Err e;
    memset(out, 0, sizeof *out);
    Sampler *s = sampler_create(m, &so, &e);
    SamplerCallbacks cb = {.user = out, .on_sample = collect};
    int rc = s ? sampler_run(s, reqs, NREQ, &cb, &e) : -1;
    CHECK(rc == 0, "sampler on %s (%d slots): %s", m->k->name, slots, rc < 0 ? e.msg : "stopped");
    sampler_free(s);
    return rc;
}

// The CPU's top-2 logit gap at every generated position of (prompt, ids): the forward of
// the whole sequence, position t predicting token t + 1. Returns the smallest, and in
// *at_gap the one at generated index `at` (when at >= 0).
static double cpu_min_gap(Model *mc, const int32_t *prompt, int P, const int32_t *ids, int n,
                          int at, double *at_gap) {
    int T = P + n, V = mc->cfg.vocab_size, lens[1] = {T};
    int *tok = malloc((size_t)T * sizeof(int));
    for (int t = 0; t < P; t++) tok[t] = prompt[t];
    for (int t = 0; t < n; t++) tok[P + t] = ids[t];
    Err e;
    Acts a;
    float *lg = malloc((size_t)T * V * sizeof(float));
    double worst = INFINITY;
    if (acts_create(&a, mc, 1, T, ACTS_FORWARD, 0, &e) == 0) {
        model_forward(mc, &a, tok, lens, 1, T);
        cpu->download(lg, a.logits, (size_t)T * V * sizeof(float));
        for (int j = 0; j < n; j++) {
            const float *l = lg + (size_t)(P - 1 + j) * V;
            float b1 = -INFINITY, b2 = -INFINITY;
            for (int v = 0; v < V; v++)
                if (l[v] > b1) b2 = b1, b1 = l[v];
                else if (l[v] > b2) b2 = l[v];
            if (b1 - b2 < worst) worst = b1 - b2;
            if (j == at && at_gap) *at_gap = b1 - b2;
        }
        acts_free(&a, mc);
    }
    free(lg);
    free(tok);
    return worst;
}

// Logits of one token (slot 0, position P) in steps of 1, 4 and 64 rows on the GPU.
static void test_row_independence(Model *mg, const int32_t *prompt, int P) {
    Err e;
    KVCache kv;
    if (kvcache_create(&kv, mg, 4, MAX_LEN, 64, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    int V = mg->cfg.vocab_size, tok[64], sl[64], pos[64];
    for (int t = 0; t < P; t++) tok[t] = prompt[t], sl[t] = 0, pos[t] = t;
    float *lg = malloc(3 * (size_t)V * sizeof(float));
    model_decode_step(mg, &kv, tok, sl, pos, NULL, NULL, P, 1, lg);  // prefill slot 0
    static const int rows[3] = {1, 4, 64};
    for (int i = 0; i < 3; i++) {
        int N = rows[i];
        // N - 1 other tokens first: slots 1..3 at position 0, then slot 1 onwards.
        for (int j = 0; j < N - 1; j++) {
            tok[j] = (7 * j + 3) % V;
            sl[j] = 1 + (j < 3 ? j : 0);
            pos[j] = j < 3 ? 0 : j - 2;
        }
        tok[N - 1] = prompt[P - 1] + 1 < V ? prompt[P - 1] + 1 : 0, sl[N - 1] = 0, pos[N - 1] = P;
        model_decode_step(mg, &kv, tok, sl, pos, NULL, NULL, N, 1, lg + (size_t)i * V);
    }
    double e4 = rel_inf(lg + V, lg, V), e64 = rel_inf(lg + 2 * V, lg, V);
    CHECK(e4 <= 1e-5 && e64 <= 1e-5, "a row's logits depend on its step's rows: %.3g (4 rows), "
          "%.3g (64 rows)", e4, e64);
    printf("row independence on the GPU: 4 rows %s (%.2e), 64 rows %s (%.2e)\n",
           memcmp(lg, lg + V, V * sizeof(float)) ? "differs" : "bitwise", e4,
           memcmp(lg, lg + 2 * V, V * sizeof(float)) ? "differs" : "bitwise", e64);
    free(lg);
    kvcache_free(&kv, mg);
}

// A model of bf16 weights only (model_create_weights, written through ParamStage as a
// load writes it) decodes bit for bit as the model that keeps its fp32 parameters beside
// the same weights: a prefill of P tokens, its last token's logits.
static void test_weights_only(const Case *cs, uint64_t seed, int P) {
    Model mc, mg, mw;
    Err e;
    if (create_pair(&mc, &mg, &cs->cfg, cs->name)) return;
    init_pair(&mc, &mg, seed, 1.0f);
    ParamStage st;
    if (model_create_weights(&mw, &cs->cfg, gpu, &e) || param_stage_open(&st, &mw, &e)) {
        CHECK(0, "%s: %s", cs->name, e.msg);
        return;
    }
    for (size_t at = 0; at < mc.n_params; at += MODEL_STAGE_FLOATS) {
        size_t n = mc.n_params - at < MODEL_STAGE_FLOATS ? mc.n_params - at : MODEL_STAGE_FLOATS;
        memcpy(param_stage_window(&st, at), mc.params_mem + at, n * sizeof(float));
        param_stage_put(&st, at, n);
    }
    param_stage_close(&st);
    int V = cs->cfg.vocab_size, tok[64], sl[64], pos[64];
    for (int t = 0; t < P; t++) tok[t] = (5 * t + 1) % V, sl[t] = 0, pos[t] = t;
    float *lg = malloc(2 * (size_t)V * sizeof(float));
    Model *ms[2] = {&mg, &mw};
    for (int i = 0; i < 2; i++) {
        KVCache kv;
        if (kvcache_create(&kv, ms[i], 1, MAX_LEN, 64, &e)) {
            CHECK(0, "%s", e.msg);
            break;
        }
        model_decode_step(ms[i], &kv, tok, sl, pos, NULL, NULL, P, 1, lg + (size_t)i * V);
        kvcache_free(&kv, ms[i]);
    }
    CHECK(!mw.params_mem && !memcmp(lg, lg + V, V * sizeof(float)),
          "%s %s: the weights-only model's logits are not the full model's (bitwise)", gpu->name, cs->name);
    free(lg);
    model_free(&mc), model_free(&mg), model_free(&mw);
}

// ---- decoding steps recorded as graphs ---------------------------------------------------

// The GPU table with a call the recording refuses (a synchronize inside add): its
// decoding steps cannot be recorded and must run their calls instead.
static const Kernels *unrecordable_base;
static void add_after_synchronize(float *out, const float *a, const float *b, size_t n) {
    unrecordable_base->synchronize();
    unrecordable_base->add(out, a, b, n);
}

// Three caches on the same weights: kv[0] records its decoding steps (the backend's
// default), kv[1] makes every step's calls, kv[2] is on a model whose recording fails.
// A prefill of P tokens into slot 0, then decoding steps of 3 tokens (slots 1..3 reading
// the prompt from slot 0) and of 2 (slots 1, 2 alone), new tokens and positions each, the
// weights changed in place halfway: every step's logits bitwise the same in the three.
static void test_graphs(const Case *cs, uint64_t seed, int P) {
    static Kernels unrecordable;
    unrecordable = *gpu;
    unrecordable_base = gpu;
    unrecordable.add = add_after_synchronize;
    Model mc, m[2];
    Err e;
    if (model_create(&mc, &cs->cfg, cpu, &e) || model_create(&m[0], &cs->cfg, gpu, &e) ||
        model_create(&m[1], &cs->cfg, &unrecordable, &e)) {
        CHECK(0, "%s: %s", cs->name, e.msg);
        return;
    }
    init_pair(&mc, &m[0], seed, 1.0f);
    init_pair(&mc, &m[1], seed, 1.0f);
    KVCache kv[3];
    Model *of[3] = {&m[0], &m[0], &m[1]};
    for (int i = 0; i < 3; i++)
        if (kvcache_create(&kv[i], of[i], 4, MAX_LEN, 64, &e)) {
            CHECK(0, "%s", e.msg);
            return;
        }
    kv[1].use_graphs = 0;
    int V = cs->cfg.vocab_size, tok[64], sl[64], pos[64], psl[3] = {0, 0, 0}, plen[3] = {P, P, P};
    float *lg = malloc(3 * 3 * (size_t)V * sizeof(float));
    enum { STEPS_AFTER_PREFILL = 8 };
    int same = 1;
    for (int step = -1; step < STEPS_AFTER_PREFILL; step++) {  // -1: the prefill
        int N = step < 0 ? P : step % 2 ? 2 : 3, n_out = step < 0 ? 1 : N, shared = step >= 0 && N == 3;
        if (step == STEPS_AFTER_PREFILL / 2)
            init_pair(&mc, &m[0], seed + 1, 1.0f), init_pair(&mc, &m[1], seed + 1, 1.0f);
        for (int n = 0; n < N; n++)
            if (step < 0) tok[n] = (3 * n + 2) % V, sl[n] = 0, pos[n] = n;
            else tok[n] = (11 * step + 5 * n + 1) % V, sl[n] = 1 + n, pos[n] = P + step;
        for (int i = 0; i < 3; i++)
            model_decode_step(of[i], &kv[i], tok, sl, pos, shared ? psl : NULL,
                              shared ? plen : NULL, N, n_out, lg + (size_t)i * 3 * V);
        same &= !memcmp(lg, lg + 3 * (size_t)V, n_out * V * sizeof(float)) &&
                !memcmp(lg, lg + 6 * (size_t)V, n_out * V * sizeof(float));
    }
    CHECK(same,
          "%s %s: a prefill and %d decoding steps recorded, replayed and unrecordable give the "
          "same logits (bitwise)",
          gpu->name, cs->name, STEPS_AFTER_PREFILL);
    CHECK(kv[0].use_graphs && kv[0].graphs[4 + 2] && kv[0].graphs[1] && !kv[1].graphs[4 + 2],
          "%s %s: the steps of 3 tokens on shared prompts and of 2 alone were recorded", gpu->name,
          cs->name);
    CHECK(!kv[2].use_graphs && !kv[2].graphs[4 + 2] && !kv[2].graphs[1],
          "%s %s: a recording that fails turns recording off", gpu->name, cs->name);
    for (int i = 0; i < 3; i++) kvcache_free(&kv[i], of[i]);
    free(lg);
    model_free(&mc), model_free(&m[0]), model_free(&m[1]);
}

// Each request's settings: greedy, or mixed (greedy; a temperature alone: the backend's
// draws; top-p alone and top-k: its candidates), so that a step holds rows
// of every kind.
static const SampleRequest greedy_settings[NREQ] = {{.temperature = 0, .top_p = 1},
                                                    {.temperature = 0, .top_p = 1},
                                                    {.temperature = 0, .top_p = 1},
                                                    {.temperature = 0, .top_p = 1}};
static const SampleRequest mixed_settings[NREQ] = {{.temperature = 0, .top_p = 1},
                                                   {.temperature = 0.8f, .top_p = 1},
                                                   {.temperature = 0.7f, .top_p = 0.9f},
                                                   {.temperature = 1, .top_k = 5, .top_p = 1}};

static void test_sampler(uint64_t seed, const char *what, const SampleRequest *settings,
                         double lp_tol) {
    Config c = make_config("llama", 211, 64, 128, 2, 4, 2, 16, 10000.0f, 1e-5f, 1, 0);
    c.max_seq_len = MAX_LEN;
    Model mc, mg;
    if (create_pair(&mc, &mg, &c, "sampler")) return;
    init_pair(&mc, &mg, seed, 5.0f);
    static int32_t prompts[NREQ][40];
    static const int plen[NREQ] = {5, 37, 12, 20};
    Rng r = rng_seed(seed + 7);
    SampleRequest reqs[NREQ];
    for (int i = 0; i < NREQ; i++) {
        for (int t = 0; t < plen[i]; t++) prompts[i][t] = 1 + (int32_t)rng_below(&r, 210);
        reqs[i] = settings[i];
        reqs[i].prompt = prompts[i], reqs[i].prompt_len = plen[i], reqs[i].k = KS;
        reqs[i].max_new = MAX_NEW, reqs[i].seed = seed, reqs[i].id = (uint64_t)i;
    }
    static Outputs oc, og, og1;
    if (run_sampler(&mc, 5, reqs, &oc) || run_sampler(&mg, 5, reqs, &og) ||
        run_sampler(&mg, 1, reqs, &og1)) {
        model_free(&mc), model_free(&mg);
        return;
    }
    int same = 0, same1 = 0, total = 0, generated = 0;
    double worst_lp = 0, min_gap = INFINITY;
    for (int i = 0; i < NREQ; i++) {
        for (int j = 0; j < KS; j++) {
            int n = oc.n[i][j], d = 0;
            while (d < n && d < og.n[i][j] && oc.ids[i][j][d] == og.ids[i][j][d]) d++;
            int ok = d == n && og.n[i][j] == n && og.finished[i][j] == oc.finished[i][j];
            if (!ok) {
                double gap = NAN;
                cpu_min_gap(&mc, prompts[i], plen[i], oc.ids[i][j], n, d, &gap);
                CHECK(0, "sampler (%s) request %d sample %d: the GPU's tokens differ from the CPU's "
                      "at generated position %d of %d (CPU top-2 logit gap there %.3g)", what, i, j, d,
                      n, gap);
            }
            same += ok;
            same1 += og1.n[i][j] == og.n[i][j] &&
                     !memcmp(og1.ids[i][j], og.ids[i][j], (size_t)og.n[i][j] * sizeof(int32_t));
            double dlp = fabs(og.mean_lp[i][j] - oc.mean_lp[i][j]);
            if (!(dlp <= worst_lp)) worst_lp = dlp;
            total++;
            generated += n;
        }
        double g = cpu_min_gap(&mc, prompts[i], plen[i], oc.ids[i][0], oc.n[i][0], -1, NULL);
        if (g < min_gap) min_gap = g;
    }
    CHECK(same == total, "sampler (%s): %d of %d samples identical to the CPU's", what, same, total);
    CHECK(worst_lp <= lp_tol, "sampler (%s): mean log-probs differ by up to %.3g", what, worst_lp);
    CHECK(same1 == total, "sampler (%s): %d of %d GPU samples the same with 1 slot as with 5", what,
          same1, total);
    printf("sampler (%s): %d/%d samples identical (%d tokens), mean log-prob diff %.2e, "
           "smallest CPU top-2 gap %.3g\n", what, same, total, generated, worst_lp, min_gap);
    if (settings == greedy_settings) test_row_independence(&mg, prompts[1], plen[1]);
    model_free(&mc), model_free(&mg);
}

// The host's waits for the GPU a decoding step, as the emulator counts them (synchronous
// copies and synchronizations; a GPU build has no counter): the step's inputs go up in one
// copy, greedy tokens come down in one; a temperature's draws add their settings' upload.
// Unpacked, a step of shared prompts waited 5 + 2 times greedy, 5 + 5 at a temperature.
extern long emu_host_waits __attribute__((weak));

static void test_host_waits(uint64_t seed, const char *what, const SampleRequest *settings,
                            int most) {
    if (!&emu_host_waits) {
        printf("host waits a step (%s): counted by the emulator only\n", what);
        return;
    }
    Config c = make_config("llama", 211, 64, 128, 2, 4, 2, 16, 10000.0f, 1e-5f, 1, 0);
    c.max_seq_len = MAX_LEN;
    Model mg;
    Err e;
    if (model_create(&mg, &c, gpu, &e)) {
        CHECK(0, "host waits (%s): %s", what, e.msg);
        return;
    }
    model_init_random(&mg, seed);  // no stop token: every sample runs MAX_NEW tokens
    int32_t prompt[10];
    for (int t = 0; t < 10; t++) prompt[t] = 1 + 3 * t;
    SampleRequest reqs[NREQ];
    for (int i = 0; i < NREQ; i++) {
        reqs[i] = settings[i];
        reqs[i].prompt = prompt, reqs[i].prompt_len = 4 + 2 * i, reqs[i].k = KS;
        reqs[i].max_new = MAX_NEW, reqs[i].seed = seed, reqs[i].id = (uint64_t)i;
    }
    SamplerOpts so = {.slots = 8, .max_len = MAX_LEN, .prefill_chunk = 16};
    Sampler *s = sampler_create(&mg, &so, &e);
    long before = emu_host_waits;
    int rc = s ? sampler_run(s, reqs, NREQ, NULL, &e) : -1;
    long waits = emu_host_waits - before;
    uint64_t steps = s ? sampler_stats(s)->steps : 0;
    CHECK(rc == 0, "host waits (%s): sampler: %s", what, rc < 0 ? e.msg : "stopped");
    CHECK(steps > 0 && waits >= (long)steps && waits <= most * (long)steps,
          "host waits (%s): %ld in %llu steps; expected 1 to %d a step", what, waits,
          (unsigned long long)steps, most);
    printf("host waits (%s): %ld in %llu steps (%.2f a step)\n", what, waits,
           (unsigned long long)steps, (double)waits / (double)(steps ? steps : 1));
    sampler_free(s);
    model_free(&mg);
}

static const SampleRequest temperature_settings[NREQ] = {{.temperature = 0.8f, .top_p = 1},
                                                         {.temperature = 0.8f, .top_p = 1},
                                                         {.temperature = 0.8f, .top_p = 1},
                                                         {.temperature = 0.8f, .top_p = 1}};

int main(void) {
    cpu = kernels_by_name("cpu");
    gpu = kernels_by_name("cuda");
    if (!gpu) {
        printf("SKIP: no CUDA device\n");
        return 0;
    }
    make_cases();
    for (int i = 0; i < 4; i++) test_dump(&cases[i], 42 + (uint64_t)i);
    for (int i = 0; i < 3; i++) test_training(&cases[i], 7 + (uint64_t)i, 0, 0, fp32_training);
    test_training(&cases[0], 7, 32, 0, fp32_training);   // the head in chunks: 32 does not divide 97
    test_training(&cases[1], 8, 101, 0, fp32_training);  // one chunk of V
    // The bf16 table (bf16 weights beside fp32 master parameters, bf16 products and
    // attention) tracks the fp32 CPU run within the bounds bf16 rounding leaves; its
    // weights stay the parameters' rounding, freeze-tuning included.
    const Kernels *fp32 = gpu;
    gpu = kernels_by_name("cuda-bf16");
    const TrainTol bf16_training = {2e-3, 5e-2, 0.5};
    test_training(&cases[0], 7, 0, 0, bf16_training);
    test_training(&cases[2], 9, 0, 0, bf16_training);
    test_training(&cases[0], 7, 0, 1, bf16_training);  // the last block only
    test_sampler(99, "greedy, cuda-bf16: bf16 KV cache", greedy_settings, 2e-3);
    test_weights_only(&cases[0], 5, 17);
    test_weights_only(&cases[3], 6, 40);
    test_graphs(&cases[0], 4, 9);
    gpu = fp32;
    test_graphs(&cases[0], 4, 9);
    test_graphs(&cases[2], 5, 20);
    test_sampler(99, "greedy", greedy_settings, 1e-4);
    test_sampler(99, "greedy, temperature, top-p, top-k", mixed_settings, 1e-4);
    test_host_waits(3, "greedy", greedy_settings, 2);
    test_host_waits(3, "temperature alone", temperature_settings, 3);
    return test_summary();
}
