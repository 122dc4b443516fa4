// engine/modeldir.c -- model folders: the model, its tokenizer, the chat template's ids.
#include "modeldir.h"

#include <stdio.h>
#include <string.h>

#include "../base/io.h"
#include "../data/chat.h"
#include "../model/io.h"

int chat_tokens(const Tokenizer *t, const char *name, ChatTokens *ct, Err *e) {
    ct->im_start = tok_id(t, CHAT_IM_START, strlen(CHAT_IM_START));
    ct->im_end = tok_id(t, CHAT_IM_END, strlen(CHAT_IM_END));
    ct->endoftext = tok_id(t, TOK_ENDOFTEXT, strlen(TOK_ENDOFTEXT));
    const char *missing = ct->im_start < 0 || !tok_is_special(t, ct->im_start) ? CHAT_IM_START
                          : ct->im_end < 0 || !tok_is_special(t, ct->im_end)   ? CHAT_IM_END
                                                                                : NULL;
    if (missing)
        return err_fmt(e, "%s: the tokenizer has no special token %s (the chat template needs "
                          "%s and %s as added special tokens)",
                       name, missing, CHAT_IM_START, CHAT_IM_END);
    if (ct->endoftext >= 0 && !tok_is_special(t, ct->endoftext)) ct->endoftext = -1;
    return 0;
}

int chat_stop_ids(const ChatTokens *ct, int32_t stop[2]) {
    int n = 0;
    stop[n++] = ct->im_end;
    if (ct->endoftext >= 0) stop[n++] = ct->endoftext;
    return n;
}

int tok_check_fits(const Tokenizer *t, const char *tok_name, const Config *c, Err *e) {
    int n = tok_vocab_size(t);
    if (n > c->vocab_size)
        return err_fmt(e, "%s: the tokenizer has %d tokens but the model's vocab_size is %d", tok_name, n,
                       c->vocab_size);
    return 0;
}

int model_dir_load(ModelDir *md, const char *dir, const Kernels *k, int weights_only, Err *e) {
    memset(md, 0, sizeof *md);
    char path[4200];
    if (path_join(path, sizeof path, dir, "tokenizer.json", e)) return -1;
    if (!file_exists(path))
        return err_fmt(e, "%s: no tokenizer.json (a model folder needs config.json, model.safetensors "
                          "and tokenizer.json)",
                       dir);
    // The tokenizer first: it is cheap, and a mismatch is then found before the weights load.
    Config c;
    char cpath[4200];
    if (path_join(cpath, sizeof cpath, dir, "config.json", e) || config_load(cpath, &c, e)) return -1;
    md->tok = tok_load(path, e);
    if (!md->tok) return -1;
    if (tok_check_fits(md->tok, path, &c, e) || chat_tokens(md->tok, path, &md->chat, e) ||
        (weights_only ? model_load_weights : model_load)(&md->m, dir, k, e)) {
        tok_free(md->tok);
        md->tok = NULL;
        return -1;
    }
    return 0;
}

int model_dir_sample_ids(const ModelDir *md, const char *dir, int quiet) {
    int n = tok_vocab_size(md->tok), v = md->m.cfg.vocab_size;
    if (n < v && !quiet)
        fprintf(stderr, "note: %s: the model's vocab_size is %d, its tokenizer has %d tokens; ids %d..%d are "
                        "never sampled\n", dir, v, n, n, v - 1);
    return n;
}

void model_dir_free(ModelDir *md) {
    if (md->tok) {
        tok_free(md->tok);
        model_free(&md->m);
    }
    memset(md, 0, sizeof *md);
}

int model_dir_template(const char *dir, ChatTemplate *t, int *recorded, Err *e) {
    char path[4200];
    *recorded = 0;
    if (path_join(path, sizeof path, dir, "prompt.json", e)) return -1;
    if (!file_exists(path)) return chat_preset("default", t, e);
    Json *j = json_parse_file(path, e);
    if (!j) return -1;
    const JsonValue *root = json_root(j);
    int rc = root->type != JSON_OBJECT || !json_get(root, "prompt")
                 ? err_fmt(e, "%s: expected {\"prompt\": 1, \"system\": .., \"user_template\": ..}", path)
                 : chat_template_read_json(root, path, t, e);
    json_free(j);
    *recorded = rc == 0;
    return rc;
}

int model_dir_resolve_template(const char *dir, const PromptOpts *o, ChatTemplate *t, Err *e) {
    ChatTemplate rec;
    int recorded;
    if (model_dir_template(dir, &rec, &recorded, e)) return -1;
    return chat_template_resolve(o, &rec, t, e);
}

int model_dir_check_template(const char *dir, const ChatTemplate *t, Err *e) {
    ChatTemplate rec;
    int recorded;
    if (model_dir_template(dir, &rec, &recorded, e)) return -1;
    if (!recorded || chat_template_same(&rec, t)) return 0;
    char a[200], b[200];
    chat_template_describe(&rec, a, sizeof a);
    chat_template_describe(t, b, sizeof b);
    return err_fmt(e, "%s/prompt.json: the run trains under the prompt %s, not %s: resume with the same prompt "
                      "options", dir, a, b);
}

int model_dir_save_template(const char *dir, const char *stage, const ChatTemplate *t, const ChatTemplate *sampled,
                            Err *e) {
    char path[4200];
    AtomicFile af;
    if (path_join(path, sizeof path, dir, "prompt.json", e) || atomic_open(&af, path, e)) return -1;
    fprintf(af.f, "{\"prompt\": 1, \"stage\": \"%s\", ", stage);
    chat_template_write_json(af.f, t);
    if (sampled) {
        fputs(",\n \"presample\": {", af.f);
        chat_template_write_json(af.f, sampled);
        fputc('}', af.f);
    }
    fputs("}\n", af.f);
    return atomic_commit(&af, e);
}
