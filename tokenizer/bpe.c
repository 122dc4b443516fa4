// tokenizer/bpe.c -- the Tokenizer: building it, encode (added tokens, normalizer,
// pre-tokenizer, BPE merges) and decode.
//
// BPE of a piece of n bytes: n single-byte symbols in a linked list, and a min-heap of
// the adjacent pairs that have a merge, keyed (rank, position). Pop the lowest rank,
// leftmost on ties, merge the pair and push the two new neighbouring pairs; a popped
// entry that an earlier merge made stale no longer looks up to its rank. O(n log n) per
// piece, the same result as HF's repeated lowest-rank merge. Results are cached per piece.
#include <stdlib.h>
#include <string.h>

#include "pretok.h"
#include "tok_internal.h"
#include "unicode.h"

enum {
    CACHE_MAX_PIECE = 64,          // longer pieces are not cached
    CACHE_MAX_ENTRIES = 1 << 16,   // the cache is emptied when it holds this many
    CACHE_KEY_BYTES = 1 << 21,
    CACHE_ID_WORDS = 1 << 19,
    SMALL_PIECE = 128,             // pieces up to this long use stack buffers
};

Tokenizer *tok_alloc(int32_t n_vocab, Err *e) {
    Tokenizer *t = calloc(1, sizeof *t);
    if (!t) goto oom;
    t->n_vocab = n_vocab;
    t->tok = calloc((size_t)n_vocab + 1, sizeof *t->tok);
    t->tok_len = calloc((size_t)n_vocab + 1, sizeof *t->tok_len);
    t->kind = calloc((size_t)n_vocab + 1, 1);
    t->pretok = TOK_PRE_QWEN2;
    if (!t->tok || !t->tok_len || !t->kind) goto oom;
    return t;
oom:
    tok_free(t);
    err_fmt(e, "out of memory allocating a tokenizer of %d tokens", (int)n_vocab);
    return NULL;
}

void tok_free(Tokenizer *t) {
    if (!t) return;
    if (t->tok)
        for (int32_t i = 0; i < t->n_vocab; i++) free(t->tok[i]);
    free(t->tok);
    free(t->tok_len);
    free(t->kind);
    strmap_free(&t->vocab);
    pairmap_free(&t->merges);
    free(t->merge_list);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    strmap_free(&t->cache);
    free(t->cache_keys);
    free(t->cache_ids);
    free(t);
}

int tok_set_token(Tokenizer *t, int32_t id, const char *bytes, size_t len, int kind, Err *e) {
    if (id < 0 || id >= t->n_vocab) return err_fmt(e, "token id %d out of range", (int)id);
    char *c = malloc(len + 1);
    if (!c) return err_fmt(e, "out of memory");
    memcpy(c, bytes, len);
    c[len] = 0;
    free(t->tok[id]);
    t->tok[id] = c;
    t->tok_len[id] = (uint32_t)len;
    t->kind[id] = (uint8_t)kind;
    return 0;
}

int tok_add_merge(Tokenizer *t, int32_t a, int32_t b, int32_t merged, Err *e) {
    if (t->n_merges % 1024 == 0) {
        void *p = realloc(t->merge_list, ((size_t)t->n_merges + 1024) * sizeof *t->merge_list);
        if (!p) return err_fmt(e, "out of memory");
        t->merge_list = p;
    }
    PairEntry *pe = pairmap_put(&t->merges, pair_key(a, b), NULL);
    if (!pe) return err_fmt(e, "out of memory");
    pe->v0 = t->n_merges;  // a repeated pair takes its later rank, as in HF
    pe->v1 = merged;
    t->merge_list[t->n_merges][0] = a;
    t->merge_list[t->n_merges][1] = b;
    t->n_merges++;
    return 0;
}

static int cmp_added_len(const void *x, const void *y) {
    const AddedToken *a = x, *b = y;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

int tok_finish(Tokenizer *t, const char *name, Err *e) {
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (t->kind[id] != TOKK_BPE) continue;
        if (!strmap_put(&t->vocab, t->tok[id], t->tok_len[id], id, NULL))
            return err_fmt(e, "out of memory");
    }
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        t->byte_id[b] = strmap_get(&t->vocab, &c, 1);
        if (t->byte_id[b] < 0) {
            char ch[5] = {0};
            utf8_encode(byte_char[b], ch);
            return err_fmt(e, "%s: the vocab has no token for the byte 0x%02X (\"%s\"); byte-level "
                              "BPE needs all 256", name, b, ch);
        }
    }
    // longest first: the first added token that matches is the longest
    qsort(t->added, (size_t)t->n_added, sizeof *t->added, cmp_added_len);
    memset(t->added_first, 0, sizeof t->added_first);
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].len) t->added_first[(unsigned char)t->added[i].content[0]] = 1;
    return 0;
}

static int push_id(TokIds *o, int32_t id) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 256;
        int32_t *p = realloc(o->ids, cap * sizeof *p);
        if (!p) return -1;
        o->ids = p;
        o->cap = cap;
    }
    o->ids[o->n++] = id;
    return 0;
}

// Binary min-heap of uint64 (rank << 32 | position).
static void heap_push(uint64_t *h, size_t *n, uint64_t v) {
    size_t i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > v) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n) {
    uint64_t top = h[0], v = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (h[c] >= v) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
    return top;
}

static void push_pair(const Tokenizer *t, const int32_t *id, int32_t i, int32_t j, uint64_t *heap,
                      size_t *nh) {
    const PairEntry *pe = pairmap_get(&t->merges, pair_key(id[i], id[j]));
    if (pe) heap_push(heap, nh, ((uint64_t)(uint32_t)pe->v0 << 32) | (uint32_t)i);
}

// BPE of one piece; appends its ids to out.
static int bpe_merge(const Tokenizer *t, const unsigned char *p, size_t n, TokIds *out) {
    int32_t id_s[SMALL_PIECE], next_s[SMALL_PIECE], prev_s[SMALL_PIECE];
    uint64_t heap_s[3 * SMALL_PIECE];
    int32_t *id = id_s, *next = next_s, *prev = prev_s;
    uint64_t *heap = heap_s;
    if (n > SMALL_PIECE) {
        id = malloc(n * sizeof *id);
        next = malloc(n * sizeof *next);
        prev = malloc(n * sizeof *prev);
        heap = malloc(3 * n * sizeof *heap);
        if (!id || !next || !prev || !heap) goto oom;
    }
    size_t nh = 0;
    for (size_t i = 0; i < n; i++) {
        id[i] = t->byte_id[p[i]];
        next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
        prev[i] = (int32_t)i - 1;
    }
    for (size_t i = 0; i + 1 < n; i++) push_pair(t, id, (int32_t)i, (int32_t)i + 1, heap, &nh);
    while (nh) {
        uint64_t top = heap_pop(heap, &nh);
        int32_t i = (int32_t)(top & 0xFFFFFFFF), rank = (int32_t)(top >> 32);
        int32_t j = next[i];
        if (id[i] < 0 || j < 0) continue;
        const PairEntry *pe = pairmap_get(&t->merges, pair_key(id[i], id[j]));
        if (!pe || pe->v0 != rank) continue;  // stale: a neighbour has changed since
        id[i] = pe->v1;
        id[j] = -1;
        next[i] = next[j];
        if (next[j] >= 0) prev[next[j]] = i;
        if (prev[i] >= 0) push_pair(t, id, prev[i], i, heap, &nh);
        if (next[i] >= 0) push_pair(t, id, i, next[i], heap, &nh);
    }
    int rc = 0;
    for (int32_t i = 0; i >= 0 && !rc; i = next[i]) rc = push_id(out, id[i]);
    if (n > SMALL_PIECE) free(id), free(next), free(prev), free(heap);
    return rc;
oom:
    if (n > SMALL_PIECE) free(id), free(next), free(prev), free(heap);
    return -1;
}

static void cache_reset(Tokenizer *t) {
    strmap_clear(&t->cache);
    t->cache_keys_used = t->cache_ids_used = 0;
}

static int bpe_piece(Tokenizer *t, const unsigned char *p, size_t n, TokIds *out) {
    if (n == 1) return push_id(out, t->byte_id[p[0]]);
    if (t->ignore_merges) {  // Llama 3: a piece that is a token stays whole
        int32_t id = strmap_get(&t->vocab, (const char *)p, n);
        if (id >= 0) return push_id(out, id);
    }
    if (n > CACHE_MAX_PIECE) return bpe_merge(t, p, n, out);
    int32_t at = strmap_get(&t->cache, (const char *)p, n);
    if (at >= 0) {
        int32_t k = t->cache_ids[at];
        for (int32_t i = 0; i < k; i++)
            if (push_id(out, t->cache_ids[at + 1 + i])) return -1;
        return 0;
    }
    size_t first = out->n;
    if (bpe_merge(t, p, n, out)) return -1;
    size_t k = out->n - first;
    if (!t->cache_keys) {
        t->cache_keys = malloc(CACHE_KEY_BYTES);
        t->cache_ids = malloc(CACHE_ID_WORDS * sizeof *t->cache_ids);
        if (!t->cache_keys || !t->cache_ids) return -1;
    }
    if (t->cache.n >= CACHE_MAX_ENTRIES || t->cache_keys_used + n > CACHE_KEY_BYTES ||
        t->cache_ids_used + k + 1 > CACHE_ID_WORDS)
        cache_reset(t);
    char *key = t->cache_keys + t->cache_keys_used;
    memcpy(key, p, n);
    int32_t *slot = strmap_put(&t->cache, key, n, (int32_t)t->cache_ids_used, NULL);
    if (!slot) return -1;
    t->cache_keys_used += n;
    t->cache_ids[t->cache_ids_used] = (int32_t)k;
    memcpy(t->cache_ids + t->cache_ids_used + 1, out->ids + first, k * sizeof *out->ids);
    t->cache_ids_used += k + 1;
    return 0;
}

// Text between added tokens: normalize, pre-tokenize, BPE.
static int encode_text(Tokenizer *t, const char *s, size_t n, TokIds *out) {
    char *norm = NULL;
    size_t nn;
    if (n == 0) return 0;
    if (t->nfc) {
        if (uni_nfc(s, n, &norm, &nn)) return -1;
        if (norm) s = norm, n = nn;
    }
    const unsigned char *u = (const unsigned char *)s;
    int rc = 0;
    for (size_t pos = 0; pos < n && !rc;) {
        size_t k = pretok_next(t->pretok, u, n, pos);
        rc = bpe_piece(t, u + pos, k, out);
        pos += k;
    }
    free(norm);
    return rc;
}

static int is_space_at(const unsigned char *s, size_t n, size_t i, int *len) {
    uint32_t cp;
    *len = utf8_decode(s + i, n - i, &cp);
    return cp != UNI_INVALID && (uni_class(cp) & 3) == UNI_SPACE;
}

// Start of the character that ends at s[i] (i > 0).
static size_t char_before(const unsigned char *s, size_t i) {
    size_t k = i - 1;
    while (k > 0 && i - k < 4 && (s[k] & 0xC0) == 0x80) k--;
    return k;
}

static int is_word_char(const unsigned char *s, size_t n, size_t i) {
    uint32_t cp;
    utf8_decode(s + i, n - i, &cp);
    if (cp == '_') return 1;
    int k = cp == UNI_INVALID ? UNI_OTHER : uni_class(cp) & 3;
    return k == UNI_LETTER || k == UNI_NUMBER;
}

// Added tokens are split out of the raw text first, leftmost then longest, as HF's
// AddedVocabulary does. A match that its flags reject is skipped, not retried inside.
int tok_encode(Tokenizer *t, const char *text, size_t len, int flags, TokIds *out, Err *e) {
    const unsigned char *s = (const unsigned char *)text;
    size_t pos = 0, scan = 0;
    while (scan < len) {
        const AddedToken *m = NULL;
        size_t i = scan;
        for (; i < len && !m; i++) {
            if (!t->added_first[s[i]]) continue;
            for (int k = 0; k < t->n_added; k++) {
                const AddedToken *a = &t->added[k];
                if (a->len && a->len <= len - i && !memcmp(s + i, a->content, a->len)) {
                    m = a;
                    break;
                }
            }
        }
        if (!m) break;
        size_t start = i - 1, stop = start + m->len;
        scan = stop;
        if ((flags & TOK_ENC_NO_SPECIAL) && m->special) continue;
        if (m->single_word && ((start > 0 && is_word_char(s, len, char_before(s, start))) ||
                               (stop < len && is_word_char(s, len, stop))))
            continue;
        int cl;
        if (m->lstrip) {
            size_t ns = start;
            while (ns > pos) {
                size_t b = char_before(s, ns);
                if (!is_space_at(s, len, b, &cl) || b + (size_t)cl != ns) break;
                ns = b;
            }
            start = ns;
        }
        if (m->rstrip)
            while (stop < len && is_space_at(s, len, stop, &cl)) stop += (size_t)cl;
        if (encode_text(t, text + pos, start - pos, out) || push_id(out, m->id)) goto oom;
        pos = scan = stop;
    }
    if (encode_text(t, text + pos, len - pos, out)) goto oom;
    return 0;
oom:
    return err_fmt(e, "out of memory while encoding %zu bytes", len);
}

int tok_decode(const Tokenizer *t, const int32_t *ids, size_t n, int flags, char **out,
               size_t *out_len, Err *e) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab || t->kind[ids[i]] == TOKK_UNUSED)
            return err_fmt(e, "token id %d at position %zu is not in the vocabulary (size %d)",
                           (int)ids[i], i, (int)t->n_vocab);
        total += t->tok_len[ids[i]];
    }
    char *o = malloc(total + 1);
    if (!o) return err_fmt(e, "out of memory decoding %zu tokens", n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if ((flags & TOK_DEC_SKIP_SPECIAL) && t->kind[ids[i]] == TOKK_SPECIAL) continue;
        memcpy(o + k, t->tok[ids[i]], t->tok_len[ids[i]]);
        k += t->tok_len[ids[i]];
    }
    o[k] = 0;
    *out = o;
    *out_len = k;
    return 0;
}

int tok_parse_ids(const char *text, const char *name, TokIds *out, Err *e) {
    for (const char *p = text; *p;) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
        if (!*p) break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < -2147483647L || v > 2147483647L)
            return err_fmt(e, "%s: byte %zu: expected a token id", name, (size_t)(p - text));
        if (push_id(out, (int32_t)v)) return err_fmt(e, "out of memory");
        p = end;
    }
    return 0;
}

const char *tok_token_bytes(const Tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab || t->kind[id] == TOKK_UNUSED) return NULL;
    *len = t->tok_len[id];
    return t->tok[id];
}

int32_t tok_id(const Tokenizer *t, const char *s, size_t len) {
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].len == len && !memcmp(t->added[i].content, s, len)) return t->added[i].id;
    return strmap_get(&t->vocab, s, len);
}

int tok_is_special(const Tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab && t->kind[id] == TOKK_SPECIAL;
}

int tok_vocab_size(const Tokenizer *t) { return t->n_vocab; }

size_t tok_memory(const Tokenizer *t) {
    size_t b = sizeof *t + (size_t)t->n_vocab * (sizeof *t->tok + sizeof *t->tok_len + sizeof *t->kind);
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (t->tok[i]) b += t->tok_len[i] + 1;
    for (int i = 0; i < t->n_added; i++) b += sizeof *t->added + t->added[i].len + 1;
    b += (t->vocab.cap + t->cache.cap) * sizeof(StrEntry) + t->merges.cap * sizeof(PairEntry);
    b += ((size_t)t->n_merges + 1023) / 1024 * 1024 * sizeof *t->merge_list;  // grown 1024 at a time
    return b + CACHE_KEY_BYTES + CACHE_ID_WORDS * sizeof *t->cache_ids;       // the encode cache's buffers
}
