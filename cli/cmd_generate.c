// cli/cmd_generate.c -- `o1p generate`: one answer from a model folder, streamed to stdout
// token by token as it is decoded.
//
// The prompt goes through the chat template (data/chat.h, the paper's system prompt)
// unless --raw, in which case the text is the whole prompt (special tokens in it are
// honoured). Decoding stops at <|im_end|> / <|endoftext|> or after --max-new tokens;
// the special tokens are not printed. A summary (tokens, tokens/s, why it stopped) goes to
// stderr.
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

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *backend = "cpu", *system = NULL;
    double temperature = 0, top_p = 1;
    long top_k = 0, max_new = 0, seed = 1;
    int raw = 0, quiet = 0;
    Opt opts[] = {
        {"model", OPT_STR, &model, "model folder (config.json, model.safetensors, tokenizer.json)"},
        {"prompt", OPT_STR, &prompt, "the problem (or with --raw the whole prompt text)"},
        {"temperature", OPT_FLOAT, &temperature, "sampling temperature (default 0: greedy)"},
        {"top-p", OPT_FLOAT, &top_p, "nucleus mass (default 1: off)"},
        {"top-k", OPT_INT, &top_k, "keep the k most probable tokens (default 0: off)"},
        {"max-new", OPT_INT, &max_new, "most tokens to generate (default 0: up to the context)"},
        {"seed", OPT_INT, &seed, "sampling seed (default 1)"},
        {"system", OPT_STR, &system, "system prompt (default: the paper's)"},
        {"raw", OPT_FLAG, &raw, "no chat template: continue the prompt text as it is"},
        {"device", OPT_STR, &backend, "cpu (default) or cuda"},
        {"quiet", OPT_FLAG, &quiet, "no summary on stderr"},
        {0},
    };
    int rc = opt_parse("generate", "--model DIR --prompt TEXT [options]", opts, argc, argv);
    if (rc) return rc == 3 ? 0 : rc;
    if (!model || !prompt) return cli_usage_error("generate", "--model and --prompt are required");
    if (!(temperature >= 0) || !(top_p > 0 && top_p <= 1) || top_k < 0 || max_new < 0 || seed < 0)
        return cli_usage_error("generate", "expected temperature >= 0, 0 < top-p <= 1, top-k >= 0, max-new >= 0, seed >= 0");
    Err e;
    const Kernels *k = backend_by_name(backend, &e);
    if (!k) return cli_fail(&e);
    ModelDir md;
    if (model_dir_load(&md, model, k, &e)) return cli_fail(&e);
    rc = 1;
    TokIds ids = {0};
    Sampler *s = NULL;
    char *text = raw ? NULL : chat_prompt(system, prompt);
    if (!raw && !text) {
        err_fmt(&e, "out of memory");
        goto done;
    }
    const char *in = raw ? prompt : text;
    if (tok_encode(md.tok, in, strlen(in), 0, &ids, &e)) goto done;
    int ctx = md.m.cfg.max_seq_len;
    if (ids.n == 0) {
        err_fmt(&e, "the prompt is empty");
        goto done;
    }
    if ((int64_t)ids.n >= ctx) {
        err_fmt(&e, "the prompt has %zu tokens; the model's context (%d) leaves no room to answer", ids.n, ctx);
        goto done;
    }
    int room = ctx - (int)ids.n;
    int n_new = max_new > 0 && max_new < room ? (int)max_new : room;
    int32_t stop[2];
    int n_stop = 0;
    stop[n_stop++] = md.chat.im_end;
    if (md.chat.endoftext >= 0) stop[n_stop++] = md.chat.endoftext;
    SamplerOpts so = {1, (int)ids.n + n_new, 256, stop, n_stop};
    s = sampler_create(&md.m, &so, &e);
    if (!s) goto done;
    SampleRequest req = {ids.ids, (int)ids.n, 1, n_new, (float)temperature, (int)top_k, (float)top_p,
                         (uint64_t)seed, 0};
    Stream st = {md.tok, 0};
    SamplerCallbacks cb = {&st, print_token, on_sample, NULL};
    double t0 = wall_seconds();
    if (sampler_run(s, &req, 1, &cb, &e)) goto done;
    double el = wall_seconds() - t0;
    putchar('\n');
    fflush(stdout);
    const SamplerStats *ss = sampler_stats(s);
    if (!quiet)
        fprintf(stderr, "[%llu prompt tokens, %llu generated in %.2fs: %.0f tok/s; %s]\n",
                (unsigned long long)ss->prompt_tokens, (unsigned long long)ss->tokens_generated, el,
                ss->tokens_generated / (el > 0 ? el : 1),
                st.finished ? "end of answer" : "stopped at max-new or the context end");
    rc = 0;
done:
    if (rc) cli_fail(&e);
    sampler_free(s);
    free(ids.ids);
    free(text);
    model_dir_free(&md);
    return rc;
}
