// kernels/ref/backend.c -- the reference backend's table (see kernels/kernels.h).
#include "../kernels.h"
#include "ref.h"

const Kernels kernels_ref = {
    .name = "ref",
    .max_rows_invariant = 0,  // every result depends on its own row only
    .host_memory = 1,
    .memory_available = kernels_host_memory_available,
    .alloc = ref_alloc,
    .free = ref_free,
    .zero = ref_zero,
    .upload = ref_upload,
    .download = ref_download,
    .copy = ref_copy,
    .synchronize = ref_synchronize,
    .matmul_forward = ref_matmul_forward,
    .matmul_backward = ref_matmul_backward,
    .embedding_forward = ref_embedding_forward,
    .embedding_backward = ref_embedding_backward,
    .rmsnorm_forward = ref_rmsnorm_forward,
    .rmsnorm_backward = ref_rmsnorm_backward,
    .rope_forward = ref_rope_forward,
    .rope_backward = ref_rope_backward,
    .attention_forward = ref_attention_forward,
    .attention_backward = ref_attention_backward,
    .kv_cache_write = ref_kv_cache_write,
    .attention_decode = ref_attention_decode,
    .swiglu_forward = ref_swiglu_forward,
    .swiglu_backward = ref_swiglu_backward,
    .add = ref_add,
    .crossentropy_forward = ref_crossentropy_forward,
    .crossentropy_backward = ref_crossentropy_backward,
    .crossentropy_chunk_forward = ref_crossentropy_chunk_forward,
    .crossentropy_chunk_backward = ref_crossentropy_chunk_backward,
    .argmax_logprob = ref_argmax_logprob,
    .sum_squares = ref_sum_squares,
    .adamw = ref_adamw,
};
