// tokenizer/pretok.h -- pre-tokenizers: hand-written matchers equivalent to the split
// regexes of GPT-2, Llama 3 and Qwen2 (leftmost-first alternation with backtracking, as
// oniguruma and Rust's regex run them), and GPT-2's byte-level alphabet.
#ifndef O1P_PRETOK_H
#define O1P_PRETOK_H

#include <stddef.h>

#include "tokenizer.h"

// The exact pattern strings (as in tokenizer.json, after JSON unescaping).
extern const char *const pretok_pattern[3];
// The pattern's enum value, or -1 for a pattern we do not implement.
int pretok_from_pattern(const char *pattern);

// Length in bytes of the piece that starts at s[pos] (pos < n); pieces tile the text.
size_t pretok_next(TokPretok p, const unsigned char *s, size_t n, size_t pos);

// GPT-2's bytes_to_unicode: byte b is written in tokenizer.json as code point
// byte_char[b] (printable bytes stand for themselves, the rest are shifted to U+0100+).
extern const unsigned short byte_char[256];
// The byte a byte-level code point stands for, or -1.
int char_byte(unsigned cp);

#endif
