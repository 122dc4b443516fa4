// cli/cmd_model.c -- `o1p init` and `o1p dump`: make a model, and the reference harness.
//
// `o1p dump` runs one fp32 forward and backward of the mean next-token cross-entropy
// over token lines and writes everything a port must reproduce: "loss" [1],
// "logits.I" [T_I, V] for line I, and "grad.NAME" for every HF parameter NAME.
#include <stdio.h>

#include "../base/io.h"
#include "../data/toklines.h"
#include "../engine/backend.h"
#include "../engine/dump.h"
#include "../engine/trainer.h"
#include "../model/io.h"
#include "cli.h"

int cmd_init(int argc, char **argv) {
    const char *config = NULL, *out = NULL, *tokenizer = NULL;
    long seed = 1337;
    int force = 0;
    Opt opts[] = {
        {"config", OPT_STR, &config, "HF config.json of the model (required)"},
        {"out", OPT_STR, &out, "model folder to write (required)"},
        {"seed", OPT_INT, &seed, "initialisation seed (default 1337)"},
        {"tokenizer", OPT_STR, &tokenizer, "tokenizer.json to copy into the folder"},
        {"force", OPT_FLAG, &force, "replace the model (or training run) --out holds"},
        {0},
    };
    int rc = opt_parse("init", "--config FILE.json --out DIR [--seed N] [--force]", opts, argc, argv);
    if (rc != OPT_RUN) return rc;
    if (!config || !out) return cli_usage_error("init", "--config and --out are required");
    Err e;
    Config c;
    Model m;
    // the folder stays locked until the process exits: no run may write it meanwhile
    if (make_dirs(out, &e) || trainer_lock(out, &e) < 0 || trainer_claim_out(out, force, &e) ||
        config_load(config, &c, &e))
        return cli_fail(&e);
    if (model_create(&m, &c, &kernels_cpu, &e)) return err_wrap(&e, "%s", config), cli_fail(&e);
    model_init_random(&m, (uint64_t)seed);
    size_t n_params = m.n_params;
    rc = model_save(&m, out, &e);
    model_free(&m);
    if (rc) return cli_fail(&e);
    if (tokenizer && copy_into_folder(tokenizer, out, "tokenizer.json", &e)) return cli_fail(&e);
    printf("wrote %s (%zu parameters)\n", out, n_params);
    return 0;
}

int cmd_dump(int argc, char **argv) {
    const char *model_dir = NULL, *tokens_path = NULL, *out = NULL, *device = "cpu";
    Opt opts[] = {
        {"model", OPT_STR, &model_dir, "model folder (required)"},
        {"tokens", OPT_STR, &tokens_path, "token lines: one sequence per line (required)"},
        {"out", OPT_STR, &out, "safetensors file to write (required)"},
        {"device", OPT_STR, &device, "backend: " BACKEND_NAMES},
        {0},
    };
    int rc = opt_parse("dump", "--model DIR --tokens FILE --out FILE.safetensors", opts, argc, argv);
    if (rc != OPT_RUN) return rc;
    if (!model_dir || !tokens_path || !out)
        return cli_usage_error("dump", "--model, --tokens and --out are required");
    Err e;
    const Kernels *k = backend_by_name(device, &e);
    if (!k) return cli_fail(&e);
    Model m;
    if (model_load(&m, model_dir, k, &e)) return cli_fail(&e);
    TokLines tl = {0};
    Acts a = {0};
    DumpTensors dt = {0};
    rc = 1;
    if (toklines_load(tokens_path, m.cfg.vocab_size, m.cfg.max_seq_len, &tl, &e)) goto done;
    // the full logits (vocab_chunk 0): the dump writes them
    if (model_alloc_grads(&m, 0, &e) || acts_create(&a, &m, tl.B, tl.T, ACTS_BACKWARD, 0, &e)) goto done;
    if (dump_run(&m, &a, tl.tokens, tl.lens, tl.B, tl.T, &dt, &e) || dump_write(&m, &dt, out, &e)) goto done;
    printf("loss %.6f over %d lines; wrote %s\n", dt.loss, tl.B, out);
    rc = 0;
done:
    if (rc) cli_fail(&e);
    dump_free(&dt);
    acts_free(&a, &m);
    model_free(&m);
    toklines_free(&tl);
    return rc;
}
