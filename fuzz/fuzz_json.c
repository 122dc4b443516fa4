// fuzz/fuzz_json.c -- libFuzzer target for the JSON reader: any bytes must parse or fail
// cleanly; a parsed tree is walked, and its strings written back with json_write_string
// and reparsed identically.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/json.h"

static size_t walk(const JsonValue *v) {
    size_t n = 1;
    if (v->type == JSON_ARRAY || v->type == JSON_OBJECT)
        for (size_t i = 0; i < v->len; i++) n += walk(&v->items[i]);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err e;
    Json *j = json_parse((const char *)data, size, "fuzz.json", &e);
    if (!j) {
        if (strncmp(e.msg, "fuzz.json: ", 11) != 0) abort();  // every error names the input
        return 0;
    }
    const JsonValue *r = json_root(j);
    walk(r);
    if (r->type == JSON_STRING) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        json_write_string(f, r->str, r->len);
        fclose(f);
        Json *k = json_parse(buf, len, "back", &e);
        if (!k || json_root(k)->len != r->len || memcmp(json_root(k)->str, r->str, r->len)) abort();
        json_free(k);
        free(buf);
    }
    json_free(j);
    return 0;
}
