// base/json.h -- a strict JSON reader (RFC 8259) with exact error positions, and the
// escaping needed to write JSON.
//
// json_parse builds a read-only tree in one arena. Errors name the file, the line and
// the column (1-based, in bytes) and what was expected:
//   "tokenizer.json: line 12, column 7: expected ',' or '}' after object member".
// Errors, not crashes: nesting deeper than JSON_MAX_DEPTH, invalid UTF-8, a lone
// surrogate, a number that overflows a double. Strings are decoded to UTF-8, surrogate
// pairs joined. Numbers are doubles; their source text is kept in str/len, so
// json_get_int is exact beyond 2^53. A leading byte order mark is skipped (RFC 8259
// 8.1). Of repeated keys, json_get finds the last, as most readers do.
#ifndef O1P_JSON_H
#define O1P_JSON_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"

#define JSON_MAX_DEPTH 256

typedef enum { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonType;

typedef struct JsonValue JsonValue;
struct JsonValue {
    JsonType type;
    int line, col;        // where the value starts in the source (1-based)
    double num;           // JSON_NUMBER
    const char *str;      // JSON_STRING: decoded UTF-8, NUL-terminated (may hold NUL bytes);
                          // JSON_NUMBER: the number's source text, NUL-terminated
    size_t len;           // STRING/NUMBER: bytes in str; ARRAY/OBJECT: number of items
    JsonValue *items;     // ARRAY/OBJECT: the values, in source order
    const char **keys;    // OBJECT: keys[i] names items[i] (decoded, NUL-terminated)
    size_t *key_lens;     // OBJECT: byte length of keys[i]
};

typedef struct Json Json;  // owns the arena

// Parses text[0..len). name is used in error messages (usually the file path).
// Returns NULL on error with e filled in.
Json *json_parse(const char *text, size_t len, const char *name, Err *e);
// Reads and parses a file.
Json *json_parse_file(const char *path, Err *e);
const JsonValue *json_root(const Json *j);
void json_free(Json *j);

// JSON Lines: calls fn once per non-blank line of text[0..len) with the line's value and
// its 1-based number; positions are those of the whole file. The tree lives until fn
// returns: one arena serves all lines. Returns -1 at the first parse error or non-zero
// return of fn (which fills e). A BOM before the first line is skipped.
typedef int (*JsonLineFn)(const JsonValue *v, int line, void *ctx, Err *e);
int jsonl_parse(const char *text, size_t len, const char *name, JsonLineFn fn, void *ctx, Err *e);

// Object member by key (the last if repeated), or NULL if absent or not an object.
const JsonValue *json_get(const JsonValue *obj, const char *key);
const char *json_type_name(JsonType t);

// Typed getters of required (get) and optional (opt) members; name is the file for
// messages, which give the member's position and what was expected. An absent optional
// member leaves *out as it is and returns 0.
int json_get_int(const JsonValue *obj, const char *key, const char *name, long long *out, Err *e);
int json_get_number(const JsonValue *obj, const char *key, const char *name, double *out, Err *e);
int json_get_string(const JsonValue *obj, const char *key, const char *name, const char **out, Err *e);
int json_opt_int(const JsonValue *obj, const char *key, const char *name, long long *out, Err *e);
int json_opt_number(const JsonValue *obj, const char *key, const char *name, double *out, Err *e);
int json_opt_bool(const JsonValue *obj, const char *key, const char *name, int *out, Err *e);
int json_opt_string(const JsonValue *obj, const char *key, const char *name, const char **out, Err *e);

// Writes s[0..len) as a quoted JSON string: control characters, '"' and '\\' escaped,
// bytes that are not valid UTF-8 as U+FFFD.
void json_write_string(FILE *f, const char *s, size_t len);

#endif
