// engine/backend.h -- a backend by its --device name, with an error that says why not.
#ifndef O1P_BACKEND_H
#define O1P_BACKEND_H

#include "../base/err.h"
#include "../kernels/kernels.h"

// "ref", "cpu", or "cuda" (when built with it and a GPU is present).
const Kernels *backend_by_name(const char *name, Err *e);

#endif
