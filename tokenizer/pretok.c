// tokenizer/pretok.c -- the pre-tokenizer split patterns as code.
//
//   GPT-2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   Llama 3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//            ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   Qwen2:   the same as Llama 3 with \p{N} (single digits) instead of \p{N}{1,3}.
// Some alternative matches every character, so the pieces tile the text. At each
// position the first alternative that matches wins, resolved as a backtracking engine
// would: "\s+(?!\S)" leaves a whitespace run's last character to the next piece when a
// non-space follows; "\s*[\r\n]+" ends at the run's last CR/LF. Bytes that are not
// valid UTF-8 count as "other" characters.
#include "pretok.h"

#include <string.h>

#include "unicode.h"

const char *const pretok_pattern[3] = {
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};

int pretok_from_pattern(const char *pattern) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(pattern, pretok_pattern[i])) return i;
    return -1;
}

// The class of each ASCII byte: the common path skips the table lookup.
static unsigned char ascii_class[128];
static int ascii_ready;

static void init_ascii(void) {
    for (int c = 0; c < 128; c++) ascii_class[c] = (unsigned char)(uni_class((unsigned)c) & 3);
    ascii_ready = 1;
}

// Class of the character at s[i] (i < n); *len gets its byte length.
static inline int cls_at(const unsigned char *s, size_t n, size_t i, int *len) {
    if (s[i] < 0x80) {
        *len = 1;
        return ascii_class[s[i]];
    }
    uint32_t cp;
    *len = utf8_decode(s + i, n - i, &cp);
    return cp == UNI_INVALID ? UNI_OTHER : (uni_class(cp) & 3);
}

// End of the run of characters of class k starting at i.
static inline size_t run_of(const unsigned char *s, size_t n, size_t i, int k) {
    int len;
    while (i < n && cls_at(s, n, i, &len) == k) i += len;
    return i;
}

// The length of the contraction at s[pos] == '\'', or 0. Case-insensitive matching also
// accepts U+017F (long s), which case-folds to 's'.
static size_t contraction(const unsigned char *s, size_t n, size_t pos, int icase) {
    if (pos + 1 >= n) return 0;
    unsigned c = s[pos + 1], d = pos + 2 < n ? s[pos + 2] : 0;
    if (icase) {
        if (c == 0xC5 && d == 0xBF) return 3;  // 'ſ
        c = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        d = (d >= 'A' && d <= 'Z') ? d + 32 : d;
    }
    if (c == 's' || c == 't' || c == 'm' || c == 'd') return 2;
    if ((c == 'r' && d == 'e') || (c == 'v' && d == 'e') || (c == 'l' && d == 'l')) return 3;
    return 0;
}

// "\s+(?!\S)|\s+" for the whitespace run [pos, end).
static size_t space_tail(const unsigned char *s, size_t n, size_t pos, size_t end) {
    if (end == n) return end - pos;
    size_t last = end - 1;  // start of the run's last character
    while (last > pos && (s[last] & 0xC0) == 0x80) last--;
    return last > pos ? last - pos : end - pos;
}

static size_t next_gpt2(const unsigned char *s, size_t n, size_t pos) {
    int len;
    if (s[pos] == '\'') {
        size_t k = contraction(s, n, pos, 0);
        if (k) return k;
    }
    size_t j = pos + (s[pos] == ' ' && pos + 1 < n);
    int k = cls_at(s, n, j, &len);
    if (k != UNI_SPACE) return run_of(s, n, j + len, k) - pos;  // " ?\p{L}+" etc.
    return space_tail(s, n, pos, run_of(s, n, pos, UNI_SPACE));
}

static size_t next_llama(const unsigned char *s, size_t n, size_t pos, int max_digits) {
    int len, len2;
    unsigned c = s[pos];
    if (c == '\'') {
        size_t k = contraction(s, n, pos, 1);
        if (k) return k;
    }
    int k = cls_at(s, n, pos, &len);
    if (k == UNI_LETTER) return run_of(s, n, pos + len, UNI_LETTER) - pos;
    if (k == UNI_NUMBER) {  // \p{N}{1,3} or \p{N}
        size_t i = pos + len;
        for (int d = 1; d < max_digits && i < n && cls_at(s, n, i, &len2) == UNI_NUMBER; d++)
            i += len2;
        return i - pos;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (c != '\r' && c != '\n' && pos + len < n && cls_at(s, n, pos + len, &len2) == UNI_LETTER)
        return run_of(s, n, pos + len + len2, UNI_LETTER) - pos;
    // " ?[^\s\p{L}\p{N}]+[\r\n]*"
    size_t j = pos;
    if (c == ' ' && pos + 1 < n && cls_at(s, n, pos + 1, &len2) == UNI_OTHER) j = pos + 1;
    if (cls_at(s, n, j, &len2) == UNI_OTHER) {
        size_t i = run_of(s, n, j, UNI_OTHER);
        while (i < n && (s[i] == '\r' || s[i] == '\n')) i++;
        return i - pos;
    }
    // whitespace: "\s*[\r\n]+" ends at the run's last CR/LF, else "\s+(?!\S)|\s+"
    size_t end = run_of(s, n, pos, UNI_SPACE);
    for (size_t i = end; i > pos; i--)
        if (s[i - 1] == '\r' || s[i - 1] == '\n') return i - pos;
    return space_tail(s, n, pos, end);
}

size_t pretok_next(TokPretok p, const unsigned char *s, size_t n, size_t pos) {
    if (!ascii_ready) init_ascii();
    switch (p) {
    case TOK_PRE_GPT2: return next_gpt2(s, n, pos);
    case TOK_PRE_LLAMA3: return next_llama(s, n, pos, 3);
    default: return next_llama(s, n, pos, 1);
    }
}

// bytes_to_unicode(): '!'..'~', '¡'..'¬', '®'..'ÿ' stand for themselves; the other 68
// bytes map, in byte order, to U+0100, U+0101, ...
const unsigned short byte_char[256] = {
    0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106, 0x107, 0x108, 0x109, 0x10A, 0x10B, 0x10C, 0x10D, 0x10E, 0x10F,
    0x110, 0x111, 0x112, 0x113, 0x114, 0x115, 0x116, 0x117, 0x118, 0x119, 0x11A, 0x11B, 0x11C, 0x11D, 0x11E, 0x11F,
    0x120, 0x021, 0x022, 0x023, 0x024, 0x025, 0x026, 0x027, 0x028, 0x029, 0x02A, 0x02B, 0x02C, 0x02D, 0x02E, 0x02F,
    0x030, 0x031, 0x032, 0x033, 0x034, 0x035, 0x036, 0x037, 0x038, 0x039, 0x03A, 0x03B, 0x03C, 0x03D, 0x03E, 0x03F,
    0x040, 0x041, 0x042, 0x043, 0x044, 0x045, 0x046, 0x047, 0x048, 0x049, 0x04A, 0x04B, 0x04C, 0x04D, 0x04E, 0x04F,
    0x050, 0x051, 0x052, 0x053, 0x054, 0x055, 0x056, 0x057, 0x058, 0x059, 0x05A, 0x05B, 0x05C, 0x05D, 0x05E, 0x05F,
    0x060, 0x061, 0x062, 0x063, 0x064, 0x065, 0x066, 0x067, 0x068, 0x069, 0x06A, 0x06B, 0x06C, 0x06D, 0x06E, 0x06F,
    0x070, 0x071, 0x072, 0x073, 0x074, 0x075, 0x076, 0x077, 0x078, 0x079, 0x07A, 0x07B, 0x07C, 0x07D, 0x07E, 0x121,
    0x122, 0x123, 0x124, 0x125, 0x126, 0x127, 0x128, 0x129, 0x12A, 0x12B, 0x12C, 0x12D, 0x12E, 0x12F, 0x130, 0x131,
    0x132, 0x133, 0x134, 0x135, 0x136, 0x137, 0x138, 0x139, 0x13A, 0x13B, 0x13C, 0x13D, 0x13E, 0x13F, 0x140, 0x141,
    0x142, 0x0A1, 0x0A2, 0x0A3, 0x0A4, 0x0A5, 0x0A6, 0x0A7, 0x0A8, 0x0A9, 0x0AA, 0x0AB, 0x0AC, 0x143, 0x0AE, 0x0AF,
    0x0B0, 0x0B1, 0x0B2, 0x0B3, 0x0B4, 0x0B5, 0x0B6, 0x0B7, 0x0B8, 0x0B9, 0x0BA, 0x0BB, 0x0BC, 0x0BD, 0x0BE, 0x0BF,
    0x0C0, 0x0C1, 0x0C2, 0x0C3, 0x0C4, 0x0C5, 0x0C6, 0x0C7, 0x0C8, 0x0C9, 0x0CA, 0x0CB, 0x0CC, 0x0CD, 0x0CE, 0x0CF,
    0x0D0, 0x0D1, 0x0D2, 0x0D3, 0x0D4, 0x0D5, 0x0D6, 0x0D7, 0x0D8, 0x0D9, 0x0DA, 0x0DB, 0x0DC, 0x0DD, 0x0DE, 0x0DF,
    0x0E0, 0x0E1, 0x0E2, 0x0E3, 0x0E4, 0x0E5, 0x0E6, 0x0E7, 0x0E8, 0x0E9, 0x0EA, 0x0EB, 0x0EC, 0x0ED, 0x0EE, 0x0EF,
    0x0F0, 0x0F1, 0x0F2, 0x0F3, 0x0F4, 0x0F5, 0x0F6, 0x0F7, 0x0F8, 0x0F9, 0x0FA, 0x0FB, 0x0FC, 0x0FD, 0x0FE, 0x0FF,
};

int char_byte(unsigned cp) {
    if (cp < 0x100) return byte_char[cp] == cp ? (int)cp : -1;
    // the shifted bytes in byte order: 0x00-0x20, 0x7F-0xA0, 0xAD
    unsigned k = cp - 0x100;
    if (k < 33) return (int)k;
    if (k < 67) return (int)(0x7F + k - 33);
    if (k == 67) return 0xAD;
    return -1;
}
