// tokenizer/unicode.c -- UTF-8 decoding and the NFC normalizer (Unicode Standard Annex
// #15): canonical decomposition, canonical ordering by combining class, then canonical
// composition of each starter with the unblocked characters that follow it.
#include "unicode.h"

#include <stdlib.h>
#include <string.h>

int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, min = 0x10000;
    else goto invalid;
    if ((size_t)len > n) goto invalid;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) goto invalid;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v < 0xE000)) goto invalid;
    *cp = v;
    return len;
invalid:
    *cp = UNI_INVALID;
    return 1;
}

int utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

// Hangul syllables compose and decompose algorithmically (Unicode 3.12).
enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7, LCOUNT = 19, VCOUNT = 21,
       TCOUNT = 28, NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };

// Invalid bytes travel through the code point array as 0x80000000 | byte.
#define RAW_BYTE 0x80000000u

static const UniDecomp *find_decomp(uint32_t cp) {
    int lo = 0, hi = uni_n_decomp - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (uni_decomp[mid].cp == cp) return &uni_decomp[mid];
        if (uni_decomp[mid].cp < cp) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

// The primary composite of a b, or 0.
static uint32_t compose(uint32_t a, uint32_t b) {
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE &&
        b < TBASE + TCOUNT)
        return a + (b - TBASE);
    int lo = 0, hi = uni_n_comp - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const UniComp *c = &uni_comp[mid];
        if (c->a == a && c->b == b) return c->c;
        if (c->a < a || (c->a == a && c->b < b)) lo = mid + 1;
        else hi = mid - 1;
    }
    return 0;
}

static int ccc_of(uint32_t cp) { return (cp & RAW_BYTE) ? 0 : uni_ccc(cp); }

// 1 if NFC leaves s as it is: no character that the quick check marks unstable.
static int nfc_stable(const unsigned char *u, size_t n) {
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        i += utf8_decode(u + i, n - i, &cp);
        if (cp != UNI_INVALID && (uni_class(cp) & UNI_NFC_UNSTABLE)) return 0;
    }
    return 1;
}

// pass 1: full canonical decomposition of u[0..n) into cps; returns the count. cps
// holds 4 per input byte: a 2-byte character decomposes to at most 4 code points,
// a 3-byte Hangul syllable to 3.
static size_t decompose(const unsigned char *u, size_t n, uint32_t *cps) {
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int len = utf8_decode(u + i, n - i, &cp);
        if (cp == UNI_INVALID) {
            cps[m++] = RAW_BYTE | u[i];
        } else if (cp >= SBASE && cp < SBASE + SCOUNT) {
            uint32_t k = cp - SBASE;
            cps[m++] = LBASE + k / NCOUNT;
            cps[m++] = VBASE + (k % NCOUNT) / TCOUNT;
            if (k % TCOUNT) cps[m++] = TBASE + k % TCOUNT;
        } else {
            const UniDecomp *d = cp >= 0xC0 ? find_decomp(cp) : NULL;
            if (d) {
                for (uint32_t j = 0; j < d->n; j++) cps[m++] = uni_decomp_cps[d->off + j];
            } else {
                cps[m++] = cp;
            }
        }
        i += len;
    }
    return m;
}

// pass 2: canonical ordering, a stable insertion sort of each run of non-starters by ccc.
static void canonical_order(uint32_t *cps, size_t m) {
    for (size_t a = 1; a < m; a++) {
        int c = ccc_of(cps[a]);
        if (c == 0) continue;
        uint32_t x = cps[a];
        size_t b = a;
        while (b > 0 && ccc_of(cps[b - 1]) > c) {
            cps[b] = cps[b - 1];
            b--;
        }
        cps[b] = x;
    }
}

// pass 3: canonical composition in place; returns the new count. A character combines
// with the last starter unless a character between them blocks it (ccc 0, or ccc >= its own).
static size_t compose_all(uint32_t *cps, size_t m) {
    size_t w = 0;
    long starter = -1;
    int last_ccc = -1;
    for (size_t a = 0; a < m; a++) {
        uint32_t x = cps[a];
        int c = ccc_of(x);
        if (starter >= 0 && !(x & RAW_BYTE) && !(cps[starter] & RAW_BYTE) &&
            (last_ccc < c || (last_ccc == 0 && w == (size_t)starter + 1))) {
            uint32_t comp = compose(cps[starter], x);
            if (comp) {
                cps[starter] = comp;
                continue;
            }
        }
        if (c == 0) {
            starter = (long)w;
            last_ccc = 0;
        } else {
            last_ccc = c;
        }
        cps[w++] = x;
    }
    return w;
}

int uni_nfc(const char *s, size_t n, char **out, size_t *out_len) {
    const unsigned char *u = (const unsigned char *)s;
    *out = NULL;
    *out_len = 0;
    if (nfc_stable(u, n)) return 0;
    uint32_t *cps = malloc((n * 4 + 1) * sizeof *cps);
    if (!cps) return -1;
    size_t m = decompose(u, n, cps);
    canonical_order(cps, m);
    m = compose_all(cps, m);
    // pass 4: back to UTF-8, at most 4 bytes per code point
    char *o = malloc(m * 4 + 1);
    if (!o) {
        free(cps);
        return -1;
    }
    size_t k = 0;
    for (size_t a = 0; a < m; a++) {
        if (cps[a] & RAW_BYTE) o[k++] = (char)(cps[a] & 0xFF);
        else k += utf8_encode(cps[a], o + k);
    }
    o[k] = 0;
    free(cps);
    *out = o;
    *out_len = k;
    return 0;
}
