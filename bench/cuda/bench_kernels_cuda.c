// bench/cuda/bench_kernels_cuda.c -- the CUDA backend's kernels at model shapes, with
// the CPU backend's numbers beside them, all measured in this run.
//
//   peak      cuBLAS fp32 sgemm 4096^3: the ceiling MFU is measured against (and the
//             tf32 / bf16 tensor-core tables' own peaks, in their storage: fp32 for
//             tf32, bf16 weights and product inputs for bf16)
//   matmul    forward + backward of a ~100M model's layer shapes (C=768, N=B*T=8192),
//             TFLOP/s and the fraction of the measured peak
//   attention forward + backward, B=8 T=1024 H=12 KV=12 D=64 (causal FLOPs); cuda-bf16's
//             tensor-core attention at B=8 T=2048, against the bf16 peak of this run
//   decode    attention_decode for K = 1, 16, 64 slots at context 512 (tokens/s per layer)
// The CPU column runs the same primitive on a smaller N (it would take minutes at full
// size) and is reported in the same unit. Model-level numbers (training step time,
// tokens/s, MFU of a whole step, decode) are bench_model_cuda.c's.
// Without a GPU it prints "SKIP: no CUDA device".
#include "bench_cuda.h"

static const Kernels *cpu, *gpu;

static double time_attention(const Kernels *k, int B, int T, int H, int KV, int D, int reps) {
    int W = (H + 2 * KV) * D;
    // out in the table's product-input elements (a float buffer holds either)
    float *qkv = filled(k, (size_t)B * T * W, 1), *out = filled(k, (size_t)B * T * H * D, 0);
    float *dout = filled(k, (size_t)B * T * H * D, 1);
    float *lse = filled(k, (size_t)B * T * H, 0), *dqkv = filled(k, (size_t)B * T * W, 0);
    int *lens_h = malloc(B * sizeof(int)), *lens = k->alloc(B * sizeof(int));
    for (int b = 0; b < B; b++) lens_h[b] = T;
    k->upload(lens, lens_h, B * sizeof(int));
    k->attention_forward(out, lse, qkv, lens, B, T, H, KV, D);
    k->synchronize();
    double t0 = now();
    for (int r = 0; r < reps; r++) {
        k->attention_forward(out, lse, qkv, lens, B, T, H, KV, D);
        k->attention_backward(dqkv, dout, qkv, out, lse, lens, B, T, H, KV, D);
    }
    k->synchronize();
    double t = (now() - t0) / reps;
    k->free(qkv), k->free(out), k->free(dout), k->free(lse), k->free(dqkv), k->free(lens);
    free(lens_h);
    return t;
}

// One decode step of K tokens, each in its own slot at position ctx - 1.
static double time_decode(const Kernels *k, int K, int ctx, int H, int KV, int D, int reps) {
    int W = (H + 2 * KV) * D;
    float *qkv = filled(k, (size_t)K * W, 1), *out = filled(k, (size_t)K * H * D, 0);
    size_t nc = (size_t)K * ctx * KV * D;
    float *kc = filled(k, nc, 1), *vc = filled(k, nc, 1);
    int *h = malloc(2 * K * sizeof(int)), *slots = k->alloc(K * sizeof(int));
    int *pos = k->alloc(K * sizeof(int));
    for (int i = 0; i < K; i++) h[i] = i, h[K + i] = ctx - 1;
    k->upload(slots, h, K * sizeof(int));
    k->upload(pos, h + K, K * sizeof(int));
    k->synchronize();
    double t0 = now();
    for (int r = 0; r < reps; r++) {
        k->kv_cache_write(kc, vc, qkv, slots, pos, K, H, KV, D, ctx);
        k->attention_decode(out, qkv, kc, vc, slots, pos, NULL, NULL, K, H, KV, D, ctx);
    }
    k->synchronize();
    double t = (now() - t0) / reps;
    k->free(qkv), k->free(out), k->free(kc), k->free(vc), k->free(slots), k->free(pos);
    free(h);
    return t;
}

int main(void) {
    cpu = kernels_by_name("cpu");
    gpu = kernels_by_name("cuda");
    if (!gpu) {
        printf("SKIP: no CUDA device\n");
        return 0;
    }
    double peak = matmul_peak(gpu, 4096, 5);
    printf("cuBLAS fp32 peak (sgemm 4096^3): %.1f TFLOP/s\n", peak / 1e12);
    const Kernels *fast[2] = {kernels_cuda_tf32_get(), kernels_cuda_bf16_get()};
    double fast_peak[2];
    for (int i = 0; i < 2; i++) {
        fast_peak[i] = matmul_peak(fast[i], 4096, 5);
        printf("cuBLAS %s peak (4096^3, %s operands): %.1f TFLOP/s\n", fast[i]->name,
               fast[i]->act_elem_bytes == 2 ? "bf16" : "fp32", fast_peak[i] / 1e12);
    }

    static const struct {
        const char *what;
        int C, OC;
    } mm[] = {{"qkv 768->2304", 768, 2304}, {"attn out 768->768", 768, 768},
              {"mlp up 768->4096", 768, 4096}, {"mlp down 2048->768", 2048, 768},
              {"lm head 768->32000", 768, 32000}};
    printf("%-22s %12s %8s %14s %8s\n", "matmul fwd+bwd", "cuda TFLOP/s", "of peak",
           "cpu GFLOP/s", "ratio");
    for (int i = 0; i < 5; i++) {
        int N = 8192, Ncpu = 256;
        double flop = 6.0 * mm[i].C * mm[i].OC;  // per row: forward 2, backward 4
        double tg = time_matmul(gpu, N, mm[i].C, mm[i].OC, 10);
        double tc = time_matmul(cpu, Ncpu, mm[i].C, mm[i].OC, 1);
        double g = flop * N / tg, c = flop * Ncpu / tc;
        printf("%-22s %12.2f %7.0f%% %14.2f %7.0fx\n", mm[i].what, g / 1e12, 100 * g / peak,
               c / 1e9, g / c);
    }
    for (int f = 0; f < 2; f++)
        for (int i = 0; i < 5; i++) {
            double flop = 6.0 * mm[i].C * mm[i].OC * 8192;
            double t = time_matmul(fast[f], 8192, mm[i].C, mm[i].OC, 10);
            printf("%-9s %-22s %8.2f TFLOP/s, %3.0f%% of its peak\n", fast[f]->name, mm[i].what,
                   flop / t / 1e12, 100 * flop / t / fast_peak[f]);
        }

    // causal: half the T x T scores; forward 2 GEMM-like products, backward 5
    int B = 8, T = 1024, H = 12, D = 64;
    double aflop = 7.0 * 2.0 * B * H * D * (double)T * T / 2;
    double ta = time_attention(gpu, B, T, H, H, D, 5);
    double tac = time_attention(cpu, 1, 256, H, H, D, 1);
    double acpu = 7.0 * 2.0 * H * D * 256.0 * 256 / 2 / tac;
    printf("attention fwd+bwd B=%d T=%d H=%d D=%d: cuda %.2f ms, %.2f TFLOP/s (%.0f%% of peak); "
           "cpu %.2f GFLOP/s (B=1 T=256)\n",
           B, T, H, D, ta * 1e3, aflop / ta / 1e12, 100 * aflop / ta / peak, acpu / 1e9);
    for (int Tb = 1024; Tb <= 2048; Tb *= 2) {
        double bflop = 7.0 * 2.0 * B * H * D * (double)Tb * Tb / 2;
        double tb = time_attention(fast[1], B, Tb, H, H, D, 5);
        printf("attention fwd+bwd B=%d T=%d H=%d D=%d: %s (tensor cores) %.2f ms, %.2f TFLOP/s "
               "(%.0f%% of its peak)\n",
               B, Tb, H, D, fast[1]->name, tb * 1e3, bflop / tb / 1e12,
               100 * bflop / tb / fast_peak[1]);
    }

    int Ks[] = {1, 16, 64};
    for (int i = 0; i < 3; i++) {
        double td = time_decode(gpu, Ks[i], 512, H, H, D, 50);
        double tdc = time_decode(cpu, Ks[i], 512, H, H, D, 5);
        printf("decode attention K=%-3d ctx 512: cuda %8.1f us/step (%9.0f tok/s per layer), "
               "cpu %8.1f us/step\n",
               Ks[i], td * 1e6, Ks[i] / td, tdc * 1e6);
    }
    return 0;
}
