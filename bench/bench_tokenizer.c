// bench/bench_tokenizer.c -- the C side of bench/bench_tokenizer.sh (which runs HF's
// tokenizers next to it and prints the ratios).
//   bench_tokenizer encode TOKENIZER.json TEXT      best of 3 single-threaded encodes
//   bench_tokenizer train TEXT VOCAB MIN_FREQ OUT   one training run, saved to OUT
// Each prints "seconds S" (and what it did).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/io.h"
#include "../tokenizer/tokenizer.h"
#include "bench.h"

int main(int argc, char **argv) {
    Err e;
    char *text;
    size_t len;
    if (argc == 4 && !strcmp(argv[1], "encode")) {
        Tokenizer *t = tok_load(argv[2], &e);
        if (!t || read_file(argv[3], &text, &len, &e)) {
            fprintf(stderr, "bench_tokenizer: %s\n", e.msg);
            return 1;
        }
        TokIds ids = {0};
        double best = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            ids.n = 0;
            double t0 = now();
            if (tok_encode(t, text, len, 0, &ids, &e)) return 1;
            double dt = now() - t0;
            if (dt < best) best = dt;
        }
        printf("encode %zu bytes -> %zu ids, seconds %.6f (%.1f MB/s)\n", len, ids.n, best, len / best / 1e6);
        free(ids.ids), free(text), tok_free(t);
        return 0;
    }
    if (argc == 6 && !strcmp(argv[1], "train")) {
        if (read_file(argv[2], &text, &len, &e)) {
            fprintf(stderr, "bench_tokenizer: %s\n", e.msg);
            return 1;
        }
        TokTrainOpts o = tok_train_defaults(atoi(argv[3]));
        o.min_frequency = atoi(argv[4]);
        double t0 = now();
        Tokenizer *t = tok_train(text, len, &o, &e);
        double dt = now() - t0;
        if (!t || tok_save(t, argv[5], &e)) {
            fprintf(stderr, "bench_tokenizer: %s\n", e.msg);
            return 1;
        }
        printf("train %zu bytes -> %d tokens, seconds %.6f\n", len, tok_vocab_size(t), dt);
        free(text), tok_free(t);
        return 0;
    }
    fprintf(stderr, "usage: bench_tokenizer encode TOKENIZER TEXT | train TEXT VOCAB MIN_FREQ OUT\n");
    return 2;
}
