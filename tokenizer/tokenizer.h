// tokenizer/tokenizer.h -- byte-level BPE (GPT-2, Llama 3, Qwen2/3), compatible with
// Hugging Face tokenizer.json.
//
// Pipeline of encode (the same as HF tokenizers, add_special_tokens=false):
//   1. added tokens (<|endoftext|>, <|im_start|>, ...) are split out of the raw text first
//      (leftmost-longest), honouring their lstrip/rstrip/single_word flags;
//   2. each remaining segment is normalized (NFC for Qwen, nothing for GPT-2/Llama 3);
//   3. pre-tokenized into pieces by the model's split pattern (hand-written matchers for the
//      exact GPT-2, Llama 3 and Qwen2 regexes; "\s" is Unicode White_Space);
//   4. each piece's bytes are mapped to GPT-2's byte-level alphabet and merged by BPE rank
//      (a heap over the piece's linked symbols; results cached per piece).
// Decode maps ids back to their bytes and is byte-exact, invalid UTF-8 included.
//
// A Tokenizer is not safe to share between threads while encoding (the piece cache is
// written); decode and the lookups are read-only.
#ifndef O1P_TOKENIZER_H
#define O1P_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

typedef struct Tokenizer Tokenizer;

// The pre-tokenizer split patterns we implement (recognised by their exact regex string
// in tokenizer.json; GPT-2's is implied by ByteLevel with use_regex=true).
typedef enum { TOK_PRE_GPT2, TOK_PRE_LLAMA3, TOK_PRE_QWEN2 } TokPretok;

// The special tokens a trained tokenizer gets, in this order, after the BPE tokens.
#define TOK_ENDOFTEXT "<|endoftext|>"
#define TOK_IM_START "<|im_start|>"
#define TOK_IM_END "<|im_end|>"

// Loads an HF tokenizer.json (model type BPE, byte-level). Errors name the file, the
// JSON position and what was expected or unsupported (unknown model type, pre-tokenizer,
// pattern or normalizer; merges naming tokens not in the vocab; ...).
Tokenizer *tok_load(const char *path, Err *e);
// The same from bytes in memory; name is used in messages.
Tokenizer *tok_load_json(const char *text, size_t len, const char *name, Err *e);
// Writes tokenizer.json (atomically) in a form HF tokenizers loads and encodes identically:
// merges as "a b" strings, added tokens with their flags.
int tok_save(const Tokenizer *t, const char *path, Err *e);

typedef struct {
    int vocab_size;        // total, including the 256 byte tokens and the specials
    TokPretok pretok;      // split pattern (default in tok_train_defaults: TOK_PRE_QWEN2)
    int nfc;               // apply the NFC normalizer (default 1)
    const char **specials; // special tokens appended after the BPE tokens
    int n_specials;        // default: <|endoftext|>, <|im_start|>, <|im_end|>; at most
                           // TOK_MAX_TRAIN_SPECIALS
    int min_frequency;     // pairs seen fewer times are not merged (default 2)
} TokTrainOpts;

#define TOK_MAX_TRAIN_SPECIALS 64

TokTrainOpts tok_train_defaults(int vocab_size);
// Deterministic byte-level BPE training: same text and options, same tokenizer.
// Stops early (a smaller vocab) when no pair reaches min_frequency.
Tokenizer *tok_train(const char *text, size_t len, const TokTrainOpts *o, Err *e);

// A growable id array; tok_encode appends to it. Free ids with free().
typedef struct {
    int32_t *ids;
    size_t n, cap;
} TokIds;

enum {
    TOK_ENC_NO_SPECIAL = 1,  // do not split out special added tokens (user text: "<|im_end|>"
                             // is then ordinary text and never becomes the special id)
};
// Appends the ids of text[0..len) to out. Any bytes are accepted (invalid UTF-8 becomes
// byte tokens and decodes back exactly). Fails only when out of memory.
int tok_encode(Tokenizer *t, const char *text, size_t len, int flags, TokIds *out, Err *e);

enum {
    TOK_DEC_SKIP_SPECIAL = 1,  // leave special tokens out of the text
};
// Decodes ids to bytes: *out is malloc'ed (NUL-terminated, *out_len excludes the NUL).
// An id outside [0, vocab size) is an error naming its index and value.
int tok_decode(const Tokenizer *t, const int32_t *ids, size_t n, int flags, char **out,
               size_t *out_len, Err *e);
// Appends the ids of NUL-terminated text, integers separated by whitespace (`o1p tok
// decode` reads them from stdin); name is used in messages. tok_decode checks the range.
int tok_parse_ids(const char *text, const char *name, TokIds *out, Err *e);
// The bytes of one token (for streaming output), or NULL if id is out of range.
const char *tok_token_bytes(const Tokenizer *t, int32_t id, size_t *len);
// The id of a token given as its text (an added token's content, e.g. "<|im_end|>", or a
// plain token's decoded bytes), or -1 if there is none.
int32_t tok_id(const Tokenizer *t, const char *s, size_t len);
// 1 if id is a special added token (such ids are never produced from ordinary text).
int tok_is_special(const Tokenizer *t, int32_t id);
// One more than the largest id.
int tok_vocab_size(const Tokenizer *t);
void tok_free(Tokenizer *t);

#endif
