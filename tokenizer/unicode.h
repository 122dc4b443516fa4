// tokenizer/unicode.h -- lenient UTF-8 decoding, and the Unicode properties that the
// pre-tokenizers and the NFC normalizer need: tables that gen_unicode.py generates into
// unicode_tables.c.
#ifndef O1P_UNICODE_H
#define O1P_UNICODE_H

#include <stddef.h>
#include <stdint.h>

enum { UNI_OTHER = 0, UNI_LETTER = 1, UNI_NUMBER = 2, UNI_SPACE = 3 };
#define UNI_NFC_UNSTABLE 4

extern const char uni_version[];
extern const uint16_t uni_class_stage1[];
extern const uint8_t uni_class_stage2[];
extern const uint16_t uni_ccc_stage1[];
extern const uint8_t uni_ccc_stage2[];

typedef struct {
    uint32_t cp, off, n;  // cp decomposes to uni_decomp_cps[off .. off+n)
} UniDecomp;
typedef struct {
    uint32_t a, b, c;  // a b composes to c
} UniComp;
extern const int uni_n_decomp, uni_n_comp;
extern const UniDecomp uni_decomp[];
extern const uint32_t uni_decomp_cps[];
extern const UniComp uni_comp[];

// Class bits of code point cp; 0 out of range.
static inline int uni_class(uint32_t cp) {
    if (cp >= 0x110000) return UNI_OTHER;
    return uni_class_stage2[(uni_class_stage1[cp >> 8] << 8) | (cp & 255)];
}
static inline int uni_ccc(uint32_t cp) {
    if (cp >= 0x110000) return 0;
    return uni_ccc_stage2[(uni_ccc_stage1[cp >> 8] << 8) | (cp & 255)];
}

// Decodes the UTF-8 character at s[0..n), n >= 1: sets *cp and returns its length. A byte
// that starts no valid, shortest, non-surrogate sequence is an invalid character of
// length 1, *cp = UNI_INVALID (class UNI_OTHER), as Rust's from_utf8_lossy sees it.
#define UNI_INVALID 0xFFFFFFFFu
int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
// Writes cp as UTF-8 into out (4 bytes room); returns the length.
int utf8_encode(uint32_t cp, char *out);

// NFC of s[0..n) into a malloc'ed *out of *out_len bytes; *out is NULL when the quick
// check finds s in NFC already (use s). Invalid bytes pass unchanged and block
// composition. Returns -1 when out of memory.
int uni_nfc(const char *s, size_t n, char **out, size_t *out_len);

#endif
