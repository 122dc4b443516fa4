// tokenizer/pretok.h -- pre-tokenizers: hand-written matchers equal to the split regexes
// of GPT-2, Llama 3 and Qwen2 as a backtracking engine (oniguruma, Rust's regex) runs
// them, leftmost alternative first; and GPT-2's byte-level alphabet.
#ifndef O1P_PRETOK_H
#define O1P_PRETOK_H

#include <stddef.h>

#include "tokenizer.h"

// The exact pattern strings of tokenizer.json, JSON-unescaped.
extern const char *const pretok_pattern[3];
// The pattern's enum value, or -1 for a pattern we do not implement.
int pretok_from_pattern(const char *pattern);

// Length in bytes of the piece that starts at s[pos] (pos < n); pieces tile the text.
size_t pretok_next(TokPretok p, const unsigned char *s, size_t n, size_t pos);

// GPT-2's bytes_to_unicode: tokenizer.json writes byte b as code point byte_char[b].
// Printable bytes stand for themselves; the others move to U+0100 and up.
extern const unsigned short byte_char[256];
// The byte a byte-level code point stands for, or -1.
int char_byte(unsigned cp);

#endif
