// cli/cmd_presample.c -- `o1p presample`: K graded samples per problem from the reference
// model into a JSONL file, resumable (pruner/presample.h). Exit 130 when interrupted.
#include <limits.h>
#include <stdio.h>

#include "cli.h"
#include "preset.h"
#include "../engine/backend.h"
#include "../pruner/presample.h"

// Parses and checks the options into *o. Returns as opt_parse.
static int parse_args(int argc, char **argv, PresampleOpts *o) {
    const char *backend, *preset, *grader;
    long k, max_new, seed, slots, limit, top_k;
    const Preset *pre = NULL;
    Opt opts[] = {
        {"preset", OPT_STR, &preset, "the official settings: marco (k 16) or qwq (k 12); options given override it"},
        {"model", OPT_STR, &o->model, "reference model folder (config.json, model.safetensors, tokenizer.json)"},
        {"data", OPT_STR, &o->data, "problems with answers (JSON array or JSONL)"},
        {"k", OPT_INT, &k, "samples per problem (required unless --preset gives it)", .min = 1, .max = 100000},
        {"out", OPT_STR, &o->out, "pre-sample file to write or resume (JSONL; format in pruner/presample.h)"},
        {"temperature", OPT_FLOAT, &o->temperature, "sampling temperature (default 0.5)", .min = 0, .max = 1e3},
        {"top-p", OPT_FLOAT, &o->top_p, "nucleus mass (default 0.8)", .min = 0, .max = 1, .open = OPT_GT},
        {"top-k", OPT_INT, &top_k, "keep the k most probable tokens (default 0: off)", .min = 0, .max = INT_MAX},
        {"max-new", OPT_INT, &max_new,
         "most tokens per sample (default 8192: official inference.py; capped at the context; 0: the context)",
         .min = 0, .max = INT_MAX},
        {"seed", OPT_INT, &seed, "seed; sample j of problem i draws from stream (seed, i, j) (default 1)",
         .min = 0, .max = INT_MAX},
        {"slots", OPT_INT, &slots, "sequences decoded together (default 16; the results do not depend on it)",
         .min = 1, .max = 4096},
        {"limit", OPT_INT, &limit, "sample only problems 0..N-1 (default 0: all); rerun without it to continue",
         .min = 0, .max = INT_MAX},
        {"device", OPT_STR, &backend, BACKEND_NAMES},
        {"quiet", OPT_FLAG, &o->quiet, "no progress line"},
        CLI_PROMPT_OPTS(&o->prompt, "the one --model records, else default"),
        CLI_GRADER_OPT(&grader),
        {0},
    };
    for (;;) {  // with a preset, a second pass: its values, then the options given over them
        backend = "cpu";
        preset = NULL;
        grader = "paper";
        k = pre ? pre->k : 0, max_new = 8192, seed = 1, slots = 16, limit = 0, top_k = 0;
        *o = (PresampleOpts){.temperature = 0.5, .top_p = 0.8};
        int rc = opt_parse("presample", "--model DIR --data FILE --k K --out FILE.jsonl [options]", opts, argc, argv);
        if (rc != OPT_RUN) return rc;
        if (!preset || pre) break;
        if (!(pre = preset_find(preset)))
            return cli_usage_error("presample", "--preset must be " PRESET_NAMES ", not '%s'", preset);
    }
    if (pre && !o->prompt.preset) o->prompt.preset = pre->prompt_sample;
    int rc;
    if ((rc = cli_prompt_check("presample", &o->prompt)) != OPT_RUN ||
        (rc = cli_grader("presample", grader, &o->grader)) != OPT_RUN)
        return rc;
    if (!o->model || !o->data || !o->out)
        return cli_usage_error("presample", "--model, --data, --k and --out are required");
    if (k < 1) return cli_usage_error("presample", "--model, --data, --k and --out are required");
    Err e;
    if (!(o->kernels = backend_by_name(backend, &e))) return cli_fail(&e);
    o->k = (int)k;
    o->top_k = (int)top_k;
    o->max_new = (int)max_new;
    o->seed = (uint64_t)seed;
    o->slots = (int)slots;
    o->limit = (int)limit;
    return OPT_RUN;
}

int cmd_presample(int argc, char **argv) {
    PresampleOpts o;
    int rc = parse_args(argc, argv, &o);
    if (rc != OPT_RUN) return rc;
    Err e;
    PresampleReport rep;
    Presampler *p = presample_open(&o, &rep, &e);
    if (!p) return cli_fail(&e);
    if (rep.unverified)
        fprintf(stderr, "presample: warning: %s records no fingerprints (an older o1p): its model and dataset are "
                        "not checked against --model and --data\n", o.out);
    if (rep.first >= rep.end) {
        if (!o.quiet)
            fprintf(stderr, "presample: %s already holds problems 0..%d of %d\n", o.out, rep.first - 1, rep.n_problems);
        presample_close(p);
        return 0;
    }
    if (rep.dropped && !o.quiet)
        fprintf(stderr, "presample: %s: dropped a partial block after byte %zu\n", o.out, rep.kept);
    if (!o.quiet && rep.first > 0)
        fprintf(stderr, "presample: resuming %s at problem %d of %d\n", o.out, rep.first, rep.n_problems);
    if (!o.quiet) cli_print_decode_memory("presample", &rep.memory);
    rc = presample_sample(p, &rep, &e);
    presample_close(p);
    if (rc < 0) return cli_fail(&e);
    if (rc > 0) {
        fprintf(stderr, "presample: interrupted; %s holds problems 0..%d -- rerun the same command to continue\n",
                o.out, rep.done - 1);
        return 130;
    }
    double el = rep.seconds;
    if (!o.quiet)
        fprintf(stderr, "presample: %d problems x %d samples in %.1fs (%.0f tok/s); %s holds %d of %d problems\n",
                rep.end - rep.first, o.k, el, rep.tokens_generated / (el > 0 ? el : 1), o.out, rep.end,
                rep.n_problems);
    return 0;
}
