// model/layers.h -- internal to model/: one layer's parameter views, the forward pieces
// that training (forward.c) and decoding (decode.c) share, and the head (head.c).
#ifndef O1P_LAYERS_H
#define O1P_LAYERS_H

#include "model.h"

// One layer's parameters (or gradients): views into the Params allocation.
typedef struct {
    float *norm_attn, *wqkv, *bqkv, *wo, *norm_mlp, *wgu, *wdown;
} LayerParams;

LayerParams layer_params(const Params *p, const Config *c, int l);

// One layer's weights, as the kernels read them (Model.weights_mem).
typedef struct {
    const void *norm_attn, *wqkv, *bqkv, *wo, *norm_mlp, *wgu, *wdown;
} LayerWeights;

LayerWeights layer_weights(const Model *m, int l);

// n floats rounded up to 64 bytes: the buffers of one allocation (activations, KV cache)
// each start aligned.
static inline size_t aligned_floats(size_t n) { return (n + 15) & ~(size_t)15; }
// The floats that hold n elements of elem_bytes (a bf16 buffer inside a float allocation).
static inline size_t floats_of(size_t n, int elem_bytes) {
    return (n * elem_bytes + sizeof(float) - 1) / sizeof(float);
}

// The attention block up to the attention itself: qkv[N, QKV] = rope(qkv_proj(rmsnorm(x))).
// xn and h are product inputs, elements of the backend's act_elem_bytes.
void qkv_forward(const Kernels *k, const Config *c, LayerWeights w, int N, void *xn, float *rstd,
                 const float *x, float *qkv, const int *pos);
// The MLP block: x_out[N, C] = x_mid + down(silu(gate(xn)) * up(xn)), xn = rmsnorm(x_mid).
// x_out must not alias x_mid.
void mlp_forward(const Kernels *k, const Config *c, LayerWeights w, int N, const float *x_mid,
                 void *xn, float *rstd, float *gu, void *h, float *x_out);

// head.c: xn_final = rmsnorm(x_last), and with the full head logits = lm_head(xn_final);
// x_last [N, C] is the residual stream after the last layer.
void head_forward(Model *m, Acts *a, const float *x_last, int N);
// Out: a->dres = d x_last, zeroed and written here (the head starts the residual gradient).
void head_backward(Model *m, Acts *a, const float *x_last, int N);

#endif
