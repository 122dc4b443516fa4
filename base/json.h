// base/json.h -- a strict JSON reader (RFC 8259) with exact error positions, and the
// escaping needed to write JSON.
//
// json_parse builds a read-only tree in one arena. Errors name the file, the line and
// column (1-based, columns counted in bytes) and what was expected:
//   "tokenizer.json: line 12, column 7: expected ',' or '}' after object member".
// Nesting deeper than JSON_MAX_DEPTH is an error, not a stack overflow. Strings are
// decoded to UTF-8 (\uXXXX surrogate pairs joined; a lone surrogate is an error);
// invalid UTF-8 in the input is an error. Numbers are parsed as double (the source text
// is kept too in str/len, so json_get_int is exact beyond 2^53); a number whose magnitude
// overflows a double is an error. A leading UTF-8 byte order mark is skipped (RFC 8259
// section 8.1). Duplicate keys: the last one wins in json_get, as in most readers.
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

// JSON Lines: calls fn once per non-blank line of text[0..len) with that line's value
// and its 1-based line number; positions in values and errors are those of the whole
// file. The tree passed to fn lives until fn returns (one arena is reused across
// lines). Stops at the first parse error or the first non-zero return of fn, and
// returns -1 in both cases (fn fills e). A UTF-8 BOM before the first line is skipped.
typedef int (*JsonLineFn)(const JsonValue *v, int line, void *ctx, Err *e);
int jsonl_parse(const char *text, size_t len, const char *name, JsonLineFn fn, void *ctx, Err *e);

// Object member by key (the last if repeated), or NULL if absent or not an object.
const JsonValue *json_get(const JsonValue *obj, const char *key);
const char *json_type_name(JsonType t);

// Typed getters for required/optional members. Each failure names the file, the
// member's position and what was expected; "name" is the file name for messages.
// Optional variants leave *out untouched when the key is absent (return 0).
int json_get_int(const JsonValue *obj, const char *key, const char *name, long long *out, Err *e);
int json_get_number(const JsonValue *obj, const char *key, const char *name, double *out, Err *e);
int json_get_string(const JsonValue *obj, const char *key, const char *name, const char **out, Err *e);
int json_opt_int(const JsonValue *obj, const char *key, const char *name, long long *out, Err *e);
int json_opt_number(const JsonValue *obj, const char *key, const char *name, double *out, Err *e);
int json_opt_bool(const JsonValue *obj, const char *key, const char *name, int *out, Err *e);
int json_opt_string(const JsonValue *obj, const char *key, const char *name, const char **out, Err *e);

// Writes s[0..len) as a JSON string literal with quotes; control characters, '"' and
// '\\' are escaped, bytes that are not valid UTF-8 become U+FFFD.
void json_write_string(FILE *f, const char *s, size_t len);

#endif
