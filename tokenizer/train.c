// tokenizer/train.c -- byte-level BPE training.
//
// pass 1: split the text on the special tokens, NFC, pre-tokenize and count the distinct
//         pieces ("words"); a word starts as its bytes (ids 0..255 = byte values).
// pass 2: count every adjacent symbol pair over all words, weighted by word count, and
//         remember which words hold each pair.
// pass 3: repeatedly make the most frequent pair a token (ties: smaller left id, then
//         smaller right id) and rewrite only the words that hold it, updating the pair
//         counts in place. A max-heap holds candidate pairs; a popped entry whose count
//         has changed is pushed again with the current count.
// Integer counts and a total order on pairs make the result deterministic.
#include <stdlib.h>
#include <string.h>

#include "pretok.h"
#include "tok_internal.h"
#include "unicode.h"

typedef struct {
    int64_t count;
    int32_t a, b;
    int32_t *words;  // words that hold the pair, or once did
    int32_t n_words, cap_words;
    int32_t stamp;   // the merge step that last touched it
} Pair;

typedef struct {
    int64_t count;
    int32_t a, b;
} HeapItem;

typedef struct {
    // words
    int32_t n_words;
    int64_t *wcount;
    int32_t *wstart, *wlen;  // symbols of word w: sym[wstart[w] .. + wlen[w])
    int32_t *sym;
    // pairs
    PairMap index;  // (a, b) -> v0 index into pairs
    Pair *pairs;
    int32_t n_pairs, cap_pairs;
    HeapItem *heap;
    size_t n_heap, cap_heap;
    int32_t *touched;  // pairs whose count rose in the current merge: to queue
    int32_t n_touched, cap_touched;
    // tokens
    char **tok;
    uint32_t *tok_len;
    int32_t n_tok, cap_tok;
    StrMap tok_index;  // bytes -> id
    int32_t (*merges)[3];  // a, b, merged
    int32_t n_merges, cap_merges;
    char *buf;  // scratch: the bytes of a merged token
    size_t cap_buf;
} Trainer;

static int heap_better(const HeapItem *x, const HeapItem *y) {
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

static int heap_push(Trainer *tr, HeapItem v) {
    if (tr->n_heap == tr->cap_heap) {
        size_t cap = tr->cap_heap ? tr->cap_heap * 2 : 4096;
        HeapItem *h = realloc(tr->heap, cap * sizeof *h);
        if (!h) return -1;
        tr->heap = h, tr->cap_heap = cap;
    }
    size_t i = tr->n_heap++;
    while (i > 0 && heap_better(&v, &tr->heap[(i - 1) / 2])) {
        tr->heap[i] = tr->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    tr->heap[i] = v;
    return 0;
}

static HeapItem heap_pop(Trainer *tr) {
    HeapItem top = tr->heap[0], v = tr->heap[--tr->n_heap];
    size_t i = 0, n = tr->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_better(&tr->heap[c + 1], &tr->heap[c])) c++;
        if (!heap_better(&tr->heap[c], &v)) break;
        tr->heap[i] = tr->heap[c];
        i = c;
    }
    tr->heap[i] = v;
    return top;
}

// The pair (a, b), created with count 0 if new; NULL when out of memory.
static Pair *get_pair(Trainer *tr, int32_t a, int32_t b) {
    int added;
    PairEntry *pe = pairmap_put(&tr->index, pair_key(a, b), &added);
    if (!pe) return NULL;
    if (added) {
        if (tr->n_pairs == tr->cap_pairs) {
            int32_t cap = tr->cap_pairs ? tr->cap_pairs * 2 : 4096;
            Pair *p = realloc(tr->pairs, (size_t)cap * sizeof *p);
            if (!p) return NULL;
            tr->pairs = p, tr->cap_pairs = cap;
        }
        pe->v0 = tr->n_pairs;
        tr->pairs[tr->n_pairs++] = (Pair){0, a, b, NULL, 0, 0, -1};
    }
    return &tr->pairs[pe->v0];
}

static int add_word_to_pair(Pair *p, int32_t w) {
    if (p->n_words && p->words[p->n_words - 1] == w) return 0;
    if (p->n_words == p->cap_words) {
        int32_t cap = p->cap_words ? p->cap_words * 2 : 4;
        int32_t *x = realloc(p->words, (size_t)cap * sizeof *x);
        if (!x) return -1;
        p->words = x, p->cap_words = cap;
    }
    p->words[p->n_words++] = w;
    return 0;
}

static int add_token(Trainer *tr, const char *bytes, size_t len) {
    if (tr->n_tok == tr->cap_tok) {
        int32_t cap = tr->cap_tok ? tr->cap_tok * 2 : 1024;
        char **t = realloc(tr->tok, (size_t)cap * sizeof *t);
        if (!t) return -1;
        tr->tok = t;
        uint32_t *l = realloc(tr->tok_len, (size_t)cap * sizeof *l);
        if (!l) return -1;
        tr->tok_len = l, tr->cap_tok = cap;
    }
    char *c = malloc(len + 1);
    if (!c) return -1;
    memcpy(c, bytes, len);
    c[len] = 0;
    tr->tok[tr->n_tok] = c;
    tr->tok_len[tr->n_tok] = (uint32_t)len;
    if (!strmap_put(&tr->tok_index, c, len, tr->n_tok, NULL)) return -1;
    tr->n_tok++;
    return 0;
}

// Adds (or, with sign -1, removes) the pairs of word w to the counts.
static int count_word(Trainer *tr, int32_t w, int sign, int32_t step, int32_t new_id) {
    const int32_t *s = tr->sym + tr->wstart[w];
    for (int32_t i = 0; i + 1 < tr->wlen[w]; i++) {
        Pair *p = get_pair(tr, s[i], s[i + 1]);
        if (!p) return -1;
        p->count += sign * tr->wcount[w];
        if (sign > 0 && (step < 0 || s[i] == new_id || s[i + 1] == new_id)) {
            if (add_word_to_pair(p, w)) return -1;
            if (step >= 0 && p->stamp != step) {
                p->stamp = step;
                if (tr->n_touched == tr->cap_touched) {
                    int32_t cap = tr->cap_touched ? tr->cap_touched * 2 : 1024;
                    int32_t *x = realloc(tr->touched, (size_t)cap * sizeof *x);
                    if (!x) return -1;
                    tr->touched = x, tr->cap_touched = cap;
                }
                tr->touched[tr->n_touched++] = (int32_t)(p - tr->pairs);
            }
        }
    }
    return 0;
}

static void trainer_free(Trainer *tr) {
    free(tr->wcount);
    free(tr->wstart);
    free(tr->wlen);
    free(tr->sym);
    pairmap_free(&tr->index);
    for (int32_t i = 0; i < tr->n_pairs; i++) free(tr->pairs[i].words);
    free(tr->pairs);
    free(tr->heap);
    free(tr->touched);
    for (int32_t i = 0; i < tr->n_tok; i++) free(tr->tok[i]);
    free(tr->tok);
    free(tr->tok_len);
    strmap_free(&tr->tok_index);
    free(tr->merges);
    free(tr->buf);
}

TokTrainOpts tok_train_defaults(int vocab_size) {
    static const char *specials[] = {TOK_ENDOFTEXT, TOK_IM_START, TOK_IM_END};
    return (TokTrainOpts){vocab_size, TOK_PRE_QWEN2, 1, specials, 3, 2};
}

static int train_oom(Err *e) { return err_fmt(e, "out of memory while training the tokenizer"); }

static int check_opts(const TokTrainOpts *o, Err *e) {
    if (o->n_specials < 0 || o->n_specials > TOK_MAX_TRAIN_SPECIALS || o->vocab_size < 256 + o->n_specials ||
        o->vocab_size > (1 << 24))
        return err_fmt(e, "vocab size %d must be between %d (256 bytes + %d special tokens) and %d",
                       o->vocab_size, 256 + o->n_specials, o->n_specials, 1 << 24);
    for (int i = 0; i < o->n_specials; i++) {
        size_t l = strlen(o->specials[i]);
        uint32_t cp;
        for (size_t k = 0; k < l;) {
            k += (size_t)utf8_decode((const unsigned char *)o->specials[i] + k, l - k, &cp);
            if (cp == UNI_INVALID) return err_fmt(e, "special token %d is not valid UTF-8", i);
        }
        if (!l) return err_fmt(e, "special token %d is empty", i);
    }
    return 0;
}

// Pass 1's result: the distinct pieces of the text and how often each occurs.
typedef struct {
    StrMap words;     // piece bytes -> word id, ids in first-seen order
    int64_t *counts;  // [words.n]
    size_t cap_counts;
    char **norms;     // NFC copies of segments: the word keys point into them
    size_t n_norms;
} WordCounts;

static void word_counts_free(WordCounts *wc) {
    strmap_free(&wc->words);
    free(wc->counts);
    for (size_t i = 0; i < wc->n_norms; i++) free(wc->norms[i]);
    free(wc->norms);
}

// Counts the pieces of text[0..len), which holds no special token.
static int count_pieces(const TokTrainOpts *o, const char *text, size_t len, WordCounts *wc) {
    const unsigned char *u = (const unsigned char *)text;
    for (size_t pos = 0; pos < len;) {
        size_t k = pretok_next(o->pretok, u, len, pos);
        int added;
        int32_t *slot = strmap_put(&wc->words, text + pos, k, (int32_t)wc->words.n, &added);
        if (!slot) return -1;
        if (added) {
            if (wc->words.n > wc->cap_counts) {
                wc->cap_counts = wc->cap_counts ? wc->cap_counts * 2 : 65536;
                int64_t *c = realloc(wc->counts, wc->cap_counts * sizeof *c);
                if (!c) return -1;
                wc->counts = c;
            }
            wc->counts[*slot] = 0;
        }
        wc->counts[*slot]++;
        pos += k;
    }
    return 0;
}

// Where the next special token at or after pos starts (len: none) and its length.
// found[i] caches where special i next occurs, so the text is scanned once per special.
static size_t next_special(const char *text, size_t len, size_t pos, const TokTrainOpts *o,
                           size_t *found, size_t *skip) {
    size_t next = len;
    *skip = 0;
    for (int i = 0; i < o->n_specials; i++) {
        size_t l = strlen(o->specials[i]);
        if (found[i] == SIZE_MAX || (found[i] < pos && found[i] != len)) {
            const char *f = memmem(text + pos, len - pos, o->specials[i], l);
            found[i] = f ? (size_t)(f - text) : len;
        }
        if (found[i] < next) next = found[i], *skip = l;
    }
    return next;
}

// pass 1: the segments between special tokens, normalized, counted into pieces.
static int count_words(const char *text, size_t len, const TokTrainOpts *o, WordCounts *wc, Err *e) {
    size_t found[TOK_MAX_TRAIN_SPECIALS];
    for (int i = 0; i < o->n_specials; i++) found[i] = SIZE_MAX;
    for (size_t pos = 0; pos <= len;) {
        size_t skip, next = next_special(text, len, pos, o, found, &skip);
        const char *seg = text + pos;
        size_t n = next - pos;
        if (o->nfc && n) {
            char *norm, **p = realloc(wc->norms, (wc->n_norms + 1) * sizeof *p);
            size_t nn;
            if (!p) return train_oom(e);
            wc->norms = p;
            if (uni_nfc(seg, n, &norm, &nn)) return train_oom(e);
            if (norm) wc->norms[wc->n_norms++] = norm, seg = norm, n = nn;
        }
        if (count_pieces(o, seg, n, wc)) return train_oom(e);
        if (next == len) break;
        pos = next + skip;
    }
    return 0;
}

// Lays out the words' symbols (their bytes) and counts by word id, whatever the hash order.
static void load_words(Trainer *tr, const WordCounts *wc) {
    const StrMap *words = &wc->words;
    for (size_t i = 0; i < words->cap; i++)
        if (words->e[i].key) tr->wlen[words->e[i].val] = (int32_t)words->e[i].len;
    int32_t off = 0;
    for (int32_t w = 0; w < tr->n_words; w++) tr->wstart[w] = off, off += tr->wlen[w];
    for (size_t i = 0; i < words->cap; i++) {
        const StrEntry *x = &words->e[i];
        if (!x->key) continue;
        int32_t *sym = tr->sym + tr->wstart[x->val];
        for (uint32_t k = 0; k < x->len; k++) sym[k] = (unsigned char)x->key[k];
        tr->wcount[x->val] = wc->counts[x->val];
    }
}

// pass 2: the words and their symbols, the 256 byte tokens, the initial pair counts.
static int trainer_init(Trainer *tr, const WordCounts *wc, Err *e) {
    const StrMap *words = &wc->words;
    size_t total = 0;
    for (size_t i = 0; i < words->cap; i++)
        if (words->e[i].key) total += words->e[i].len;
    tr->n_words = (int32_t)words->n;
    tr->wcount = malloc((words->n + 1) * sizeof *tr->wcount);
    tr->wstart = malloc((words->n + 1) * sizeof *tr->wstart);
    tr->wlen = malloc((words->n + 1) * sizeof *tr->wlen);
    tr->sym = malloc((total + 1) * sizeof *tr->sym);
    if (!tr->wcount || !tr->wstart || !tr->wlen || !tr->sym) return train_oom(e);
    if (total > INT32_MAX) return err_fmt(e, "too much distinct text to train on (%zu bytes)", total);
    load_words(tr, wc);
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        if (add_token(tr, &c, 1)) return train_oom(e);
    }
    for (int32_t w = 0; w < tr->n_words; w++)
        if (count_word(tr, w, 1, -1, -1)) return train_oom(e);
    for (int32_t i = 0; i < tr->n_pairs; i++) {
        const Pair *p = &tr->pairs[i];
        if (p->count > 0 && heap_push(tr, (HeapItem){p->count, p->a, p->b})) return train_oom(e);
    }
    return 0;
}

// The id of the token a ++ b, added if new; -1 when out of memory.
static int32_t merged_token(Trainer *tr, int32_t a, int32_t b) {
    size_t la = tr->tok_len[a], lb = tr->tok_len[b];
    if (la + lb > tr->cap_buf) {
        size_t cap = 2 * (la + lb);
        char *nb = realloc(tr->buf, cap);
        if (!nb) return -1;
        tr->buf = nb, tr->cap_buf = cap;
    }
    memcpy(tr->buf, tr->tok[a], la);
    memcpy(tr->buf + la, tr->tok[b], lb);
    int32_t m = strmap_get(&tr->tok_index, tr->buf, la + lb);
    if (m >= 0) return m;
    m = tr->n_tok;
    return add_token(tr, tr->buf, la + lb) ? -1 : m;
}

static int append_merge(Trainer *tr, int32_t a, int32_t b, int32_t m) {
    if (tr->n_merges == tr->cap_merges) {
        int32_t cap = tr->cap_merges ? tr->cap_merges * 2 : 1024;
        void *x = realloc(tr->merges, (size_t)cap * sizeof *tr->merges);
        if (!x) return -1;
        tr->merges = x, tr->cap_merges = cap;
    }
    tr->merges[tr->n_merges][0] = a, tr->merges[tr->n_merges][1] = b, tr->merges[tr->n_merges][2] = m;
    tr->n_merges++;
    return 0;
}

// Rewrites word w with every (a, b) replaced by m, left to right; returns 1 if changed.
static int merge_word(Trainer *tr, int32_t w, int32_t a, int32_t b, int32_t m) {
    int32_t *s = tr->sym + tr->wstart[w], n = tr->wlen[w], k = 0, changed = 0;
    for (int32_t i = 0; i < n; i++) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            s[k++] = m;
            i++;
            changed = 1;
        } else {
            s[k++] = s[i];
        }
    }
    tr->wlen[w] = k;
    return changed;
}

static int has_pair(const Trainer *tr, int32_t w, int32_t a, int32_t b) {
    const int32_t *s = tr->sym + tr->wstart[w];
    for (int32_t i = 0; i + 1 < tr->wlen[w]; i++)
        if (s[i] == a && s[i + 1] == b) return 1;
    return 0;
}

// Rewrites every word that holds (a, b) with m, moving its pair counts from the old
// symbols to the new, then queues the pairs whose count rose.
static int apply_merge(Trainer *tr, Pair *p, int32_t m, int32_t step) {
    int32_t a = p->a, b = p->b;
    tr->n_touched = 0;
    // p may move when get_pair grows the array: take over its word list first
    int32_t *ws = p->words, nw = p->n_words;
    p->words = NULL, p->n_words = p->cap_words = 0;
    int rc = 0;
    for (int32_t i = 0; i < nw && !rc; i++) {
        int32_t w = ws[i];
        if (!has_pair(tr, w, a, b)) continue;
        rc = count_word(tr, w, -1, step, m);
        if (!rc) merge_word(tr, w, a, b, m);
        if (!rc) rc = count_word(tr, w, 1, step, m);
    }
    free(ws);
    for (int32_t i = 0; i < tr->n_touched && !rc; i++) {
        const Pair *q = &tr->pairs[tr->touched[i]];
        if (q->count > 0) rc = heap_push(tr, (HeapItem){q->count, q->a, q->b});
    }
    return rc;
}

// pass 3: merge the most frequent pair until the vocab is full or no pair is frequent.
static int train_merges(Trainer *tr, const TokTrainOpts *o, Err *e) {
    int32_t target = o->vocab_size - o->n_specials;
    while (tr->n_tok < target && tr->n_heap) {
        HeapItem top = heap_pop(tr);
        Pair *p = get_pair(tr, top.a, top.b);
        if (!p) return train_oom(e);
        if (p->count != top.count) {  // stale: queue again with the current count
            if (p->count > 0 && heap_push(tr, (HeapItem){p->count, p->a, p->b})) return train_oom(e);
            continue;
        }
        if (p->count < o->min_frequency) break;
        int32_t step = tr->n_merges;
        int32_t m = merged_token(tr, p->a, p->b);
        if (m < 0 || append_merge(tr, p->a, p->b, m) || apply_merge(tr, p, m, step)) return train_oom(e);
    }
    return 0;
}

// The tokenizer: the bytes, the merged tokens, then the specials.
static Tokenizer *build_tokenizer(const Trainer *tr, const TokTrainOpts *o, Err *e) {
    Tokenizer *t = tok_alloc(tr->n_tok + o->n_specials, e);
    if (!t) return NULL;
    t->pretok = o->pretok;
    t->nfc = o->nfc;
    for (int32_t i = 0; i < tr->n_tok; i++)
        if (tok_set_token(t, i, tr->tok[i], tr->tok_len[i], TOKK_BPE, e)) goto fail;
    for (int32_t i = 0; i < tr->n_merges; i++)
        if (tok_add_merge(t, tr->merges[i][0], tr->merges[i][1], tr->merges[i][2], e)) goto fail;
    t->added = calloc((size_t)o->n_specials + 1, sizeof *t->added);
    if (!t->added) goto oom;
    for (int i = 0; i < o->n_specials; i++) {
        AddedToken *x = &t->added[t->n_added++];
        x->len = (uint32_t)strlen(o->specials[i]);
        x->content = strdup(o->specials[i]);
        x->id = tr->n_tok + i;
        x->special = 1;
        if (!x->content) goto oom;
        if (tok_set_token(t, x->id, x->content, x->len, TOKK_SPECIAL, e)) goto fail;
    }
    if (tok_finish(t, "trained tokenizer", e)) goto fail;
    return t;
oom:
    train_oom(e);
fail:
    tok_free(t);
    return NULL;
}

Tokenizer *tok_train(const char *text, size_t len, const TokTrainOpts *o, Err *e) {
    if (check_opts(o, e)) return NULL;
    WordCounts wc = {0};
    Trainer tr = {0};
    Tokenizer *t = NULL;
    if (!count_words(text, len, o, &wc, e) && !trainer_init(&tr, &wc, e) && !train_merges(&tr, o, e))
        t = build_tokenizer(&tr, o, e);
    trainer_free(&tr);
    word_counts_free(&wc);
    return t;
}

int tok_check_text(const char *text, size_t len, const char *name, Err *e) {
    if (len == 0) return err_fmt(e, "%s: empty: no text to train a tokenizer on", name);
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int n = utf8_decode(s + i, len - i, &cp);
        if (cp == UNI_INVALID)
            return err_fmt(e, "%s: byte offset %zu: 0x%02X is not valid UTF-8 (the training text must be UTF-8)",
                           name, i, s[i]);
        i += (size_t)n;
    }
    return 0;
}
