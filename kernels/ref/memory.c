// kernels/ref/memory.c -- memory (plain host memory), the residual add, the weights, the
// embedding.
#include <stdlib.h>
#include <string.h>

#include "ref.h"

// Zero-filled; at least one byte, so that NULL always means out of memory.
void *ref_alloc(size_t bytes) { return calloc(bytes ? bytes : 1, 1); }
void ref_free(void *p) { free(p); }
void ref_zero(void *p, size_t bytes) { memset(p, 0, bytes); }
void ref_upload(void *dst, const void *host_src, size_t bytes) { memcpy(dst, host_src, bytes); }
void ref_download(void *host_dst, const void *src, size_t bytes) { memcpy(host_dst, src, bytes); }
void ref_copy(void *dst, const void *src, size_t bytes) { memmove(dst, src, bytes); }
void ref_synchronize(void) {}

// out[i] = a[i] + b[i]; out may alias a.
void ref_add(float *out, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

// The weights are the fp32 parameters (weight_elem_bytes 4): w[i] = p[i].
void ref_weights_from_params(void *w, const float *p, size_t n) {
    if (w != p) memcpy(w, p, n * sizeof(float));
}

// out[n,:] = wte[tokens[n],:]    (out[N,C], wte[V,C])
void ref_embedding_forward(float *out, const int *tokens, const void *weight, int N, int C) {
    const float *wte = weight;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) out[(size_t)n * C + c] = wte[(size_t)tokens[n] * C + c];
}

// dwte[tokens[n],:] += dout[n,:], rows n in order (a token's rows add up in that order).
void ref_embedding_backward(float *dwte, const float *dout, const int *tokens, int N, int C) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) dwte[(size_t)tokens[n] * C + c] += dout[(size_t)n * C + c];
}
