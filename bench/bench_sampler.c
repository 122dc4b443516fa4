// bench/bench_sampler.c -- sampling throughput against baselines measured in the same run:
// a plain one-sequence-at-a-time decoding loop (model_decode_step, one token per call,
// argmax) and PyTorch (bench/torch_decode.py: a hand-written KV-cache loop on the same
// config, OMP_WAIT_POLICY=PASSIVE, best of 1 and 2 threads).
//
// For each config: prefill tokens/s (one prompt of P tokens), decode tokens/s with one
// sequence (K = 1) and with K = 16 samples of one prompt decoded together (greedy, no stop
// token: every sequence runs NEW tokens), each the best of 1 and 2 threads. Ratios:
// K=16 over the plain loop (target >= 5) and K=1 over PyTorch at batch 1 (target >= 5).
// Also the matmul primitives at N = 1 (the decode step's shape): the backend's
// matmul_forward, cblas_sgemv and cblas_sgemm. And the sampler's work per logits row at
// Qwen's vocabulary (V = 151936, logits ~ N(0, 3^2), T 0.5, 1 thread): the backend's row
// reductions (sampling_candidates + sample_from_candidates at top-p 0.8 and at top-k 50,
// temperature_draws alone) against greedy's argmax_logprob (one scan and one sum of exp),
// and sample_token, the rules on the whole row (it sorts all V for top-p).
#include <cblas.h>
#undef I  // OpenBLAS pulls in <complex.h>, whose I would clash with our I (MLP width)
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/rng.h"
#include "../model/io.h"
#include "../model/model.h"
#include "../engine/sampler.h"
#include "bench.h"

static void die(const Err *e) {
    fprintf(stderr, "bench_sampler: %s\n", e->msg);
    exit(1);
}

typedef struct {
    double t_first;  // when the first step (prefill + first token) ended
    uint64_t n_first;
} Clock;

static int on_step(void *user, const SamplerStats *st) {
    Clock *c = user;
    if (st->steps == 1) c->t_first = now(), c->n_first = st->tokens_generated;
    return 0;
}

// Decode tokens/s of K samples of one P-token prompt through the sampler (slots = K),
// counted after the first step; *prefill gets the first step's prompt tokens/s.
static double bench_sampler(Model *m, const int32_t *prompt, int P, int K, int NEW, double *prefill) {
    Err e;
    SamplerOpts so = {K, P + NEW, 256, NULL, 0, 0};
    Sampler *s = sampler_create(m, &so, &e);
    if (!s) die(&e);
    SampleRequest r = {prompt, P, K, NEW, 0, 0, 1, 1, 0};
    Clock c = {0};
    SamplerCallbacks cb = {&c, NULL, NULL, on_step};
    double t0 = now();
    if (sampler_run(s, &r, 1, &cb, &e)) die(&e);
    double t1 = now();
    const SamplerStats *st = sampler_stats(s);
    if (prefill) *prefill = P / (c.t_first - t0);
    double rate = (st->tokens_generated - c.n_first) / (t1 - c.t_first);
    sampler_free(s);
    return rate;
}

// The plain loop: n_seq sequences one after the other, each a prefill then one token per
// model_decode_step call, greedy.
static double bench_plain(Model *m, const int32_t *prompt, int P, int n_seq, int NEW) {
    Err e;
    KVCache kv;
    int V = m->cfg.vocab_size;
    if (kvcache_create(&kv, m, 1, P + NEW, P, &e)) die(&e);
    int *slots = calloc(P, sizeof(int)), *pos = malloc(P * sizeof(int));
    float *logits = malloc((size_t)V * sizeof(float));
    for (int i = 0; i < P; i++) pos[i] = i;
    double t_decode = 0;
    for (int s = 0; s < n_seq; s++) {
        model_decode_step(m, &kv, prompt, slots, pos, NULL, NULL, P, 1, logits);
        double t0 = now();
        for (int t = 0; t < NEW - 1; t++) {
            int best = 0;
            for (int v = 1; v < V; v++)
                if (logits[v] > logits[best]) best = v;
            int p = P + t;
            model_decode_step(m, &kv, &best, slots, &p, NULL, NULL, 1, 1, logits);
        }
        t_decode += now() - t0;
    }
    free(slots);
    free(pos);
    free(logits);
    kvcache_free(&kv, m);
    return (double)n_seq * (NEW - 1) / t_decode;
}

// PyTorch's prefill and decode tokens/s at batch B, the best of 1 and 2 threads.
static void bench_torch(const Config *c, int P, int NEW, int B, double *prefill, double *decode) {
    *prefill = *decode = 0;
    for (int t = 1; t <= 2; t++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=%d /usr/bin/python3 bench/torch_decode.py "
                 "%d %d %d %d %d %d %d %d %d %d 2>/dev/null",
                 t, c->n_layers, c->dim, c->n_heads, c->n_kv_heads, c->hidden_dim, c->vocab_size, P, NEW, B, t);
        FILE *f = popen(cmd, "r");
        if (!f) return;
        double p = 0, d = 0;
        if (fscanf(f, "prefill_tokens_per_s %lf decode_tokens_per_s %lf", &p, &d) != 2) p = d = 0;
        pclose(f);
        if (p > *prefill) *prefill = p;
        if (d > *decode) *decode = d;
    }
}

// Microseconds per call of the three N = 1 matmuls (best of reps), threads as set.
static void bench_matvec(int C, int OC, double us[3]) {
    float *x = malloc(C * sizeof(float)), *w = malloc((size_t)OC * C * sizeof(float)),
          *o = malloc(OC * sizeof(float));
    Rng r = rng_seed(1);
    for (int i = 0; i < C; i++) x[i] = rng_float(&r);
    for (size_t i = 0; i < (size_t)OC * C; i++) w[i] = rng_float(&r) - 0.5f;
    for (int which = 0; which < 3; which++) {
        double best = 1e9;
        for (int rep = 0; rep < 5; rep++) {
            int n = 200;
            double t0 = now();
            for (int i = 0; i < n; i++) {
                if (which == 0) kernels_cpu.matmul_forward(o, x, w, NULL, 1, C, OC);
                else if (which == 1) cblas_sgemv(CblasRowMajor, CblasNoTrans, OC, C, 1.0f, w, C, x, 1, 0.0f, o, 1);
                else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 1, OC, C, 1.0f, x, C, w, C, 0.0f, o, OC);
            }
            double t = (now() - t0) / n * 1e6;
            if (t < best) best = t;
        }
        us[which] = best;
    }
    free(x);
    free(w);
    free(o);
}

// Milliseconds per row of the sampler's paths on 16 rows of V logits, best of 5 (one thread),
// for top-p 0.8, top-k 50, T 0.5 alone, greedy: ms[p][0] sample_token on the whole row,
// ms[p][1] the backend's row reductions and the host's draw.
enum { ROW_PATHS = 4 };
static void bench_row_paths(int V, double ms[ROW_PATHS][2]) {
    enum { N = 16 };
    float *l = malloc((size_t)N * V * sizeof *l), *cand = malloc((size_t)N * V * sizeof *cand);
    int *ids = malloc((size_t)N * V * sizeof *ids), count[N], rows[N], tok[N], top_k[N];
    double z[N], lse1[N], inv_t[N], cut[N], u[N], lp[N];
    Rng g = rng_seed(1), r = rng_seed(2);
    for (size_t i = 0; i < (size_t)N * V; i++) l[i] = (float)(3 * rng_normal(&g));
    SampleScratch sc;
    Err e;
    if (sample_scratch_init(&sc, V, &e)) die(&e);
    const float temps[ROW_PATHS] = {0.5f, 0.5f, 0.5f, 0}, tops[ROW_PATHS] = {0.8f, 1, 1, 1};
    const int ks[ROW_PATHS] = {0, 50, 0, 0};
    const Kernels *k = &kernels_cpu;
    set_threads(1);
    for (int p = 0; p < ROW_PATHS; p++)
        for (int via = 0; via < 2; via++) {
            for (int n = 0; n < N; n++)
                rows[n] = n, top_k[n] = ks[p], inv_t[n] = 1.0 / temps[p], cut[n] = (1.0 - tops[p]) / (2.0 * V);
            double best = 1e30;
            for (int rep = 0; rep < 5; rep++) {
                double t0 = now();
                if (!via) {
                    for (int n = 0; n < N; n++) sample_token(&sc, l + (size_t)n * V, temps[p], ks[p], tops[p], &r, NULL);
                } else if (p < 2) {
                    k->sampling_candidates(count, ids, cand, z, lse1, l, inv_t, cut, top_k, N, V, V);
                    for (int n = 0; n < N; n++)
                        sample_from_candidates(&sc, ids + (size_t)n * V, cand + (size_t)n * V, count[n], z[n], lse1[n],
                                               temps[p], ks[p], tops[p], &r, NULL);
                } else if (p == 2) {
                    for (int n = 0; n < N; n++) u[n] = rng_double(&r);
                    k->temperature_draws(tok, lp, l, rows, inv_t, u, N, V, V);
                } else {
                    k->argmax_logprob(tok, lp, l, N, V, V);
                }
                double dt = now() - t0;
                if (dt < best) best = dt;
            }
            ms[p][via] = best / N * 1e3;
        }
    sample_scratch_free(&sc);
    free(l), free(cand), free(ids);
}

static Config llama(int L, int C, int H, int I, int V, int T) {
    Config c = {0};
    strcpy(c.model_type, "llama");
    c.vocab_size = V;
    c.dim = C;
    c.hidden_dim = I;
    c.n_layers = L;
    c.n_heads = c.n_kv_heads = H;
    c.head_dim = C / H;
    c.max_seq_len = T;
    c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f;
    c.tie_embeddings = 1;
    c.bos_token_id = c.eos_token_id = -1;
    return c;
}

int main(int argc, char **argv) {
    int quick = argc > 1 && !strcmp(argv[1], "quick");
    int P = 64, NEW = quick ? 32 : 128, KB = 16;
    Err e;
    struct { char name[64]; Config c; } cfgs[2];
    if (config_load("configs/ref-small.json", &cfgs[0].c, &e) == 0) {
        snprintf(cfgs[0].name, sizeof cfgs[0].name, "ref-small L%d C%d H%d V%d", cfgs[0].c.n_layers,
                 cfgs[0].c.dim, cfgs[0].c.n_heads, cfgs[0].c.vocab_size);
    } else {
        cfgs[0].c = llama(4, 256, 4, 688, 2048, 512);
        snprintf(cfgs[0].name, sizeof cfgs[0].name, "ref L4 C256 H4 V2048");
    }
    cfgs[1].c = llama(4, 256, 4, 688, 512, 512);
    snprintf(cfgs[1].name, sizeof cfgs[1].name, "tiny L4 C256 H4 V512");
    int have_torch = system("/usr/bin/python3 -c 'import torch' 2>/dev/null") == 0;

    printf("prompt %d tokens, %d new tokens per sequence, greedy, no stop token; best of 1 and 2 threads\n\n", P,
           NEW);
    printf("%-24s %9s %9s %9s %9s %7s | %9s %9s %9s | %7s %7s\n", "config", "prefill", "K=1", "K=16", "plain", "K16/pl",
           "torch pf", "torch b1", "torch b16", "K1/tb1", "K16/tb16");
    for (int ci = 0; ci < 2; ci++) {
        Config *c = &cfgs[ci].c;
        if (P + NEW > c->max_seq_len) c->max_seq_len = P + NEW;
        Model m;
        if (model_create(&m, c, &kernels_cpu, &e)) die(&e);
        model_init_random(&m, 1);
        int32_t *prompt = malloc(P * sizeof(int32_t));
        Rng r = rng_seed(3);
        for (int i = 0; i < P; i++) prompt[i] = (int32_t)rng_below(&r, c->vocab_size);
        double pf = 0, k1 = 0, k16 = 0, plain = 0;
        for (int t = 1; t <= 2; t++) {
            set_threads(t);
            for (int rep = 0; rep < (quick ? 1 : 2); rep++) {
                double p, x;
                x = bench_sampler(&m, prompt, P, 1, NEW, &p);
                if (x > k1) k1 = x;
                if (p > pf) pf = p;
                x = bench_sampler(&m, prompt, P, KB, NEW, NULL);
                if (x > k16) k16 = x;
                x = bench_plain(&m, prompt, P, quick ? 2 : 4, NEW);
                if (x > plain) plain = x;
            }
        }
        double tpf = 0, tb1 = 0, tpf16 = 0, tb16 = 0;
        if (have_torch) {
            bench_torch(c, P, NEW, 1, &tpf, &tb1);
            bench_torch(c, P, NEW, KB, &tpf16, &tb16);
        }
        printf("%-24s %9.0f %9.0f %9.0f %9.0f %6.1fx | %9.0f %9.0f %9.0f | %6.1fx %6.1fx\n", cfgs[ci].name, pf, k1, k16,
               plain, k16 / plain, tpf, tb1, tb16, tb1 > 0 ? k1 / tb1 : 0, tb16 > 0 ? k16 / tb16 : 0);
        free(prompt);
        model_free(&m);
    }
    printf("\n(tokens/s; prefill: one %d-token prompt; plain: one sequence at a time, one token per step;\n"
           " torch: bench/torch_decode.py, batch 1 and 16%s)\n\n", P, have_torch ? "" : " -- not installed");

    printf("matmul at N = 1 (the decode step's shape), microseconds per call:\n");
    printf("%-14s %4s %12s %12s %12s\n", "C x OC", "thr", "matmul_fwd", "sgemv", "sgemm M=1");
    int shapes[][2] = {{256, 768}, {256, 1376}, {688, 256}, {256, 2048}};
    for (int t = 1; t <= 2; t++) {
        set_threads(t);
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            double us[3];
            bench_matvec(shapes[i][0], shapes[i][1], us);
            printf("%4d x %-7d %4d %12.1f %12.1f %12.1f\n", shapes[i][0], shapes[i][1], t, us[0], us[1], us[2]);
        }
    }

    double ms[ROW_PATHS][2];
    bench_row_paths(151936, ms);
    printf("\nsampling one logits row, V = 151936, T 0.5, 1 thread, ms per row: the sampler's path through\n"
           "the cpu backend's row reductions, as a multiple of greedy's; sample_token on the whole row:\n");
    printf("%-12s %10s %10s %13s\n", "", "sampler", "of greedy", "sample_token");
    const char *paths[ROW_PATHS] = {"top-p 0.8", "top-k 50", "T alone", "greedy"};
    for (int p = 0; p < ROW_PATHS; p++)
        printf("%-12s %10.2f %9.2fx %13.2f\n", paths[p], ms[p][1], ms[p][1] / ms[ROW_PATHS - 1][1], ms[p][0]);
    return 0;
}
