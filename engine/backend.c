// engine/backend.c -- a backend by its --device name.
#include "backend.h"

#include <string.h>

#include "dist.h"

const Kernels *backend_by_name(const char *name, Err *e) {
    kernels_use_device(dist_local_rank());  // one GPU per rank of a host
    const Kernels *k = kernels_by_name(name);
    if (!k) {
        if (!strcmp(name, "cuda") || !strcmp(name, "cuda-tf32") || !strcmp(name, "cuda-bf16"))
            err_fmt(e, "the CUDA backend is not available (build with 'make cuda' and run on a GPU)");
        else
            err_fmt(e, "unknown device '%s' (expected " BACKEND_NAMES ")", name);
    }
    return k;
}

