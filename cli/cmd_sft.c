// cli/cmd_sft.c -- `o1p sft`: the options of pruner/sft.h.
#include <limits.h>
#include <math.h>
#include <string.h>

#include "../pruner/sft.h"
#include "cli.h"

int cmd_sft(int argc, char **argv) {
    SftOpts A = {.overlong = "truncate", .batch = 8, .accum = 1, .warmup = -1, .eval_max = 256, .seed = 1,
                 .lr = 3e-4, .beta2 = 0.95, .epochs = 1, .eval_frac = 0.05, .weight_decay = 0.1, .grad_clip = 1.0,
                 .min_lr_ratio = 0.1};
    Opt opts[] = {
        {"data", OPT_STR, &A.data, "training data: JSON/JSONL with problem, answer, solution (required)"},
        {"out", OPT_STR, &A.out, "output model folder (required); checkpoints and metrics.jsonl go there"},
        {"config", OPT_STR, &A.config, "start from a fresh model with this HF config.json"},
        {"model", OPT_STR, &A.model, "start from this model folder (config.json, model.safetensors, tokenizer.json)"},
        {"tokenizer", OPT_STR, &A.tokenizer, "with --config: this tokenizer.json (default: train one on --data)"},
        {"vocab", OPT_INT, &A.vocab, "with --config: vocab of the trained tokenizer (default: vocab_size)",
         .min = 0, .max = 1 << 24},
        {"batch", OPT_INT, &A.batch, "sequences per micro-batch (default 8)", .min = 1, .max = INT_MAX},
        {"seq", OPT_INT, &A.seq, "max tokens per sequence (default: the longest example, up to the context)",
         .min = 0, .max = INT_MAX},
        {"cutoff", OPT_INT, &A.cutoff,
         "cut each example (prompt + solution) to N tokens first, as LLaMA-Factory's cutoff_len (default 0: none)",
         .min = 0, .max = INT_MAX},
        {"accum", OPT_INT, &A.accum, "micro-batches per optimizer step (default 1)", .min = 1, .max = INT_MAX},
        {"epochs", OPT_FLOAT, &A.epochs, "passes over the data (default 1; --steps overrides)",
         .min = 0, .max = 1e4, .open = OPT_GT},
        {"steps", OPT_INT, &A.steps, "optimizer steps", .min = 0, .max = INT_MAX},
        {"lr", OPT_FLOAT, &A.lr, "peak learning rate (default 3e-4)", .min = 0, .max = 1e3, .open = OPT_GT},
        {"warmup", OPT_INT, &A.warmup, "linear warmup steps (default 5% of the steps)", .min = -1, .max = INT_MAX},
        {"beta2", OPT_FLOAT, &A.beta2, "AdamW beta2 (default 0.95: a reference trained from scratch)", .min = 0,
         .max = 1, .open = OPT_LT},
        {"min-lr-ratio", OPT_FLOAT, &A.min_lr_ratio, "the cosine ends at lr * this (default 0.1)", .min = 0, .max = 1},
        {"weight-decay", OPT_FLOAT, &A.weight_decay, "AdamW weight decay (default 0.1)", .min = 0, .max = 1e3},
        {"grad-clip", OPT_FLOAT, &A.grad_clip, "max global gradient norm, 0: none (default 1)",
         .min = 0, .max = HUGE_VAL},
        {"overlong", OPT_STR, &A.overlong, "examples longer than --seq: truncate (default) or drop"},
        {"eval-data", OPT_STR, &A.eval_data, "held-out data (default: a slice of --data)"},
        {"eval-frac", OPT_FLOAT, &A.eval_frac, "fraction of --data held out (default 0.05; 0: none)",
         .min = 0, .max = 1, .open = OPT_LT},
        {"eval-every", OPT_INT, &A.eval_every, "held-out loss every N steps (default: steps / 10)",
         .min = 0, .max = INT_MAX},
        {"eval-max", OPT_INT, &A.eval_max, "held-out examples used (default 256)", .min = 1, .max = INT_MAX},
        {"force", OPT_FLAG, &A.run.force, "replace a model or training run that --out holds"},
        {"seed", OPT_INT, &A.seed, "seed of the initialisation, data order and held-out split (default 1)",
         .min = 0, .max = INT_MAX},
        CLI_PROMPT_OPTS(&A.prompt, "the one --model records, else default"),
        {0},
    };
    int rc = opt_parse_run("sft", "--data FILE --out DIR (--config FILE.json | --model DIR) [options]", opts, &A.run,
                           argc, argv);
    if (rc != OPT_RUN || (rc = cli_prompt_check("sft", &A.prompt)) != OPT_RUN) return rc;
    if (!A.data || !A.out) return cli_usage_error("sft", "--data and --out are required");
    if (!A.run.resume && !A.config == !A.model)
        return cli_usage_error("sft", "give one of --config (a fresh model) or --model (a model folder)");
    if (A.model && (A.tokenizer || A.vocab))
        return cli_usage_error("sft", "--tokenizer and --vocab go with --config (a model folder has its tokenizer)");
    if (A.seq == 1) return cli_usage_error("sft", "--seq must be at least 2");
    if (strcmp(A.overlong, "drop") && strcmp(A.overlong, "truncate"))
        return cli_usage_error("sft", "--overlong must be drop or truncate, not '%s'", A.overlong);
    if ((rc = cli_check_train_layers("sft", &A.run, A.run.resume ? A.out : A.model, A.run.resume ? NULL : A.config)))
        return rc;
    Err e;
    rc = sft_run(&A, &e);
    return rc < 0 ? cli_fail(&e) : rc ? 130 : 0;  // 1: interrupted, a checkpoint saved
}
