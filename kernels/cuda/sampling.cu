// kernels/cuda/sampling.cu -- what the sampler needs of a logits row without the row on
// the host: greedy decoding's argmax and log-prob, top-p and top-k sampling's candidates,
// the draw at a temperature alone.
//
// Determinism: one block per row (or draw); every sum runs over fixed strides or chunks
// and a fixed tree or scan, and the candidates are written in column order by a
// block-wide prefix sum. The results wait in device buffers grown as calls need them
// (at most the packed candidates of a call: N x V ids and logits where every column is
// one).
#include <math.h>
#include <string.h>

#include "common.cuh"

// A device buffer grown (never shrunk) as calls need.
typedef struct {
    void *p;
    size_t bytes;
} DeviceBuffer;

static void *device_buffer(DeviceBuffer *b, size_t bytes) {
    if (bytes > b->bytes) {
        CUDA_CHECK(cudaFree(b->p));
        CUDA_CHECK(cudaMalloc(&b->p, bytes));
        b->bytes = bytes;
    }
    return b->p;
}

// A call's small arrays cross together: packed at 8-byte offsets into one device buffer
// and one host staging buffer, one copy each way. Each copy waits for the GPU, so a call
// waits once for its settings and once for its results, not once per array.
typedef struct {
    const void *src;  // a host array to upload, or
    void *dst;        // a host array to download into
    size_t bytes;
    size_t at;  // set by pack: its offset in the packed buffers ...
    void *dev;  // ... and its device address
} Part;

static Part to_device(const void *src, size_t bytes) {
    Part p = {src, NULL, bytes, 0, NULL};
    return p;
}

static Part to_host(void *dst, size_t bytes) {
    Part p = {NULL, dst, bytes, 0, NULL};
    return p;
}

// Host memory grown (never shrunk) as calls need.
static char *host_staging(size_t bytes) {
    static char *p;
    static size_t have;
    if (bytes > have) {
        free(p);
        p = (char *)malloc(bytes);
        if (!p) cuda_fail("out of host memory for a staging buffer", __FILE__, __LINE__);
        have = bytes;
    }
    return p;
}

// Lays parts[0..n) out in b, grown to fit.
static void pack(DeviceBuffer *b, Part *parts, int n) {
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        parts[i].at = (at + 7) / 8 * 8;
        at = parts[i].at + parts[i].bytes;
    }
    char *d = (char *)device_buffer(b, at);
    for (int i = 0; i < n; i++) parts[i].dev = d + parts[i].at;
}

static size_t packed_bytes(const Part *parts, int n) {
    return parts[n - 1].at + parts[n - 1].bytes;
}

// parts' src arrays into b, laid out by pack, in one copy.
static void upload_parts(DeviceBuffer *b, Part *parts, int n) {
    pack(b, parts, n);
    char *h = host_staging(packed_bytes(parts, n));
    for (int i = 0; i < n; i++) memcpy(h + parts[i].at, parts[i].src, parts[i].bytes);
    CUDA_CHECK(cudaMemcpy(b->p, h, packed_bytes(parts, n), cudaMemcpyHostToDevice));
}

// parts, laid out in b by pack, to their dst arrays, in one copy.
static void download_parts(const DeviceBuffer *b, const Part *parts, int n) {
    char *h = host_staging(packed_bytes(parts, n));
    CUDA_CHECK(cudaMemcpy(h, b->p, packed_bytes(parts, n), cudaMemcpyDeviceToHost));
    for (int i = 0; i < n; i++) memcpy(parts[i].dst, h + parts[i].at, parts[i].bytes);
}

// ---- greedy decoding ------------------------------------------------------------------------
// One block per row: each thread scans columns t, t + 256, ... keeping its first largest;
// the block's tree takes the largest, ties to the lower column; then the sum of exp in
// double over the same strides and a fixed tree (another order than ref's: lse within
// rounding of double, the argmax exact).
__global__ void argmax_logprob_kernel(int *argmax, double *logprob, const float *logits, int V,
                                      int ld) {
    __shared__ float best_x[256];
    __shared__ int best_j[256];
    __shared__ double red[32];
    const float *x = logits + (size_t)blockIdx.x * ld;
    int t = threadIdx.x, bj = -1;
    float bx = -INFINITY;
    for (int j = t; j < V; j += blockDim.x)
        if (bj < 0 || x[j] > bx) bx = x[j], bj = j;
    best_x[t] = bx, best_j[t] = bj;
    for (int h = blockDim.x / 2; h > 0; h /= 2) {
        __syncthreads();
        if (t < h) {
            float ox = best_x[t + h];
            int oj = best_j[t + h];
            if (oj >= 0 && (best_j[t] < 0 || ox > best_x[t] || (ox == best_x[t] && oj < best_j[t])))
                best_x[t] = ox, best_j[t] = oj;
        }
    }
    __syncthreads();
    float mx = best_x[0];
    double z = 0.0;
    for (int j = t; j < V; j += blockDim.x) z += exp((double)x[j] - mx);
    z = block_sum(z, red);
    if (t == 0) {
        argmax[blockIdx.x] = best_j[0];
        logprob[blockIdx.x] = (double)mx - (mx + log(z));
    }
}

void cuda_argmax_logprob(int *argmax, double *logprob, const float *logits, int N, int V,
                         int ld) {
    if (N <= 0) return;
    static DeviceBuffer out_buf;
    Part out[2] = {to_host(logprob, (size_t)N * sizeof(double)),
                   to_host(argmax, (size_t)N * sizeof(int))};
    pack(&out_buf, out, 2);
    argmax_logprob_kernel<<<N, 256, 0, cuda_stream>>>((int *)out[1].dev, (double *)out[0].dev,
                                                      logits, V, ld);
    LAUNCH_CHECK();
    download_parts(&out_buf, out, 2);
}

// ---- top-p and top-k sampling's candidates ---------------------------------------------------
// Two passes a row. Count: the max, both sums of exp in double over fixed strides and a
// fixed tree, the row's rule for its candidates, and their number. Pack: each row's place
// in the packed output is the candidates of the rows before it; the row is read in tiles
// of CAND_ITEMS columns a thread, a block-wide prefix sum of the tile's counts places each
// thread's candidates in column order. The host then copies the packed candidates at once
// and unpacks them into its rows.
#define CAND_ITEMS 8

// A row's candidates: with top_k, the logits whose key is at least `least` (the k-th
// largest's); otherwise those with w = exp((x - mx) * inv_t) >= at_least.
typedef struct {
    float mx;
    int top_k;
    unsigned least;
    double inv_t, at_least;
} CandRule;

// The order of floats as unsigned keys (-0 as +0): a larger float, a larger key.
__device__ __forceinline__ unsigned float_key(float x) {
    unsigned u = __float_as_uint(x);
    if (u == 0x80000000u) u = 0;
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}

__device__ __forceinline__ bool is_candidate(const CandRule &r, float x) {
    return r.top_k > 0 ? float_key(x) >= r.least : exp(((double)x - r.mx) * r.inv_t) >= r.at_least;
}

__global__ void candidates_count_kernel(int *count, double *z, double *lse1, CandRule *rule,
                                        const float *logits, const double *inv_t,
                                        const double *cut, const int *top_k, int V, int ld) {
    __shared__ float red_f[32];
    __shared__ double red_d[32];
    __shared__ int red_i[32];
    int n = blockIdx.x, t = threadIdx.x;
    const float *x = logits + (size_t)n * ld;
    float m = -INFINITY;
    for (int j = t; j < V; j += blockDim.x)
        if (x[j] > m) m = x[j];
    float mx = block_max(m, red_f);
    double it = inv_t[n], s1 = 0.0, st = 0.0;
    for (int j = t; j < V; j += blockDim.x) {
        s1 += exp((double)x[j] - mx);
        st += exp(((double)x[j] - mx) * it);
    }
    s1 = block_sum(s1, red_d);
    st = block_sum(st, red_d);
    CandRule r = {mx, top_k[n] < V ? top_k[n] : V, 0u, it, cut[n] * st};
    // top-k: the largest key with at least k keys at or above it, a bit at a time from the top
    for (int b = 31; r.top_k > 0 && b >= 0; b--) {
        unsigned trial = r.least | 1u << b;
        int c = 0;
        for (int j = t; j < V; j += blockDim.x) c += float_key(x[j]) >= trial;
        if (block_sum(c, red_i) >= r.top_k) r.least = trial;
    }
    int c = 0;
    for (int j = t; j < V; j += blockDim.x) c += is_candidate(r, x[j]);
    c = block_sum(c, red_i);
    if (t == 0) {
        count[n] = c;
        z[n] = st;
        lse1[n] = mx + log(s1);
        rule[n] = r;
    }
}

__global__ void candidates_pack_kernel(int *ids, float *cand, const int *count,
                                       const CandRule *rule, const float *logits, int V, int ld) {
    __shared__ int red_i[32];
    int n = blockIdx.x, t = threadIdx.x;
    const float *x = logits + (size_t)n * ld;
    CandRule r = rule[n];
    int off = 0;
    for (int m = t; m < n; m += blockDim.x) off += count[m];
    off = block_sum(off, red_i);
    for (int j0 = 0; j0 < V; j0 += CAND_ITEMS * blockDim.x) {
        int first = j0 + CAND_ITEMS * t, kept = 0;
        unsigned keep = 0;  // bit i: column first + i is a candidate
        for (int i = 0; i < CAND_ITEMS && first + i < V; i++)
            if (is_candidate(r, x[first + i])) keep |= 1u << i, kept++;
        int tile;
        int at = off + block_scan(kept, red_i, &tile);
        for (int i = 0; i < CAND_ITEMS; i++)
            if (keep >> i & 1) {
                ids[at] = first + i;
                cand[at++] = x[first + i];
            }
        off += tile;
    }
}

void cuda_sampling_candidates(int *count, int *ids, float *cand, double *z, double *lse1,
                              const float *logits, const double *inv_t, const double *cut,
                              const int *top_k, int N, int V, int ld) {
    if (N <= 0) return;
    static DeviceBuffer in_buf, out_buf, rule_buf, ids_buf, cand_buf;
    size_t rows = (size_t)N;
    Part in[3] = {to_device(inv_t, rows * sizeof(double)), to_device(cut, rows * sizeof(double)),
                  to_device(top_k, rows * sizeof(int))};
    Part out[3] = {to_host(z, rows * sizeof(double)), to_host(lse1, rows * sizeof(double)),
                   to_host(count, rows * sizeof(int))};
    upload_parts(&in_buf, in, 3);
    pack(&out_buf, out, 3);
    int *d_count = (int *)out[2].dev;
    CandRule *d_rule = (CandRule *)device_buffer(&rule_buf, rows * sizeof(CandRule));
    candidates_count_kernel<<<N, 256, 0, cuda_stream>>>(
        d_count, (double *)out[0].dev, (double *)out[1].dev, d_rule, logits, (double *)in[0].dev,
        (double *)in[1].dev, (int *)in[2].dev, V, ld);
    LAUNCH_CHECK();
    download_parts(&out_buf, out, 3);
    size_t total = 0;
    for (int n = 0; n < N; n++) total += (size_t)count[n];
    int *d_ids = (int *)device_buffer(&ids_buf, (total ? total : 1) * sizeof(int));
    float *d_cand = (float *)device_buffer(&cand_buf, (total ? total : 1) * sizeof(float));
    candidates_pack_kernel<<<N, 256, 0, cuda_stream>>>(d_ids, d_cand, d_count, d_rule, logits, V,
                                                       ld);
    LAUNCH_CHECK();
    // The packed candidates to the front of the host arrays, then each row to its place,
    // the last first: row n's packed start, the count of the rows before it, is at most
    // n * ld, so no move overwrites candidates still to move.
    CUDA_CHECK(cudaMemcpy(ids, d_ids, total * sizeof(int), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(cand, d_cand, total * sizeof(float), cudaMemcpyDeviceToHost));
    for (int n = N - 1; n >= 0; n--) {
        total -= (size_t)count[n];
        memmove(ids + (size_t)n * ld, ids + total, (size_t)count[n] * sizeof(int));
        memmove(cand + (size_t)n * ld, cand + total, (size_t)count[n] * sizeof(float));
    }
}

// ---- the draw at a temperature alone ------------------------------------------------------------
// One block per draw. The max and lse1 as in argmax_logprob; the cumulative mass over
// contiguous chunks of columns, one a thread: the chunk sums scanned in thread order give
// each chunk's mass before it (and z), each thread finds its first column past u * z, and
// the block takes the lowest.
__global__ void temperature_draw_kernel(int *tok, double *logprob, const float *logits,
                                        const int *rows, const double *inv_t, const double *u,
                                        int V, int ld) {
    __shared__ float red_f[32];
    __shared__ double red_d[32];
    int d = blockIdx.x, t = threadIdx.x;
    const float *x = logits + (size_t)rows[d] * ld;
    float m = -INFINITY;
    for (int j = t; j < V; j += blockDim.x)
        if (x[j] > m) m = x[j];
    float mx = block_max(m, red_f);
    double s1 = 0.0, it = inv_t[d];
    for (int j = t; j < V; j += blockDim.x) s1 += exp((double)x[j] - mx);
    s1 = block_sum(s1, red_d);
    int per = (V + blockDim.x - 1) / blockDim.x, j0 = t * per, j1 = min(V, j0 + per);
    double own = 0.0, z;
    for (int j = j0; j < j1; j++) own += exp(((double)x[j] - mx) * it);
    double cum = block_scan(own, red_d, &z), target = u[d] * z;
    int first = V;  // none in this chunk
    for (int j = j0; j < j1 && first == V; j++) {
        cum += exp(((double)x[j] - mx) * it);
        if (cum > target) first = j;
    }
    first = (int)-block_max(-(float)first, red_f);  // the lowest: exact in float below 2^24
    if (t == 0) {
        int c = first < V ? first : V - 1;
        tok[d] = c;
        logprob[d] = (double)x[c] - (mx + log(s1));
    }
}

void cuda_temperature_draws(int *tok, double *logprob, const float *logits, const int *rows,
                            const double *inv_t, const double *u, int n_draws, int V, int ld) {
    if (n_draws <= 0) return;
    static DeviceBuffer in_buf, out_buf;
    size_t n = (size_t)n_draws;
    Part in[3] = {to_device(inv_t, n * sizeof(double)), to_device(u, n * sizeof(double)),
                  to_device(rows, n * sizeof(int))};
    Part out[2] = {to_host(logprob, n * sizeof(double)), to_host(tok, n * sizeof(int))};
    upload_parts(&in_buf, in, 3);
    pack(&out_buf, out, 2);
    temperature_draw_kernel<<<n_draws, 256, 0, cuda_stream>>>(
        (int *)out[1].dev, (double *)out[0].dev, logits, (int *)in[2].dev, (double *)in[0].dev,
        (double *)in[1].dev, V, ld);
    LAUNCH_CHECK();
    download_parts(&out_buf, out, 2);
}
