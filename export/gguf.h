// export/gguf.h -- a model folder as one GGUF file, the format llama.cpp runs.
//
// The file holds the architecture ("llama" or "qwen2") with every hyperparameter
// llama.cpp reads, the tensors under llama.cpp's names, and the tokenizer: llama.cpp's
// byte-level BPE ("gpt2") with its vocabulary, merges, token types, the pre-tokenizer
// named as llama.cpp knows o1p's split pattern, the special ids (EOS and EOT:
// <|im_end|>) and the ChatML template. Llama's q and k rows are permuted per head from
// HF's rotate-half pairs (i, i + D/2) to the adjacent pairs (2i, 2i + 1) llama.cpp
// rotates for that architecture; Qwen2 keeps HF's layout (llama.cpp's NEOX rope).
#ifndef O1P_GGUF_H
#define O1P_GGUF_H

#include "../base/err.h"
#include "../engine/modeldir.h"

// The type of the matrices; vectors (norms, biases) are always F32. Q8_0 is ggml's
// blocks of 32 int8 with one F16 scale; a matrix whose rows are not a multiple of 32
// long is written F16 instead, as llama.cpp's converter does.
typedef enum { GGUF_F32, GGUF_F16, GGUF_Q8_0 } GgufType;

// Parses "f32", "f16" or "q8_0"; -1 for anything else.
int gguf_type_parse(const char *s, GgufType *out);

// Writes md (loaded on the CPU backend) to path atomically; name goes to general.name,
// tmpl (NULL: the default) to the chat template.
int gguf_export(const ModelDir *md, const ChatTemplate *tmpl, const char *name, GgufType type, const char *path,
                Err *e);

#endif
