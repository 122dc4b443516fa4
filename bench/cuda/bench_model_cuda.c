// bench/cuda/bench_model_cuda.c -- the whole model on the CUDA backend: training step
// time, tokens/s and MFU, and sampler decode tokens/s, with the CPU backend's numbers
// beside them where they take seconds, not minutes. Every baseline is measured in this run.
//
//   peaks     a 4096^3 matmul (forward + backward, 3 GEMMs) on each table: cuBLAS fp32
//             ("cuda"), tf32 and bf16 tensor-core inputs ("cuda-tf32", "cuda-bf16"; fp32
//             operands); the CPU table's matmul 2048^3 for the CPU. A table's MFU is
//             against its own peak.
//   training  forward, loss, backward and the AdamW step (gradient norm included) of a
//             random-token batch; model FLOPs per token = 6 x (matrix parameters, lm_head
//             once, tied) + 6 L H D T (causal attention), bench/bench_train.c's count.
//             Configs: small (L6 C384 H6 KV2 V2048, B16 T256), ~100M (L12 C768 H12
//             V16384) at B16 T64, B16 T512 and B8 T1024, ~500M (L24 C1280 H20 I3456
//             V32000, B8 T512). The CPU runs the small and the 100M T64.
//   decode    sampler_run of one 16-token prompt with K = 1, 16, 64, 256 samples of 64 new
//             tokens (K slots, shared prefill): generated tokens per second greedy (the
//             argmax on the backend, argmax_logprob), at presample's default T 0.5 top-p
//             0.8 and at T 0.5 top-k 50 (the backend's sampling_candidates, the host sorts
//             and draws), at T 0.5 alone (temperature_draws on the backend); on "cuda"
//             and "cuda-bf16" (bf16 weights and KV cache); CPU: 16 new tokens, K <= 64.
//             Beside them the roofline of a step that reads the weights and the KV cache
//             once in the table's element sizes (the mean context: prompt + 32
//             positions) at the HBM bandwidth of a 1 GiB device copy measured in this run,
//             and greedy again with every step making its calls (no CUDA graphs): the
//             speedup of replaying recorded steps.
// Without a GPU it prints "SKIP: no CUDA device".
#include <string.h>

#include "../../base/rng.h"
#include "../../model/model.h"
#include "../../engine/optim.h"
#include "../../engine/sampler.h"
#include "bench_cuda.h"

typedef struct {
    const char *name;
    int L, C, H, KV, I, V, B, T;
    int cpu;  // also on the CPU backend
} BenchConfig;

static Config make_config(const BenchConfig *b) {
    Config c = {.vocab_size = b->V, .dim = b->C, .hidden_dim = b->I, .n_layers = b->L,
                .n_heads = b->H, .n_kv_heads = b->KV, .head_dim = b->C / b->H,
                .max_seq_len = 1024, .rope_theta = 10000.0f, .norm_eps = 1e-5f,
                .tie_embeddings = 1, .bos_token_id = -1, .eos_token_id = -1};
    strcpy(c.model_type, "llama");
    return c;
}

static Model new_model(const BenchConfig *b, const Kernels *k) {
    Config c = make_config(b);
    Err e;
    Model m;
    if (model_create(&m, &c, k, &e) || model_alloc_grads(&m, 0, &e)) {
        fprintf(stderr, "bench: %s: %s\n", b->name, e.msg);
        exit(1);
    }
    // Uniform weights of std 0.02 (norms 1): model_init_random's normals would take
    // seconds of host time at 500M parameters, and speed does not depend on the draw.
    float *h = malloc(m.n_params * sizeof(float));
    Rng r = rng_seed(1);
    for (size_t i = 0; i < m.n_params; i++)
        h[i] = i < m.n_decay ? 0.0346f * (2.0f * rng_float(&r) - 1.0f) : 1.0f;
    k->upload(m.params_mem, h, m.n_params * sizeof(float));
    model_weights_update(&m, 0, m.n_params);
    free(h);
    return m;
}

static double step_flops(const Model *m, int B, int T) {
    const Config *c = &m->cfg;
    double attn = (double)c->n_layers * c->n_heads * c->head_dim * T;
    return (double)B * T * (6.0 * (double)m->n_decay + 6.0 * attn);
}

// Seconds per training step of m on table k (m's memory must be k's device's).
static double time_train(Model *m, const Kernels *k, int B, int T, int warm, int steps) {
    m->k = k;
    Err e;
    Acts a;
    Optimizer o;
    OptimConfig oc = optim_defaults();
    oc.total_steps = 1000;
    if (acts_create(&a, m, B, T, ACTS_BACKWARD, ACTS_VOCAB_AUTO, &e) || optim_create(&o, m, oc, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        exit(1);
    }
    int N = B * T, V = m->cfg.vocab_size;
    int *tok = malloc(N * sizeof(int)), *tgt = malloc(N * sizeof(int)), *lens = malloc(B * sizeof(int));
    float *w = malloc(N * sizeof(float));
    Rng r = rng_seed(2);
    for (int n = 0; n < N; n++) tok[n] = (int)rng_below(&r, V);
    for (int n = 0; n < N; n++) {
        tgt[n] = (n + 1) % T ? tok[n + 1] : -1;
        w[n] = tgt[n] >= 0 ? 1.0f / (B * (T - 1)) : 0.0f;
    }
    for (int b = 0; b < B; b++) lens[b] = T;
    double t0 = 0;
    for (int s = 0; s < warm + steps; s++) {
        if (s == warm) {
            k->synchronize();
            t0 = now();
        }
        model_forward(m, &a, tok, lens, B, T);
        model_loss(m, &a, tgt, w, NULL, B, T);
        model_backward(m, &a, w, B, T);
        optim_step(&o, m, NULL);
    }
    k->synchronize();
    double dt = (now() - t0) / steps;
    free(tok), free(tgt), free(lens), free(w);
    optim_free(&o, m);
    acts_free(&a, m);
    return dt;
}

static int count_tokens(void *user, const SamplerStats *st) {
    *(uint64_t *)user = st->tokens_generated;
    return 0;
}

// Generated tokens per second of K samples of one prompt, with the settings of `how`.
static double time_decode(Model *m, int K, int max_new, SampleRequest how) {
    SamplerOpts so = {.slots = K, .max_len = 16 + max_new + 1};
    Err e;
    Sampler *s = sampler_create(m, &so, &e);
    if (!s) {
        fprintf(stderr, "bench: %s\n", e.msg);
        exit(1);
    }
    int32_t prompt[16];
    for (int i = 0; i < 16; i++) prompt[i] = (int32_t)((i * 7919 + 13) % m->cfg.vocab_size);
    SampleRequest rq = how;
    rq.prompt = prompt, rq.prompt_len = 16, rq.k = K, rq.max_new = max_new, rq.seed = 1;
    uint64_t tokens = 0;
    SamplerCallbacks cb = {.user = &tokens, .on_step = count_tokens};
    double t0 = now();
    if (sampler_run(s, &rq, 1, &cb, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        exit(1);
    }
    double dt = now() - t0;
    sampler_free(s);
    return tokens / dt;
}

// Bytes per second of a device-to-device copy of 1 GiB (read + write), best of 5.
static double hbm_bandwidth(const Kernels *k) {
    size_t n = (size_t)1 << 30;
    void *a = k->alloc(n), *b = k->alloc(n);
    if (!a || !b) {
        fprintf(stderr, "bench: out of device memory for the bandwidth copy\n");
        exit(1);
    }
    double best = 0;
    for (int r = 0; r < 6; r++) {
        k->synchronize();
        double t0 = now();
        k->copy(b, a, n);
        k->synchronize();
        double bw = 2.0 * n / (now() - t0);
        if (r > 0 && bw > best) best = bw;  // the first copy warms up
    }
    k->free(a), k->free(b);
    return best;
}

// Tokens per second if a decode step of K samples only read the weights and each
// sample's keys and values over `ctx` positions once (in the table's element sizes: fp32,
// or bf16 on cuda-bf16), at `bw` bytes/s.
static double decode_roofline(const Model *m, int K, int ctx, double bw) {
    const Config *c = &m->cfg;
    double kv = 2.0 * c->n_layers * c->n_kv_heads * c->head_dim * m->k->kv_elem_bytes * ctx;
    return K * bw / (m->n_params * (double)m->k->weight_elem_bytes + K * kv);
}

int main(void) {
    const Kernels *cpu = kernels_by_name("cpu"), *gpu = kernels_by_name("cuda");
    if (!gpu) {
        printf("SKIP: no CUDA device\n");
        return 0;
    }
    const Kernels *tables[3] = {gpu, kernels_cuda_tf32_get(), kernels_cuda_bf16_get()};
    double peak[3], cpu_peak = matmul_peak(cpu, 2048, 2);
    for (int i = 0; i < 3; i++) {
        peak[i] = matmul_peak(tables[i], 4096, 5);
        printf("peak %-10s %7.1f TFLOP/s (4096^3 matmul, this run)\n", tables[i]->name, peak[i] / 1e12);
    }
    printf("peak %-10s %7.1f TFLOP/s (matmul 2048^3)\n\n", "cpu", cpu_peak / 1e12);

    static const BenchConfig configs[] = {
        {"small L6 C384 H6 KV2 V2048", 6, 384, 6, 2, 1024, 2048, 16, 256, 1},
        {"100M  L12 C768 H12 V16384", 12, 768, 12, 12, 2048, 16384, 16, 64, 1},
        {"100M  L12 C768 H12 V16384", 12, 768, 12, 12, 2048, 16384, 16, 512, 0},
        {"500M  L24 C1280 H20 V32000", 24, 1280, 20, 20, 3456, 32000, 8, 512, 0},
        {"100M  L12 C768 H12 V16384", 12, 768, 12, 12, 2048, 16384, 8, 1024, 0},
    };
    int n_configs = (int)(sizeof configs / sizeof configs[0]);
    printf("training step (forward, loss, backward, AdamW)\n");
    printf("%-28s %6s %7s %-10s %10s %11s %9s %6s\n", "config", "params", "B x T", "backend",
           "ms/step", "tokens/s", "TFLOP/s", "MFU");
    for (int i = 0; i < n_configs; i++) {
        const BenchConfig *b = &configs[i];
        Model m = new_model(b, gpu);
        double flops = step_flops(&m, b->B, b->T);
        char bt[32];
        snprintf(bt, sizeof bt, "%dx%d", b->B, b->T);
        for (int t = 0; t < 4; t++) {
            Model mc;
            const Kernels *k = t < 3 ? tables[t] : cpu;
            if (t == 3 && !b->cpu) continue;
            if (t == 3) mc = new_model(b, cpu);
            // The three CUDA tables share the device's memory: one model serves them all.
            double dt = t < 3 ? time_train(&m, k, b->B, b->T, 2, i == 3 ? 3 : 5)
                              : time_train(&mc, k, b->B, b->T, 1, 2);
            double p = t < 3 ? peak[t] : cpu_peak;
            printf("%-28s %5.0fM %7s %-10s %10.1f %11.0f %9.2f %5.1f%%\n", b->name, m.n_params / 1e6,
                   bt, k->name, dt * 1e3, b->B * b->T / dt, flops / dt / 1e12, 100 * flops / dt / p);
            fflush(stdout);
            if (t == 3) model_free(&mc);
        }
        model_free(&m);
    }

    double bw = hbm_bandwidth(gpu);
    printf("\ndecode (sampler, one 16-token prompt, K samples sharing its prefill), tokens/s: greedy, "
           "T 0.5 top-p 0.8, T 0.5 alone, T 0.5 top-k 50; HBM %.0f GB/s (device copy, this run)\n",
           bw / 1e9);
    printf("%-28s %-10s %4s %9s %9s %9s %9s %14s %13s %10s %7s\n", "config", "backend", "K",
           "greedy", "top-p", "T alone", "top-k", "roofline tok/s", "greedy of it", "no graphs",
           "graphs");
    static const SampleRequest hows[4] = {{.temperature = 0, .top_p = 1},
                                          {.temperature = 0.5f, .top_p = 0.8f},
                                          {.temperature = 0.5f, .top_p = 1},
                                          {.temperature = 0.5f, .top_k = 50, .top_p = 1}};
    static const int Ks[4] = {1, 16, 64, 256};
    static const int decode_configs[3] = {0, 1, 3};
    // fp32 and bf16 (weights and KV cache) on the GPU, then the CPU
    const Kernels *decoders[3] = {gpu, tables[2], cpu};
    for (int i = 0; i < 3; i++) {
        const BenchConfig *b = &configs[decode_configs[i]];
        for (int t = 0; t < 3; t++) {
            int on_cpu = decoders[t] == cpu;
            if (on_cpu && !b->cpu) continue;
            Model m = new_model(b, decoders[t]);
            for (int j = 0; j < (on_cpu ? 3 : 4); j++) {
                double tps[4];
                for (int h = 0; h < 4; h++) tps[h] = time_decode(&m, Ks[j], on_cpu ? 16 : 64, hows[h]);
                printf("%-28s %-10s %4d %9.0f %9.0f %9.0f %9.0f", b->name, m.k->name, Ks[j], tps[0], tps[1],
                       tps[2], tps[3]);
                if (!on_cpu) {
                    double roof = decode_roofline(&m, Ks[j], 16 + 32, bw);
                    // the same model on its table without graphs: each step makes its calls
                    Kernels ungraphed = *m.k;
                    const Kernels *graphed = m.k;
                    ungraphed.graph_begin = NULL;
                    m.k = &ungraphed;
                    double direct = time_decode(&m, Ks[j], 64, hows[0]);
                    m.k = graphed;
                    printf(" %14.0f %12.0f%% %10.0f %6.2fx", roof, 100 * tps[0] / roof, direct,
                           tps[0] / direct);
                }
                printf("\n");
                fflush(stdout);
            }
            model_free(&m);
        }
    }
    return 0;
}
