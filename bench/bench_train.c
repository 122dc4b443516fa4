// bench/bench_train.c -- training step throughput against two baselines measured in the
// same run: the matmul peak of this machine (MFU) and PyTorch on the same model.
//
// For each config and thread count: tokens/s of a full step (forward, loss, backward,
// AdamW), achieved GFLOP/s counted in model FLOPs (6 per parameter of every matmul per
// token, plus the causal attention's 6 L H D T per token) and MFU = GFLOP/s over the
// matmul peak measured here with the same threads (the higher of OpenBLAS's cblas_sgemm
// and our cpu_gemm). PyTorch (bench/torch_train.py, OMP_WAIT_POLICY=PASSIVE so its
// OpenMP pool does not spin while ours works) runs at 1 and 2 threads, and on an AVX-512
// CPU also with its OpenBLAS on AVX-512 kernels; the best is reported.
//
// On a shared machine a neighbour's load comes and goes. So both sides are timed the
// same way: a run's speed is its median step (a burst of load spoils a few steps, not the
// median), and the runs of o1p and PyTorch alternate, ROUNDS times, each side keeping its
// best round -- a slow minute costs the side it falls on a round, not the comparison.
#include <cblas.h>
#undef I  // OpenBLAS pulls in <complex.h>, whose I would clash with our I (MLP width)
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/rng.h"
#include "../kernels/cpu/cpu.h"
#include "../model/model.h"
#include "../engine/optim.h"
#include "bench.h"

enum { ROUNDS = 2, MAX_STEPS = 16 };  // (a config's timed steps: at most MAX_STEPS)

// Best of 3 of a square product C = A B^T, in GFLOP/s: OpenBLAS's cblas_sgemm, or ours
// (the CPU table's matmul_forward, which runs cpu_gemm at this size) with the given
// micro-kernel.
static double matmul_peak(int n, int ours, CpuGemmKernel kernel) {
    float *a = malloc((size_t)n * n * 4), *b = malloc((size_t)n * n * 4), *c = malloc((size_t)n * n * 4);
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = 0.001f * (float)(i % 1000), c[i] = 0;
    double best = 0;
    cpu_gemm_select(kernel);
    for (int r = 0; r < 4; r++) {
        double t0 = now();
        if (ours) kernels_cpu.matmul_forward(c, a, b, NULL, n, n, n);
        else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double g = 2.0 * n * n * n / (now() - t0) / 1e9;
        if (r && g > best) best = g;
    }
    cpu_gemm_select(CPU_GEMM_AUTO);
    free(a);
    free(b);
    free(c);
    return best;
}

typedef struct {
    const char *name;
    int L, C, H, KV, I, V, B, T, steps;
} BenchConfig;

static Config make_config(const BenchConfig *b) {
    Config c = {0};
    strcpy(c.model_type, "llama");
    c.vocab_size = b->V;
    c.dim = b->C;
    c.hidden_dim = b->I;
    c.n_layers = b->L;
    c.n_heads = b->H;
    c.n_kv_heads = b->KV;
    c.head_dim = b->C / b->H;
    c.max_seq_len = b->T;
    c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f;
    c.tie_embeddings = 1;
    c.bos_token_id = c.eos_token_id = -1;
    return c;
}

// Model FLOPs of one training step (forward + backward = 3x forward).
static double step_flops(const Model *m, int B, int T) {
    const Config *c = &m->cfg;
    double matmul_params = (double)m->n_decay;  // every matrix, lm_head included (tied: once)
    double attn = (double)c->n_layers * c->n_heads * c->head_dim * T;  // causal: half of 2 T per token
    return (double)B * T * (6.0 * matmul_params + 6.0 * attn);
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// The median of x[0..n) (sorts x).
static double median(double *x, int n) {
    qsort(x, n, sizeof *x, by_value);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

// Seconds in the timed steps of the last run, in all, and in each part (profile below).
enum { PART_MATMUL, PART_ATTENTION, N_PARTS };
static double steps_s, part_s[N_PARTS];

// One run of b at `threads`: tokens/s of the median step (GFLOP/s in *gflops), on the
// kernels k (kernels_cpu, or the timed table below).
static double bench_ours(const BenchConfig *b, int threads, const Kernels *k, double *gflops) {
    set_threads(threads);
    Config c = make_config(b);
    Err e;
    Model m;
    Acts a;
    Optimizer o;
    OptimConfig oc = optim_defaults();
    oc.total_steps = 1000;
    if (model_create(&m, &c, k, &e) || model_alloc_grads(&m, 0, &e) ||
        acts_create(&a, &m, b->B, b->T, ACTS_BACKWARD, ACTS_VOCAB_AUTO, &e) || optim_create(&o, &m, oc, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        exit(1);
    }
    model_init_random(&m, 1);
    int N = b->B * b->T;
    int *tok = malloc(N * sizeof(int)), *tgt = malloc(N * sizeof(int)), *lens = malloc(b->B * sizeof(int));
    float *w = malloc(N * sizeof(float));
    Rng r = rng_seed(2);
    for (int n = 0; n < N; n++) tok[n] = (int)rng_below(&r, b->V), tgt[n] = (int)rng_below(&r, b->V), w[n] = 1.0f / N;
    for (int i = 0; i < b->B; i++) lens[i] = b->T;
    double step_s[MAX_STEPS];
    for (int s = 0; s <= b->steps; s++) {  // step 0 warms up
        double t0 = now();
        model_forward(&m, &a, tok, lens, b->B, b->T);
        model_loss(&m, &a, tgt, w, NULL, b->B, b->T);
        model_backward(&m, &a, w, b->B, b->T);
        optim_step(&o, &m, NULL);
        if (s) steps_s += step_s[s - 1] = now() - t0;
        else steps_s = 0, memset(part_s, 0, sizeof part_s);
    }
    double dt = median(step_s, b->steps);
    *gflops = step_flops(&m, b->B, b->T) / dt / 1e9;
    free(tok);
    free(tgt);
    free(lens);
    free(w);
    optim_free(&o, &m);
    acts_free(&a, &m);
    model_free(&m);
    return N / dt;
}

// Where a step goes: the CPU kernels with the matmuls and the attention timed call by
// call (each kernel runs its threads and returns, so a call's wall time is its own).
#define TIMED(part, name, params, args)                                                     \
    static void timed_##name params {                                                      \
        double t0 = now();                                                                 \
        kernels_cpu.name args;                                                             \
        part_s[part] += now() - t0;                                                        \
    }
TIMED(PART_MATMUL, matmul_forward,
      (float *out, const float *inp, const float *w, const float *bias, int N, int C, int OC),
      (out, inp, w, bias, N, C, OC))
TIMED(PART_MATMUL, matmul_backward,
      (float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
       int N, int C, int OC),
      (dinp, dw, dbias, dout, inp, w, N, C, OC))
TIMED(PART_ATTENTION, attention_forward,
      (float *out, float *lse, const float *qkv, const int *lens, int B, int T, int H, int KV, int D),
      (out, lse, qkv, lens, B, T, H, KV, D))
TIMED(PART_ATTENTION, attention_backward,
      (float *dqkv, const float *dout, const float *qkv, const float *out, const float *lse,
       const int *lens, int B, int T, int H, int KV, int D),
      (dqkv, dout, qkv, out, lse, lens, B, T, H, KV, D))
#undef TIMED

// Prints the shares of the matmuls, the attention and the rest in the timed steps of a
// run of b (the timing's own cost: a few microseconds per call).
static void print_profile(const BenchConfig *b, int threads) {
    Kernels k = kernels_cpu;
    k.matmul_forward = timed_matmul_forward;
    k.matmul_backward = timed_matmul_backward;
    k.attention_forward = timed_attention_forward;
    k.attention_backward = timed_attention_backward;
    double gf;
    bench_ours(b, threads, &k, &gf);
    double mm = part_s[PART_MATMUL] / steps_s, att = part_s[PART_ATTENTION] / steps_s;
    printf("%-28s %5d   matmul %4.1f%%   attention %4.1f%%   rest %4.1f%%\n", b->name, threads,
           100 * mm, 100 * att, 100 * (1 - mm - att));
}

// coretype: NULL, or the OpenBLAS kernels PyTorch's sgemm is to run (OPENBLAS_CORETYPE).
static double bench_torch(const BenchConfig *b, int threads, const char *coretype) {
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "%s%s OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=%d /usr/bin/python3 bench/torch_train.py "
             "%d %d %d %d %d %d %d %d %d %d 2>/dev/null",
             coretype ? "OPENBLAS_CORETYPE=" : "", coretype ? coretype : "", threads, b->L, b->C,
             b->H, b->KV, b->I, b->V, b->B, b->T, threads, b->steps);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    double v = 0;
    if (fscanf(p, "tokens_per_s %lf", &v) != 1) v = 0;
    pclose(p);
    return v;
}

static void profile(const BenchConfig *configs, int nc) {
    printf("\nwhere a step goes (each matmul and attention call timed):\n");
    for (int i = 0; i < nc; i++)
        for (int t = 1; t <= 2; t++) print_profile(&configs[i], t);
}

int main(int argc, char **argv) {
    // "quick" runs fewer steps (a smoke run of the benchmark itself); "profile" prints
    // only where the steps go.
    int quick = argc > 1 && !strcmp(argv[1], "quick");
    BenchConfig configs[] = {
        {"tiny  L4 C256 H4 V512", 4, 256, 4, 4, 688, 512, 16, 256, quick ? 1 : 7},
        {"small L6 C384 H6 KV2 V2048", 6, 384, 6, 2, 1024, 2048, 16, 256, quick ? 1 : 7},
        {"100M  L12 C768 H12 V16384", 12, 768, 12, 12, 2048, 16384, 16, 64, quick ? 1 : 5},
    };
    int nc = quick ? 1 : 3;
    if (argc > 1 && !strcmp(argv[1], "profile")) {  // the profile alone
        profile(configs, nc);
        return 0;
    }
    int have_torch = system("/usr/bin/python3 -c 'import torch' 2>/dev/null") == 0;
    // OpenBLAS 0.3.21 runs its AVX2 kernels on CPUs it does not know, AVX-512 ones among
    // them; where the CPU has AVX-512, PyTorch is timed with its AVX-512 kernels too.
    int avx512 = cpu_gemm_select(CPU_GEMM_V16);
    cpu_gemm_select(CPU_GEMM_AUTO);
    // The 8-lane kernel is timed too: it is what an AVX2 machine runs.
    double blas[3] = {0}, ours[3] = {0}, ours8[3] = {0}, peak[3] = {0};
    int n = quick ? 512 : 2048;
    for (int t = 1; t <= 2; t++) {
        set_threads(t);
        blas[t] = matmul_peak(n, 0, CPU_GEMM_AUTO);
        ours[t] = matmul_peak(n, 1, CPU_GEMM_AUTO);
        ours8[t] = matmul_peak(n, 1, CPU_GEMM_V8);
        peak[t] = blas[t] > ours[t] ? blas[t] : ours[t];
    }
    printf("matmul peak (%dx%dx%d, this run), GFLOP/s at 1 and 2 threads: OpenBLAS cblas_sgemm "
           "%.1f, %.1f; o1p cpu_gemm %.1f, %.1f (%s kernel; its 8-lane kernel %.1f, %.1f). MFU is "
           "against the higher.\n\n",
           n, n, n, blas[1], blas[2], ours[1], ours[2],
           avx512 ? "AVX-512" : "8-lane", ours8[1], ours8[2]);
    printf("%-28s %7s %5s %11s %9s %6s %13s %7s\n", "config", "B x T", "thr", "o1p tok/s", "GFLOP/s",
           "MFU", "torch tok/s", "ratio");
    for (int i = 0; i < nc; i++) {
        const BenchConfig *b = &configs[i];
        double torch_best = 0, tps_best[3] = {0}, gf_best[3] = {0};
        for (int round = 0; round < (quick ? 1 : ROUNDS); round++) {
            if (have_torch)
                for (int t = 1; t <= 2; t++)
                    for (int ct = 0; ct <= avx512; ct++) {
                        double v = bench_torch(b, t, ct ? "SkylakeX" : NULL);
                        if (v > torch_best) torch_best = v;
                    }
            for (int t = 1; t <= 2; t++) {
                double gf, tps = bench_ours(b, t, &kernels_cpu, &gf);
                if (tps > tps_best[t]) tps_best[t] = tps, gf_best[t] = gf;
            }
        }
        for (int t = 1; t <= 2; t++) {
            double gf = gf_best[t], tps = tps_best[t];
            char bt[32];
            snprintf(bt, sizeof bt, "%dx%d", b->B, b->T);
            printf("%-28s %7s %5d %11.1f %9.1f %5.1f%% ", b->name, bt, t, tps, gf, 100 * gf / peak[t]);
            if (torch_best > 0) printf("%13.1f %6.2fx\n", torch_best, tps / torch_best);
            else printf("%13s %7s\n", "n/a", "");
            fflush(stdout);
        }
    }
    if (!have_torch) printf("\n(python3-torch not installed: no PyTorch column; make deps installs it)\n");
    else
        printf("\ntorch tok/s: best of 1 and 2 threads%s, OMP_WAIT_POLICY=PASSIVE; every tok/s: "
               "the median step of a run, the best of %d rounds (o1p and PyTorch alternating)\n",
               avx512 ? " and of OpenBLAS's default and AVX-512 kernels (OPENBLAS_CORETYPE=SkylakeX)"
                      : "",
               quick ? 1 : ROUNDS);
    profile(configs, nc);
    return 0;
}
