// tokenizer/tok_internal.h -- the Tokenizer's insides and the two hash maps of
// hashmap.c, shared by bpe.c (encode, decode), train.c and tokjson.c (tokenizer.json).
// Not part of the public API.
#ifndef O1P_TOK_INTERNAL_H
#define O1P_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

// Byte string -> int32, open addressing. Keys are not copied: they must outlive the map.
typedef struct {
    const char *key;
    uint32_t len;
    int32_t val;
    uint64_t hash;
} StrEntry;
typedef struct {
    StrEntry *e;  // cap slots, key == NULL when empty
    size_t cap, n;
} StrMap;

uint64_t hash_bytes(const void *p, size_t n);
// Inserts key -> val if absent (*added = 1). Returns the pointer to key's value, or NULL
// when out of memory.
int32_t *strmap_put(StrMap *m, const char *key, size_t len, int32_t val, int *added);
// The value of key, or -1.
int32_t strmap_get(const StrMap *m, const char *key, size_t len);
void strmap_clear(StrMap *m);
void strmap_free(StrMap *m);

// A pair of ids (a, b) -> two int32 values, open addressing.
typedef struct {
    uint64_t key;  // PAIR_EMPTY when free
    int32_t v0, v1;
} PairEntry;
typedef struct {
    PairEntry *e;
    size_t cap, n;
} PairMap;
#define PAIR_EMPTY UINT64_MAX
static inline uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }
// The entry of key, or NULL when out of memory; a new one (*added = 1) has v0 = v1 = -1.
PairEntry *pairmap_put(PairMap *m, uint64_t key, int *added);
const PairEntry *pairmap_get(const PairMap *m, uint64_t key);
void pairmap_free(PairMap *m);

typedef struct {
    char *content;  // NUL-terminated
    uint32_t len;
    int32_t id;
    uint8_t special, lstrip, rstrip, normalized, single_word;
} AddedToken;

struct Tokenizer {
    int32_t n_vocab;      // ids are 0 .. n_vocab-1; unused ids have kind TOKK_UNUSED
    char **tok;           // tok[id]: the token's bytes (NUL-terminated), NULL if unused
    uint32_t *tok_len;
    uint8_t *kind;        // TOKK_* per id
    int32_t byte_id[256]; // the id of each single-byte token
    StrMap vocab;         // the BPE model's tokens: bytes -> id (the first id wins)
    PairMap merges;       // (left id, right id) -> v0 rank, v1 merged id
    int32_t (*merge_list)[2];  // the merges by rank, for writing
    int32_t n_merges;
    AddedToken *added;
    int n_added;
    uint8_t added_first[256];  // 1 if some added token starts with this byte
    TokPretok pretok;
    int nfc, ignore_merges;
    // encode's piece -> ids cache: keys live in cache_keys, values index cache_ids,
    // which holds [count, ids...] per piece. Emptied when full.
    StrMap cache;
    char *cache_keys;
    size_t cache_keys_used, cache_keys_cap;
    int32_t *cache_ids;
    size_t cache_ids_used, cache_ids_cap;
};
enum { TOKK_UNUSED = TOK_KIND_UNUSED, TOKK_BPE = TOK_KIND_BPE, TOKK_ADDED = TOK_KIND_ADDED,
       TOKK_SPECIAL = TOK_KIND_SPECIAL };

// An empty tokenizer with n_vocab id slots (all unused).
Tokenizer *tok_alloc(int32_t n_vocab, Err *e);
// Sets id's bytes (copied). kind is TOKK_BPE, TOKK_ADDED or TOKK_SPECIAL.
int tok_set_token(Tokenizer *t, int32_t id, const char *bytes, size_t len, int kind, Err *e);
// Fills byte_id, vocab and added_first once the tokens and merges are in; fails when a
// byte has no token. name is used in messages.
int tok_finish(Tokenizer *t, const char *name, Err *e);
// Appends one merge (rank = its index); fails if the pair repeats (message names it).
int tok_add_merge(Tokenizer *t, int32_t a, int32_t b, int32_t merged, Err *e);

#endif
