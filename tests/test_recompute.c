// tests/test_recompute.c -- activation recomputation and the training memory plan, on the
// reference backend and on the CPU's: with ACTS_RECOMPUTE the loss, log-probs and
// gradients are bit-identical to the stored activations' (GQA with biases, tied and
// untied, freeze-tuning, batches smaller than planned, accumulation; the full head and
// the head in vocabulary chunks); run_train_memory equals what model_create,
// model_alloc_grads, acts_create and optim_create_slice allocate, ZeRO-1's slices and the
// chunked head's logits too; the plan of Qwen2.5-1.5B and -7B (configs/) at T = 4096 is
// the hand count of docs/method.md, with the automatic chunk and with the full
// head; a run that does not fit is refused before allocating, naming the plan's parts.
// (tests/test_recompute.sh drives `o1p sft --recompute` end to end.)
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../base/rng.h"
#include "../engine/dist.h"
#include "../engine/optim.h"
#include "../engine/run.h"
#include "../model/io.h"
#include "../model/model.h"
#include "random_weights.h"
#include "test.h"
#include "test_config.h"

static const Kernels *K;  // the backend under test: kernels_ref, then kernels_cpu

enum { BP = 3, TP = 8 };  // the planned batch
enum { VC = 7 };          // a vocabulary chunk that does not divide V = 31

// qwen2 (grouped-query attention, biases, untied) or llama (tied): V C I L H KV D S
static Config small_config(int qwen2) {
    return qwen2 ? test_config("qwen2", 31, 16, 24, 3, 4, 2, 4, 16, 0)
                 : test_config("llama", 31, 16, 24, 3, 4, 4, 4, 16, 1);
}

// The log-probs and the gradients of two accumulated micro-batches, the planned (3, 8)
// and a smaller (2, 5), with activations of the given mode and the head in vocab_chunk's
// chunks; returns the summed loss.
static double passes(Model *m, ActsMode mode, int vocab_chunk, float *logprob, float *grads) {
    static const int lens0[BP] = {8, 5, 1}, lens1[2] = {5, 3};
    const int *lens[2] = {lens0, lens1}, Bs[2] = {BP, 2}, Ts[2] = {TP, 5};
    Err e;
    Acts a;
    if (acts_create(&a, m, BP, TP, mode, vocab_chunk, &e)) {
        CHECK(0, "%s", e.msg);
        return NAN;
    }
    K->zero(m->grads_mem, m->n_trained * sizeof(float));
    Rng r = rng_seed(9);
    double loss = 0;
    for (int mb = 0; mb < 2; mb++) {
        int B = Bs[mb], T = Ts[mb], tok[BP * TP], tgt[BP * TP];
        float w[BP * TP];
        for (int n = 0; n < B * T; n++) {
            int pad = n % T >= lens[mb][n / T];
            tok[n] = (int)rng_below(&r, m->cfg.vocab_size);
            tgt[n] = pad ? -1 : (int)rng_below(&r, m->cfg.vocab_size);
            w[n] = pad ? 0.0f : (float)rng_normal(&r);
        }
        model_forward(m, &a, tok, lens[mb], B, T);
        loss += model_loss(m, &a, tgt, w, logprob + mb * BP * TP, B, T);
        model_backward(m, &a, w, B, T);
    }
    K->download(grads, m->grads_mem, m->n_trained * sizeof(float));
    acts_free(&a, m);
    return loss;
}

static void check_bitwise(int qwen2, int train_layers, int vocab_chunk) {
    Config c = small_config(qwen2);
    Err e;
    Model m;
    if (model_create(&m, &c, K, &e) || model_alloc_grads(&m, train_layers, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    Rng r = rng_seed(5);
    random_weights(&m, &r, 0.3, 0.2);
    float lp[2][2 * BP * TP] = {{0}}, *g[2];
    double loss[2];
    for (int i = 0; i < 2; i++) {
        g[i] = malloc(m.n_trained * sizeof(float));
        loss[i] = passes(&m, i ? ACTS_RECOMPUTE : ACTS_BACKWARD, vocab_chunk, lp[i], g[i]);
    }
    const char *what = qwen2 ? "qwen2 (GQA, biases, untied)" : "llama (tied)";
    CHECK(loss[0] == loss[1] && !memcmp(lp[0], lp[1], sizeof lp[0]),
          "%s %s train_layers %d vocab_chunk %d: loss %.9g vs %.9g", K->name, what, train_layers, vocab_chunk,
          loss[0], loss[1]);
    size_t differ = 0, nonzero = 0;
    for (size_t j = 0; j < m.n_trained; j++) {
        differ += memcmp(&g[0][j], &g[1][j], sizeof(float)) != 0;
        nonzero += g[0][j] != 0;
    }
    CHECK(differ == 0 && nonzero > m.n_trained / 2,
          "%s %s train_layers %d vocab_chunk %d: %zu of %zu gradients differ (%zu non-zero)", K->name, what,
          train_layers, vocab_chunk, differ, m.n_trained, nonzero);
    free(g[0]);
    free(g[1]);
    model_free(&m);
}

// ---- the memory plan against the allocations -----------------------------------------

static const Kernels *counted_base;
static size_t counted;  // bytes allocated through the counting table
static void *counting_alloc(size_t n) {
    counted += n;
    return counted_base->alloc(n);
}

static void check_plan_allocated(int qwen2, int train_layers, int recompute, int vocab_chunk) {
    Kernels k = *K;
    counted_base = K;
    k.alloc = counting_alloc;
    Config c = small_config(qwen2);
    RunOpts ro = {.train_layers = train_layers, .recompute = recompute, .vocab_chunk = vocab_chunk};
    TrainMemory tm = run_train_memory(&c, K, BP, TP, &ro, 0, 3);
    Err e;
    Model m;
    Acts a;
    Optimizer o;
    size_t got[4];
    counted = 0;
    int rc = model_create(&m, &c, &k, &e);
    got[0] = counted;
    rc = rc || model_alloc_grads(&m, train_layers, &e);
    got[1] = counted - got[0];
    rc = rc || acts_create(&a, &m, BP, TP, recompute ? ACTS_RECOMPUTE : ACTS_BACKWARD, vocab_chunk, &e);
    got[2] = counted - got[0] - got[1];
    rc = rc || optim_create_slice(&o, &m, optim_defaults(), 0, 3, &e);  // rank 0 of 3: ZeRO-1
    got[3] = counted - got[0] - got[1] - got[2];
    CHECK(!rc && a.vocab_chunk == vocab_chunk, "%s", e.msg);
    if (rc) return;
    size_t want[4] = {tm.params, tm.grads, tm.acts, tm.moments};
    const char *part[4] = {"parameters", "gradients", "activations", "moments"};
    for (int i = 0; i < 4; i++)
        CHECK(got[i] == want[i], "%s %s train_layers %d recompute %d vocab_chunk %d: %s allocated %zu, planned %zu",
              K->name, c.model_type, train_layers, recompute, vocab_chunk, part[i], got[i], want[i]);
    // the chunked head holds [N, VC] logits and a running sum [N] instead of [N, V]
    RunOpts full = ro;
    full.vocab_chunk = 0;
    size_t N = BP * TP, saved = (N * c.vocab_size + 15) / 16 * 16 - (N * VC + 15) / 16 * 16 - (N + 15) / 16 * 16;
    CHECK(tm.total == counted && tm.acts == (recompute ? tm.acts_recompute : tm.acts_full) &&
              tm.acts_recompute < tm.acts_full &&
              run_train_memory(&c, K, BP, TP, &full, 0, 3).acts - tm.acts == (vocab_chunk ? saved * sizeof(float) : 0),
          "%s total %zu vs %zu allocated", K->name, tm.total, counted);
    optim_free(&o, &m);
    acts_free(&a, &m);
    model_free(&m);
}

// ZeRO-1's slices: dist_share's split (what the ranks exchange), and in size_t past 2^31
// floats, where a plan of a large model may reach.
static void check_slices(void) {
    const size_t ns[] = {0, 7, 1000003, (size_t)5e9 + 1};
    for (int i = 0; i < 4; i++)
        for (int size = 1; size <= 5; size++) {
            size_t at = 0, lo, n;
            int ok = 1;
            for (int r = 0; r < size; r++) {
                optim_slice_of(ns[i], r, size, &lo, &n);
                int a, b;
                if (ns[i] < 0x7fffffff) dist_share((int)ns[i], r, size, &a, &b);
                ok &= lo == at && (ns[i] >= 0x7fffffff || (lo == (size_t)a && n == (size_t)(b - a)));
                at += n;
            }
            CHECK(ok && at == ns[i], "the %d slices of %zu floats", size, ns[i]);
        }
}

// ---- Qwen2.5: the published configs and their plans ----------------------------------

static void check_qwen(const char *path, int dim, int inter, int heads, int kv, int vocab, int tied,
                       const size_t want[2][5], const char *text[2]) {
    Config c;
    Err e;
    if (config_load(path, &c, &e) || config_validate(&c, path, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    CHECK(c.dim == dim && c.hidden_dim == inter && c.n_layers == 28 && c.n_heads == heads && c.n_kv_heads == kv &&
              c.head_dim == 128 && c.vocab_size == vocab && c.max_seq_len == 131072 && c.rope_theta == 1e6f &&
              c.norm_eps == 1e-6f && c.tie_embeddings == tied && c.qkv_bias && !strcmp(c.model_type, "qwen2"),
          "%s: not the published config", path);
    for (int rc = 0; rc < 2; rc++) {
        RunOpts ro = {.recompute = rc, .vocab_chunk = ACTS_VOCAB_AUTO}, full = {.recompute = rc};
        TrainMemory tm = run_train_memory(&c, &kernels_cpu, 1, 4096, &ro, 0, 1);
        size_t got[5] = {tm.params, tm.grads, tm.moments, tm.acts, tm.total};
        for (int i = 0; i < 5; i++)
            CHECK(got[i] == want[rc][i], "%s T=4096 recompute %d: part %d is %zu bytes, by hand %zu", path, rc, i,
                  got[i], want[rc][i]);
        char buf[256];
        run_format_memory(buf, sizeof buf, &tm, rc, 1);
        CHECK(!strcmp(buf, text[rc]), "%s: the plan reads '%s', expected '%s'", path, buf, text[rc]);
        // the full head (--vocab-chunk 0): the logits [N, V] instead of [N, 16384] and the sums [N]
        size_t more = run_train_memory(&c, &kernels_cpu, 1, 4096, &full, 0, 1).acts - tm.acts;
        CHECK(more == 4096 * (size_t)(vocab - 16384 - 1) * sizeof(float),
              "%s recompute %d: the full head's activations %zu bytes more", path, rc, more);
    }
}

// By hand (docs/method.md): parameters V C (+ V C untied) + L (QKV C + C HD + 3 I C
// + QKV + 2 C) + C floats; activations (L + 1) N C for x, then per layer (one layer with
// recompute) N (3 C + 2 + QKV + HD + H + 3 I), the head N (C + Vc + 5) (the automatic
// chunk at N = 4096: Vc = 16384), the gradient scratch N (2 C + QKV + HD + 3 I), 4 bytes
// each, and (3 N + B) ints.
static void check_qwen_plans(void) {
    static const size_t q15[2][5] = {
        {6174857216, 6174857216, 12349714432, 17668767748, 42368196612},
        {6174857216, 6174857216, 12349714432, 2147844100, 26847272964},
    };
    static const size_t q7[2][5] = {
        {30462466048, 30462466048, 60924932096, 37989122052, 159838986244},
        {30462466048, 30462466048, 60924932096, 4454973444, 126304837636},
    };
    const char *t15[2] = {
        "parameters 6.17 GB, gradients 6.17 GB, optimizer state 12.3 GB, activations 17.7 GB (--recompute: "
        "2.15 GB), total 42.4 GB",
        "parameters 6.17 GB, gradients 6.17 GB, optimizer state 12.3 GB, activations 2.15 GB (without "
        "--recompute: 17.7 GB), total 26.8 GB",
    };
    const char *t7[2] = {
        "parameters 30.5 GB, gradients 30.5 GB, optimizer state 60.9 GB, activations 38 GB (--recompute: "
        "4.45 GB), total 160 GB",
        "parameters 30.5 GB, gradients 30.5 GB, optimizer state 60.9 GB, activations 4.45 GB (without "
        "--recompute: 38 GB), total 126 GB",
    };
    check_qwen("configs/qwen2.5-1.5b.json", 1536, 8960, 12, 2, 151936, 1, q15, t15);
    check_qwen("configs/qwen2.5-7b.json", 3584, 18944, 28, 4, 152064, 0, q7, t7);
}

// ---- what does not fit is refused before allocating ----------------------------------

static size_t stub_avail;
static size_t stub_memory_available(void) { return stub_avail; }

static void check_refusals(void) {
    Kernels k = *K;
    counted_base = K;
    k.alloc = counting_alloc;
    k.memory_available = stub_memory_available;
    Config c = small_config(1);
    TrainMemory tm = run_train_memory(&c, K, BP, TP, &(RunOpts){0}, 0, 1);
    Err e;
    stub_avail = tm.total - tm.params;  // beyond the loaded parameters: exactly enough
    CHECK(run_check_memory(&tm, &k, 0, &e) == 0, "a plan that fits refused: %s", e.msg);
    stub_avail--;
    CHECK(run_check_memory(&tm, &k, 0, &e) != 0 && strstr(e.msg, "parameters ") && strstr(e.msg, "gradients ") &&
              strstr(e.msg, "optimizer state ") && strstr(e.msg, "activations ") &&
              strstr(e.msg, "try --recompute (activations ") && strstr(e.msg, "--train-layers N") &&
              strstr(e.msg, "a smaller --batch"),
          "a run 1 byte short: '%s'", e.msg);
    CHECK(run_check_memory(&tm, &k, 1, &e) != 0 && !strstr(e.msg, "try --recompute"),
          "with --recompute it is not suggested again: '%s'", e.msg);
    Model m;
    stub_avail = tm.params - 1;
    counted = 0;
    CHECK(model_create(&m, &c, &k, &e) != 0 && counted == 0 && strstr(e.msg, "do not fit in the"),
          "parameters over the available memory: refused before allocating (%zu bytes allocated): '%s'", counted,
          e.msg);
    stub_avail = tm.params;
    CHECK(model_create(&m, &c, &k, &e) == 0 && counted == tm.params, "parameters that fit: %s", e.msg);
    model_free(&m);
}

// A table of bf16 weights and product inputs (only allocations run here, no kernels): the
// parameters planned with their weight copy as model_create allocates them (6 bytes a
// parameter); the activations as acts_create allocates them, by hand: the five product
// inputs at 2 bytes an element, and the backend's buffer for the widest output gradient,
// here dgu [N, 2I], in bf16.
static void check_bf16_plan(void) {
    Kernels k = *K;
    counted_base = K;
    k.alloc = counting_alloc;
    k.weight_elem_bytes = k.act_elem_bytes = 2;
    Config c = small_config(1);
    RunOpts ro = {0};
    TrainMemory t4 = run_train_memory(&c, K, BP, TP, &ro, 0, 1), t2 = run_train_memory(&c, &k, BP, TP, &ro, 0, 1);
    Model m;
    Err e;
    counted = 0;
    int rc = model_create(&m, &c, &k, &e);
    CHECK(!rc && counted == t2.params && t2.params == t4.params / 4 * 6, "%s bf16 weights: parameters allocated %zu, "
          "planned %zu (fp32 %zu)", K->name, counted, t2.params, t4.params);
    CHECK(!rc && m.weights_mem != m.params_mem && model_weight_copy(&m, 5) == (char *)m.weights_mem + 10,
          "%s bf16 weights: a copy beside the parameters, 2 bytes each", K->name);
    // xn_attn, att, xn_mlp [L, N, C] (H D = C here), h [L, N, I], xn_final [N, C]: every
    // size a multiple of 64 bytes in both elements, so no alignment changes
    size_t N = BP * TP, L = c.n_layers, C = c.dim, I = c.hidden_dim;
    size_t inputs = (3 * L * N * C + L * N * I + N * C) * 2, operand = N * 2 * I * 2;
    CHECK(c.n_heads * c.head_dim == (int)C && t2.acts == t4.acts - inputs + operand &&
              model_operand_bytes(&c, &k, N, 0) == operand,
          "%s bf16 activations: planned %zu bytes, by hand %zu (operand buffer %zu)", K->name, t2.acts,
          t4.acts - inputs + operand, model_operand_bytes(&c, &k, N, 0));
    Acts a;
    counted = 0;
    CHECK(!rc && acts_create(&a, &m, BP, TP, ACTS_BACKWARD, (int)ro.vocab_chunk, &e) == 0 &&
              counted + operand == t2.acts,
          "%s bf16 activations: acts_create allocated %zu bytes, planned %zu", K->name, counted,
          t2.acts - operand);
    if (!rc) acts_free(&a, &m), model_free(&m);
}

int main(void) {
    const Kernels *backends[] = {&kernels_ref, &kernels_cpu};
    for (int b = 0; b < 2; b++) {
        K = backends[b];
        for (int qwen2 = 0; qwen2 < 2; qwen2++)
            for (int tl = 0; tl <= 2; tl++) {
                for (int vc = 0; vc <= VC; vc += VC) {
                    check_bitwise(qwen2, tl, vc);
                    for (int rc = 0; rc < 2; rc++) check_plan_allocated(qwen2, tl, rc, vc);
                }
            }
        check_refusals();
        check_bf16_plan();
    }
    CHECK(kernels_host_memory_available() > 0 && kernels_host_memory_available() < SIZE_MAX,
          "MemAvailable of /proc/meminfo read");
    check_slices();
    check_qwen_plans();
    return test_summary();
}
