// kernels/kernels.h -- the backend contract.
//
// Every numeric primitive the model needs, forward and backward, on backend memory.
// The model (model/) is written once against this table; a backend fills it in.
// kernels/ref/ is the specification: the plainest correct C of every function, whose
// comments fix the numerics. kernels/cpu/ and kernels/cuda/ are tested against it
// (tests/test_kernels_cpu.c, tests/cuda/test_kernels_cuda.c: random inputs, stated
// tolerances); a new backend copies ref and passes the same tests (docs/porting.md).
//
// Conventions, for every function below:
// - Pointers are backend memory (from alloc), except where a parameter says "host".
// - Weights (the parameters as the forward reads them: w, bias, wte) are `const void *`
//   in the table's weight storage, elements of weight_elem_bytes: float, or bf16 rounded
//   to nearest even from the fp32 parameters, which stay the master copy the optimizer
//   updates (weights_from_params, adamw).
// - Product inputs (the activations a matmul reads as inp: what rmsnorm_forward,
//   swiglu_forward, attention_forward and attention_decode write, and attention_backward
//   reads back as out) are `void *` elements of act_elem_bytes: float, or bf16 rounded to
//   nearest even from the fp32 result. Gradients and the other activations are float.
// - Shapes are row-major; N is the number of token rows (B*T in training).
// - Tensors of parameter *gradients* accumulate (+=): gradient accumulation over
//   micro-batches is free, and the optimizer zeroes them after its step.
// - Activation gradients are overwritten (=), except rmsnorm_backward's dinp, which
//   accumulates into the residual stream's gradient (see model/model.c).
// - Calls are asynchronous on backends that can be (CUDA): host-visible results exist
//   only after download() or synchronize().
// - Determinism: the same inputs give bitwise the same outputs whatever the number of
//   threads. A row's result depends on its own inputs only (in attention, its
//   sequence's); whether its bits depend on how many rows share the call is the
//   backend's max_rows_invariant.
//
// Attention layout. The fused projection qkv[N, (H + 2*KV) * D] holds, per token, the
// H query heads, then the KV key heads, then the KV value heads, each D wide. Query head
// h uses key/value head h / (H / KV) (grouped-query attention; KV = 1 is multi-query).
// Training batches are a (B, T) grid whose sequence b occupies rows b*T .. b*T+lens[b]-1
// (left-aligned, padding after); attention is causal within a sequence and never reads
// padding. Outputs at padding rows are zero.
#ifndef O1P_KERNELS_H
#define O1P_KERNELS_H

#include <stddef.h>

typedef struct Kernels {
    const char *name;  // "ref", "cpu", "cuda"
    // In any call of at most max_rows_invariant rows a row's result has the same bits
    // whatever the number of rows; 0: in calls of any size; -1: not promised (rows agree
    // within rounding only). The sampler cuts its steps into calls of at most this many
    // (0, -1: whole steps; engine/sampler.c).
    int max_rows_invariant;

    // ---- memory -------------------------------------------------------------------
    void *(*alloc)(size_t bytes);  // zero-filled; NULL when out of memory
    void (*free)(void *p);
    void (*zero)(void *p, size_t bytes);
    void (*upload)(void *dst, const void *host_src, size_t bytes);
    void (*download)(void *host_dst, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);  // backend to backend
    void (*synchronize)(void);

    // ---- weights: w[0, n) = p[0, n) in weight storage ----------------------------------
    void (*weights_from_params)(void *w, const float *p, size_t n);

    // ---- matmul: out[N,OC] = inp[N,C] @ w[OC,C]^T (+ bias[OC]) ----------------------
    // w and bias are weights; bias may be NULL.
    void (*matmul_forward)(float *out, const void *inp, const void *w, const void *bias,
                           int N, int C, int OC);
    // dinp[N,C] = dout @ w (overwritten); dw[OC,C] += dout^T @ inp; dbias[OC] += sum_n dout.
    // Any of dinp, dw, dbias may be NULL (not needed).
    void (*matmul_backward)(float *dinp, float *dw, float *dbias, const float *dout,
                            const void *inp, const void *w, int N, int C, int OC);

    // ---- embedding: out[n,:] = wte[tokens[n],:] -------------------------------------
    void (*embedding_forward)(float *out, const int *tokens, const void *wte, int N, int C);
    // dwte[tokens[n],:] += dout[n,:] (deterministic: fixed order over n).
    void (*embedding_backward)(float *dwte, const float *dout, const int *tokens, int N, int C);

    // ---- RMSNorm: out = inp / sqrt(mean(inp^2) + eps) * w ---------------------------
    // rstd[N] keeps 1/sqrt(mean(inp^2) + eps) for the backward.
    void (*rmsnorm_forward)(void *out, float *rstd, const float *inp, const void *w,
                            float eps, int N, int C);
    // dinp[N,C] += ..., dw[C] += ... (dinp accumulates: it is the residual stream).
    // dinp or dw may be NULL (not needed: below or of a frozen layer).
    void (*rmsnorm_backward)(float *dinp, float *dw, const float *dout, const float *inp,
                             const void *w, const float *rstd, int N, int C);

    // ---- rotary embedding, Hugging Face "rotate_half" convention --------------------
    // In place on the first n_heads heads (of width D) of each row of x[N, row_stride]:
    // for i < D/2, with f = pos[n] * theta^(-2i/D):
    //   (x_i, x_{i+D/2}) <- (x_i cos f - x_{i+D/2} sin f, x_{i+D/2} cos f + x_i sin f).
    void (*rope_forward)(float *x, const int *pos, int N, int row_stride, int n_heads, int D,
                         float theta);
    // The transpose (rotation by -f), applied in place to the gradient.
    void (*rope_backward)(float *dx, const int *pos, int N, int row_stride, int n_heads, int D,
                          float theta);

    // ---- causal attention over a (B, T) grid (layout above) ------------------------
    // out[B*T, H*D]; lse[B*T, H] keeps each row's log-sum-exp of the scaled scores
    // (scale 1/sqrt(D)) for the backward, which recomputes the probabilities from it.
    void (*attention_forward)(void *out, float *lse, const float *qkv, const int *lens,
                              int B, int T, int H, int KV, int D);
    // dqkv[B*T, (H+2KV)*D] = gradient w.r.t. qkv (overwritten, zero at padding rows).
    void (*attention_backward)(float *dqkv, const float *dout, const float *qkv,
                               const void *out, const float *lse, const int *lens,
                               int B, int T, int H, int KV, int D);

    // ---- KV cache for incremental decoding ----------------------------------------
    // A cache holds n_slots sequences of up to max_T positions: kcache/vcache are
    // [n_slots, max_T, KV*D] for one layer, elements of kv_elem_bytes (below): float, or
    // bf16 (rounded to nearest even on write, widened exactly on read). Token n of a step
    // belongs to slot slots[n] at position pos[n].
    // Stores the (post-RoPE) key and value parts of qkv[N, (H+2KV)*D] into the cache.
    void (*kv_cache_write)(void *kcache, void *vcache, const float *qkv, const int *slots,
                           const int *pos, int N, int H, int KV, int D, int max_T);
    // out[N, H*D]: token n's queries attend to positions 0..pos[n] of its sequence (causal:
    // write the step's keys first, then attend; a prefill is a step of many tokens).
    // Positions below prefix_lens[n] are read from slot prefix_slots[n], the others from
    // slots[n], so the samples of one prompt read its keys from one slot; both NULL: every
    // position from slots[n]. A row's result is the same bits wherever its keys live.
    void (*attention_decode)(void *out, const float *qkv, const void *kcache,
                             const void *vcache, const int *slots, const int *pos,
                             const int *prefix_slots, const int *prefix_lens, int N, int H,
                             int KV, int D, int max_T);

    // ---- SwiGLU MLP: out[N,Hd] = silu(gu[:, :Hd]) * gu[:, Hd:] ----------------------
    void (*swiglu_forward)(void *out, const float *gu, int N, int Hd);
    void (*swiglu_backward)(float *dgu, const float *dout, const float *gu, int N, int Hd);

    // ---- residual: out = a + b (out may alias a) ------------------------------------
    void (*add)(float *out, const float *a, const float *b, size_t n);

    // ---- softmax cross-entropy --------------------------------------------------------
    // logits[N,V]. For each row with targets[n] >= 0: logprob[n] = log softmax(logits)[t]
    // and lse[n] = log sum exp(logits[n,:]); rows with targets[n] < 0 get 0 in both.
    void (*crossentropy_forward)(float *logprob, float *lse, const float *logits,
                                 const int *targets, int N, int V);
    // dlogits[n,:] = weights[n] * (softmax(logits[n,:]) - onehot(targets[n])): the
    // gradient of sum_n weights[n] * (-logprob[n]). Rows with weight 0 or target < 0
    // get zeros. dlogits may alias logits (in-place; llm.c does the same).
    void (*crossentropy_backward)(float *dlogits, const float *logits, const float *lse,
                                  const int *targets, const float *weights, int N, int V);

    // ---- the same in vocabulary chunks (the head without the full [N, V] logits) ------
    // The columns of the logits in chunks [v0, v0 + Vc), one call each, v0 = 0 first and
    // in order up to V (widths may differ; the last chunk ends at V). logits[N, Vc] holds
    // the chunk (row stride Vc). Between calls a row with targets[n] >= 0 keeps the running
    // max in lse[n], the running sum of exp(logit - max) in sum[n] (fp32; a call sums its
    // chunk in double, as crossentropy_forward does the row), and the target's logit in
    // logprob[n] once its chunk has passed; the first call starts them (their contents
    // are not read), the last leaves crossentropy_forward's logprob and lse, within
    // rounding. Rows with targets[n] < 0 get 0 in both. sum[N] is not touched when one
    // chunk covers V (v0 = 0, Vc = V: crossentropy_forward, bit for bit; sum may be NULL).
    void (*crossentropy_chunk_forward)(float *logprob, float *lse, float *sum,
                                       const float *logits, const int *targets, int N, int V,
                                       int v0, int Vc);
    // crossentropy_backward on the chunk logits[N, Vc] of columns [v0, v0 + Vc), lse the
    // rows' full log-sum-exp: dlogits[n, j] = weights[n] * (exp(logits[n, j] - lse[n]) -
    // [targets[n] == v0 + j]); zeros for rows with weight 0 or target < 0. dlogits may alias
    // logits. v0 = 0, Vc = V: crossentropy_backward, bit for bit.
    void (*crossentropy_chunk_backward)(float *dlogits, const float *logits, const float *lse,
                                        const int *targets, const float *weights, int N,
                                        int v0, int Vc);

    // ---- greedy decoding: the next token without the logits on the host ---------------
    // For each row n of logits[N, ld], over its first V columns: argmax[n] = the column of
    // the largest logit (ties: the lowest) and logprob[n] its log-softmax, (double)max -
    // (max + log(sum_j exp((double)logits[n, j] - max))), the sum in double. argmax and
    // logprob are host arrays (the sampler's greedy rows, engine/sampler.c).
    void (*argmax_logprob)(int *argmax, double *logprob, const float *logits, int N, int V,
                           int ld);

    // ---- top-p and top-k sampling: a row's candidates without the row on the host -------
    // For each row n of logits[N, ld], over its first V columns l_j, with mx = max_j l_j:
    //   w_j = exp(((double)l_j - mx) * inv_t[n])            (inv_t: 1 / temperature)
    //   z[n] = sum_j w_j,  lse1[n] = mx + log(sum_j exp((double)l_j - mx))   (in double)
    // The candidates, in column order: with top_k[n] > 0 the columns whose logit is at
    // least the top_k[n]-th largest (more than top_k[n] only on ties), else those with
    // w_j >= cut[n] * z[n]. Their ids to ids[n, 0..count[n]), their logits to cand[n,
    // 0..count[n]). The sampler sorts and draws from them (engine/sampler.c); with cut =
    // (1 - p) / 2V the top-p nucleus is among them. Host arrays: count, z, lse1, inv_t, cut,
    // top_k [N]; ids, cand [N, ld]. The sums in column order (ref) or another fixed order
    // (within rounding of double).
    void (*sampling_candidates)(int *count, int *ids, float *cand, double *z, double *lse1,
                                const float *logits, const double *inv_t, const double *cut,
                                const int *top_k, int N, int V, int ld);

    // ---- sampling at a temperature alone: the draw on the backend --------------------
    // Draw d is from row rows[d] of logits[*, ld], its first V columns l_j, with w_j and z
    // as above at inv_t[d] and u[d] in [0, 1) from the host's stream: tok[d] = the first
    // column j whose cumulative mass w_0 + ... + w_j exceeds u[d] * z (V - 1 where rounding
    // leaves none), logprob[d] = l_tok - lse1 (as above). Host arrays [n_draws]. Sums in
    // column order (ref) or another fixed association (the token differs from ref's only
    // where u * z is within rounding of a boundary).
    void (*temperature_draws)(int *tok, double *logprob, const float *logits, const int *rows,
                              const double *inv_t, const double *u, int n_draws, int V, int ld);

    // ---- optimizer ----------------------------------------------------------------
    // Sum of squares of g[0..n), accumulated in double in a fixed order (deterministic);
    // the result is returned to the host.
    double (*sum_squares)(const float *g, size_t n);
    // AdamW on n parameters; elements [0, n_decay) get decoupled weight decay. The
    // gradient is first multiplied by grad_scale (clipping, accumulation averaging).
    // step is 1-based (bias correction). Zeroes g afterwards. w: NULL, or the weights of
    // p[0, n), which get the updated p (as weights_from_params).
    void (*adamw)(float *p, void *w, float *g, float *m, float *v, size_t n, size_t n_decay,
                  float lr, float beta1, float beta2, float eps, float weight_decay,
                  float grad_scale, int step);

    // 1: alloc returns host memory that host code may read and write in place (ref,
    // cpu): model IO converts into it directly instead of staging through upload.
    int host_memory;
    // Bytes of a weight element: 4 (float: the model's weights are its parameters) or 2
    // (bf16: a copy beside them, half the weight reads of a forward; model/model.c).
    int weight_elem_bytes;
    // Bytes of a product input's element: equal to weight_elem_bytes in every table, so
    // that a product reads both operands in one type. With 2, the backward's products take
    // the output gradient rounded to bf16 into a buffer of the backend's, grown to the
    // largest such gradient (model_operand_bytes plans it).
    int act_elem_bytes;
    // Bytes of a KV cache element: 4 (float) or 2 (bf16: half the cache memory and the
    // decode step's reads of it). The model sizes its caches by it (model/decode.c).
    int kv_elem_bytes;
    // ---- recorded calls (CUDA graphs); all NULL where the backend has none ------------
    // Between graph_begin (0: recording; -1: it could not start) and graph_end the calls
    // above are recorded, not run; graph_end returns the recording, or NULL when recording
    // failed (nothing ran: make the calls again). graph_run replays a recording on what
    // its buffers hold then: the same pointers and shapes, new contents. Only device work
    // may be recorded (no alloc, free, upload or download, no function that returns host
    // results).
    int (*graph_begin)(void);
    void *(*graph_end)(void);
    void (*graph_run)(void *graph);
    void (*graph_free)(void *graph);
    // Bytes that alloc can still hand out now: host backends MemAvailable (/proc/meminfo,
    // kernels_host_memory_available), a GPU its free memory. The stages check their
    // memory plan against it before allocating (engine/run.h). NULL: not known (no check).
    size_t (*memory_available)(void);
} Kernels;

// MemAvailable of /proc/meminfo in bytes (SIZE_MAX where it cannot be read): the
// memory_available of the host backends.
size_t kernels_host_memory_available(void);

extern const Kernels kernels_ref;  // kernels/ref/: the specification
extern const Kernels kernels_cpu;  // kernels/cpu/: C + OpenMP
// "ref", "cpu", or with the CUDA backend built in (kernels/cuda/) "cuda", "cuda-tf32",
// "cuda-bf16"; NULL for an unknown name or when the backend cannot run here (no GPU).
const Kernels *kernels_by_name(const char *name);
// The GPU (i modulo the GPU count) that the first GPU table looked up will use; call it
// before. Nothing without a GPU backend.
void kernels_use_device(int i);

#endif
