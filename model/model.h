// model/model.h -- a decoder-only transformer of the Llama / Qwen2 family.
//
//   x0 = embed[tokens]
//   for each layer:  x = x + o_proj(attention(rope(qkv_proj(rmsnorm(x)))))
//                    x = x + down_proj(silu(gate_proj(rmsnorm(x))) * up_proj(rmsnorm(x)))
//   logits = lm_head(rmsnorm(x))            lm_head == embed when tied
//
// Memory is planned once, one allocation each: the parameters, their gradients when
// training, the activations of a (B, T) batch (Acts), a KV cache (KVCache). Every
// numeric step goes through the backend table (kernels/kernels.h), so model/ serves
// every backend unchanged.
#ifndef O1P_MODEL_H
#define O1P_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "../kernels/kernels.h"

// Hugging Face config.json fields (LlamaForCausalLM / Qwen2ForCausalLM).
typedef struct {
    char model_type[32];  // "llama" or "qwen2"
    int vocab_size;       // V
    int dim;              // C, hidden_size
    int hidden_dim;       // I, intermediate_size
    int n_layers;         // L, num_hidden_layers
    int n_heads;          // H, num_attention_heads
    int n_kv_heads;       // KV, num_key_value_heads (divides H)
    int head_dim;         // D (default C / H)
    int max_seq_len;      // max_position_embeddings
    float rope_theta;
    float norm_eps;       // rms_norm_eps
    int tie_embeddings;   // tie_word_embeddings
    int qkv_bias;         // qwen2, or attention_bias
    int bos_token_id, eos_token_id;  // -1 when absent
} Config;

// Checks ranges and divisibility; the message names `name` (usually the file).
int config_validate(const Config *c, const char *name, Err *e);

// Parameter tensors: pointers into one allocation, row-major. A layer's q, k and v
// projections are consecutive rows of one [QKV, C] matrix, QKV = (H + 2 KV) D, so one
// matmul computes all three; gate and up are the halves of one [2I, C] matrix. Each HF
// tensor is a contiguous slice. Matrices come first, then the vectors (biases, norms):
// weight decay applies to the first n_decay floats only. A per-layer tensor holds the
// layers in order, so the last N blocks are a suffix of each.
typedef struct {
    float *embed;       // [V, C]
    float *lm_head;     // [V, C]; aliases embed when tied
    float *wqkv;        // [L, QKV, C]
    float *wo;          // [L, C, H D]
    float *wgu;         // [L, 2 I, C]: gate rows, then up rows
    float *wdown;       // [L, C, I]
    float *bqkv;        // [L, QKV]; NULL without biases
    float *norm_attn;   // [L, C]
    float *norm_mlp;    // [L, C]
    float *norm_final;  // [C]
} Params;

// Where each tensor of Params starts, in elements from the start of the layout;
// MODEL_ABSENT for a tensor the config does not have (bqkv without biases).
typedef struct {
    size_t embed, lm_head, wqkv, wo, wgu, wdown, bqkv, norm_attn, norm_mlp, norm_final;
} ParamLayout;
#define MODEL_ABSENT SIZE_MAX

// Gradients exist for what trains: every parameter, or with freeze-tuning (train_layers
// N > 0) the last N blocks, all of their tensors (attention, MLP, both norms), while the
// embedding, the final norm and lm_head stay frozen. The gradient allocation has the
// parameters' layout restricted to what trains: g's per-layer tensors hold the trained
// layers only, layer l at index l - (L - N); g.embed, g.lm_head and g.norm_final are NULL
// when frozen. Its first n_trained_decay floats are matrices.
typedef struct {
    Config cfg;
    const Kernels *k;
    ParamLayout at;   // the parameters' layout, which the weights and gradients follow
    size_t n_params;  // floats in the parameter allocation
    size_t n_decay;   // the first n_decay of them are weight-decayed matrices
    float *params_mem;  // NULL for bf16 weights only (model_create_weights)
    Params p;           // pointers into params_mem; NULL without it
    // The parameters as the kernels read them (kernels.h, weight storage): params_mem
    // itself with fp32 weights, else a copy in k->weight_elem_bytes (bf16) that the
    // optimizer refreshes and model_weights_update after any other write to params_mem.
    void *weights_mem;
    int train_layers;        // 0: every parameter trains; N: the last N blocks only
    size_t n_trained;        // floats in the gradient allocation (n_params when all train)
    size_t n_trained_decay;  // the first n_trained_decay of them are matrices
    float *grads_mem;  // NULL until model_alloc_grads
    Params g;
} Model;

// Allocates parameters (zeroed) and their weights on backend k; fails before allocating
// when they exceed k's memory_available.
int model_create(Model *m, const Config *c, const Kernels *k, Err *e);
// The same for decoding only: where the weights are a copy (bf16) there are no fp32
// parameters (params_mem NULL: a third of the memory); the weights are written through
// ParamStage, and the model can neither train nor be saved. Elsewhere model_create.
int model_create_weights(Model *m, const Config *c, const Kernels *k, Err *e);
// Bytes of the weights beside the parameters on backend k: 0 with fp32 weights (the
// parameters themselves).
size_t model_weight_copy_bytes(size_t n_params, const Kernels *k);
// The weights of params_mem[at, ...) when they are a copy; NULL when the weights are the
// parameters themselves.
void *model_weight_copy(const Model *m, size_t at);
// The weights from element `at` of the layout (m->at's offsets); NULL for MODEL_ABSENT.
const void *model_weight(const Model *m, size_t at);
// The backend's bf16 buffer for the widest output gradient that the backward's products
// of N rows take (kernels.h, act_elem_bytes 2), the head's [N, head_cols] included, in
// bytes; 0 with fp32 product inputs. The forward needs none.
size_t model_operand_bytes(const Config *c, const Kernels *k, size_t N, int head_cols);
// After params_mem[at, at + n) was written (a load, the initialisation, a gather across
// ranks): its weights from it.
void model_weights_update(const Model *m, size_t at, size_t n);
// Floats of the parameters and of the gradients of what trains (train_layers as in
// model_alloc_grads), without allocating: model_create's n_params, model_alloc_grads'
// n_trained.
void model_sizes(const Config *c, int train_layers, size_t *n_params, size_t *n_trained);
// Allocates the gradients of what trains: train_layers 0 for all parameters, else the
// last train_layers blocks (1..L).
int model_alloc_grads(Model *m, int train_layers, Err *e);
void model_free(Model *m);
// The first trained block: 0, or L - train_layers.
int model_first_trained(const Model *m);

// A run of trained floats: params_mem[param_at..+n) is updated from
// grads_mem[grad_at..+n) (and the optimizer moments at the same offsets); its first
// n_decay floats are weight-decayed.
typedef struct {
    size_t param_at, grad_at, n, n_decay;
} TrainedRange;
// The trained ranges in layout order (at most MODEL_MAX_RANGES); returns their count.
// Every parameter trains: one range, the whole allocation.
enum { MODEL_MAX_RANGES = 8 };
int model_trained_ranges(const Model *m, TrainedRange *out);

// GPT-2 init, deterministic in seed: matrices ~ normal(0, 0.02), the output projections
// o and down scaled by 1/sqrt(2L); zero biases, unit norms.
void model_init_random(Model *m, uint64_t seed);

// Host access to the parameters a bounded piece at a time, for loads, saves and the
// initialisation: on a host backend (Kernels.host_memory) the window is the parameter
// memory itself; on another, a staging buffer of MODEL_STAGE_FLOATS floats moved by
// upload and download. Peak host memory stays the parameters plus 4 MB. Each put also
// writes the window's weights; a model of weights only (model_create_weights) gets its
// weights from the window alone, through a backend buffer of the same size.
enum { MODEL_STAGE_FLOATS = 1 << 20 };
typedef struct {
    const Model *m;
    float *buf;  // [MODEL_STAGE_FLOATS] host staging; NULL on a host backend
    float *dev;  // [MODEL_STAGE_FLOATS] backend staging of a weights-only model; else NULL
} ParamStage;
int param_stage_open(ParamStage *s, const Model *m, Err *e);
void param_stage_close(ParamStage *s);
// Host floats to fill for params_mem[at, at + n), n <= MODEL_STAGE_FLOATS; then
// param_stage_put stores them.
float *param_stage_window(ParamStage *s, size_t at);
void param_stage_put(ParamStage *s, size_t at, size_t n);
// Host floats holding params_mem[at, at + n), n <= MODEL_STAGE_FLOATS; the model must
// have its parameters (not weights only).
const float *param_stage_get(ParamStage *s, size_t at, size_t n);

// One HF tensor as a slice of the parameter (or gradient) allocation.
typedef struct {
    char name[96];  // e.g. "model.layers.3.self_attn.k_proj.weight"
    size_t offset;  // in floats from the start of the allocation
    int ndim;
    int shape[2];
} TensorInfo;
// Lists the HF tensors of the config, lm_head.weight only when untied; returns the
// count. out may be NULL (count only), else it must hold that many.
int model_tensors(const Model *m, TensorInfo *out);

// Activations for batches of up to B sequences of up to T tokens: for the forward
// only, for the backward too, or for the backward with activation recomputation (the
// per-layer buffers below hold one layer, all but x; model_backward recomputes each
// layer's from x[l], the same bits).
typedef enum { ACTS_FORWARD, ACTS_BACKWARD, ACTS_RECOMPUTE } ActsMode;
typedef struct {
    int B, T;
    int backward;     // planned with gradient buffers
    int recompute;    // per-layer buffers [1, ...] but x (ACTS_RECOMPUTE)
    int vocab_chunk;  // 0: the head holds the full logits; Vc: it runs in vocabulary
                      // chunks of Vc (model/head.c)
    float *mem;       // one allocation
    // per layer [L, ...]; with recompute [1, ...] (the layer being computed), but x;
    // the void ones are product inputs, elements of the backend's act_elem_bytes
    float *x;         // [L+1, N, C] residual stream entering each layer, and the last
    void *xn_attn;    // [L, N, C]
    float *rstd_attn; // [L, N]
    float *qkv;       // [L, N, QKV] (after RoPE)
    void *att;        // [L, N, H D]
    float *lse;       // [L, N, H]
    float *x_mid;     // [L, N, C] after the attention residual
    void *xn_mlp;     // [L, N, C]
    float *rstd_mlp;  // [L, N]
    float *gu;        // [L, N, 2 I]
    void *h;          // [L, N, I]
    void *xn_final;   // [N, C]
    float *rstd_final;// [N]
    float *logits;    // [N, V], or one chunk's [N, Vc]; the backward overwrites it with its gradient
    float *logprob;   // [N]
    float *lse_ce;    // [N]
    float *ce_sum;    // [N] the chunks' running sum of exps (chunked head only)
    float *weights;   // [N]
    // gradient scratch, reused by every layer (backward only)
    float *dres;      // [N, C]
    float *dxn;       // [N, C]
    float *dqkv;      // [N, QKV]
    float *datt;      // [N, H D]
    float *dgu;       // [N, 2 I]
    float *dh;        // [N, I]
    int *imem;        // one int allocation: tokens, targets, lens, pos
    int *tokens, *targets, *lens, *pos;  // [N], [N], [B], [N]
    int *host_i;      // host staging for the int inputs [3 N + B]
    float *host_f;    // host staging for weights and log-probs [N]
} Acts;

// The head's vocabulary chunk: 0 holds the full logits [N, V]; Vc > 0 computes them Vc
// columns at a time, never holding [N, V] (one more matmul of the head per step; Vc >= V:
// one chunk); ACTS_VOCAB_AUTO: acts_vocab_chunk's choice.
enum { ACTS_VOCAB_AUTO = -1 };
// Activations of mode with the head in vocab_chunk's chunks.
int acts_create(Acts *a, const Model *m, int B, int T, ActsMode mode, int vocab_chunk, Err *e);
// What acts_create allocates on the backend, in bytes.
size_t acts_bytes(const Config *c, const Kernels *k, int B, int T, ActsMode mode, int vocab_chunk);
void acts_free(Acts *a, const Model *m);
// The automatic chunk: 0 (the full logits) while B T V floats fit in ACTS_FULL_LOGITS_MAX
// bytes, else the largest multiple of 256 columns whose [B T, Vc] fits in
// ACTS_CHUNK_LOGITS_MAX (256 columns at least).
#define ACTS_FULL_LOGITS_MAX ((size_t)1 << 30)
#define ACTS_CHUNK_LOGITS_MAX ((size_t)1 << 28)
int acts_vocab_chunk(const Config *c, int B, int T);

// Forward pass of a (B, T) grid of host token ids, row-major (b*T + t), to a->logits
// (the full head; a chunked one stops at xn_final and model_loss runs the chunks).
// Entries past lens[b] are ignored. B <= a->B, T <= a->T, lens[b] in 1..T.
void model_forward(Model *m, Acts *a, const int *tokens, const int *lens, int B, int T);
// Log-probabilities of host targets[B*T] (-1: none) under the last forward, into host
// logprob[B*T] (may be NULL). Returns sum_n weights[n] * -logprob[n]; NULL weights: 1.
double model_loss(Model *m, Acts *a, const int *targets, const float *weights, float *logprob,
                  int B, int T);
// Backward of sum_n weights[n] * -logprob[n] for the last forward and loss; parameter
// gradients accumulate into m->g. weights [B*T] (host) may differ from model_loss's:
// the length-harmonizing loss computes them from logprob. With freeze-tuning it stops at
// the first trained block: no input gradient below it, none for the embedding.
void model_backward(Model *m, Acts *a, const float *weights, int B, int T);

// KV cache for incremental decoding: n_slots sequences of up to max_T positions.
typedef struct {
    int n_slots, max_T, max_N;  // max_N: most tokens one decode step may carry
    float *mem;
    void *k, *v;       // [L, n_slots, max_T, KV D] in the backend's kv_elem_bytes
    float *x, *qkv, *gu, *logits, *rstd, *tmp;  // step scratch [max_N, ...]
    void *xn, *att, *h;  // step scratch of product inputs (act_elem_bytes)
    int *imem;         // one int allocation: tokens, slots, pos, prefix slots and lengths
    int *tokens, *slots, *pos, *prefix_slots, *prefix_lens;  // [max_N] each
    int *host_inputs;  // host [5, max_N]: a step's inputs laid out as imem, one upload
    // Decoding steps recorded once and replayed (backends with graph_begin): one per
    // shape of the steps that decode every token (n_out = N <= n_slots), with and without
    // shared prompts, recorded at the shape's second step. use_graphs 0: every step makes
    // its calls (set so to compare, or after a recording failed). A recording keeps the
    // buffers of the cache and of its model's weights: their contents may change, not
    // where they are.
    int use_graphs;
    void **graphs;    // host [2][n_slots]: [shared prompts][N - 1], NULL until recorded
    int *steps_seen;  // host [2][n_slots]
} KVCache;

int kvcache_create(KVCache *c, const Model *m, int n_slots, int max_T, int max_N, Err *e);
// What kvcache_create allocates on backend k, in bytes: the keys and values (layers x
// n_slots x max_T x kv heads x head_dim, twice, of k->kv_elem_bytes) and the step's
// buffers for max_N tokens (activations, logits rows, token indices).
typedef struct {
    size_t cache, step;
} KVCacheBytes;
KVCacheBytes kvcache_bytes(const Config *g, const Kernels *k, int n_slots, int max_T, int max_N);
void kvcache_free(KVCache *c, const Model *m);
// One step of N tokens: host tokens[n] is at position pos[n] of slot slots[n]. The
// earlier positions of its sequence are in the cache or in this step: those below
// prefix_lens[n] in slot prefix_slots[n] (a prompt shared by the samples of a request),
// the rest in slots[n]. prefix_slots and prefix_lens may be NULL: no sharing.
// Writes the step's keys and values into the cache, and the host logits[n_out, V] of
// the step's LAST n_out tokens, unnormalised, temperature 1. So a caller puts the
// tokens whose next-token distribution it needs last: a prompt's last token, the
// tokens being decoded. A prompt prefill is one step of its length. logits NULL: they
// stay in c->logits (backend memory) until the next step.
void model_decode_step(Model *m, KVCache *c, const int *tokens, const int *slots,
                       const int *pos, const int *prefix_slots, const int *prefix_lens, int N,
                       int n_out, float *logits);

#endif
