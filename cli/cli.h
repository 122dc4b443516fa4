// cli/cli.h -- the subcommands of `o1p`, and the small helpers they share.
//
// Each subcommand is a function int cmd_X(int argc, char **argv) (argv[0] is the
// subcommand's name) returning the process exit code: 0 success, 1 failed (bad input,
// I/O), 2 usage. Only this layer prints errors and decides exit codes.
#ifndef O1P_CLI_H
#define O1P_CLI_H

#include "../base/err.h"
#include "../data/chat.h"
#include "../data/grade.h"
#include "../engine/run.h"

int cmd_init(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_tok(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_sft(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_presample(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_grade(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_export(int argc, char **argv);

// Prints "o1p: MESSAGE" to stderr and returns 1 (for `return cli_fail(&e);`). With
// several MPI ranks: "o1p [rank R of N]: MESSAGE", from every rank (to cli_err_fd: the
// process's stderr, which ranks other than 0 keep only for this).
int cli_fail(const Err *e);
extern int cli_err_fd;
// "generate: memory: weights 7.48 MB, KV cache 3.15 MB, step buffers 1.31 MB, tokenizer
// 4.2 MB" to stderr (run_decode_memory's plan).
void cli_print_decode_memory(const char *stage, const DecodeMemory *d);
// Prints "o1p CMD: MESSAGE" and the hint to run `o1p CMD --help`, returns 2.
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// A tiny option parser: options are "--name value" or "--flag". Each command declares
// its options in a table with the range of each number; unknown options, missing values
// and numbers out of range (or nan, inf) are usage errors.
// A table entry is {name, type, out, help}, a number's range added as designated fields
// (.min, .max, .open), which strings and flags leave out.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
typedef enum { OPT_STR, OPT_INT, OPT_FLOAT, OPT_FLAG } OptType;
enum { OPT_GT = 1, OPT_LT = 2 };  // Opt.open (OPT_FLOAT): x > min, x < max
typedef struct {
    const char *name;  // without the dashes
    OptType type;
    void *out;         // const char **, long *, double *, int *
    const char *help;
    double min, max;   // accepted range, bounds included; both 0: what fits an int
                       // (OPT_INT), any finite number (OPT_FLOAT)
    int open;          // OPT_GT | OPT_LT: bounds excluded
} Opt;
// Parses argv[1..argc) against opts. Returns OPT_RUN when the command should run, else
// its exit code: 0 after --help (printed), 2 on a usage error (printed).
enum { OPT_RUN = -1 };
int opt_parse(const char *cmd, const char *synopsis, Opt *opts, int argc, char **argv);

// opt_parse over opts followed by the run options of every training stage (device,
// checkpoints, logging, resume: engine/run.h), which fill *run (set to their defaults
// first; run->train_layers as the caller set it, a preset's). Returns as opt_parse.
int opt_parse_run(const char *cmd, const char *synopsis, const Opt *opts, RunOpts *run, int argc, char **argv);
// --train-layers N within the layers of the model the stage starts from: config (a
// config.json), else dir's config.json. Returns 0, or 2 after printing the usage error; a
// config that cannot be read is left to the stage to report.
int cli_check_train_layers(const char *cmd, const RunOpts *run, const char *dir, const char *config);

// The prompt template options of the stages that tokenize problems (sft, presample,
// eval, generate, prune): three Opt rows filling the PromptOpts *p; dflt says where the
// template comes from when none is given.
#define CLI_PROMPT_OPTS(p, dflt)                                                                             \
    {"prompt", OPT_STR, &(p)->preset, "prompt preset: " CHAT_PRESETS " (default: " dflt ")"},               \
    {"system", OPT_STR, &(p)->system, "system prompt, in place of the preset's"},                           \
    {"user-template", OPT_STR, &(p)->user_template, "user turn, {problem} where the problem goes, in place " \
                                                    "of the preset's"}
// Checks them before any work: OPT_RUN, or 2 after printing the usage error.
int cli_prompt_check(const char *cmd, const PromptOpts *p);

// The --grader row (shared by grade, presample, eval), and the name into *mode:
// OPT_RUN, or 2 after printing the usage error.
#define CLI_GRADER_OPT(name) {"grader", OPT_STR, name, "paper (default: the O1-Pruner / PRM800K grader) or lenient"}
int cli_grader(const char *cmd, const char *name, GradeMode *mode);

#endif
