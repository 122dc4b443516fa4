// model/io.h -- model folders (HF config.json + safetensors) and training states.
//
// A model is a folder: the Hugging Face config.json of a LlamaForCausalLM or
// Qwen2ForCausalLM, and model.safetensors or the shards of model.safetensors.index.json.
// Tensors are read as F32, F16 or BF16 into F32, and written as F32 with __metadata__
// {"format": "pt"}, so transformers loads the folder as it is. Writes are atomic
// (base/io.h). A reading error names the file and the fault: a header length past the
// end, offsets outside the data or overlapping, an unknown dtype, a shape the config
// does not imply, a missing or unexpected tensor, NaN or Inf in a weight.
#ifndef O1P_MODEL_IO_H
#define O1P_MODEL_IO_H

#include <stdint.h>
#include <stdio.h>

#include "../base/err.h"
#include "../base/io.h"
#include "model.h"

// Parses the text of an HF config.json into c and validates it (config_validate); name
// is used in messages.
int config_parse(const char *text, size_t len, const char *name, Config *c, Err *e);
int config_load(const char *path, Config *c, Err *e);
int config_save(const char *path, const Config *c, Err *e);
// Validates c and writes it as config.json text to f; name is used in messages.
// config_save and model_save write into an AtomicFile not yet committed.
int config_write(FILE *f, const Config *c, const char *name, Err *e);

// Loads dir/config.json and the weights onto backend k (m is created here).
int model_load(Model *m, const char *dir, const Kernels *k, Err *e);
// The same for decoding only (model_create_weights: on a bf16-weight backend the weights
// alone, converted window by window as they are read).
int model_load_weights(Model *m, const char *dir, const Kernels *k, Err *e);
// Writes dir/config.json and dir/model.safetensors (creating dir if needed). Both are
// written in full first, then model.safetensors is renamed into place, then config.json
// (engine/trainer.h counts a first checkpoint complete once both are there).
int model_save(const Model *m, const char *dir, Err *e);

// ---- safetensors, the format on its own (`o1p dump` uses it too) ------------------
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
    char *buf;  // the whole file: mapped read-only by st_open, malloc'ed for st_parse
    size_t len;
    int mapped;
    StTensor *tensors;
    int n;
} StFile;

// Parses and validates a safetensors file in memory. It takes buf over: st_close frees
// it, or a failure at once. name is used in messages.
int st_parse(StFile *f, char *buf, size_t len, const char *name, Err *e);
// Maps path read-only (no copy: the pages come from the page cache as they are read)
// and validates its header against the file size before any data is touched. A file
// cut short by another process while mapped ends this one (SIGBUS); o1p replaces its
// files by rename, which leaves a mapped file whole.
int st_open(StFile *f, const char *path, Err *e);
void st_close(StFile *f);
const StTensor *st_find(const StFile *f, const char *name);
// Converts a tensor's n elements to F32 (out must hold them).
void st_to_f32(const StTensor *t, float *out);
// The same for elements [first, first + n) of the tensor.
void st_to_f32_part(const StTensor *t, size_t first, size_t n, float *out);
// Bytes per element of the tensor's dtype.
size_t st_elem_size(const StTensor *t);
// Drops the mapped pages wholly inside [p, p + n) from the process (the page cache keeps
// them): a load releases what it has converted, so its resident size stays bounded.
// Nothing for a parsed buffer.
void st_release(const StFile *f, const unsigned char *p, size_t n);

// Writes the 8-byte length and the header of F32 tensors names[i], of shape
// shapes[i][0..ndims[i]), data in that order: the caller streams the data after it.
int st_write_header(FILE *f, const char *path, int n, const char *const *names, const int *ndims,
                    const int64_t (*shapes)[8], Err *e);
// Writes F32 tensors atomically: tensor i is names[i], of shape shapes[i][0..ndims[i]),
// from host floats data[i].
int st_write_f32(const char *path, int n, const char *const *names, const int *ndims,
                 const int64_t (*shapes)[8], const float *const *data, Err *e);

// ---- training state ----------------------------------------------------------------
// What a resumed run needs beyond the weights to continue bit-identically: the
// optimizer step and moments, the RNG, the position in the data. Written atomically,
// guarded by a magic number, a version and a checksum.
typedef struct {
    char stage[16];      // "sft", "prune", ...: only the same stage resumes it
    uint64_t step;       // optimizer steps done
    uint64_t rng_state;
    uint64_t data_pos;   // examples consumed, across epochs
    uint64_t n_params;   // floats in m and v
    double extra[8];     // the stage's own scalars, e.g. running statistics
} TrainState;

// m and v are host arrays of s->n_params floats.
int train_state_save(const char *path, const TrainState *s, const float *m, const float *v,
                     Err *e);
// The same file streamed in pieces, for moments held in slices (ZeRO-1: rank 0 writes
// each rank's slice as it arrives): train_state_begin, then the 2 n_params floats in file
// order (m, then v) over any number of train_state_put calls, then train_state_commit,
// which refuses a count other than 2 n_params. On any failure the file is not replaced.
typedef struct {
    AtomicFile a;
    uint64_t sum, left;      // the checksum so far; floats still to come
    unsigned char tail[8];   // the bytes of an unfinished 64-bit word of the checksum
    int n_tail;
} StateWriter;
int train_state_begin(StateWriter *w, const char *path, const TrainState *s, Err *e);
void train_state_put(StateWriter *w, const float *p, size_t n);
int train_state_commit(StateWriter *w, Err *e);
// Allocates *m and *v; free them with free(). Refuses a state whose checksum fails, or
// whose n_params is not expect_n_params (when non-zero).
int train_state_load(const char *path, TrainState *s, float **m, float **v,
                     uint64_t expect_n_params, Err *e);
// The header of a state file into *s, checked against the file's size; no moments read.
int train_state_header(const char *path, TrainState *s, Err *e);
// Floats lo..lo+n of m and of v (a ZeRO-1 rank's slice) into m[n] and v[n]. check: reads
// the whole file and refuses it when the checksum fails; else reads the header and the
// two slices only. Refuses a state whose n_params is not expect_n_params.
int train_state_load_slice(const char *path, TrainState *s, uint64_t lo, size_t n, float *m, float *v,
                           uint64_t expect_n_params, int check, Err *e);

#endif
