// tokenizer/tokjson.c -- Hugging Face tokenizer.json (byte-level BPE), read and written.
// What is read:
//   model:         type "BPE"; vocab {token: id}; merges as "a b" strings or [a, b] pairs;
//                  ignore_merges; dropout null, byte_fallback false, no subword prefix,
//                  no word suffix: anything else is refused, by name;
//   normalizer:    null or NFC;
//   pre_tokenizer: ByteLevel with use_regex (GPT-2), or a Sequence of an Isolated Split
//                  on a pattern of pretok.c and a ByteLevel without regex (Llama 3, Qwen);
//   added_tokens:  id, content and the flags special, lstrip, rstrip, single_word,
//                  normalized; every added token is matched on the raw text;
//   decoder, post_processor: ignored; o1p adds no BOS/EOS and decodes bytes directly.
// Token strings in the file are in GPT-2's byte-level alphabet; in memory they are bytes.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../base/json.h"
#include "pretok.h"
#include "tok_internal.h"
#include "unicode.h"

// Byte-level string (UTF-8) -> bytes; out has room for len bytes. A character outside
// the alphabet stands for its own UTF-8 bytes, as in HF's ByteLevel decoder.
static size_t from_bytelevel(const char *s, size_t len, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int n = utf8_decode((const unsigned char *)s + i, len - i, &cp);
        int b = cp == UNI_INVALID ? -1 : char_byte(cp);
        if (b >= 0) {
            out[k++] = (char)b;
        } else {
            memcpy(out + k, s + i, (size_t)n);
            k += (size_t)n;
        }
        i += (size_t)n;
    }
    return k;
}

// Bytes -> byte-level string; out has room for 2 * len bytes.
static size_t to_bytelevel(const char *s, size_t len, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < len; i++) k += (size_t)utf8_encode(byte_char[(unsigned char)s[i]], out + k);
    return k;
}

#define AT(v) name, (v)->line, (v)->col

static int opt_false(const JsonValue *obj, const char *key, const char *name, const char *why,
                     Err *e) {
    const JsonValue *v = json_get(obj, key);
    if (v && v->type == JSON_TRUE)
        return err_fmt(e, "%s: line %d, column %d: \"%s\": true is not supported (%s)", AT(v), key, why);
    return 0;
}

static int read_normalizer(Tokenizer *t, const JsonValue *v, const char *name, Err *e) {
    if (!v || v->type == JSON_NULL) return 0;
    const char *type;
    if (v->type != JSON_OBJECT || json_get_string(v, "type", name, &type, e))
        return err_fmt(e, "%s: line %d, column %d: expected a normalizer object with a \"type\"", AT(v));
    if (strcmp(type, "NFC"))
        return err_fmt(e, "%s: line %d, column %d: unknown normalizer type \"%s\" (supported: NFC)",
                       AT(v), type);
    t->nfc = 1;
    return 0;
}

// ByteLevel pre-tokenizer: *use_regex gets its flag (default true).
static int read_bytelevel(const JsonValue *v, const char *name, int *use_regex, Err *e) {
    *use_regex = 1;
    if (json_opt_bool(v, "use_regex", name, use_regex, e)) return -1;
    return opt_false(v, "add_prefix_space", name, "a space is never added before the text", e);
}

static int read_pretokenizer(Tokenizer *t, const JsonValue *v, const char *name, Err *e) {
    const char *type;
    if (!v || v->type != JSON_OBJECT)
        return err_fmt(e, "%s: expected a \"pre_tokenizer\" object (ByteLevel or Sequence)", name);
    if (json_get_string(v, "type", name, &type, e)) return -1;
    int use_regex;
    if (!strcmp(type, "ByteLevel")) {
        if (read_bytelevel(v, name, &use_regex, e)) return -1;
        if (!use_regex)
            return err_fmt(e, "%s: line %d, column %d: a ByteLevel pre-tokenizer without "
                              "use_regex splits nothing; not supported", AT(v));
        t->pretok = TOK_PRE_GPT2;
        return 0;
    }
    if (strcmp(type, "Sequence"))
        return err_fmt(e, "%s: line %d, column %d: unknown pre-tokenizer type \"%s\" (supported: "
                          "ByteLevel, Sequence of Split and ByteLevel)", AT(v), type);
    const JsonValue *seq = json_get(v, "pretokenizers");
    if (!seq || seq->type != JSON_ARRAY || seq->len != 2)
        return err_fmt(e, "%s: line %d, column %d: expected \"pretokenizers\": [Split, ByteLevel]", AT(v));
    const JsonValue *sp = &seq->items[0], *bl = &seq->items[1];
    const char *t0, *t1, *behavior, *regex;
    if (sp->type != JSON_OBJECT || json_get_string(sp, "type", name, &t0, e)) return -1;
    if (bl->type != JSON_OBJECT || json_get_string(bl, "type", name, &t1, e)) return -1;
    if (strcmp(t0, "Split"))
        return err_fmt(e, "%s: line %d, column %d: unknown pre-tokenizer \"%s\" in the sequence "
                          "(expected Split)", AT(sp), t0);
    if (strcmp(t1, "ByteLevel"))
        return err_fmt(e, "%s: line %d, column %d: unknown pre-tokenizer \"%s\" in the sequence "
                          "(expected ByteLevel)", AT(bl), t1);
    if (read_bytelevel(bl, name, &use_regex, e)) return -1;
    if (use_regex)
        return err_fmt(e, "%s: line %d, column %d: ByteLevel after Split must have use_regex false",
                       AT(bl));
    if (json_get_string(sp, "behavior", name, &behavior, e)) return -1;
    if (strcmp(behavior, "Isolated"))
        return err_fmt(e, "%s: line %d, column %d: Split behavior \"%s\" is not supported "
                          "(expected Isolated)", AT(sp), behavior);
    if (opt_false(sp, "invert", name, "inverted splits", e)) return -1;
    const JsonValue *pat = json_get(sp, "pattern");
    if (!pat || pat->type != JSON_OBJECT || json_get_string(pat, "Regex", name, &regex, e))
        return err_fmt(e, "%s: line %d, column %d: expected \"pattern\": {\"Regex\": ...}", AT(sp));
    int p = pretok_from_pattern(regex);
    if (p < 0)
        return err_fmt(e, "%s: line %d, column %d: unknown Split pattern \"%.200s\" (supported: "
                          "the GPT-2, Llama 3 and Qwen2 patterns)", AT(pat), regex);
    t->pretok = (TokPretok)p;
    return 0;
}

static int read_flag(const JsonValue *v, const char *key, const char *name, uint8_t *out, Err *e) {
    int b = 0;
    if (json_opt_bool(v, key, name, &b, e)) return -1;
    *out = (uint8_t)b;
    return 0;
}

// An added token may repeat a vocab entry (same id, same bytes), not replace another one.
static int check_added_id(const Tokenizer *t, const JsonValue *v, long long id, const JsonValue *cv,
                          const char *name, Err *e) {
    if (id < 0 || id >= t->n_vocab || t->kind[id] != TOKK_BPE) return 0;
    if (t->tok_len[id] == cv->len && !memcmp(t->tok[id], cv->str, cv->len)) return 0;
    char shown[2 * 64 + 1];
    size_t n = t->tok_len[id] < 64 ? t->tok_len[id] : 64;
    shown[to_bytelevel(t->tok[id], n, shown)] = 0;
    return err_fmt(e, "%s: line %d, column %d: the added token \"%s\" has id %lld, which the vocab gives to "
                      "\"%s\"; an added token needs an id of its own",
                   AT(v), cv->str, id, shown);
}

static int read_added(Tokenizer *t, const JsonValue *arr, const char *name, Err *e) {
    if (!arr || arr->type == JSON_NULL) return 0;
    t->added = calloc(arr->len + 1, sizeof *t->added);
    if (!t->added) return err_fmt(e, "out of memory");
    for (size_t i = 0; i < arr->len; i++) {
        const JsonValue *v = &arr->items[i];
        AddedToken *a = &t->added[t->n_added];
        long long id;
        const char *content;
        if (v->type != JSON_OBJECT)
            return err_fmt(e, "%s: line %d, column %d: expected an added token object", AT(v));
        if (json_get_int(v, "id", name, &id, e) || json_get_string(v, "content", name, &content, e))
            return -1;
        if (read_flag(v, "special", name, &a->special, e) || read_flag(v, "lstrip", name, &a->lstrip, e) ||
            read_flag(v, "rstrip", name, &a->rstrip, e) ||
            read_flag(v, "normalized", name, &a->normalized, e) ||
            read_flag(v, "single_word", name, &a->single_word, e))
            return -1;
        const JsonValue *cv = json_get(v, "content");
        if (cv->len == 0)
            return err_fmt(e, "%s: line %d, column %d: an added token cannot be empty", AT(cv));
        if (check_added_id(t, v, id, cv, name, e)) return -1;
        a->id = (int32_t)id;
        a->len = (uint32_t)cv->len;
        a->content = malloc(cv->len + 1);
        if (!a->content) return err_fmt(e, "out of memory");
        memcpy(a->content, content, cv->len + 1);
        t->n_added++;
        if (tok_set_token(t, a->id, content, cv->len, a->special ? TOKK_SPECIAL : TOKK_ADDED, e))
            return -1;
    }
    return 0;
}

static int check_null_or_empty(const JsonValue *m, const char *key, const char *name, Err *e) {
    const JsonValue *v = json_get(m, key);
    if (!v || v->type == JSON_NULL || (v->type == JSON_STRING && v->len == 0)) return 0;
    return err_fmt(e, "%s: line %d, column %d: \"%s\" is not supported by byte-level BPE", AT(v), key);
}

static int read_merges(Tokenizer *t, const JsonValue *merges, const StrMap *vocab,
                       const char *name, Err *e) {
    if (!merges || merges->type != JSON_ARRAY)
        return err_fmt(e, "%s: model: expected a \"merges\" array", name);
    char *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < merges->len && !rc; i++) {
        const JsonValue *v = &merges->items[i];
        const char *a, *b;
        size_t la, lb;
        if (v->type == JSON_STRING) {  // "a b"
            const char *sp = memchr(v->str, ' ', v->len);
            if (!sp || memchr(sp + 1, ' ', v->len - (size_t)(sp + 1 - v->str))) {
                rc = err_fmt(e, "%s: line %d, column %d: merge %zu: expected two tokens separated "
                                "by one space", AT(v), i);
                break;
            }
            a = v->str, la = (size_t)(sp - v->str), b = sp + 1, lb = v->len - la - 1;
        } else if (v->type == JSON_ARRAY && v->len == 2 && v->items[0].type == JSON_STRING &&
                   v->items[1].type == JSON_STRING) {  // ["a", "b"]
            a = v->items[0].str, la = v->items[0].len, b = v->items[1].str, lb = v->items[1].len;
        } else {
            rc = err_fmt(e, "%s: line %d, column %d: merge %zu: expected \"a b\" or [\"a\", \"b\"]",
                         AT(v), i);
            break;
        }
        if (la + lb > cap) {
            cap = 2 * (la + lb) + 64;
            char *p = realloc(buf, cap);
            if (!p) {
                rc = err_fmt(e, "out of memory");
                break;
            }
            buf = p;
        }
        memcpy(buf, a, la);
        memcpy(buf + la, b, lb);
        int32_t ia = strmap_get(vocab, a, la), ib = strmap_get(vocab, b, lb);
        int32_t im = strmap_get(vocab, buf, la + lb);
        if (ia < 0 || ib < 0 || im < 0) {
            const char *what = ia < 0 ? a : ib < 0 ? b : buf;
            int wl = (int)(ia < 0 ? la : ib < 0 ? lb : la + lb);
            rc = err_fmt(e, "%s: line %d, column %d: merge %zu names a token not in the vocab: "
                            "\"%.*s\"", AT(v), i, wl > 200 ? 200 : wl, what);
            break;
        }
        rc = tok_add_merge(t, ia, ib, im, e);
    }
    free(buf);
    return rc;
}

// The model object: type BPE and none of the options byte-level BPE does not use.
static int check_model(const JsonValue *model, const char *name, Err *e) {
    const char *type;
    if (json_get_string(model, "type", name, &type, e)) return -1;
    if (strcmp(type, "BPE"))
        return err_fmt(e, "%s: line %d, column %d: unknown model type \"%s\" (supported: BPE)",
                       AT(json_get(model, "type")), type);
    const JsonValue *dropout = json_get(model, "dropout");
    if (dropout && dropout->type != JSON_NULL)
        return err_fmt(e, "%s: line %d, column %d: BPE dropout is not supported", AT(dropout));
    if (opt_false(model, "byte_fallback", name, "byte-level BPE needs no fallback", e) ||
        check_null_or_empty(model, "continuing_subword_prefix", name, e) ||
        check_null_or_empty(model, "end_of_word_suffix", name, e))
        return -1;
    return 0;
}

// A token id: an integer in 0 .. 2^24.
static int is_token_id(const JsonValue *v) {
    return v && v->type == JSON_NUMBER && v->num >= 0 && v->num <= (1 << 24) && v->num == (long long)v->num;
}

// The largest id of the vocab and the added tokens, which sizes the tokenizer.
static int max_token_id(const JsonValue *vocab, const JsonValue *added, const char *name, long long *max_id,
                        Err *e) {
    *max_id = -1;
    for (size_t i = 0; i < vocab->len; i++) {
        const JsonValue *v = &vocab->items[i];
        if (!is_token_id(v))
            return err_fmt(e, "%s: line %d, column %d: expected a token id (an integer 0 .. 16777216)", AT(v));
        if ((long long)v->num > *max_id) *max_id = (long long)v->num;
    }
    for (size_t i = 0; added && added->type == JSON_ARRAY && i < added->len; i++) {
        const JsonValue *id = json_get(&added->items[i], "id");
        if (!is_token_id(id))
            return err_fmt(e, "%s: line %d, column %d: expected an added token with an integer \"id\"",
                           AT(&added->items[i]));
        if ((long long)id->num > *max_id) *max_id = (long long)id->num;
    }
    return 0;
}

// The vocab's tokens into t (as bytes) and into index (file strings -> id, for the merges).
static int read_vocab(Tokenizer *t, const JsonValue *vv, StrMap *index, const char *name, Err *e) {
    size_t cap = 4096;
    char *buf = malloc(cap);
    if (!buf) return err_fmt(e, "%s: out of memory", name);
    int rc = 0;
    for (size_t i = 0; i < vv->len && !rc; i++) {
        int32_t id = (int32_t)vv->items[i].num;
        size_t kl = vv->key_lens[i];
        if (kl > cap) {
            char *p = realloc(buf, kl);
            if (!p) {
                rc = err_fmt(e, "%s: out of memory", name);
                break;
            }
            buf = p, cap = kl;
        }
        if (t->kind[id] != TOKK_UNUSED) {
            rc = err_fmt(e, "%s: line %d, column %d: token id %d is given twice in the vocab",
                         AT(&vv->items[i]), (int)id);
            break;
        }
        size_t n = from_bytelevel(vv->keys[i], kl, buf);
        rc = tok_set_token(t, id, buf, n, TOKK_BPE, e);
        if (!rc && !strmap_put(index, vv->keys[i], kl, id, NULL)) rc = err_fmt(e, "%s: out of memory", name);
    }
    free(buf);
    return rc;
}

// Reads the tokenizer from the parsed file: the model's vocab and merges, the added
// tokens, the normalizer and the pre-tokenizer.
static Tokenizer *read_tokenizer(const JsonValue *root, const char *name, Err *e) {
    if (root->type != JSON_OBJECT) return err_fmt(e, "%s: expected a JSON object at the top level", name), NULL;
    const JsonValue *model = json_get(root, "model");
    if (!model || model->type != JSON_OBJECT) return err_fmt(e, "%s: expected a \"model\" object", name), NULL;
    if (check_model(model, name, e)) return NULL;
    const JsonValue *vv = json_get(model, "vocab");
    if (!vv || vv->type != JSON_OBJECT)
        return err_fmt(e, "%s: line %d, column %d: expected a \"vocab\" object in the model", AT(model)), NULL;
    const JsonValue *added = json_get(root, "added_tokens");
    if (added && added->type != JSON_ARRAY && added->type != JSON_NULL)
        return err_fmt(e, "%s: line %d, column %d: expected an \"added_tokens\" array", AT(added)), NULL;
    long long max_id;
    if (max_token_id(vv, added, name, &max_id, e)) return NULL;
    Tokenizer *t = tok_alloc((int32_t)(max_id + 1), e);
    if (!t) return NULL;
    StrMap index = {0};  // keys point into the Json arena
    int rc = json_opt_bool(model, "ignore_merges", name, &t->ignore_merges, e) ||
             read_vocab(t, vv, &index, name, e) || read_added(t, added, name, e) ||
             read_merges(t, json_get(model, "merges"), &index, name, e) ||
             read_normalizer(t, json_get(root, "normalizer"), name, e) ||
             read_pretokenizer(t, json_get(root, "pre_tokenizer"), name, e) || tok_finish(t, name, e);
    strmap_free(&index);
    if (rc) {
        tok_free(t);
        return NULL;
    }
    return t;
}

Tokenizer *tok_load_json(const char *text, size_t len, const char *name, Err *e) {
    Json *j = json_parse(text, len, name, e);
    if (!j) return NULL;
    Tokenizer *t = read_tokenizer(json_root(j), name, e);
    json_free(j);
    return t;
}

Tokenizer *tok_load(const char *path, Err *e) {
    char *text;
    size_t len;
    if (read_file(path, &text, &len, e)) return NULL;
    Tokenizer *t = tok_load_json(text, len, path, e);
    free(text);
    return t;
}

static int cmp_added_id(const void *x, const void *y) {
    const AddedToken *a = *(AddedToken *const *)x, *b = *(AddedToken *const *)y;
    return (a->id > b->id) - (a->id < b->id);
}

int tok_save(const Tokenizer *t, const char *path, Err *e) {
    AtomicFile a;
    if (atomic_open(&a, path, e)) return -1;
    FILE *f = a.f;
    char *buf = malloc(4 * tok_max_len(t) + 16);  // a merge "a b" in the byte-level alphabet
    const AddedToken **order = malloc(((size_t)t->n_added + 1) * sizeof *order);
    if (!order || !buf) {
        free(buf);
        free(order);
        atomic_abort(&a);
        return err_fmt(e, "%s: out of memory", path);
    }
    for (int i = 0; i < t->n_added; i++) order[i] = &t->added[i];
    qsort(order, (size_t)t->n_added, sizeof *order, cmp_added_id);
    fputs("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n"
          "  \"added_tokens\": [",
          f);
    for (int i = 0; i < t->n_added; i++) {
        const AddedToken *x = order[i];
        fprintf(f, "%s\n    {\"id\": %d, \"content\": ", i ? "," : "", (int)x->id);
        json_write_string(f, x->content, x->len);
        fprintf(f, ", \"single_word\": %s, \"lstrip\": %s, \"rstrip\": %s, \"normalized\": %s, "
                   "\"special\": %s}",
                x->single_word ? "true" : "false", x->lstrip ? "true" : "false",
                x->rstrip ? "true" : "false", x->normalized ? "true" : "false",
                x->special ? "true" : "false");
    }
    free(order);
    fprintf(f, "\n  ],\n  \"normalizer\": %s,\n", t->nfc ? "{\"type\": \"NFC\"}" : "null");
    const char *bl = "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": "
                     "false, \"use_regex\": false}";
    if (t->pretok == TOK_PRE_GPT2) {
        fputs("  \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
              "\"trim_offsets\": true, \"use_regex\": true},\n",
              f);
    } else {
        fputs("  \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": "
              "\"Split\", \"pattern\": {\"Regex\": ",
              f);
        json_write_string(f, pretok_pattern[t->pretok], strlen(pretok_pattern[t->pretok]));
        fprintf(f, "}, \"behavior\": \"Isolated\", \"invert\": false}, %s]},\n", bl);
    }
    fprintf(f, "  \"post_processor\": %s,\n  \"decoder\": %s,\n", bl, bl);
    fprintf(f, "  \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, "
               "\"continuing_subword_prefix\": null, \"end_of_word_suffix\": null, \"fuse_unk\": "
               "false, \"byte_fallback\": false, \"ignore_merges\": %s,\n    \"vocab\": {",
            t->ignore_merges ? "true" : "false");
    int first = 1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (t->kind[id] != TOKK_BPE) continue;
        fputs(first ? "\n      " : ",\n      ", f);
        first = 0;
        json_write_string(f, buf, to_bytelevel(t->tok[id], t->tok_len[id], buf));
        fprintf(f, ": %d", (int)id);
    }
    fputs("\n    },\n    \"merges\": [", f);
    for (int32_t r = 0; r < t->n_merges; r++) {
        size_t k = tok_merge_text(t, r, buf);
        fputs(r ? ",\n      " : "\n      ", f);
        json_write_string(f, buf, k);
    }
    fputs("\n    ]\n  }\n}\n", f);
    free(buf);
    if (fflush(f) || ferror(f)) {
        int err = errno;
        atomic_abort(&a);
        return err_fmt(e, "%s: write failed: %s", path, strerror(err));
    }
    return atomic_commit(&a, e);
}

int tok_id_kind(const Tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab ? t->kind[id] : TOK_KIND_UNUSED;
}

size_t tok_max_len(const Tokenizer *t) {
    size_t n = 0;
    for (int32_t id = 0; id < t->n_vocab; id++)
        if (t->tok_len[id] > n) n = t->tok_len[id];
    return n;
}

size_t tok_id_text(const Tokenizer *t, int32_t id, char *out) {
    switch (tok_id_kind(t, id)) {
    case TOKK_BPE: return to_bytelevel(t->tok[id], t->tok_len[id], out);
    case TOKK_UNUSED: return 0;
    default: memcpy(out, t->tok[id], t->tok_len[id]); return t->tok_len[id];
    }
}

int32_t tok_n_merges(const Tokenizer *t) { return t->n_merges; }

size_t tok_merge_text(const Tokenizer *t, int32_t rank, char *out) {
    int32_t x = t->merge_list[rank][0], y = t->merge_list[rank][1];
    size_t k = to_bytelevel(t->tok[x], t->tok_len[x], out);
    out[k++] = ' ';
    return k + to_bytelevel(t->tok[y], t->tok_len[y], out + k);
}

TokPretok tok_pretok(const Tokenizer *t) { return t->pretok; }
