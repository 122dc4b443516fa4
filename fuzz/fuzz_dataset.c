// fuzz/fuzz_dataset.c -- libFuzzer target for dataset parsing (JSON arrays and JSONL
// lines): any bytes load or fail with a message naming the file; loaded examples are
// graded against themselves (extraction and normalisation on arbitrary text).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../data/dataset.h"
#include "../data/grade.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Dataset ds;
    Err e;
    if (dataset_parse((const char *)data, size, "fuzz.jsonl", &ds, &e)) {
        if (strncmp(e.msg, "fuzz.jsonl: ", 12) != 0) abort();
        return 0;
    }
    for (int i = 0; i < ds.n; i++) {
        const Example *x = &ds.ex[i];
        grade_equal(x->answer, x->problem);
        if (x->solution) grade_solution(x->solution, x->answer);
        grade_solution(x->problem, x->answer);
    }
    dataset_free(&ds);
    return 0;
}
