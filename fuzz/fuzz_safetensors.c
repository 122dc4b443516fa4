// fuzz/fuzz_safetensors.c -- libFuzzer target: st_parse on arbitrary bytes, then the
// conversion of every tensor it accepts. Run: make fuzz && build/fuzz/fuzz_safetensors
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../model/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    StFile f;
    Err e;
    if (st_parse(&f, buf, size, "fuzz.safetensors", &e)) return 0;  // buf freed by st_parse
    for (int i = 0; i < f.n; i++) {
        const StTensor *t = &f.tensors[i];
        size_t n = t->nbytes / (t->dtype == ST_F32 ? 4 : 2);
        float *out = malloc(n ? n * sizeof(float) : 1);
        if (out) st_to_f32(t, out);
        free(out);
        if (st_find(&f, t->name) == NULL) abort();
    }
    st_close(&f);
    return 0;
}
