// kernels/kernels.c -- backend lookup by name.
#include "kernels.h"

#include <string.h>

#ifdef O1P_CUDA
// kernels/cuda/: NULL when no usable GPU is present. tf32/bf16 differ from the fp32
// table only in the precision of the matmuls' inputs.
const Kernels *kernels_cuda_get(void);
const Kernels *kernels_cuda_tf32_get(void);
const Kernels *kernels_cuda_bf16_get(void);
void kernels_cuda_use_device(int i);
#endif

void kernels_use_device(int i) {
#ifdef O1P_CUDA
    kernels_cuda_use_device(i);
#else
    (void)i;
#endif
}

const Kernels *kernels_by_name(const char *name) {
    if (!strcmp(name, "ref")) return &kernels_ref;
    if (!strcmp(name, "cpu")) return &kernels_cpu;
#ifdef O1P_CUDA
    if (!strcmp(name, "cuda")) return kernels_cuda_get();
    if (!strcmp(name, "cuda-tf32")) return kernels_cuda_tf32_get();
    if (!strcmp(name, "cuda-bf16")) return kernels_cuda_bf16_get();
#endif
    return NULL;
}
