// cli/cmd_generate.c -- `o1p generate`: one answer from a model folder, streamed to stdout
// token by token as it is decoded.
//
// The problem goes through the chat template (data/chat.h) with the prompt template the
// model folder records (engine/modeldir.h; else the default) or --prompt's, unless --raw,
// in which case the text is the whole prompt (special tokens in it are honoured).
// Decoding stops at <|im_end|> / <|endoftext|> or after --max-new tokens; the special
// tokens are not printed. A summary (tokens, tokens/s, why it stopped) goes to stderr.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/chat.h"
#include "cli.h"
#include "../engine/backend.h"
#include "../engine/modeldir.h"
#include "../engine/progress.h"
#include "../engine/sampler.h"

typedef struct {
    const Tokenizer *tok;
    int finished;
} Stream;

static int on_sample(void *user, const SampleResult *r) {
    ((Stream *)user)->finished = r->finished;
    return 0;
}

static int print_token(void *user, int request, int sample, int32_t token) {
    (void)request, (void)sample;
    const Stream *s = user;
    if (tok_is_special(s->tok, token)) return 0;
    size_t len;
    const char *b = tok_token_bytes(s->tok, token, &len);
    if (b) fwrite(b, 1, len, stdout);
    fflush(stdout);
    return 0;
}

typedef struct {
    const char *model, *problem, *device;
    PromptOpts tmpl;
    double temperature, top_p;
    long top_k, max_new, seed;
    int raw, quiet;
} GenArgs;

// Parses and checks the options into *a. Returns as opt_parse.
static int parse_args(int argc, char **argv, GenArgs *a) {
    *a = (GenArgs){.device = "cpu", .top_p = 1, .seed = 1};
    Opt opts[] = {
        {"model", OPT_STR, &a->model, "model folder (config.json, model.safetensors, tokenizer.json)"},
        {"problem", OPT_STR, &a->problem, "the problem (or with --raw the whole prompt text)"},
        {"temperature", OPT_FLOAT, &a->temperature, "sampling temperature (default 0: greedy)", .min = 0, .max = 1e3},
        {"top-p", OPT_FLOAT, &a->top_p, "nucleus mass (default 1: off)", .min = 0, .max = 1, .open = OPT_GT},
        {"top-k", OPT_INT, &a->top_k, "keep the k most probable tokens (default 0: off)", .min = 0, .max = INT_MAX},
        {"max-new", OPT_INT, &a->max_new, "most tokens to generate (default 0: up to the context)",
         .min = 0, .max = INT_MAX},
        {"seed", OPT_INT, &a->seed, "sampling seed (default 1)", .min = 0, .max = INT_MAX},
        CLI_PROMPT_OPTS(&a->tmpl, "the one --model records, else default"),
        {"raw", OPT_FLAG, &a->raw, "no chat template: continue the prompt text as it is"},
        {"device", OPT_STR, &a->device, BACKEND_NAMES},
        {"quiet", OPT_FLAG, &a->quiet, "no summary on stderr"},
        {0},
    };
    int rc = opt_parse("generate", "--model DIR --problem TEXT [options]", opts, argc, argv);
    if (rc != OPT_RUN || (rc = cli_prompt_check("generate", &a->tmpl)) != OPT_RUN) return rc;
    if (!a->model || !a->problem) return cli_usage_error("generate", "--model and --problem are required");
    return OPT_RUN;
}

// The prompt's ids: the chat template around the problem, or with --raw the text itself.
// They must leave room in the model's context for an answer.
static int encode_prompt(const ModelDir *md, const GenArgs *a, TokIds *ids, Err *e) {
    ChatTemplate t;
    if (!a->raw && model_dir_resolve_template(a->model, &a->tmpl, &t, e)) return -1;
    char *text = a->raw ? NULL : chat_prompt(&t, a->problem);
    if (!a->raw && !text) return err_fmt(e, "out of memory");
    const char *in = a->raw ? a->problem : text;
    int rc = tok_encode(md->tok, in, strlen(in), 0, ids, e);
    free(text);
    if (rc) return -1;
    int ctx = md->m.cfg.max_seq_len;
    if (ids->n == 0) return err_fmt(e, "the prompt is empty");
    if ((int64_t)ids->n >= ctx)
        return err_fmt(e, "the prompt has %zu tokens; the model's context (%d) leaves no room to answer", ids->n, ctx);
    return 0;
}

// Decodes one answer after the prompt ids, streamed to stdout; the summary to stderr.
static int stream_answer(ModelDir *md, const TokIds *ids, const GenArgs *a, Err *e) {
    int room = md->m.cfg.max_seq_len - (int)ids->n;
    int n_new = a->max_new > 0 && a->max_new < room ? (int)a->max_new : room;
    int32_t stop[2];
    SamplerOpts so = {1, (int)ids->n + n_new, 256, stop, chat_stop_ids(&md->chat, stop),
                      model_dir_sample_ids(md, a->model, a->quiet)};
    DecodeMemory mem;
    if (run_decode_memory(&md->m, md->tok, &so, &mem, e)) return -1;
    if (!a->quiet) cli_print_decode_memory("generate", &mem);
    Sampler *s = sampler_create(&md->m, &so, e);
    if (!s) return -1;
    SampleRequest req = {ids->ids, (int)ids->n, 1, n_new, (float)a->temperature, (int)a->top_k, (float)a->top_p,
                         (uint64_t)a->seed, 0};
    Stream st = {md->tok, 0};
    SamplerCallbacks cb = {&st, print_token, on_sample, NULL};
    double t0 = wall_seconds();
    if (sampler_run(s, &req, 1, &cb, e)) {
        sampler_free(s);
        return -1;
    }
    double el = wall_seconds() - t0;
    putchar('\n');
    fflush(stdout);
    const SamplerStats *ss = sampler_stats(s);
    if (!a->quiet)
        fprintf(stderr, "[%llu prompt tokens, %llu generated in %.2fs: %.0f tok/s; %s]\n",
                (unsigned long long)ss->prompt_tokens, (unsigned long long)ss->tokens_generated, el,
                ss->tokens_generated / (el > 0 ? el : 1),
                st.finished ? "end of answer" : "stopped at max-new or the context end");
    sampler_free(s);
    return 0;
}

int cmd_generate(int argc, char **argv) {
    GenArgs a;
    int rc = parse_args(argc, argv, &a);
    if (rc != OPT_RUN) return rc;
    Err e;
    const Kernels *k = backend_by_name(a.device, &e);
    if (!k) return cli_fail(&e);
    ModelDir md;
    if (model_dir_load(&md, a.model, k, 1, &e)) return cli_fail(&e);
    TokIds ids = {0};
    rc = encode_prompt(&md, &a, &ids, &e) || stream_answer(&md, &ids, &a, &e);
    if (rc) cli_fail(&e);
    free(ids.ids);
    model_dir_free(&md);
    return rc;
}
