// cli/cli.c -- the option parser and error printing shared by the subcommands.
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../engine/backend.h"
#include "../engine/dist.h"
#include "../engine/progress.h"
#include "../model/io.h"

int cli_err_fd = 2;

void cli_print_decode_memory(const char *stage, const DecodeMemory *d) {
    char w[32], kv[32], st[32], tok[32];
    fprintf(stderr, "%s: memory: weights %s, KV cache %s, step buffers %s, tokenizer %s\n", stage,
            format_bytes(w, 32, (double)d->weights), format_bytes(kv, 32, (double)d->kv_cache),
            format_bytes(st, 32, (double)d->step), format_bytes(tok, 32, (double)d->tokenizer));
}

int cli_fail(const Err *e) {
    if (dist_size() > 1) {
        dprintf(cli_err_fd, "o1p [rank %d of %d]: %s\n", dist_rank(), dist_size(), e->msg);
        return 1;
    }
    fprintf(stderr, "o1p: %s\n", e->msg);
    return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "o1p %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'o1p %s --help')\n", cmd);
    va_end(ap);
    return 2;
}

static void print_opts(const char *cmd, const char *synopsis, const Opt *opts) {
    printf("usage: o1p %s %s\n\noptions:\n", cmd, synopsis);
    for (const Opt *o = opts; o->name; o++) {
        const char *arg = o->type == OPT_STR ? " VALUE" : o->type == OPT_FLAG ? "" : " N";
        printf("  --%s%-*s %s\n", o->name, (int)(19 - strlen(o->name)), arg, o->help);
    }
}

// Parses v into o->out within o's range. Returns 0, or 2 after printing the usage error.
static int parse_number(const char *cmd, const char *a, const Opt *o, const char *v) {
    int whole = o->min == 0 && o->max == 0;  // no range given
    char *end;
    errno = 0;
    if (o->type == OPT_INT) {
        double lo = whole ? INT_MIN : o->min, hi = whole ? INT_MAX : o->max;
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end || x < lo || x > hi)
            return cli_usage_error(cmd, "option '%s' expects an integer in [%.0f, %.0f], got '%s'", a, lo, hi, v);
        *(long *)o->out = x;
        return 0;
    }
    double lo = whole ? -HUGE_VAL : o->min, hi = whole ? HUGE_VAL : o->max;
    double x = strtod(v, &end);
    int in = x >= lo && x <= hi && !(o->open & OPT_GT && x == lo) && !(o->open & OPT_LT && x == hi);
    if (end == v || *end || !isfinite(x) || !in)
        return cli_usage_error(cmd, "option '%s' expects a finite number in %s%g, %g%s, got '%s'", a,
                               o->open & OPT_GT ? "(" : "[", lo, hi, o->open & OPT_LT ? ")" : "]", v);
    *(double *)o->out = x;
    return 0;
}

int opt_parse(const char *cmd, const char *synopsis, Opt *opts, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_opts(cmd, synopsis, opts);
            return 0;
        }
        if (strncmp(a, "--", 2)) return cli_usage_error(cmd, "unexpected argument '%s'", a);
        Opt *o = opts;
        while (o->name && strcmp(o->name, a + 2)) o++;
        if (!o->name) return cli_usage_error(cmd, "unknown option '%s'", a);
        if (o->type == OPT_FLAG) {
            *(int *)o->out = 1;
            continue;
        }
        if (i + 1 >= argc) return cli_usage_error(cmd, "option '%s' needs a value", a);
        const char *v = argv[++i];
        if (o->type == OPT_STR)
            *(const char **)o->out = v;
        else if (parse_number(cmd, a, o, v))
            return 2;
    }
    return OPT_RUN;
}

int opt_parse_run(const char *cmd, const char *synopsis, const Opt *opts, RunOpts *run, int argc, char **argv) {
    *run = (RunOpts){.device = "cpu", .log_every = 10, .train_layers = run->train_layers,  // a preset's N stays
                     .vocab_chunk = ACTS_VOCAB_AUTO};
    const Opt run_opts[] = {
        {"save-every", OPT_INT, &run->save_every, "checkpoint every N steps (default 0: at the end and on Ctrl-C)",
         .min = 0, .max = INT_MAX},
        {"log-every", OPT_INT, &run->log_every, "progress line every N steps off a terminal (default 10)",
         .min = 1, .max = INT_MAX},
        {"threads", OPT_INT, &run->threads, "CPU threads, at most 1024 (default: OMP_NUM_THREADS or all cores)",
         .min = 0, .max = 1024},
        {"device", OPT_STR, &run->device, BACKEND_NAMES},
        {"stop-at", OPT_INT, &run->stop_at, "stop after this step, resumable (time-boxed runs)",
         .min = 0, .max = INT_MAX},
        {"train-layers", OPT_INT, &run->train_layers,
         "freeze-tuning: train only the last N blocks; embedding, final norm, lm_head frozen (default 0: all)",
         .min = 0, .max = 1024},
        {"recompute", OPT_FLAG, &run->recompute,
         "recompute each block's activations in the backward: activation memory ~ 1 layer + the residual "
         "stream, one more forward, the same result"},
        {"vocab-chunk", OPT_INT, &run->vocab_chunk,
         "the loss N vocabulary entries at a time, never all the logits; 0: all at once "
         "(default: chunks once the logits pass 1 GiB)",
         .min = 0, .max = INT_MAX},
        {"resume", OPT_FLAG, &run->resume, "continue the run in --out (same options)"},
        {"quiet", OPT_FLAG, &run->quiet, "no progress output"},
    };
    size_t n = 0, k = sizeof run_opts / sizeof *run_opts;
    while (opts[n].name) n++;
    Opt all[n + k + 1];
    memcpy(all, opts, n * sizeof *opts);
    memcpy(all + n, run_opts, sizeof run_opts);
    all[n + k] = (Opt){0};
    return opt_parse(cmd, synopsis, all, argc, argv);
}

int cli_check_train_layers(const char *cmd, const RunOpts *run, const char *dir, const char *config) {
    char path[4200];
    Config c;
    Err e;
    if (!run->train_layers) return 0;
    if (!config && path_join(path, sizeof path, dir, "config.json", &e)) return 0;
    if (config_load(config ? config : path, &c, &e)) return 0;  // the stage reports it
    if (run->train_layers > c.n_layers)
        return cli_usage_error(cmd, "--train-layers %ld exceeds the %d layers of %s", run->train_layers, c.n_layers,
                               config ? config : path);
    return 0;
}

int cli_prompt_check(const char *cmd, const PromptOpts *p) {
    ChatTemplate t;
    Err e;
    if (chat_template_resolve(p, NULL, &t, &e)) return cli_usage_error(cmd, "%s", e.msg);
    return OPT_RUN;
}

int cli_grader(const char *cmd, const char *name, GradeMode *mode) {
    if (grade_mode_find(name, mode)) return cli_usage_error(cmd, "--grader must be paper or lenient (got '%s')", name);
    return OPT_RUN;
}
