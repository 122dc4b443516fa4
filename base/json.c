// base/json.c -- strict RFC 8259 reader: one recursive-descent pass, one arena.
//
// The children of open containers go on one scratch stack shared by all levels. When a
// container closes, its n children move from the top of the stack into the arena as
// one items[] array (keys likewise): one copy per value, no malloc per node. A newline
// can only be whitespace (a raw one in a string is an error), so skip_ws alone tracks
// lines and columns.
#include "json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

// ---- arena ----------------------------------------------------------------------

typedef struct Chunk Chunk;
struct Chunk {
    Chunk *next;
    size_t cap, used;
    max_align_t data[];
};

struct Json {
    Chunk *chunks;     // newest first
    size_t chunk_size; // the smallest chunk to allocate
    JsonValue root;
};

static void *arena_alloc(Json *j, size_t n) {
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    Chunk *c = j->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > j->chunk_size ? n : j->chunk_size;
        c = malloc(sizeof(Chunk) + cap);
        if (!c) return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = j->chunks;
        j->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

// Empties the arena for reuse, keeping its oldest chunk.
static void arena_reset(Json *j) {
    Chunk *c = j->chunks;
    while (c && c->next) {
        Chunk *next = c->next;
        free(c);
        c = next;
    }
    if (c) c->used = 0;
    j->chunks = c;
}

void json_free(Json *j) {
    if (!j) return;
    arena_reset(j);
    free(j->chunks);
    free(j);
}

// ---- parser state -----------------------------------------------------------------

typedef struct {
    const char *p, *end;
    const char *line_start;
    int line;
    const char *name;
    Err *e;
    Json *j;
    // scratch stack of children of the open containers
    JsonValue *vals;
    const char **keys;
    size_t *key_lens;
    size_t n, cap;
} Parser;

static int col_of(const Parser *ps, const char *at) { return (int)(at - ps->line_start) + 1; }

// Describes the byte at `at` for messages: 'x', byte 0xNN, or end of input.
static const char *describe(const Parser *ps, const char *at, char buf[32]) {
    if (at >= ps->end) return "end of input";
    unsigned char c = (unsigned char)*at;
    if (c >= 0x21 && c < 0x7f) snprintf(buf, 32, "'%c'", c);
    else if (c == ' ') snprintf(buf, 32, "a space");
    else if (c == '\n') snprintf(buf, 32, "a newline");
    else snprintf(buf, 32, "byte 0x%02X", c);
    return buf;
}

// "NAME: line L, column C: WHAT" at `at`, a position on the current line.
static int fail_at(Parser *ps, const char *at, const char *what) {
    return err_fmt(ps->e, "%s: line %d, column %d: %s", ps->name, ps->line, col_of(ps, at), what);
}

// "...: expected WHAT, found X" at the current position.
static int fail_expected(Parser *ps, const char *what) {
    char buf[32], msg[300];
    snprintf(msg, sizeof msg, "expected %s, found %s", what, describe(ps, ps->p, buf));
    return fail_at(ps, ps->p, msg);
}

static void skip_ws(Parser *ps) {
    const char *p = ps->p, *end = ps->end;
    while (p < end) {
        char c = *p;
        if (c == ' ' || c == '\t' || c == '\r') {
            p++;
        } else if (c == '\n') {
            p++;
            ps->line++;
            ps->line_start = p;
        } else {
            break;
        }
    }
    ps->p = p;
}

static int push(Parser *ps, const JsonValue *v, const char *key, size_t key_len) {
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 256;
        JsonValue *vals = realloc(ps->vals, cap * sizeof *vals);
        if (vals) ps->vals = vals;
        const char **keys = realloc(ps->keys, cap * sizeof *keys);
        if (keys) ps->keys = keys;
        size_t *lens = realloc(ps->key_lens, cap * sizeof *lens);
        if (lens) ps->key_lens = lens;
        if (!vals || !keys || !lens) return err_fmt(ps->e, "%s: out of memory", ps->name);
        ps->cap = cap;
    }
    ps->vals[ps->n] = *v;
    ps->keys[ps->n] = key;
    ps->key_lens[ps->n] = key_len;
    ps->n++;
    return 0;
}

// ---- strings ------------------------------------------------------------------------

static int hex4(const char *p, const char *end, unsigned *out) {
    if (end - p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static char *put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

// Length of the valid UTF-8 sequence at p (1..4), or 0 if it is invalid (overlong
// forms, surrogates U+D800..DFFF, code points above U+10FFFF, truncated sequences).
static int utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    ptrdiff_t left = end - p;
    if (c >= 0xC2 && c <= 0xDF) return left >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0;  // overlong
        if (c == 0xED && p[1] >= 0xA0) return 0; // surrogate
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0;  // overlong
        if (c == 0xF4 && p[1] >= 0x90) return 0; // above U+10FFFF
        return 4;
    }
    return 0;
}

// A \uXXXX escape at esc (its '\\'), a surrogate pair joined; *pp is past the 'u'.
// Writes the code point's UTF-8 to *po; both advance.
static int parse_u_escape(Parser *ps, const char *esc, const char **pp, char **po) {
    const char *p = *pp, *end = ps->end;
    char msg[200];
    unsigned cp, lo;
    if (hex4(p, end, &cp)) return fail_at(ps, p, "expected 4 hex digits after \\u");
    p += 4;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        snprintf(msg, sizeof msg,
                 "lone low surrogate \\u%04X: expected a high surrogate \\uD800-\\uDBFF before it", cp);
        return fail_at(ps, esc, msg);
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, end, &lo) || lo < 0xDC00 ||
            lo > 0xDFFF) {
            snprintf(msg, sizeof msg,
                     "lone high surrogate \\u%04X: expected a low surrogate \\uDC00-\\uDFFF after it", cp);
            return fail_at(ps, esc, msg);
        }
        p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    *po = put_utf8(*po, cp);
    *pp = p;
    return 0;
}

// The escape at *pp (a '\\'): its decoded bytes go to *po; both advance.
static int parse_escape(Parser *ps, const char **pp, char **po) {
    const char *esc = *pp;
    if (esc + 1 >= ps->end) {
        ps->p = esc + 1;
        return fail_expected(ps, "an escape character after '\\'");
    }
    char c;
    switch (esc[1]) {
    case '"': c = '"'; break;
    case '\\': c = '\\'; break;
    case '/': c = '/'; break;
    case 'b': c = '\b'; break;
    case 'f': c = '\f'; break;
    case 'n': c = '\n'; break;
    case 'r': c = '\r'; break;
    case 't': c = '\t'; break;
    case 'u': *pp = esc + 2; return parse_u_escape(ps, esc, pp, po);
    default:
        return fail_at(ps, esc + 1,
                       "invalid escape: expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u after '\\'");
    }
    *(*po)++ = c;
    *pp = esc + 2;
    return 0;
}

// Parses the string starting at the opening quote; the decoded bytes (NUL-terminated)
// go to the arena. Decoded text is never longer than the source text.
static int parse_string(Parser *ps, const char **out, size_t *out_len) {
    const char *start = ps->p;
    const char *p = ps->p + 1, *end = ps->end;
    // size the buffer: a scan to the closing quote (an upper bound when escapes follow)
    const char *q = p;
    while (q < end && *q != '"') q += (*q == '\\' && q + 1 < end) ? 2 : 1;
    char *buf = arena_alloc(ps->j, (size_t)(q - p) + 1);
    if (!buf) return err_fmt(ps->e, "%s: out of memory", ps->name);
    char *o = buf;
    char msg[200];
    for (;;) {
        if (p >= end) {
            snprintf(msg, sizeof msg,
                     "unterminated string (opened at column %d): expected '\"' before end of input",
                     col_of(ps, start));
            return fail_at(ps, p, msg);
        }
        unsigned char c = (unsigned char)*p;
        if (c == '"') break;
        if (c < 0x20) {
            snprintf(msg, sizeof msg,
                     "control character U+%04X in string: expected it escaped (\\n, \\t, \\u%04X)", c, c);
            return fail_at(ps, p, msg);
        }
        if (c == '\\') {
            if (parse_escape(ps, &p, &o)) return -1;
        } else if (c < 0x80) {
            *o++ = (char)c;
            p++;
        } else {
            int n = utf8_len((const unsigned char *)p, (const unsigned char *)end);
            if (!n) {
                snprintf(msg, sizeof msg, "invalid UTF-8 (byte 0x%02X) in string", c);
                return fail_at(ps, p, msg);
            }
            memcpy(o, p, (size_t)n);
            o += n;
            p += n;
        }
    }
    *o = 0;
    ps->p = p + 1;
    *out = buf;
    *out_len = (size_t)(o - buf);
    return 0;
}

// ---- numbers ------------------------------------------------------------------------

static int is_digit(char c) { return c >= '0' && c <= '9'; }

// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
static int parse_number(Parser *ps, JsonValue *v) {
    const char *s = ps->p, *p = s, *end = ps->end;
    if (p < end && *p == '-') p++;
    ps->p = p;
    if (p >= end || !is_digit(*p)) return fail_expected(ps, "a digit");
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return fail_at(ps, p - 1, "leading zero in number: expected '.', 'e' or the end of the number after 0");
    } else {
        while (p < end && is_digit(*p)) p++;
    }
    int integral = 1;
    if (p < end && *p == '.') {
        integral = 0;
        p++;
        ps->p = p;
        if (p >= end || !is_digit(*p)) return fail_expected(ps, "a digit after '.'");
        while (p < end && is_digit(*p)) p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        integral = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        ps->p = p;
        if (p >= end || !is_digit(*p)) return fail_expected(ps, "a digit in the exponent");
        while (p < end && is_digit(*p)) p++;
    }
    size_t n = (size_t)(p - s);
    char *text = arena_alloc(ps->j, n + 1);
    if (!text) return err_fmt(ps->e, "%s: out of memory", ps->name);
    memcpy(text, s, n);
    text[n] = 0;
    int digits = (int)n - (*s == '-');
    if (integral && digits <= 15) {  // exact in a double: skip strtod
        long long x = 0;
        for (const char *d = s + (*s == '-'); d < p; d++) x = x * 10 + (*d - '0');
        v->num = *s == '-' ? -(double)x : (double)x;
    } else {
        v->num = strtod(text, NULL);
        if (isinf(v->num)) return fail_at(ps, s, "number out of range: expected a magnitude below 1.8e308");
    }
    v->type = JSON_NUMBER;
    v->str = text;
    v->len = n;
    ps->p = p;
    return 0;
}

// ---- values -------------------------------------------------------------------------

static int parse_value(Parser *ps, JsonValue *v, int depth);

static int finish_container(Parser *ps, JsonValue *v, size_t base, int is_object) {
    size_t n = ps->n - base;
    v->len = n;
    v->items = NULL;
    if (n) {
        v->items = arena_alloc(ps->j, n * sizeof(JsonValue));
        if (!v->items) return err_fmt(ps->e, "%s: out of memory", ps->name);
        memcpy(v->items, ps->vals + base, n * sizeof(JsonValue));
        if (is_object) {
            v->keys = arena_alloc(ps->j, n * sizeof(char *));
            v->key_lens = arena_alloc(ps->j, n * sizeof(size_t));
            if (!v->keys || !v->key_lens) return err_fmt(ps->e, "%s: out of memory", ps->name);
            memcpy(v->keys, ps->keys + base, n * sizeof(char *));
            memcpy(v->key_lens, ps->key_lens + base, n * sizeof(size_t));
        }
    }
    ps->n = base;
    return 0;
}

static int parse_array(Parser *ps, JsonValue *v, int depth) {
    size_t base = ps->n;
    ps->p++;  // '['
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return finish_container(ps, v, base, 0);
    }
    for (;;) {
        JsonValue item;
        if (parse_value(ps, &item, depth + 1) || push(ps, &item, NULL, 0)) return -1;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return finish_container(ps, v, base, 0);
        }
        return fail_expected(ps, "',' or ']' after array element");
    }
}

static int parse_object(Parser *ps, JsonValue *v, int depth) {
    size_t base = ps->n;
    ps->p++;  // '{'
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return finish_container(ps, v, base, 1);
    }
    for (;;) {
        if (ps->p >= ps->end || *ps->p != '"')
            return fail_expected(ps, base == ps->n ? "a string key or '}'" : "a string key after ','");
        const char *key;
        size_t key_len;
        if (parse_string(ps, &key, &key_len)) return -1;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') return fail_expected(ps, "':' after object key");
        ps->p++;
        skip_ws(ps);
        JsonValue item;
        if (parse_value(ps, &item, depth + 1) || push(ps, &item, key, key_len)) return -1;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return finish_container(ps, v, base, 1);
        }
        return fail_expected(ps, "',' or '}' after object member");
    }
}

static int parse_literal(Parser *ps, const char *word, JsonType t, JsonValue *v) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail_expected(ps, "a JSON value (object, array, string, number, true, false or null)");
    ps->p += n;
    v->type = t;
    return 0;
}

static int parse_value(Parser *ps, JsonValue *v, int depth) {
    memset(v, 0, sizeof *v);
    v->line = ps->line;
    v->col = col_of(ps, ps->p);
    if (ps->p >= ps->end)
        return fail_expected(ps, "a JSON value (object, array, string, number, true, false or null)");
    char c = *ps->p;
    if ((c == '[' || c == '{') && depth >= JSON_MAX_DEPTH) {
        char msg[120];
        snprintf(msg, sizeof msg, "nesting deeper than %d levels: expected fewer nested arrays/objects",
                 JSON_MAX_DEPTH);
        return fail_at(ps, ps->p, msg);
    }
    switch (c) {
    case '{': v->type = JSON_OBJECT; return parse_object(ps, v, depth);
    case '[': v->type = JSON_ARRAY; return parse_array(ps, v, depth);
    case '"': v->type = JSON_STRING; return parse_string(ps, &v->str, &v->len);
    case 't': return parse_literal(ps, "true", JSON_TRUE, v);
    case 'f': return parse_literal(ps, "false", JSON_FALSE, v);
    case 'n': return parse_literal(ps, "null", JSON_NULL, v);
    default:
        if (c == '-' || is_digit(c)) return parse_number(ps, v);
        return fail_expected(ps, "a JSON value (object, array, string, number, true, false or null)");
    }
}

// Parses one document into j's (reset) arena; lines are numbered from first_line.
static int parse_document(Json *j, const char *text, size_t len, const char *name, int first_line, Err *e) {
    arena_reset(j);
    Parser ps = {.p = text, .end = text + len, .line_start = text, .line = first_line, .name = name, .e = e,
                 .j = j};
    skip_ws(&ps);
    int rc = parse_value(&ps, &j->root, 0);
    if (!rc) {
        skip_ws(&ps);
        if (ps.p < ps.end) rc = fail_expected(&ps, "end of input after the JSON value");
    }
    free(ps.vals);
    free(ps.keys);
    free(ps.key_lens);
    return rc;
}

static Json *json_new(size_t chunk_size, const char *name, Err *e) {
    Json *j = calloc(1, sizeof *j);
    if (!j) err_fmt(e, "%s: out of memory", name);
    else j->chunk_size = chunk_size;
    return j;
}

// RFC 8259 section 8.1 lets a parser ignore a leading byte order mark.
static size_t bom_len(const char *text, size_t len) {
    return len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

Json *json_parse(const char *text, size_t len, const char *name, Err *e) {
    // the tree takes about twice the text; small documents get small chunks
    size_t chunk = 2 * len < 4096 ? 4096 : 2 * len > (1u << 20) ? (1u << 20) : 2 * len;
    Json *j = json_new(chunk, name, e);
    if (!j) return NULL;
    size_t skip = bom_len(text, len);
    if (parse_document(j, text + skip, len - skip, name, 1, e)) {
        json_free(j);
        return NULL;
    }
    return j;
}

int jsonl_parse(const char *text, size_t len, const char *name, JsonLineFn fn, void *ctx, Err *e) {
    Json *j = json_new(1u << 16, name, e);
    if (!j) return -1;
    size_t pos = bom_len(text, len);
    int rc = 0;
    for (int line = 1; pos < len && !rc; line++) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + 1;
        size_t k = 0;
        while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r')) k++;
        if (k == n) continue;  // blank line
        rc = parse_document(j, s, n, name, line, e);
        if (!rc) rc = fn(&j->root, line, ctx, e) ? -1 : 0;
    }
    json_free(j);
    return rc;
}

Json *json_parse_file(const char *path, Err *e) {
    char *text;
    size_t len;
    if (read_file(path, &text, &len, e)) return NULL;
    Json *j = json_parse(text, len, path, e);
    free(text);
    return j;
}

const JsonValue *json_root(const Json *j) { return &j->root; }

// ---- access -------------------------------------------------------------------------

const JsonValue *json_get(const JsonValue *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    for (size_t i = obj->len; i-- > 0;)
        if (obj->key_lens[i] == n && memcmp(obj->keys[i], key, n) == 0) return &obj->items[i];
    return NULL;
}

const char *json_type_name(JsonType t) {
    switch (t) {
    case JSON_NULL: return "null";
    case JSON_FALSE:
    case JSON_TRUE: return "a boolean";
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    }
    return "?";
}

// Finds key in obj; absent: 1 (error if required), wrong container: -1.
static int lookup(const JsonValue *obj, const char *key, const char *name, int required,
                  const JsonValue **out, Err *e) {
    if (!obj || obj->type != JSON_OBJECT)
        return obj ? err_fmt(e, "%s: line %d, column %d: expected an object, found %s", name, obj->line,
                             obj->col, json_type_name(obj->type))
                   : err_fmt(e, "%s: expected an object", name);
    *out = json_get(obj, key);
    if (*out) return 0;
    if (required)
        return err_fmt(e, "%s: line %d, column %d: missing member \"%s\" in object", name, obj->line, obj->col,
                       key);
    return 1;
}

static int wrong_type(const JsonValue *v, const char *key, const char *name, const char *what, Err *e) {
    return err_fmt(e, "%s: line %d, column %d: expected %s for \"%s\", found %s", name, v->line, v->col, what,
                   key, json_type_name(v->type));
}

static int get_int(const JsonValue *obj, const char *key, const char *name, int required, long long *out,
                   Err *e) {
    const JsonValue *v;
    int rc = lookup(obj, key, name, required, &v, e);
    if (rc) return rc < 0 ? -1 : 0;
    if (v->type != JSON_NUMBER) return wrong_type(v, key, name, "an integer", e);
    // the text gives exact integers beyond 2^53; "1e3" and "2.0" are integral too
    errno = 0;
    char *stop;
    long long x = strtoll(v->str, &stop, 10);
    if (*stop == 0) {
        if (errno == ERANGE)
            return err_fmt(e, "%s: line %d, column %d: integer %s for \"%s\" out of range", name, v->line, v->col,
                           v->str, key);
        *out = x;
        return 0;
    }
    if (v->num != floor(v->num) || fabs(v->num) >= 9.2e18)
        return err_fmt(e, "%s: line %d, column %d: expected an integer for \"%s\", found %s", name, v->line,
                       v->col, key, v->str);
    *out = (long long)v->num;
    return 0;
}

static int get_number(const JsonValue *obj, const char *key, const char *name, int required, double *out,
                      Err *e) {
    const JsonValue *v;
    int rc = lookup(obj, key, name, required, &v, e);
    if (rc) return rc < 0 ? -1 : 0;
    if (v->type != JSON_NUMBER) return wrong_type(v, key, name, "a number", e);
    *out = v->num;
    return 0;
}

static int get_string(const JsonValue *obj, const char *key, const char *name, int required, const char **out,
                      Err *e) {
    const JsonValue *v;
    int rc = lookup(obj, key, name, required, &v, e);
    if (rc) return rc < 0 ? -1 : 0;
    if (v->type != JSON_STRING) return wrong_type(v, key, name, "a string", e);
    *out = v->str;
    return 0;
}

int json_get_int(const JsonValue *obj, const char *key, const char *name, long long *out, Err *e) {
    return get_int(obj, key, name, 1, out, e);
}
int json_opt_int(const JsonValue *obj, const char *key, const char *name, long long *out, Err *e) {
    return get_int(obj, key, name, 0, out, e);
}
int json_get_number(const JsonValue *obj, const char *key, const char *name, double *out, Err *e) {
    return get_number(obj, key, name, 1, out, e);
}
int json_opt_number(const JsonValue *obj, const char *key, const char *name, double *out, Err *e) {
    return get_number(obj, key, name, 0, out, e);
}
int json_get_string(const JsonValue *obj, const char *key, const char *name, const char **out, Err *e) {
    return get_string(obj, key, name, 1, out, e);
}
int json_opt_string(const JsonValue *obj, const char *key, const char *name, const char **out, Err *e) {
    return get_string(obj, key, name, 0, out, e);
}

int json_opt_bool(const JsonValue *obj, const char *key, const char *name, int *out, Err *e) {
    const JsonValue *v;
    int rc = lookup(obj, key, name, 0, &v, e);
    if (rc) return rc < 0 ? -1 : 0;
    if (v->type != JSON_TRUE && v->type != JSON_FALSE) return wrong_type(v, key, name, "true or false", e);
    *out = v->type == JSON_TRUE;
    return 0;
}

// ---- writing ------------------------------------------------------------------------

void json_write_string(FILE *f, const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    putc('"', f);
    while (p < end) {
        // copy the longest run that needs no escaping in one fwrite
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
        if (p > run) fwrite(run, 1, (size_t)(p - run), f);
        if (p >= end) break;
        unsigned char c = *p;
        if (c >= 0x80) {
            int n = utf8_len(p, end);
            if (n) {
                fwrite(p, 1, (size_t)n, f);
                p += n;
            } else {
                fputs("\xEF\xBF\xBD", f);  // U+FFFD for an invalid byte
                p++;
            }
            continue;
        }
        p++;
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default: fprintf(f, "\\u%04x", c); break;
        }
    }
    putc('"', f);
}
