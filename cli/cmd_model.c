// cli/cmd_model.c -- `o1p init` and `o1p dump`: make a model, and the reference harness.
//
// `o1p dump` runs one fp32 forward and backward of the mean next-token cross-entropy
// over token lines and writes everything a port must reproduce: "loss" [1],
// "logits.I" [T_I, V] for line I, and "grad.NAME" for every HF parameter NAME.
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../model/io.h"
#include "cli.h"
#include "../engine/backend.h"
#include "../engine/dump.h"

int cmd_init(int argc, char **argv) {
    const char *config = NULL, *out = NULL, *tokenizer = NULL;
    long seed = 1337;
    Opt opts[] = {
        {"config", OPT_STR, &config, "HF config.json of the model (required)"},
        {"out", OPT_STR, &out, "model folder to write (required)"},
        {"seed", OPT_INT, &seed, "initialisation seed (default 1337)"},
        {"tokenizer", OPT_STR, &tokenizer, "tokenizer.json to copy into the folder"},
        {0},
    };
    int rc = opt_parse("init", "--config FILE.json --out DIR [--seed N]", opts, argc, argv);
    if (rc) return rc == 3 ? 0 : rc;
    if (!config || !out) return cli_usage_error("init", "--config and --out are required");
    Err e;
    Config c;
    Model m;
    if (config_load(config, &c, &e)) return cli_fail(&e);
    if (model_create(&m, &c, &kernels_cpu, &e)) return cli_fail(&e);
    model_init_random(&m, (uint64_t)seed);
    size_t n_params = m.n_params;
    rc = model_save(&m, out, &e);
    model_free(&m);
    if (rc) return cli_fail(&e);
    if (tokenizer && copy_into_folder(tokenizer, out, "tokenizer.json", &e)) return cli_fail(&e);
    printf("wrote %s (%zu parameters)\n", out, n_params);
    return 0;
}

// Token lines: one sequence per line, whitespace-separated ids. Fills tokens (B x T grid,
// row-major) and lens; every error names the line and column.
static int read_token_lines(const char *path, int vocab, int max_len, int **tokens, int **lens,
                            int *B, int *T, Err *e) {
    char *text;
    size_t len;
    if (read_file(path, &text, &len, e)) return -1;
    // First pass: count lines and the longest one; second: fill the grid.
    int n_lines = 0, longest = 0;
    int *grid = NULL, *ls = NULL;
    for (int pass = 0; pass < 2; pass++) {
        const char *p = text;
        int line = 0;
        while (p < text + len) {
            const char *eol = memchr(p, '\n', (size_t)(text + len - p));
            if (!eol) eol = text + len;
            line++;
            int count = 0;
            const char *q = p;
            while (q < eol) {
                while (q < eol && isspace((unsigned char)*q)) q++;
                if (q >= eol) break;
                char *end;
                errno = 0;
                long id = strtol(q, &end, 10);
                int col = (int)(q - p) + 1;
                if (end == q || (end < eol && !isspace((unsigned char)*end))) {
                    err_fmt(e, "%s: line %d, column %d: expected a token id (a non-negative integer)", path, line, col);
                    goto fail;
                }
                if (errno || id < 0 || id >= vocab) {
                    err_fmt(e, "%s: line %d, column %d: token id %.*s is out of range (vocab_size = %d)",
                            path, line, col, (int)(end - q), q, vocab);
                    goto fail;
                }
                if (pass) grid[(size_t)(line - 1) * longest + count] = (int)id;
                count++;
                q = end;
            }
            if (count == 0) {
                err_fmt(e, "%s: line %d: empty line (expected at least one token id)", path, line);
                goto fail;
            }
            if (count > max_len) {
                err_fmt(e, "%s: line %d: %d tokens exceed max_position_embeddings = %d", path, line, count, max_len);
                goto fail;
            }
            if (pass) ls[line - 1] = count;
            if (count > longest) longest = count;
            p = eol + 1;
        }
        if (!pass) {
            n_lines = line;
            if (!n_lines) {
                err_fmt(e, "%s: no token lines", path);
                goto fail;
            }
            grid = calloc((size_t)n_lines * longest, sizeof(int));
            ls = calloc((size_t)n_lines, sizeof(int));
            if (!grid || !ls) {
                err_fmt(e, "%s: out of memory", path);
                goto fail;
            }
        }
    }
    free(text);
    *tokens = grid;
    *lens = ls;
    *B = n_lines;
    *T = longest;
    return 0;
fail:
    free(text);
    free(grid);
    free(ls);
    return -1;
}

int cmd_dump(int argc, char **argv) {
    const char *model_dir = NULL, *tokens_path = NULL, *out = NULL, *device = "cpu";
    Opt opts[] = {
        {"model", OPT_STR, &model_dir, "model folder (required)"},
        {"tokens", OPT_STR, &tokens_path, "token lines: one sequence per line (required)"},
        {"out", OPT_STR, &out, "safetensors file to write (required)"},
        {"device", OPT_STR, &device, "backend: cpu (default) or cuda"},
        {0},
    };
    int rc = opt_parse("dump", "--model DIR --tokens FILE --out FILE.safetensors", opts, argc, argv);
    if (rc) return rc == 3 ? 0 : rc;
    if (!model_dir || !tokens_path || !out)
        return cli_usage_error("dump", "--model, --tokens and --out are required");
    Err e;
    const Kernels *k = backend_by_name(device, &e);
    if (!k) return cli_fail(&e);
    Model m;
    if (model_load(&m, model_dir, k, &e)) return cli_fail(&e);
    int *tokens = NULL, *lens = NULL, B = 0, T = 0;
    Acts a = {0};
    DumpTensors dt = {0};
    rc = 1;
    if (read_token_lines(tokens_path, m.cfg.vocab_size, m.cfg.max_seq_len, &tokens, &lens, &B, &T, &e))
        goto done;
    if (model_alloc_grads(&m, &e) || acts_create(&a, &m, B, T, 1, &e)) goto done;
    if (dump_run(&m, &a, tokens, lens, B, T, &dt, &e) || dump_write(&m, &dt, out, &e)) goto done;
    printf("loss %.6f over %d lines; wrote %s\n", dt.loss, B, out);
    rc = 0;
done:
    if (rc) cli_fail(&e);
    dump_free(&dt);
    acts_free(&a, &m);
    model_free(&m);
    free(tokens);
    free(lens);
    return rc;
}
