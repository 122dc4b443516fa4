// cli/cmd_prune.c -- `o1p prune`: the options of pruner/prune.h.
#include <limits.h>
#include <math.h>
#include <string.h>

#include "../pruner/objective.h"
#include "../pruner/prune.h"
#include "cli.h"
#include "preset.h"

// The defaults (sources in docs/method.md), with preset p's values over them.
static PruneOpts prune_defaults(const Preset *p) {
    PruneOpts A = {.objective = "ppo", .ratio = "token", .batch = 8, .accum = 4, .m = 2, .seed = 1, .rounds = 1,
                   .baseline = "ref", .eval_n = 64, .eval_max_new = 8192, .cutoff = 3072, .lr = 2e-7, .beta2 = 0.999,
                   .lambda = 2, .eps = 0.2, .beta = 0.1, .epochs = 1, .warmup_frac = 0.1, .grad_clip = 10, .weight_decay = 0.0,
                   .min_lr_ratio = 0.0, .alpha = 0.2, .simpo_beta = 2, .simpo_gamma = 1};
    if (p) {
        A.lambda = p->lambda;
        A.lr = p->lr;
        A.cutoff = p->cutoff;
        A.run.train_layers = p->train_layers;
    }
    return A;
}

// The options that do not go together, or name nothing: a usage error (exit 2), else 0.
static int check_opts(const PruneOpts *A) {
    if (!A->model || !A->presample || !A->out)
        return cli_usage_error("prune", "--model, --presample and --out are required");
    if (A->group && strcmp(A->objective, "ppo"))
        return cli_usage_error("prune", "--group is for --objective ppo (the baselines choose their own samples)");
    if (A->difficulty && strcmp(A->difficulty, "all") && strcmp(A->difficulty, "easier") &&
        strcmp(A->difficulty, "harder"))
        return cli_usage_error("prune", "--difficulty: expected all, easier or harder, got '%s'", A->difficulty);
    if (strcmp(A->baseline, "ref") && strcmp(A->baseline, "current"))
        return cli_usage_error("prune", "--baseline: expected ref or current, got '%s'", A->baseline);
    if (A->online && A->rounds > 1) return cli_usage_error("prune", "--online and --rounds: one or the other");
    if ((A->rounds > 1 || A->online) &&
        (!strcmp(A->objective, "sft-shortest") || !strcmp(A->objective, "dpo") || !strcmp(A->objective, "dast")))
        return cli_usage_error("prune", "--rounds and --online are for ppo, kimi, efficient and grpo-len "
                                        "(objectives that train as many samples of every problem)");
    Err e;
    RatioMode ratio;
    if (!objective_find(A->objective, &e) || objective_ratio_find(A->ratio, &ratio, &e))
        return cli_usage_error("prune", "%s", e.msg);
    return 0;
}

int cmd_prune(int argc, char **argv) {
    PruneOpts A = prune_defaults(NULL);
    const char *preset = NULL;
    Opt opts[] = {
        {"preset", OPT_STR, &preset,
         "the official settings: marco (lambda 2, lr 2e-7, cutoff 3072) or qwq (lambda 5, lr 2e-6, cutoff 4096); "
         "options given override it"},
        {"model", OPT_STR, &A.model, "the reference model folder pi_ref (required)"},
        {"presample", OPT_STR, &A.presample, "pre-samples of the reference (o1p presample; required)"},
        {"out", OPT_STR, &A.out, "output model folder (required); checkpoints and logs go there"},
        {"data", OPT_STR, &A.data, "the dataset that was pre-sampled (default: the one the pre-samples name)"},
        {"objective", OPT_STR, &A.objective,
         "ppo (O1-Pruner, default), sft-shortest or dpo (its baselines), kimi, efficient, grpo-len or dast"},
        {"lambda", OPT_FLOAT, &A.lambda, "accuracy weight of the reward (default 2: official Marco-7B, alpha 2)",
         .min = 0, .max = 1e6},
        {"eps", OPT_FLOAT, &A.eps, "PPO clip range (default 0.2)", .min = 0, .max = 1e3, .open = OPT_GT},
        {"m", OPT_INT, &A.m, "samples per problem trained on, drawn at random (default 2; 0: all K)",
         .min = 0, .max = INT_MAX},
        {"difficulty", OPT_STR, &A.difficulty,
         "all (default), or easier / harder: train on that half of the problems by the pre-sample accuracy"},
        {"no-clip", OPT_FLAG, &A.no_clip, "do not clip the reward to [-2, 4]"},
        {"no-normalize", OPT_FLAG, &A.no_normalize, "do not z-score the reward"},
        {"loo", OPT_FLAG, &A.loo, "leave-one-out baselines (Lbar, Abar over the other K-1 samples)"},
        {"group", OPT_FLAG, &A.group, "train a problem's m samples in the same step (--batch: a multiple of m)"},
        {"ratio", OPT_STR, &A.ratio,
         "token (length-normalised ratio, default), seq (exp(sum - sum)) or per-token (standard PPO's)"},
        {"beta", OPT_FLOAT, &A.beta, "DPO beta (default 0.1)", .min = 0, .max = 1e6, .open = OPT_GT},
        {"alpha", OPT_FLOAT, &A.alpha, "efficient, grpo-len: weight of the length term (default 0.2)",
         .min = 0, .max = 1e6},
        {"dr-grpo", OPT_FLAG, &A.dr_grpo, "grpo-len: Dr. GRPO's advantage R - mean (no division by the std)"},
        {"simpo-beta", OPT_FLOAT, &A.simpo_beta, "dast: SimPO beta (default 2)", .min = 0, .max = 1e6, .open = OPT_GT},
        {"simpo-gamma", OPT_FLOAT, &A.simpo_gamma, "dast: SimPO margin gamma (default 1)", .min = 0, .max = 1e6},
        {"rounds", OPT_INT, &A.rounds,
         "iterative O1-Pruner: N rounds of --epochs, round r >= 2 on K fresh samples per problem from the current "
         "weights (default 1)", .min = 1, .max = 1000},
        {"online", OPT_FLAG, &A.online,
         "GRPO-style: each step samples K for its problems from the current weights and trains on them"},
        {"baseline", OPT_STR, &A.baseline,
         "--rounds, --online, ppo: Lbar and Abar from ref (pi_ref's pre-samples, default) or current (the round's "
         "or step's samples)"},
        {"batch", OPT_INT, &A.batch, "sequences per micro-batch (default 8; DPO: batch/2 pairs)",
         .min = 1, .max = INT_MAX},
        {"accum", OPT_INT, &A.accum,
         "micro-batches per optimizer step (default 4: 32 sequences a step, the official batch x accumulation x GPUs)",
         .min = 1, .max = INT_MAX},
        {"epochs", OPT_FLOAT, &A.epochs, "passes over the training units (default 1)",
         .min = 0, .max = 1e4, .open = OPT_GT},
        {"lr", OPT_FLOAT, &A.lr, "peak learning rate (default 2e-7: official Marco-7B.yaml)", .min = 0, .max = 1e3,
         .open = OPT_GT},
        {"warmup", OPT_FLOAT, &A.warmup_frac, "warmup as a fraction of the steps (default 0.1)",
         .min = 0, .max = 1, .open = OPT_LT},
        {"min-lr-ratio", OPT_FLOAT, &A.min_lr_ratio, "the cosine ends at lr * this (default 0)", .min = 0, .max = 1},
        {"beta2", OPT_FLOAT, &A.beta2, "AdamW beta2 (default 0.999: transformers' adam_beta2, official configs)",
         .min = 0, .max = 1, .open = OPT_LT},
        {"cutoff", OPT_INT, &A.cutoff,
         "cut each row (prompt + solution) to N tokens as LLaMA-Factory's cutoff_len (default 3072: official "
         "Marco-7B.yaml; capped at the context; 0: the context)", .min = 0, .max = INT_MAX},
        {"weight-decay", OPT_FLOAT, &A.weight_decay,
         "AdamW weight decay (default 0: transformers' default, official configs)", .min = 0, .max = 1e3},
        {"grad-clip", OPT_FLOAT, &A.grad_clip, "max global gradient norm, 0: none (default 10)",
         .min = 0, .max = HUGE_VAL},
        {"eval-data", OPT_STR, &A.eval_data, "held-out problems for the accuracy during training"},
        {"eval-n", OPT_INT, &A.eval_n, "held-out problems used (default 64; 0: all)", .min = 0, .max = INT_MAX},
        {"eval-every", OPT_INT, &A.eval_every, "held-out accuracy every N steps (default: 4 times per run)",
         .min = 0, .max = INT_MAX},
        {"eval-max-new", OPT_INT, &A.eval_max_new,
         "most tokens per held-out solution (default 8192: official inference.py; capped at the context; 0: the "
         "context)",
         .min = 0, .max = INT_MAX},
        {"force", OPT_FLAG, &A.run.force, "replace a model or training run that --out holds"},
        {"seed", OPT_INT, &A.seed, "seed of the choice of m samples and the data order (default 1)",
         .min = 0, .max = INT_MAX},
        CLI_PROMPT_OPTS(&A.prompt, "the one the pre-samples record; another is said and recorded"),
        {0},
    };
    const char *synopsis = "--model REF --presample FILE.jsonl --out DIR [options]";
    int rc = opt_parse_run("prune", synopsis, opts, &A.run, argc, argv);
    if (rc == OPT_RUN && preset) {  // the preset's values, then the options given over them
        const Preset *p = preset_find(preset);
        if (!p) return cli_usage_error("prune", "--preset must be " PRESET_NAMES ", not '%s'", preset);
        A = prune_defaults(p);
        rc = opt_parse_run("prune", synopsis, opts, &A.run, argc, argv);
        if (!A.prompt.preset) A.prompt.preset = p->prompt_train;
    }
    if (rc != OPT_RUN || (rc = cli_prompt_check("prune", &A.prompt)) != OPT_RUN) return rc;
    if ((rc = check_opts(&A)) || (rc = cli_check_train_layers("prune", &A.run, A.run.resume ? A.out : A.model, NULL)))
        return rc;
    Err e;
    rc = prune_run(&A, &e);
    return rc < 0 ? cli_fail(&e) : rc ? 130 : 0;  // 1: interrupted, a checkpoint saved
}
