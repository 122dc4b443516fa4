// tests/test_json.c -- the JSON reader: valid documents, every error class with its
// exact line/column, the depth limit, numbers, escapes, UTF-8, and json_write_string.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/io.h"
#include "../base/json.h"
#include "test.h"

static Json *parse(const char *s, Err *e) { return json_parse(s, strlen(s), "t.json", e); }

// Expects a parse error whose message starts with "t.json: line L, column C: " and
// contains `what`.
static void expect_error(const char *text, size_t len, int line, int col, const char *what) {
    Err e = {{0}};
    Json *j = json_parse(text, len, "t.json", &e);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "t.json: line %d, column %d: ", line, col);
    CHECK(j == NULL, "parse of %.40s should fail", text);
    CHECK(strncmp(e.msg, prefix, strlen(prefix)) == 0, "%.40s: want '%s', got '%s'", text, prefix, e.msg);
    CHECK(strstr(e.msg, what) != NULL, "%.40s: want '%s' in '%s'", text, what, e.msg);
    json_free(j);
}
#define EXPECT_ERROR(text, line, col, what) expect_error(text, strlen(text), line, col, what)

static void test_valid(void) {
    Err e = {{0}};
    const char *doc = "{\n  \"a\": [1, -2.5, 3e2, true, false, null],\n  \"b\": {\"c\": \"d\"},\n"
                      "  \"e\": [], \"f\": {}, \"a\": \"dup\"\n}\n";
    Json *j = parse(doc, &e);
    CHECK(j != NULL, "valid doc: %s", e.msg);
    if (!j) return;
    const JsonValue *r = json_root(j);
    CHECK(r->type == JSON_OBJECT && r->len == 5, "root object of 5 members");
    const JsonValue *a = &r->items[0];
    CHECK(a->type == JSON_ARRAY && a->len == 6, "array of 6");
    CHECK(a->line == 2 && a->col == 8, "array at 2:8, got %d:%d", a->line, a->col);
    CHECK(a->items[0].num == 1 && a->items[1].num == -2.5 && a->items[2].num == 300, "numbers");
    CHECK(strcmp(a->items[2].str, "3e2") == 0, "number text kept");
    CHECK(a->items[3].type == JSON_TRUE && a->items[4].type == JSON_FALSE && a->items[5].type == JSON_NULL,
          "literals");
    CHECK(a->items[1].line == 2 && a->items[1].col == 12, "-2.5 at 2:12, got %d:%d", a->items[1].line,
          a->items[1].col);
    const JsonValue *dup = json_get(r, "a");
    CHECK(dup && dup->type == JSON_STRING && strcmp(dup->str, "dup") == 0, "last duplicate wins");
    const JsonValue *c = json_get(json_get(r, "b"), "c");
    CHECK(c && strcmp(c->str, "d") == 0 && c->line == 3, "nested member");
    CHECK(json_get(r, "e")->len == 0 && json_get(r, "f")->len == 0, "empty containers");
    CHECK(json_get(r, "zz") == NULL && json_get(a, "x") == NULL, "absent / not an object");
    json_free(j);

    // scalars at the top level, whitespace around, a BOM
    j = parse(" \t\r\n 42 \n", &e);
    CHECK(j && json_root(j)->type == JSON_NUMBER && json_root(j)->num == 42, "scalar root");
    json_free(j);
    j = parse("\xEF\xBB\xBF\"x\"", &e);
    CHECK(j && strcmp(json_root(j)->str, "x") == 0, "BOM skipped");
    json_free(j);
}

static void test_numbers(void) {
    Err e = {{0}};
    Json *j = parse("[0, -0, 1.5e-3, 1E+2, 123456789012345678901234567890, 9007199254740993, "
                    "-9223372036854775808, 1e-400, 0.1, 2.0, 1e3]",
                    &e);
    CHECK(j != NULL, "numbers: %s", e.msg);
    if (!j) return;
    const JsonValue *a = json_root(j)->items;
    CHECK(a[0].num == 0 && a[1].num == 0 && signbit(a[1].num), "zero and -0");
    CHECK_NEAR(a[2].num, 1.5e-3, 1e-15, 0, "1.5e-3");
    CHECK(a[3].num == 100, "1E+2");
    CHECK_NEAR(a[4].num, 1.2345678901234568e29, 1e-15, 0, "big integer as double");
    CHECK(a[9].num == 2.0 && a[8].num == 0.1 && a[7].num == 0, "2.0, 0.1, underflow to 0");
    json_free(j);

    // exact integers through the text
    j = parse("{\"a\": 9007199254740993, \"b\": -9223372036854775808, \"c\": 1e3, \"d\": 2.5, "
              "\"e\": 99999999999999999999, \"s\": \"x\", \"t\": true}",
              &e);
    CHECK(j != NULL, "int doc");
    const JsonValue *r = json_root(j);
    long long x = 0;
    CHECK(json_get_int(r, "a", "t.json", &x, &e) == 0 && x == 9007199254740993LL, "2^53+1 exact");
    CHECK(json_get_int(r, "b", "t.json", &x, &e) == 0 && x == (-9223372036854775807LL - 1), "LLONG_MIN");
    CHECK(json_get_int(r, "c", "t.json", &x, &e) == 0 && x == 1000, "1e3 is an integer");
    CHECK(json_get_int(r, "d", "t.json", &x, &e) == -1 && strstr(e.msg, "expected an integer for \"d\""),
          "2.5 not an integer: %s", e.msg);
    CHECK(json_get_int(r, "e", "t.json", &x, &e) == -1 && strstr(e.msg, "out of range"), "int overflow: %s",
          e.msg);
    CHECK(json_get_int(r, "s", "t.json", &x, &e) == -1 &&
              strstr(e.msg, "line 1, column ") && strstr(e.msg, "found a string"),
          "string for int: %s", e.msg);
    CHECK(json_get_int(r, "zz", "t.json", &x, &e) == -1 && strstr(e.msg, "missing member \"zz\""),
          "missing: %s", e.msg);
    x = 7;
    CHECK(json_opt_int(r, "zz", "t.json", &x, &e) == 0 && x == 7, "optional absent untouched");
    double d = 0;
    CHECK(json_get_number(r, "d", "t.json", &d, &e) == 0 && d == 2.5, "get_number");
    const char *s = NULL;
    CHECK(json_get_string(r, "s", "t.json", &s, &e) == 0 && strcmp(s, "x") == 0, "get_string");
    CHECK(json_opt_string(r, "a", "t.json", &s, &e) == -1 && strstr(e.msg, "expected a string"), "opt_string type");
    int b = 0;
    CHECK(json_opt_bool(r, "t", "t.json", &b, &e) == 0 && b == 1, "opt_bool");
    CHECK(json_opt_bool(r, "a", "t.json", &b, &e) == -1, "opt_bool type");
    CHECK(json_get_int(&r->items[0], "a", "t.json", &x, &e) == -1 && strstr(e.msg, "expected an object"),
          "not an object: %s", e.msg);
    json_free(j);

    EXPECT_ERROR("[1e400]", 1, 2, "number out of range");
    EXPECT_ERROR("[-1e999]", 1, 2, "number out of range");
}

static void test_strings(void) {
    Err e = {{0}};
    Json *j = parse("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC\", \"\\ud83d\\ude00\", "
                    "\"x\\u0000y\", \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]",
                    &e);
    CHECK(j != NULL, "escapes: %s", e.msg);
    if (!j) return;
    const JsonValue *a = json_root(j)->items;
    CHECK(strcmp(a[0].str, "a\"b\\c/d\b\f\n\r\t") == 0, "simple escapes");
    CHECK(strcmp(a[1].str, "\xc3\xa9\xe2\x82\xac") == 0, "BMP escapes");
    CHECK(strcmp(a[2].str, "\xf0\x9f\x98\x80") == 0 && a[2].len == 4, "surrogate pair joined");
    CHECK(a[3].len == 3 && memcmp(a[3].str, "x\0y", 3) == 0, "embedded NUL");
    CHECK(strcmp(a[4].str, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") == 0, "raw UTF-8 kept");
    json_free(j);

    // keys with escapes
    j = parse("{\"k\\u0041\": 1}", &e);
    CHECK(j && json_get(json_root(j), "kA") != NULL, "escaped key");
    json_free(j);
}

static void test_errors(void) {
    // structure
    EXPECT_ERROR("", 1, 1, "expected a JSON value");
    EXPECT_ERROR("   \n  ", 2, 3, "found end of input");
    EXPECT_ERROR("{\"a\": 1,}", 1, 9, "expected a string key after ','");
    EXPECT_ERROR("{\"a\": 1\n \"b\": 2}", 2, 2, "expected ',' or '}' after object member");
    EXPECT_ERROR("{\"a\" 1}", 1, 6, "expected ':' after object key");
    EXPECT_ERROR("{a: 1}", 1, 2, "expected a string key or '}'");
    EXPECT_ERROR("[1, 2", 1, 6, "expected ',' or ']' after array element, found end of input");
    EXPECT_ERROR("[1,]", 1, 4, "expected a JSON value");
    EXPECT_ERROR("[1 2]", 1, 4, "expected ',' or ']'");
    EXPECT_ERROR("{} x", 1, 4, "expected end of input after the JSON value");
    EXPECT_ERROR("[tru]", 1, 2, "expected a JSON value");
    EXPECT_ERROR("[nul", 1, 2, "expected a JSON value");
    EXPECT_ERROR("'a'", 1, 1, "found '''");
    EXPECT_ERROR("[NaN]", 1, 2, "expected a JSON value");
    // numbers
    EXPECT_ERROR("[01]", 1, 2, "leading zero");
    EXPECT_ERROR("[-]", 1, 3, "expected a digit");
    EXPECT_ERROR("[1.]", 1, 4, "expected a digit after '.'");
    EXPECT_ERROR("[.5]", 1, 2, "expected a JSON value");
    EXPECT_ERROR("[1e]", 1, 4, "expected a digit in the exponent");
    EXPECT_ERROR("[1e+]", 1, 5, "expected a digit in the exponent");
    EXPECT_ERROR("[+1]", 1, 2, "expected a JSON value");
    // strings
    EXPECT_ERROR("[\"abc", 1, 6, "unterminated string");
    EXPECT_ERROR("\n\n  \"a\nb\"", 3, 5, "control character U+000A");
    EXPECT_ERROR("\"a\tb\"", 1, 3, "control character U+0009");
    EXPECT_ERROR("\"\\x\"", 1, 3, "invalid escape");
    EXPECT_ERROR("\"\\u12G4\"", 1, 4, "expected 4 hex digits after \\u");
    EXPECT_ERROR("\"\\u12", 1, 4, "expected 4 hex digits");
    EXPECT_ERROR("\"ab\\ud800\"", 1, 4, "lone high surrogate \\uD800");
    EXPECT_ERROR("\"\\ud800\\u0041\"", 1, 2, "lone high surrogate");
    EXPECT_ERROR("\"\\udc00\"", 1, 2, "lone low surrogate \\uDC00");
    EXPECT_ERROR("\"\\", 1, 3, "expected an escape character");
    // invalid UTF-8, each kind
    EXPECT_ERROR("[\"ok\", \"a\x80\"]", 1, 10, "invalid UTF-8 (byte 0x80)");      // stray continuation
    EXPECT_ERROR("\"\xc0\xaf\"", 1, 2, "invalid UTF-8 (byte 0xC0)");              // overlong '/'
    EXPECT_ERROR("\"\xe0\x80\xaf\"", 1, 2, "invalid UTF-8 (byte 0xE0)");          // overlong 3-byte
    EXPECT_ERROR("\"\xed\xa0\x80\"", 1, 2, "invalid UTF-8 (byte 0xED)");          // encoded surrogate
    EXPECT_ERROR("\"\xf4\x90\x80\x80\"", 1, 2, "invalid UTF-8 (byte 0xF4)");      // > U+10FFFF
    EXPECT_ERROR("\"\xf0\x9f\x98\"", 1, 2, "invalid UTF-8 (byte 0xF0)");          // truncated
    EXPECT_ERROR("\"\xff\"", 1, 2, "invalid UTF-8 (byte 0xFF)");
    EXPECT_ERROR("[\xc3\xa9]", 1, 2, "found byte 0xC3");                          // outside a string
    // a NUL byte in the middle of the text (explicit length)
    expect_error("[1,\0 2]", 7, 1, 4, "found byte 0x00");
    // the file name comes first
    Err e = {{0}};
    Json *j = json_parse("{", 1, "dir/tok.json", &e);
    CHECK(!j && strncmp(e.msg, "dir/tok.json: line 1, column 2: expected a string key or '}'", 60) == 0,
          "message: %s", e.msg);
}

static void test_depth(void) {
    char buf[2 * JSON_MAX_DEPTH + 8];
    Err e = {{0}};
    for (int n = JSON_MAX_DEPTH - 1; n <= JSON_MAX_DEPTH + 1; n++) {
        for (int i = 0; i < n; i++) buf[i] = '[';
        for (int i = 0; i < n; i++) buf[n + i] = ']';
        buf[2 * n] = 0;
        Json *j = parse(buf, &e);
        if (n <= JSON_MAX_DEPTH) CHECK(j != NULL, "depth %d accepted: %s", n, e.msg);
        else CHECK(j == NULL && strstr(e.msg, "nesting deeper than 256") && strstr(e.msg, "column 257"),
                   "depth %d refused: %s", n, e.msg);
        json_free(j);
    }
    // a huge nesting attempt must not overflow the stack
    size_t n = 1000000;
    char *deep = malloc(n);
    memset(deep, '{', n);
    memset(deep, '[', n / 2);
    Json *j = json_parse(deep, n, "t.json", &e);
    CHECK(j == NULL && strstr(e.msg, "nesting deeper"), "1e6 brackets: %s", e.msg);
    free(deep);
}

// Round trip json_write_string -> json_parse over tricky strings.
static void test_write(void) {
    const char *cases[] = {"plain", "q\"b\\s/", "\n\r\t\b\f\x01\x1f\x7f", "\xc3\xa9\xf0\x9f\x98\x80", ""};
    char path[] = "/tmp/o1p_test_json_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0) return;
    close(fd);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        FILE *f = fopen(path, "wb");
        json_write_string(f, cases[i], strlen(cases[i]));
        fclose(f);
        Err e = {{0}};
        Json *j = json_parse_file(path, &e);
        CHECK(j && strcmp(json_root(j)->str, cases[i]) == 0, "round trip %zu: %s", i, e.msg);
        json_free(j);
    }
    // invalid UTF-8 and embedded NUL
    FILE *f = fopen(path, "wb");
    json_write_string(f, "a\xff" "b\0c", 5);
    fclose(f);
    char *text;
    size_t len;
    Err e = {{0}};
    CHECK(read_file(path, &text, &len, &e) == 0, "read back");
    CHECK(len == 14 && memcmp(text, "\"a\xef\xbf\xbd" "b\\u0000c\"", 14) == 0, "U+FFFD and \\u0000: %.*s",
          (int)len, text);
    free(text);
    unlink(path);
    Json *j = json_parse_file("/nonexistent/x.json", &e);
    CHECK(!j && strstr(e.msg, "/nonexistent/x.json: cannot open"), "missing file: %s", e.msg);
}

// A big generated document (like a tokenizer.json vocab) parses and reads back.
static void test_big(void) {
    size_t cap = 8u << 20, n = 0;
    char *buf = malloc(cap);
    n += (size_t)sprintf(buf + n, "{\"vocab\": {");
    int count = 200000;
    for (int i = 0; i < count; i++)
        n += (size_t)sprintf(buf + n, "%s\"t\\u0120ok%d\": %d", i ? ", " : "", i, i);
    n += (size_t)sprintf(buf + n, "}}");
    Err e = {{0}};
    Json *j = json_parse(buf, n, "big.json", &e);
    CHECK(j != NULL, "big: %s", e.msg);
    if (j) {
        const JsonValue *v = json_get(json_root(j), "vocab");
        CHECK(v && v->len == (size_t)count, "vocab size");
        CHECK(v && strcmp(v->keys[12345], "t\xc4\xa0ok12345") == 0 && v->items[12345].num == 12345, "entry");
    }
    json_free(j);
    free(buf);
}

typedef struct {
    int lines[8], n;
    long long sum;
} LineSeen;

static int on_line(const JsonValue *v, int line, void *ctx, Err *e) {
    LineSeen *s = ctx;
    long long x = 0;
    if (json_get_int(v, "x", "l.jsonl", &x, e)) return -1;
    if (s->n < 8) s->lines[s->n++] = line;
    s->sum += x;
    return 0;
}

static void test_jsonl(void) {
    const char *text = "\xEF\xBB\xBF{\"x\": 1}\n\n  \r\n{\"x\": 2}\r\n{\"x\": 3}";
    LineSeen s = {{0}, 0, 0};
    Err e = {{0}};
    CHECK(jsonl_parse(text, strlen(text), "l.jsonl", on_line, &s, &e) == 0, "jsonl: %s", e.msg);
    CHECK(s.n == 3 && s.lines[0] == 1 && s.lines[1] == 4 && s.lines[2] == 5 && s.sum == 6, "lines and values");
    const char *bad = "{\"x\": 1}\n{\"x\": 2,}\n";
    s.n = 0;
    CHECK(jsonl_parse(bad, strlen(bad), "l.jsonl", on_line, &s, &e) == -1 &&
              strstr(e.msg, "l.jsonl: line 2, column 9: expected a string key after ','"),
          "jsonl error position: %s", e.msg);
    const char *badfield = "{\"x\": 1}\n\n{\"y\": 2}\n";
    CHECK(jsonl_parse(badfield, strlen(badfield), "l.jsonl", on_line, &s, &e) == -1 &&
              strstr(e.msg, "l.jsonl: line 3, column 1: missing member \"x\""),
          "callback error: %s", e.msg);
    const char *two = "{\"x\": 1} {\"x\": 2}\n";
    CHECK(jsonl_parse(two, strlen(two), "l.jsonl", on_line, &s, &e) == -1 &&
              strstr(e.msg, "line 1, column 10: expected end of input"),
          "two values on a line: %s", e.msg);
}

int main(void) {
    test_jsonl();
    test_valid();
    test_numbers();
    test_strings();
    test_errors();
    test_depth();
    test_write();
    test_big();
    return test_summary();
}
