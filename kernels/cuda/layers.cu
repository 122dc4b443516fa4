// kernels/cuda/layers.cu -- the pointwise and row-wise primitives: weights, embedding,
// RMSNorm, RoPE, SwiGLU, residual add, softmax cross-entropy, bias, grad norm and AdamW
// (the sampler's row reductions: sampling.cu).
//
// Determinism: no float atomics anywhere. Every sum runs in a fixed order: a row's
// reductions use the fixed shuffle trees of common.cuh, column sums (dbias, RMSNorm's dw)
// give each column to one block, and the embedding backward gives each vocabulary row to
// one block that adds the tokens' gradients in increasing n, as ref does.
#include <math.h>

#include "common.cuh"

// Grid-stride loops over large flat arrays use this many blocks of 256 at most.
static int flat_blocks(size_t n) {
    size_t b = (n + 255) / 256;
    return (int)(b < 65536 ? (b ? b : 1) : 65536);
}

// ---- weights: elements of type Weight, float or bf16 bits (common.cuh) --------------------

template <typename Weight>
__global__ void weights_from_params_kernel(Weight *w, const float *p, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        store_elem(w + i, p[i]);
}

template <typename Weight>
void cuda_weights_from_params(void *w, const float *p, size_t n) {
    if (w == p || !n) return;
    weights_from_params_kernel<Weight><<<flat_blocks(n), 256, 0, cuda_stream>>>((Weight *)w, p, n);
    LAUNCH_CHECK();
}

// ---- embedding --------------------------------------------------------------------------

// out[n, c] = wte[tokens[n], c]
template <typename Weight>
__global__ void embedding_forward_kernel(float *out, const int *tokens, const Weight *wte, int N,
                                         int C) {
    size_t total = (size_t)N * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t n = i / C, c = i % C;
        out[i] = load_elem(wte + (size_t)tokens[n] * C + c);
    }
}

template <typename Weight>
void cuda_embedding_forward(float *out, const int *tokens, const void *wte, int N, int C) {
    const Weight *table = (const Weight *)wte;
    embedding_forward_kernel<Weight><<<flat_blocks((size_t)N * C), 256, 0, cuda_stream>>>(
        out, tokens, table, N, C);
    LAUNCH_CHECK();
}

// Deterministic scatter-add without atomics or a sort: block (g, column tile) owns the
// vocabulary rows v with v % EMB_GROUPS == g. It walks all N tokens in order (a broadcast
// read of one int per step) and adds the rows it owns, so every dwte row receives its
// tokens' gradients in increasing n, ref's order, bit for bit.
#define EMB_GROUPS 64
__global__ void embedding_backward_kernel(float *dwte, const float *dout, const int *tokens,
                                          int N, int C) {
    int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= C) return;
    for (int n = 0; n < N; n++) {
        int t = tokens[n];
        if (t % EMB_GROUPS != (int)blockIdx.x) continue;
        dwte[(size_t)t * C + c] += dout[(size_t)n * C + c];
    }
}

void cuda_embedding_backward(float *dwte, const float *dout, const int *tokens, int N, int C) {
    dim3 grid(EMB_GROUPS, ceil_div(C, 128));
    embedding_backward_kernel<<<grid, 128, 0, cuda_stream>>>(dwte, dout, tokens, N, C);
    LAUNCH_CHECK();
}

// ---- column sums: dbias and RMSNorm's dw ---------------------------------------------------
// dst[c] += sum_n a[n, c] (* b[n, c] * rstd[n] when b is given). Block: 32 columns x 32 row
// lanes; lane y sums rows y, y+32, ..., then lane 0 adds the 32 partials in order.
__global__ void column_sum_kernel(float *dst, const float *a, const float *b, const float *rstd,
                                  int N, int C) {
    __shared__ float part[32][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    float s = 0.0f;
    if (c < C)
        for (int n = threadIdx.y; n < N; n += 32) {
            size_t i = (size_t)n * C + c;
            s += b ? a[i] * (b[i] * rstd[n]) : a[i];
        }
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float t = 0.0f;
        for (int y = 0; y < 32; y++) t += part[y][threadIdx.x];
        dst[c] += t;
    }
}

void cuda_bias_backward(float *dbias, const float *dout, int N, int OC) {
    column_sum_kernel<<<ceil_div(OC, 32), dim3(32, 32), 0, cuda_stream>>>(dbias, dout, NULL, NULL,
                                                                          N, OC);
    LAUNCH_CHECK();
}

template <typename Weight>
__global__ void bias_forward_kernel(float *out, const Weight *bias, int N, int OC) {
    size_t total = (size_t)N * OC;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x)
        out[i] += load_elem(bias + i % OC);
}

template <typename Weight>
void cuda_bias_forward(float *out, const void *bias, int N, int OC) {
    bias_forward_kernel<Weight><<<flat_blocks((size_t)N * OC), 256, 0, cuda_stream>>>(
        out, (const Weight *)bias, N, OC);
    LAUNCH_CHECK();
}

// ---- RMSNorm ------------------------------------------------------------------------------
// One block per row. out = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps); out in the
// weights' element (a product input).
template <typename Weight>
__global__ void rmsnorm_forward_kernel(Weight *out, float *rstd, const float *inp, const Weight *w,
                                       float eps, int C) {
    __shared__ float red[32];
    const float *x = inp + (size_t)blockIdx.x * C;
    Weight *o = out + (size_t)blockIdx.x * C;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) ss += x[c] * x[c];
    ss = block_sum(ss, red);
    float r = 1.0f / sqrtf(ss / C + eps);
    for (int c = threadIdx.x; c < C; c += blockDim.x) store_elem(o + c, x[c] * r * load_elem(w + c));
    if (threadIdx.x == 0) rstd[blockIdx.x] = r;
}

template <typename Weight>
void cuda_rmsnorm_forward(void *out, float *rstd, const float *inp, const void *w, float eps,
                          int N, int C) {
    if (N <= 0) return;
    rmsnorm_forward_kernel<Weight><<<N, 256, 0, cuda_stream>>>(
        (Weight *)out, rstd, inp, (const Weight *)w, eps, C);
    LAUNCH_CHECK();
}

// With r = rstd, dr/dx_c = -r^3 x_c / C gives (ref's formula, per element the same operations)
//   dinp_c += r w_c dout_c - (r^3 / C) x_c sum_j dout_j w_j x_j.
template <typename Weight>
__global__ void rmsnorm_backward_kernel(float *dinp, const float *dout, const float *inp,
                                        const Weight *w, const float *rstd, int C) {
    __shared__ float red[32];
    size_t row = (size_t)blockIdx.x * C;
    float r = rstd[blockIdx.x];
    float dot = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        dot += dout[row + c] * load_elem(w + c) * inp[row + c];
    float k = r * r * r * block_sum(dot, red) / C;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        dinp[row + c] += r * load_elem(w + c) * dout[row + c] - k * inp[row + c];
}

template <typename Weight>
void cuda_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                           const void *w, const float *rstd, int N, int C) {
    if (N <= 0) return;
    if (dinp) {
        rmsnorm_backward_kernel<Weight><<<N, 256, 0, cuda_stream>>>(
            dinp, dout, inp, (const Weight *)w, rstd, C);
        LAUNCH_CHECK();
    }
    // dw[c] += sum_n dout[n, c] * x[n, c] * rstd[n]
    if (dw) {
        column_sum_kernel<<<ceil_div(C, 32), dim3(32, 32), 0, cuda_stream>>>(dw, dout, inp, rstd, N,
                                                                             C);
        LAUNCH_CHECK();
    }
}

// ---- RoPE -----------------------------------------------------------------------------------
// One thread per (row, head, i < D/2). The angle pos * theta^(-2i/D) and its cosine and
// sine are computed in double and rounded to float, so large positions lose nothing;
// sign = -1 rotates by -f (the backward).
__global__ void rope_kernel(float *x, const int *pos, int N, int row_stride, int n_heads, int D,
                            float theta, float sign) {
    int half = D / 2;
    size_t total = (size_t)N * n_heads * half;
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < total;
         t += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(t % half);
        size_t nh = t / half;
        int h = (int)(nh % n_heads);
        size_t n = nh / n_heads;
        double f = pos[n] * (1.0 / pow((double)theta, 2.0 * i / D)), sd, cd;
        sincos(f, &sd, &cd);
        float c = (float)cd, s = sign * (float)sd;
        float *p = x + n * row_stride + (size_t)h * D;
        float a = p[i], b = p[i + half];
        p[i] = a * c - b * s;
        p[i + half] = b * c + a * s;
    }
}

void cuda_rope_forward(float *x, const int *pos, int N, int row_stride, int n_heads, int D,
                       float theta) {
    rope_kernel<<<flat_blocks((size_t)N * n_heads * (D / 2)), 256, 0, cuda_stream>>>(
        x, pos, N, row_stride, n_heads, D, theta, 1.0f);
    LAUNCH_CHECK();
}

void cuda_rope_backward(float *dx, const int *pos, int N, int row_stride, int n_heads, int D,
                        float theta) {
    rope_kernel<<<flat_blocks((size_t)N * n_heads * (D / 2)), 256, 0, cuda_stream>>>(
        dx, pos, N, row_stride, n_heads, D, theta, -1.0f);
    LAUNCH_CHECK();
}

// ---- SwiGLU -------------------------------------------------------------------------------
// out[n, i] = silu(g) * u with g = gu[n, i], u = gu[n, I + i], silu(g) = g * sigmoid(g);
// out in the weights' element (a product input).
template <typename Weight>
__global__ void swiglu_forward_kernel(Weight *out, const float *gu, int N, int I) {
    size_t total = (size_t)N * I;
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < total;
         t += (size_t)gridDim.x * blockDim.x) {
        size_t n = t / I, i = t % I;
        float g = gu[n * 2 * I + i], u = gu[n * 2 * I + I + i];
        store_elem(out + t, g / (1.0f + expf(-g)) * u);
    }
}

template <typename Weight>
void cuda_swiglu_forward(void *out, const float *gu, int N, int I) {
    swiglu_forward_kernel<Weight><<<flat_blocks((size_t)N * I), 256, 0, cuda_stream>>>(
        (Weight *)out, gu, N, I);
    LAUNCH_CHECK();
}

// dg = dout * u * sig * (1 + g * (1 - sig)),  du = dout * silu(g).
__global__ void swiglu_backward_kernel(float *dgu, const float *dout, const float *gu, int N,
                                       int I) {
    size_t total = (size_t)N * I;
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < total;
         t += (size_t)gridDim.x * blockDim.x) {
        size_t n = t / I, i = t % I;
        float g = gu[n * 2 * I + i], u = gu[n * 2 * I + I + i], d = dout[t];
        float sig = 1.0f / (1.0f + expf(-g));
        dgu[n * 2 * I + i] = d * u * sig * (1.0f + g * (1.0f - sig));
        dgu[n * 2 * I + I + i] = d * g * sig;
    }
}

void cuda_swiglu_backward(float *dgu, const float *dout, const float *gu, int N, int I) {
    swiglu_backward_kernel<<<flat_blocks((size_t)N * I), 256, 0, cuda_stream>>>(dgu, dout, gu, N,
                                                                                I);
    LAUNCH_CHECK();
}

// ---- residual add -------------------------------------------------------------------------
__global__ void add_kernel(float *out, const float *a, const float *b, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        out[i] = a[i] + b[i];
}

void cuda_add(float *out, const float *a, const float *b, size_t n) {
    add_kernel<<<flat_blocks(n), 256, 0, cuda_stream>>>(out, a, b, n);
    LAUNCH_CHECK();
}

// ---- softmax cross-entropy, whole rows or in vocabulary chunks -----------------------------
// One block per row of the chunk logits[N, Vc] (columns v0 .. v0+Vc-1 of V): the chunk's
// max and sum s = sum exp(x - m) at the new running max m (the sum in double), merged by
// thread 0 as kernels/ref/loss.c: s += sum_old * exp(m_old - m); the last chunk finishes
// lse = m + log(s), logprob = x[t] - lse. A whole row is the one-chunk case.
__global__ void crossentropy_chunk_forward_kernel(float *logprob, float *lse, float *sum,
                                                  const float *logits, const int *targets,
                                                  int V, int v0, int Vc) {
    __shared__ float red[32];
    __shared__ double dred[32];
    int n = blockIdx.x, t = targets[n];
    if (t < 0) {  // uniform over the block
        if (threadIdx.x == 0) logprob[n] = lse[n] = 0.0f;
        return;
    }
    const float *x = logits + (size_t)n * Vc;
    float m_old = v0 > 0 ? lse[n] : -INFINITY;  // read by all before thread 0 writes
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < Vc; j += blockDim.x) mx = fmaxf(mx, x[j]);
    float m = fmaxf(m_old, block_max(mx, red));
    double s = 0.0;  // double: V can be 10^5 terms
    for (int j = threadIdx.x; j < Vc; j += blockDim.x) s += expf(x[j] - m);
    s = block_sum(s, dred);
    if (threadIdx.x != 0) return;
    if (v0 > 0) s += sum[n] * exp((double)m_old - m);
    if (t >= v0 && t < v0 + Vc) logprob[n] = x[t - v0];
    if (v0 + Vc < V) {  // not the last chunk: keep the running state
        lse[n] = m;
        sum[n] = (float)s;
        return;
    }
    float l = m + (float)log(s);
    lse[n] = l;
    logprob[n] = logprob[n] - l;
}

void cuda_crossentropy_chunk_forward(float *logprob, float *lse, float *sum, const float *logits,
                                     const int *targets, int N, int V, int v0, int Vc) {
    if (N <= 0) return;
    crossentropy_chunk_forward_kernel<<<N, 512, 0, cuda_stream>>>(logprob, lse, sum, logits,
                                                                  targets, V, v0, Vc);
    LAUNCH_CHECK();
}

void cuda_crossentropy_forward(float *logprob, float *lse, const float *logits,
                               const int *targets, int N, int V) {
    cuda_crossentropy_chunk_forward(logprob, lse, NULL, logits, targets, N, V, 0, V);
}

// dlogits = w * (softmax - onehot); each element is read, then written, by one thread, so
// dlogits may alias logits.
__global__ void crossentropy_chunk_backward_kernel(float *dlogits, const float *logits,
                                                   const float *lse, const int *targets,
                                                   const float *weights, int v0, int Vc) {
    int n = blockIdx.x, t = targets[n] - v0;  // the target's column in the chunk
    float w = weights[n], l = lse[n];
    size_t row = (size_t)n * Vc;
    bool off = targets[n] < 0 || w == 0.0f;
    for (int j = threadIdx.x; j < Vc; j += blockDim.x)
        dlogits[row + j] = off ? 0.0f : w * (expf(logits[row + j] - l) - (j == t ? 1.0f : 0.0f));
}

void cuda_crossentropy_chunk_backward(float *dlogits, const float *logits, const float *lse,
                                      const int *targets, const float *weights, int N, int v0,
                                      int Vc) {
    if (N <= 0) return;
    crossentropy_chunk_backward_kernel<<<N, 512, 0, cuda_stream>>>(dlogits, logits, lse, targets,
                                                                   weights, v0, Vc);
    LAUNCH_CHECK();
}

void cuda_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                                const int *targets, const float *weights, int N, int V) {
    cuda_crossentropy_chunk_backward(dlogits, logits, lse, targets, weights, N, 0, V);
}

// ---- global gradient norm ------------------------------------------------------------------
// Two passes with a fixed shape: SS_BLOCKS blocks stride over g summing squares in double,
// each block writes its partial, one block adds the partials. Same n, same order, same sum.
#define SS_BLOCKS 256
__global__ void sum_squares_partial_kernel(double *partial, const float *g, size_t n) {
    __shared__ double red[32];
    double s = 0.0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        s += (double)g[i] * g[i];
    s = block_sum(s, red);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void sum_squares_final_kernel(double *partial) {
    __shared__ double red[32];
    double s = block_sum(partial[threadIdx.x], red);  // blockDim.x == SS_BLOCKS
    if (threadIdx.x == 0) partial[SS_BLOCKS] = s;
}

double cuda_sum_squares(const float *g, size_t n) {
    static double *partial;  // SS_BLOCKS partials + the result, allocated once
    if (!partial) CUDA_CHECK(cudaMalloc(&partial, (SS_BLOCKS + 1) * sizeof(double)));
    sum_squares_partial_kernel<<<SS_BLOCKS, 256, 0, cuda_stream>>>(partial, g, n);
    LAUNCH_CHECK();
    sum_squares_final_kernel<<<1, SS_BLOCKS, 0, cuda_stream>>>(partial);
    LAUNCH_CHECK();
    double result;
    CUDA_CHECK(cudaMemcpy(&result, partial + SS_BLOCKS, sizeof(double), cudaMemcpyDeviceToHost));
    return result;
}

// ---- AdamW ------------------------------------------------------------------------------------
// torch.optim.AdamW, one launch over every parameter:
//   g *= grad_scale; p *= 1 - lr*wd (i < n_decay); m += (1-b1)(g - m) (torch's lerp);
//   v = b2 v + (1-b2) g^2;
//   p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), bc_k = 1 - beta_k^step; g = 0.
// w: NULL, or the weights of p, written after the update.
template <typename Weight>
__global__ void adamw_kernel(float *p, Weight *w, float *g, float *m, float *v, size_t n,
                             size_t n_decay, float beta1, float beta2, float eps, float decay,
                             float grad_scale, float step_size, float bc2_sqrt) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float gi = g[i] * grad_scale;
        float pi = i < n_decay ? p[i] * decay : p[i];
        float mi = m[i] + (1.0f - beta1) * (gi - m[i]);
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        p[i] = pi - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
        if (w) store_elem(w + i, p[i]);
        m[i] = mi;
        v[i] = vi;
        g[i] = 0.0f;
    }
}

template <typename Weight>
void cuda_adamw(float *p, void *w, float *g, float *m, float *v, size_t n, size_t n_decay,
                float lr, float beta1, float beta2, float eps, float weight_decay,
                float grad_scale, int step) {
    double bc1 = 1.0 - pow((double)beta1, step), bc2 = 1.0 - pow((double)beta2, step);
    adamw_kernel<Weight><<<flat_blocks(n), 256, 0, cuda_stream>>>(
        p, (Weight *)w, g, m, v, n, n_decay, beta1, beta2, eps, 1.0f - lr * weight_decay,
        grad_scale, (float)(lr / bc1), (float)sqrt(bc2));
    LAUNCH_CHECK();
}

// The two weight storages' instances.
#define WEIGHT_INSTANCES(Weight)                                                               \
    template void cuda_weights_from_params<Weight>(void *, const float *, size_t);            \
    template void cuda_embedding_forward<Weight>(float *, const int *, const void *, int, int); \
    template void cuda_bias_forward<Weight>(float *, const void *, int, int);                 \
    template void cuda_rmsnorm_forward<Weight>(void *, float *, const float *, const void *,   \
                                               float, int, int);                               \
    template void cuda_swiglu_forward<Weight>(void *, const float *, int, int);                \
    template void cuda_rmsnorm_backward<Weight>(float *, float *, const float *, const float *, \
                                                const void *, const float *, int, int);        \
    template void cuda_adamw<Weight>(float *, void *, float *, float *, float *, size_t, size_t, \
                                     float, float, float, float, float, float, int);
WEIGHT_INSTANCES(float)
WEIGHT_INSTANCES(unsigned short)
