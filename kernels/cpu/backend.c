// kernels/cpu/backend.c -- the CPU backend's table (see kernels/kernels.h).
#include "../kernels.h"
#include "../ref/ref.h"
#include "cpu.h"

const Kernels kernels_cpu = {
    .name = "cpu",
    .max_rows_invariant = CPU_ROWWISE_MAX,  // the matmul's decode kernels (matmul.c)
    .host_memory = 1,
    .weight_elem_bytes = sizeof(float),
    .act_elem_bytes = sizeof(float),
    .kv_elem_bytes = sizeof(float),
    .memory_available = kernels_host_memory_available,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .zero = cpu_zero,
    .upload = cpu_upload,
    .download = cpu_download,
    .copy = cpu_copy,
    .synchronize = cpu_synchronize,
    .weights_from_params = ref_weights_from_params,  // fp32 weights: a copy
    .matmul_forward = cpu_matmul_forward,
    .matmul_backward = cpu_matmul_backward,
    .embedding_forward = cpu_embedding_forward,
    .embedding_backward = cpu_embedding_backward,
    .rmsnorm_forward = cpu_rmsnorm_forward,
    .rmsnorm_backward = cpu_rmsnorm_backward,
    .rope_forward = cpu_rope_forward,
    .rope_backward = cpu_rope_backward,
    .attention_forward = cpu_attention_forward,
    .attention_backward = cpu_attention_backward,
    .kv_cache_write = cpu_kv_cache_write,
    .attention_decode = cpu_attention_decode,
    .swiglu_forward = cpu_swiglu_forward,
    .swiglu_backward = cpu_swiglu_backward,
    .add = cpu_add,
    .crossentropy_forward = cpu_crossentropy_forward,
    .crossentropy_backward = cpu_crossentropy_backward,
    .crossentropy_chunk_forward = cpu_crossentropy_chunk_forward,
    .crossentropy_chunk_backward = cpu_crossentropy_chunk_backward,
    .argmax_logprob = cpu_argmax_logprob,
    .sampling_candidates = cpu_sampling_candidates,
    .temperature_draws = cpu_temperature_draws,
    .sum_squares = cpu_sum_squares,
    .adamw = cpu_adamw,
};
