// tokenizer/tokenizer.h -- byte-level BPE (GPT-2, Llama 3, Qwen2/3), compatible with
// Hugging Face tokenizer.json.
//
// Encode, as HF tokenizers with add_special_tokens=false:
//   1. split the added tokens (<|endoftext|>, <|im_start|>, ...) out of the raw text,
//      leftmost-longest, honouring their lstrip/rstrip/single_word flags;
//   2. normalize each other segment: NFC for Qwen, nothing for GPT-2 and Llama 3;
//   3. pre-tokenize it into pieces by the model's split pattern: hand-written matchers
//      for the GPT-2, Llama 3 and Qwen2 regexes, "\s" being Unicode White_Space;
//   4. merge each piece's bytes by BPE rank, results cached per piece.
// Decode maps ids back to their bytes, byte-exact, invalid UTF-8 included.
//
// Encoding writes the piece cache: one Tokenizer per encoding thread. Decode and the
// lookups only read.
#ifndef O1P_TOKENIZER_H
#define O1P_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

typedef struct Tokenizer Tokenizer;

// The split patterns implemented, recognised by their exact regex in tokenizer.json;
// ByteLevel with use_regex=true implies GPT-2's.
typedef enum { TOK_PRE_GPT2, TOK_PRE_LLAMA3, TOK_PRE_QWEN2 } TokPretok;

// The special tokens a trained tokenizer gets, in this order, after the BPE tokens.
#define TOK_ENDOFTEXT "<|endoftext|>"
#define TOK_IM_START "<|im_start|>"
#define TOK_IM_END "<|im_end|>"

// Loads an HF tokenizer.json: a byte-level BPE model. Errors name the file, the JSON
// position and what was expected or is unsupported: an unknown model type,
// pre-tokenizer, pattern or normalizer, a merge of tokens not in the vocab, ...
Tokenizer *tok_load(const char *path, Err *e);
// The same from bytes in memory; name is used in messages.
Tokenizer *tok_load_json(const char *text, size_t len, const char *name, Err *e);
// Writes tokenizer.json atomically, as HF tokenizers loads and encodes it identically:
// merges as "a b" strings, added tokens with their flags.
int tok_save(const Tokenizer *t, const char *path, Err *e);

typedef struct {
    int vocab_size;        // total, including the 256 byte tokens and the specials
    TokPretok pretok;      // split pattern (default in tok_train_defaults: TOK_PRE_QWEN2)
    int nfc;               // apply the NFC normalizer (default 1)
    const char **specials; // special tokens appended after the BPE tokens
    int n_specials;        // <= TOK_MAX_TRAIN_SPECIALS; default: <|endoftext|>,
                           // <|im_start|>, <|im_end|>
    int min_frequency;     // pairs seen fewer times are not merged (default 2)
} TokTrainOpts;

#define TOK_MAX_TRAIN_SPECIALS 64

TokTrainOpts tok_train_defaults(int vocab_size);
// Deterministic byte-level BPE training: same text and options, same tokenizer.
// Stops early (a smaller vocab) when no pair reaches min_frequency.
Tokenizer *tok_train(const char *text, size_t len, const TokTrainOpts *o, Err *e);
// Fails unless text[0..len) is non-empty UTF-8; the error names `name` and the offset of
// the first invalid byte.
int tok_check_text(const char *text, size_t len, const char *name, Err *e);

// A growable id array; tok_encode appends to it. Free ids with free().
typedef struct {
    int32_t *ids;
    size_t n, cap;
} TokIds;

enum {
    TOK_ENC_NO_SPECIAL = 1,  // special tokens in the text are ordinary text: user text
                             // "<|im_end|>" never becomes the special id
};
// Appends the ids of text[0..len) to out. Any bytes are accepted: invalid UTF-8 becomes
// byte tokens and decodes back exactly. Fails only when out of memory.
int tok_encode(Tokenizer *t, const char *text, size_t len, int flags, TokIds *out, Err *e);

enum {
    TOK_DEC_SKIP_SPECIAL = 1,  // leave special tokens out of the text
};
// Decodes ids to bytes in a malloc'ed *out, NUL-terminated; *out_len excludes the NUL.
// An id outside [0, vocab size) is an error naming its index and value.
int tok_decode(const Tokenizer *t, const int32_t *ids, size_t n, int flags, char **out,
               size_t *out_len, Err *e);
// Appends the ids of NUL-terminated text, integers separated by whitespace (`o1p tok
// decode` reads them from stdin); name is used in messages. tok_decode checks the range.
int tok_parse_ids(const char *text, const char *name, TokIds *out, Err *e);
// The bytes of one token (for streaming output), or NULL if id is out of range.
const char *tok_token_bytes(const Tokenizer *t, int32_t id, size_t *len);
// The id of a token given as its text, or -1: an added token's content ("<|im_end|>")
// or a plain token's bytes.
int32_t tok_id(const Tokenizer *t, const char *s, size_t len);
// 1 if id is a special added token; ordinary text never encodes to one.
int tok_is_special(const Tokenizer *t, int32_t id);
// One more than the largest id.
int tok_vocab_size(const Tokenizer *t);
// Bytes the tokenizer holds: its tables, and the encode cache's buffers.
size_t tok_memory(const Tokenizer *t);
void tok_free(Tokenizer *t);

// ---- the vocabulary for writers of other formats (export/gguf.c) --------------------
// What an id is.
enum { TOK_KIND_UNUSED = 0, TOK_KIND_BPE = 1, TOK_KIND_ADDED = 2, TOK_KIND_SPECIAL = 3 };
int tok_id_kind(const Tokenizer *t, int32_t id);  // TOK_KIND_UNUSED when out of range
// The most bytes a token has.
size_t tok_max_len(const Tokenizer *t);
// id's text as tokenizer.json spells it: a BPE token in GPT-2's byte-level alphabet, an
// added token as its content. out holds 2 * tok_max_len(t) bytes; returns the length
// (0 for an unused id). Not NUL-terminated.
size_t tok_id_text(const Tokenizer *t, int32_t id, char *out);
int32_t tok_n_merges(const Tokenizer *t);
// The merge of the given rank as "LEFT RIGHT" in the byte-level alphabet, as
// tokenizer.json's merges; out holds 4 * tok_max_len(t) + 1 bytes. Returns the length.
size_t tok_merge_text(const Tokenizer *t, int32_t rank, char *out);
TokPretok tok_pretok(const Tokenizer *t);

#endif
