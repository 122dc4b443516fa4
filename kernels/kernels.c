// kernels/kernels.c -- backend lookup by name; the host backends' available memory.
#include "kernels.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef O1P_CUDA
// kernels/cuda/: NULL when no usable GPU is present. tf32/bf16 differ from the fp32
// table in the precision of the matmuls' inputs (and bf16 in attention's).
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

size_t kernels_host_memory_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return SIZE_MAX;
    char line[256];
    unsigned long long kb = 0;
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) found = sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
    fclose(f);
    return found ? (size_t)kb * 1024 : SIZE_MAX;
}
