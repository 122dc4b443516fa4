// cli/main.c -- the `o1p` command line: one binary, one subcommand per stage.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} Command;

static const Command commands[] = {
    {"init", cmd_init, "write a randomly initialised model folder from a config.json"},
    {"dump", cmd_dump, "forward + backward on token lines; logits, loss, gradients to safetensors"},
    {"tok", cmd_tok, "train a byte-level BPE tokenizer; encode and decode text"},
    {"data", cmd_data, "synthetic long-thought dataset (synth); dataset statistics (stats)"},
    {"sft", cmd_sft, "supervised fine-tuning on problems with solutions (a fresh model or a folder)"},
    {"generate", cmd_generate, "stream one answer of a model folder to stdout (chat template, sampling options)"},
    {"presample", cmd_presample, "K graded samples per problem with lengths and log-probs (O1-Pruner's baselines)"},
    {"prune", cmd_prune, "length-harmonizing fine-tuning (O1-Pruner); sft-shortest and dpo baselines"},
    {"grade", cmd_grade, "grade model responses (JSONL) against answers with the paper's grader"},
    {"eval", cmd_eval, "accuracy, solution length, latency and AES of a model on a dataset; tables"},
    {"export", cmd_export, "a model folder as one GGUF file for llama.cpp (f32, f16, q8_0)"},
    {"plot", cmd_plot, "PNG charts: training curves (metrics.jsonl), per-level length and accuracy"},
};

static void print_help(FILE *f) {
    fprintf(f, "o1p -- O1-Pruner (length-harmonizing fine-tuning) from scratch\n\n"
               "usage: o1p COMMAND [OPTIONS]   (o1p COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
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
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "o1p: unknown command '%s'\n\n", argv[1]);
    print_help(stderr);
    return 2;
}
