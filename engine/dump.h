// engine/dump.h -- the porting harness (o1p dump; tests/test_reference.c).
#ifndef O1P_DUMP_H
#define O1P_DUMP_H

#include "../base/err.h"
#include "../model/model.h"

// One fp32 forward + backward of the mean next-token cross-entropy over B token lines.
typedef struct {
    double loss;
    int B, T;
    int *lens;      // [B] (copied)
    float *logits;  // [B, T, V] host
    float *grads;   // [n_params] host
} DumpTensors;

// a: planned with the full logits (acts_create's vocab_chunk 0).
int dump_run(Model *m, Acts *a, const int *tokens, const int *lens, int B, int T, DumpTensors *out,
             Err *e);
// Writes "loss", "logits.I" and "grad.NAME" tensors (F32 safetensors, atomically).
int dump_write(const Model *m, const DumpTensors *d, const char *path, Err *e);
void dump_free(DumpTensors *d);

#endif
