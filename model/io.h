// model/io.h -- model folders (HF config.json + safetensors) and training states.
//
// A model is a folder: config.json (Hugging Face, LlamaForCausalLM or Qwen2ForCausalLM)
// and model.safetensors, or shards listed by model.safetensors.index.json. Tensors are
// read as F32, F16 or BF16 and converted to F32; o1p writes F32 with
// __metadata__ {"format": "pt"} so that transformers loads the folder as it is.
// Every write is atomic (base/io.h). Every reading error names the file and what is
// wrong: header length past the end, offsets outside the data or overlapping, unknown
// dtype, a shape that does not match the config, missing or unexpected tensors,
// NaN or Inf in a weight.
#ifndef O1P_MODEL_IO_H
#define O1P_MODEL_IO_H

#include <stdint.h>
#include <stdio.h>

#include "../base/err.h"
#include "model.h"

// Parses an HF config.json (text already read; name for messages) into c and
// validates it (config_validate).
int config_parse(const char *text, size_t len, const char *name, Config *c, Err *e);
int config_load(const char *path, Config *c, Err *e);
int config_save(const char *path, const Config *c, Err *e);
// Validates c and writes it as config.json text to f (name for messages); config_save
// and model_save use it on a not yet committed AtomicFile.
int config_write(FILE *f, const Config *c, const char *name, Err *e);

// Loads dir/config.json and the weights onto backend k (m is created here).
int model_load(Model *m, const char *dir, const Kernels *k, Err *e);
// Writes dir/config.json and dir/model.safetensors (creating dir if needed).
int model_save(const Model *m, const char *dir, Err *e);

// ---- safetensors, the format on its own (also used by `o1p dump`) -----------------
typedef enum { ST_F32, ST_F16, ST_BF16 } StDtype;

typedef struct {
    char name[128];
    StDtype dtype;
    int ndim;
    int64_t shape[8];
    const unsigned char *data;  // points into the file buffer
    size_t nbytes;
} StTensor;

typedef struct {
    char *buf;  // the whole file
    size_t len;
    StTensor *tensors;
    int n;
} StFile;

// Parses and validates a safetensors file held in memory. buf is taken over: freed by
// st_close, or at once on failure. name is used in messages.
int st_parse(StFile *f, char *buf, size_t len, const char *name, Err *e);
int st_open(StFile *f, const char *path, Err *e);
void st_close(StFile *f);
const StTensor *st_find(const StFile *f, const char *name);
// Converts a tensor's n elements to F32 (out must hold them).
void st_to_f32(const StTensor *t, float *out);

// Writes F32 tensors atomically: names[i] with ndims[i] dims shapes[i][..], data[i]
// (host floats).
int st_write_f32(const char *path, int n, const char *const *names, const int *ndims,
                 const int64_t (*shapes)[8], const float *const *data, Err *e);
// The same bytes into an open stream (path for messages): model_save fills every file of
// the folder before renaming any into place. Write errors surface at atomic_commit.
int st_write_f32_stream(FILE *f, const char *path, int n, const char *const *names,
                        const int *ndims, const int64_t (*shapes)[8], const float *const *data,
                        Err *e);

// ---- training state ----------------------------------------------------------------
// Everything beyond the weights that a resumed run needs to continue bit-identically:
// the optimizer step and moments, the RNG and the position in the data. A magic number,
// a version and a checksum guard it; written atomically.
typedef struct {
    char stage[16];      // "sft", "prune", ... (a state is resumed by the same stage)
    uint64_t step;       // optimizer steps done
    uint64_t rng_state;
    uint64_t data_pos;   // examples consumed, across epochs
    uint64_t n_params;   // floats in m and v
    double extra[8];     // stage-specific scalars (e.g. running statistics)
} TrainState;

// m and v are host arrays of s->n_params floats.
int train_state_save(const char *path, const TrainState *s, const float *m, const float *v,
                     Err *e);
// Allocates *m and *v (free with free()). Refuses a state whose n_params differs from
// expect_n_params (when non-zero) or whose checksum fails.
int train_state_load(const char *path, TrainState *s, float **m, float **v,
                     uint64_t expect_n_params, Err *e);

#endif
