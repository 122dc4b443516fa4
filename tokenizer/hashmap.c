// tokenizer/hashmap.c -- two small open-addressing hash maps (linear probing, power-of-
// two capacity, grown at 1/2 load) for the tokenizer's byte-string and id-pair lookups.
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

// FNV-1a over 8-byte words, then a 64-bit finalizer (fast enough, well mixed).
uint64_t hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

static int strmap_grow(StrMap *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    StrEntry *e = calloc(cap, sizeof *e);
    if (!e) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->e[i].key) continue;
        size_t j = m->e[i].hash & (cap - 1);
        while (e[j].key) j = (j + 1) & (cap - 1);
        e[j] = m->e[i];
    }
    free(m->e);
    m->e = e;
    m->cap = cap;
    return 0;
}

int32_t *strmap_put(StrMap *m, const char *key, size_t len, int32_t val, int *added) {
    if ((m->n + 1) * 2 > m->cap && strmap_grow(m)) return NULL;
    uint64_t h = hash_bytes(key, len);
    size_t j = h & (m->cap - 1);
    while (m->e[j].key) {
        StrEntry *x = &m->e[j];
        if (x->hash == h && x->len == len && !memcmp(x->key, key, len)) {
            if (added) *added = 0;
            return &x->val;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->e[j] = (StrEntry){key, (uint32_t)len, val, h};
    m->n++;
    if (added) *added = 1;
    return &m->e[j].val;
}

int32_t strmap_get(const StrMap *m, const char *key, size_t len) {
    if (!m->n) return -1;
    uint64_t h = hash_bytes(key, len);
    size_t j = h & (m->cap - 1);
    while (m->e[j].key) {
        const StrEntry *x = &m->e[j];
        if (x->hash == h && x->len == len && !memcmp(x->key, key, len)) return x->val;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

void strmap_clear(StrMap *m) {
    if (m->e) memset(m->e, 0, m->cap * sizeof *m->e);
    m->n = 0;
}

void strmap_free(StrMap *m) {
    free(m->e);
    *m = (StrMap){0};
}

static inline size_t pair_slot(uint64_t key, size_t cap) {
    key ^= key >> 31;
    key *= 0x9e3779b97f4a7c15ull;
    return (key >> 17) & (cap - 1);
}

static int pairmap_grow(PairMap *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    PairEntry *e = malloc(cap * sizeof *e);
    if (!e) return -1;
    for (size_t i = 0; i < cap; i++) e[i].key = PAIR_EMPTY;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->e[i].key == PAIR_EMPTY) continue;
        size_t j = pair_slot(m->e[i].key, cap);
        while (e[j].key != PAIR_EMPTY) j = (j + 1) & (cap - 1);
        e[j] = m->e[i];
    }
    free(m->e);
    m->e = e;
    m->cap = cap;
    return 0;
}

PairEntry *pairmap_put(PairMap *m, uint64_t key, int *added) {
    if ((m->n + 1) * 2 > m->cap && pairmap_grow(m)) return NULL;
    size_t j = pair_slot(key, m->cap);
    while (m->e[j].key != PAIR_EMPTY) {
        if (m->e[j].key == key) {
            if (added) *added = 0;
            return &m->e[j];
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->e[j] = (PairEntry){key, -1, -1};
    m->n++;
    if (added) *added = 1;
    return &m->e[j];
}

const PairEntry *pairmap_get(const PairMap *m, uint64_t key) {
    if (!m->n) return NULL;
    size_t j = pair_slot(key, m->cap);
    while (m->e[j].key != PAIR_EMPTY) {
        if (m->e[j].key == key) return &m->e[j];
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

void pairmap_free(PairMap *m) {
    free(m->e);
    *m = (PairMap){0};
}
