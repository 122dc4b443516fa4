// fuzz/fuzz_tokenizer_json.c -- libFuzzer target: tokenizer.json bytes -> tok_load_json;
// when it loads, encode a fixed adversarial string and the input itself, and decode.
// Run: make fuzz && build/fuzz/fuzz_tokenizer_json
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tokenizer/tokenizer.h"

static void roundtrip(Tokenizer *t, const char *s, size_t n) {
    Err e;
    TokIds ids = {0};
    if (tok_encode(t, s, n, 0, &ids, &e)) return;
    char *out;
    size_t len;
    if (!tok_decode(t, ids.ids, ids.n, 0, &out, &len, &e)) free(out);
    free(ids.ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err e;
    Tokenizer *t = tok_load_json((const char *)data, size, "fuzz.json", &e);
    if (!t) return 0;
    static const char text[] = "Hello  world's 123456 caf\xc3\xa9 e\xcc\x81 \xff\xfe <|im_end|>\n\n\t"
                               "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd";
    roundtrip(t, text, sizeof text - 1);
    roundtrip(t, (const char *)data, size < 4096 ? size : 4096);
    tok_free(t);
    return 0;
}
