// engine/backend.h -- a backend by its --device name, with an error that says why not.
#ifndef O1P_BACKEND_H
#define O1P_BACKEND_H

#include "../base/err.h"
#include "../kernels/kernels.h"

// The --device names, for the command line's help.
#define BACKEND_NAMES "ref, cpu (default), cuda, cuda-tf32 or cuda-bf16 (tensor cores)"

// "ref", "cpu", or "cuda", "cuda-tf32", "cuda-bf16" (when built with CUDA and a GPU is
// present; kernels/kernels.h).
const Kernels *backend_by_name(const char *name, Err *e);

#endif
