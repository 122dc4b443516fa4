// kernels/kernels.c -- backend lookup by name.
#include "kernels.h"

#include <string.h>

#ifdef O1P_CUDA
// kernels/cuda/: NULL when no usable GPU is present.
const Kernels *kernels_cuda_get(void);
#endif

const Kernels *kernels_by_name(const char *name) {
    if (!strcmp(name, "cpu")) return &kernels_cpu;
#ifdef O1P_CUDA
    if (!strcmp(name, "cuda")) return kernels_cuda_get();
#endif
    return NULL;
}
