// engine/tokset.c -- datasets through the chat template into token ids.
#include "tokset.h"

#include <stdlib.h>
#include <string.h>


_Static_assert(sizeof(int) == sizeof(int32_t), "TokExample ids (int) are tokenizer ids (int32_t)");

void tokset_free(TokSet *s) {
    free(s->ex);
    free(s->ids);
    memset(s, 0, sizeof *s);
}

int examples_tokenize(Tokenizer *t, const Dataset *ds, const char *name, const ChatTemplate *tmpl, int flags,
                      TokSet *out, Err *e) {
    memset(out, 0, sizeof *out);
    int prompts_only = flags & EX_PROMPTS_ONLY;
    if (!prompts_only)
        for (int i = 0; i < ds->n; i++)
            if (!ds->ex[i].solution)
                return err_fmt(e, "%s: example %d has no \"solution\" (training needs a solution for "
                                  "every example)",
                               name, i + 1);
    // Encode everything into one growable array, remembering where each part starts;
    // the pointers are set once the array stops moving.
    TokIds ids = {0};
    size_t *start = malloc(((size_t)ds->n * 2 + 1) * sizeof *start);
    out->ex = calloc(ds->n > 0 ? (size_t)ds->n : 1, sizeof *out->ex);
    if (!start || !out->ex) {
        err_fmt(e, "%s: out of memory for %d examples", name, ds->n);
        goto fail;
    }
    for (int i = 0; i < ds->n; i++) {
        const Example *x = &ds->ex[i];
        char *texts[2] = {chat_prompt(tmpl, x->problem), prompts_only ? NULL : chat_completion(x->solution)};
        int ok = texts[0] && (prompts_only || texts[1]);
        for (int part = 0; part < 2; part++) {
            start[2 * i + part] = ids.n;
            if (ok && texts[part] && tok_encode(t, texts[part], strlen(texts[part]), 0, &ids, e)) ok = 0;
        }
        free(texts[0]);
        free(texts[1]);
        if (!ok) {
            err_fmt(e, "%s: out of memory while tokenizing example %d", name, i + 1);
            goto fail;
        }
    }
    start[2 * ds->n] = ids.n;
    for (int i = 0; i < ds->n; i++) {
        TokExample *x = &out->ex[i];
        x->prompt = ids.ids + start[2 * i];
        x->prompt_len = (int)(start[2 * i + 1] - start[2 * i]);
        x->completion = ids.ids + start[2 * i + 1];
        x->completion_len = (int)(start[2 * i + 2] - start[2 * i + 1]);
        out->prompt_tokens += x->prompt_len;
        out->completion_tokens += x->completion_len;
        if (x->prompt_len > out->max_prompt_len) out->max_prompt_len = x->prompt_len;
        if (x->prompt_len + x->completion_len > out->max_len) out->max_len = x->prompt_len + x->completion_len;
    }
    free(start);
    out->n = ds->n;
    out->ids = ids.ids;
    out->n_ids = ids.n;
    return 0;
fail:
    free(start);
    free(ids.ids);
    tokset_free(out);
    return -1;
}

char *examples_training_text(const Dataset *ds, const ChatTemplate *tmpl, size_t *len_out, Err *e) {
    // every prompt and completion text, newline-separated
    size_t len = 0, cap = 1 << 16;
    char *text = malloc(cap);
    if (!text) {
        err_fmt(e, "out of memory for the tokenizer's training text");
        return NULL;
    }
    for (int i = 0; i < ds->n; i++) {
        char *parts[2] = {chat_prompt(tmpl, ds->ex[i].problem),
                          ds->ex[i].solution ? chat_completion(ds->ex[i].solution) : NULL};
        for (int p = 0; p < 2; p++) {
            if (!parts[p]) continue;
            size_t n = strlen(parts[p]);
            if (len + n + 2 > cap) {
                while (len + n + 2 > cap) cap *= 2;
                char *grown = realloc(text, cap);
                if (!grown) {
                    free(parts[0]);
                    free(parts[1]);
                    free(text);
                    err_fmt(e, "out of memory for the tokenizer's training text");
                    return NULL;
                }
                text = grown;
            }
            memcpy(text + len, parts[p], n);
            len += n;
            text[len++] = '\n';
        }
        free(parts[0]);
        free(parts[1]);
    }
    *len_out = len;
    return text;
}

Tokenizer *examples_train_tokenizer(const Dataset *ds, const ChatTemplate *tmpl, int vocab_size, Err *e) {
    size_t len;
    char *text = examples_training_text(ds, tmpl, &len, e);
    if (!text) return NULL;
    TokTrainOpts o = tok_train_defaults(vocab_size);
    Tokenizer *t = tok_train(text, len, &o, e);
    free(text);
    return t;
}
