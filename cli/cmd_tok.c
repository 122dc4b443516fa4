// cli/cmd_tok.c -- `o1p tok`: train a byte-level BPE tokenizer, encode, decode.
//   o1p tok train --data FILE --vocab N --out tokenizer.json [--pattern qwen2|llama3|gpt2] [--no-nfc]
//     (FILE: UTF-8 text; or a .json/.jsonl dataset: then its chat-template texts)
//   o1p tok encode --tokenizer FILE [--no-special]   text on stdin -> ids on stdout
//   o1p tok decode --tokenizer FILE [--skip-special] ids on stdin -> text on stdout
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../engine/tokset.h"
#include "../tokenizer/tokenizer.h"
#include "cli.h"

// The text a tokenizer trains on: a dataset's chat-template texts, or the file's bytes
// (UTF-8, not empty).
static int read_training_text(const char *path, char **text, size_t *len, Err *e) {
    const char *ext = strrchr(path, '.');
    if (ext && (!strcmp(ext, ".jsonl") || !strcmp(ext, ".json"))) {
        Dataset ds = {0};
        if (dataset_load(path, &ds, e)) return -1;
        *text = examples_training_text(&ds, NULL, len, e);
        dataset_free(&ds);
        return *text ? 0 : -1;
    }
    if (read_file(path, text, len, e)) return -1;
    if (tok_check_text(*text, *len, path, e)) {
        free(*text);
        return -1;
    }
    return 0;
}

static int tok_train_cmd(int argc, char **argv) {
    const char *data = NULL, *out = NULL, *pattern = "qwen2";
    long vocab = 0;
    int no_nfc = 0;
    Opt opts[] = {
        {"data", OPT_STR, &data, "training text (UTF-8), or a .json/.jsonl dataset (its problems and solutions)"},
        {"vocab", OPT_INT, &vocab, "vocabulary size, including 256 bytes and 3 special tokens",
         .min = 1, .max = 1 << 24},
        {"out", OPT_STR, &out, "tokenizer.json to write"},
        {"pattern", OPT_STR, &pattern, "pre-tokenizer split pattern: qwen2 (default), llama3, gpt2"},
        {"no-nfc", OPT_FLAG, &no_nfc, "do not NFC-normalize"},
        {0},
    };
    int rc = opt_parse("tok train", "--data FILE --vocab N --out tokenizer.json", opts, argc, argv);
    if (rc != OPT_RUN) return rc;
    if (!data || !out || vocab <= 0)
        return cli_usage_error("tok train", "--data, --vocab and --out are required");
    TokTrainOpts o = tok_train_defaults((int)vocab);
    if (!strcmp(pattern, "qwen2")) o.pretok = TOK_PRE_QWEN2;
    else if (!strcmp(pattern, "llama3")) o.pretok = TOK_PRE_LLAMA3;
    else if (!strcmp(pattern, "gpt2")) o.pretok = TOK_PRE_GPT2;
    else return cli_usage_error("tok train", "unknown --pattern '%s' (qwen2, llama3, gpt2)", pattern);
    o.nfc = !no_nfc;
    Err e;
    char *text;
    size_t len;
    if (output_check(out, &e) || read_training_text(data, &text, &len, &e)) return cli_fail(&e);
    Tokenizer *t = tok_train(text, len, &o, &e);
    free(text);
    if (!t) return cli_fail(&e);
    rc = tok_save(t, out, &e);
    if (!rc)
        fprintf(stderr, "o1p tok train: %d tokens written to %s\n", tok_vocab_size(t), out);
    tok_free(t);
    return rc ? cli_fail(&e) : 0;
}

static int tok_encode_cmd(int argc, char **argv) {
    const char *path = NULL;
    int no_special = 0;
    Opt opts[] = {
        {"tokenizer", OPT_STR, &path, "tokenizer.json"},
        {"no-special", OPT_FLAG, &no_special, "treat special tokens in the text as ordinary text"},
        {0},
    };
    int rc = opt_parse("tok encode", "--tokenizer FILE < text", opts, argc, argv);
    if (rc != OPT_RUN) return rc;
    if (!path) return cli_usage_error("tok encode", "--tokenizer is required");
    Err e;
    Tokenizer *t = tok_load(path, &e);
    if (!t) return cli_fail(&e);
    char *text;
    size_t len;
    TokIds ids = {0};
    if (read_stream(stdin, "stdin", &text, &len, &e)) {
        tok_free(t);
        return cli_fail(&e);
    }
    rc = tok_encode(t, text, len, no_special ? TOK_ENC_NO_SPECIAL : 0, &ids, &e);
    free(text);
    tok_free(t);
    if (rc) {
        free(ids.ids);
        return cli_fail(&e);
    }
    for (size_t i = 0; i < ids.n; i++) printf(i ? " %d" : "%d", (int)ids.ids[i]);
    printf("\n");
    free(ids.ids);
    return fflush(stdout) ? 1 : 0;
}

static int tok_decode_cmd(int argc, char **argv) {
    const char *path = NULL;
    int skip = 0;
    Opt opts[] = {
        {"tokenizer", OPT_STR, &path, "tokenizer.json"},
        {"skip-special", OPT_FLAG, &skip, "leave special tokens out"},
        {0},
    };
    int rc = opt_parse("tok decode", "--tokenizer FILE < ids", opts, argc, argv);
    if (rc != OPT_RUN) return rc;
    if (!path) return cli_usage_error("tok decode", "--tokenizer is required");
    Err e;
    char *text, *out = NULL;
    size_t len, out_len;
    if (read_stream(stdin, "stdin", &text, &len, &e)) return cli_fail(&e);
    TokIds ids = {0};
    rc = tok_parse_ids(text, "stdin", &ids, &e);
    free(text);
    if (rc) {
        free(ids.ids);
        return cli_fail(&e);
    }
    Tokenizer *t = tok_load(path, &e);
    if (!t) {
        free(ids.ids);
        return cli_fail(&e);
    }
    rc = tok_decode(t, ids.ids, ids.n, skip ? TOK_DEC_SKIP_SPECIAL : 0, &out, &out_len, &e);
    tok_free(t);
    free(ids.ids);
    if (rc) return cli_fail(&e);
    fwrite(out, 1, out_len, stdout);
    free(out);
    return fflush(stdout) ? 1 : 0;
}

int cmd_tok(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "train")) return tok_train_cmd(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "encode")) return tok_encode_cmd(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "decode")) return tok_decode_cmd(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: o1p tok train|encode|decode [OPTIONS]  (o1p tok train --help, ...)\n");
        return 0;
    }
    return cli_usage_error("tok", "expected 'train', 'encode' or 'decode'");
}
