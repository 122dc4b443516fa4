// cli/main.c -- the `o1p` command line: one binary, one subcommand per stage.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "../engine/dist.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    int ranks;  // runs on several MPI ranks (docs/distributed.md); the others refuse
} Command;

static const Command commands[] = {
    {"init", cmd_init, "write a randomly initialised model folder from a config.json"},
    {"dump", cmd_dump, "forward + backward on token lines; logits, loss, gradients to safetensors"},
    {"tok", cmd_tok, "train a byte-level BPE tokenizer; encode and decode text"},
    {"data", cmd_data, "synthetic long-thought dataset (synth); dataset statistics (stats)"},
    {"sft", cmd_sft, "supervised fine-tuning on problems with solutions (a fresh model or a folder)", 1},
    {"generate", cmd_generate, "stream one answer of a model folder to stdout (chat template, sampling options)"},
    {"presample", cmd_presample, "K graded samples per problem with lengths and log-probs (O1-Pruner's baselines)", 1},
    {"prune", cmd_prune, "length-harmonizing fine-tuning (O1-Pruner); sft-shortest and dpo baselines", 1},
    {"grade", cmd_grade, "grade model responses (JSONL) against answers with the paper's grader"},
    {"eval", cmd_eval, "accuracy, solution length, latency and AES of a model on a dataset; tables", 1},
    {"export", cmd_export, "a model folder as one GGUF file for llama.cpp (f32, f16, q8_0)"},
    {"plot", cmd_plot, "PNG charts: training curves (metrics.jsonl), per-level length and accuracy"},
    {"compare", cmd_compare, "prune methods over seeds side by side: tables and the accuracy-length picture"},
};

static void print_help(FILE *f) {
    fprintf(f, "o1p -- O1-Pruner (length-harmonizing fine-tuning) from scratch\n\n"
               "usage: o1p COMMAND [OPTIONS]   (o1p COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

// Ranks other than 0 print nothing but their errors (cli_fail): their stdout and stderr
// go to /dev/null, cli_err_fd keeps the real stderr.
static void quiet_other_ranks(void) {
    if (dist_rank() == 0) return;
    cli_err_fd = dup(2);
    int null = open("/dev/null", O_WRONLY);
    if (null < 0) return;
    fflush(NULL);
    dup2(null, 1);
    dup2(null, 2);
    close(null);
}

// Runs the command on every rank. With several ranks a failure on any rank ends the
// job (dist_abort): the others may be waiting for it in a collective. An interruption
// (130) is agreed by all ranks: they wait for rank 0's checkpoint and exit together.
static int run_command(const Command *c, int argc, char **argv) {
    if (dist_size() > 1 && !c->ranks) {
        if (dist_rank() == 0)
            fprintf(stderr, "o1p %s runs in one process: launch it without mpirun (-np 1); sft, prune, "
                            "presample and eval run on several ranks\n", c->name);
        dist_abort(2);
    }
    quiet_other_ranks();
    int rc = c->run(argc, argv);
    if (rc && rc != 130 && dist_size() > 1) dist_abort(rc);
    dist_barrier();
    dist_finalize();
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        print_help(stdout);
        return 0;
    }
    Err e;
    if (dist_init(&argc, &argv, &e)) return cli_fail(&e);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return run_command(&commands[i], argc - 1, argv + 1);
    if (dist_rank() == 0) {
        fprintf(stderr, "o1p: unknown command '%s'\n\n", argv[1]);
        print_help(stderr);
    }
    dist_abort(2);
}
