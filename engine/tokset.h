// engine/tokset.h -- datasets through the chat template into token ids: what every stage
// (sft, generate, presample, prune, eval) trains or samples from.
//
// A dataset example becomes a TokExample (data/batch.h) through the chat template
// (data/chat.h):
//   prompt     = ids of chat_prompt(tmpl, problem)          weight 0 in training
//   completion = ids of chat_completion(solution)           weight 1 in training
//                (the solution followed by the single <|im_end|> token)
// The two texts are encoded separately, special tokens split out (the template's
// <|im_start|> / <|im_end|> must each be one special token of the tokenizer), so that
// prompt ++ completion is what the model is trained on and what generation continues.
//
#ifndef O1P_TOKSET_H
#define O1P_TOKSET_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "../data/batch.h"
#include "../data/chat.h"
#include "../data/dataset.h"
#include "../tokenizer/tokenizer.h"

// A tokenized dataset: ex[i] is dataset example i (same indices); the ids of all
// prompts and completions live in one allocation.
typedef struct {
    TokExample *ex;  // [n]
    int n;
    int32_t *ids;    // every prompt and completion, back to back
    size_t n_ids;
    int64_t prompt_tokens, completion_tokens;  // totals
    int max_prompt_len, max_len;               // longest prompt; longest prompt + completion
} TokSet;

enum {
    EX_PROMPTS_ONLY = 1,  // completions left empty (completion_len 0): solutions not needed
};
// Tokenizes every example of ds under the prompt template tmpl (NULL: the default). Without
// EX_PROMPTS_ONLY every example must have a solution: an error names `name` (the
// dataset's path) and the 1-based example number otherwise. On error *out is empty.
int examples_tokenize(Tokenizer *t, const Dataset *ds, const char *name, const ChatTemplate *tmpl, int flags,
                      TokSet *out, Err *e);
void tokset_free(TokSet *s);

// The chat-template texts of ds under tmpl (NULL: the default) (prompts and, where
// present, completions), one after another, newline-separated: what a tokenizer for ds
// trains on. Malloc'ed, *len bytes.
char *examples_training_text(const Dataset *ds, const ChatTemplate *tmpl, size_t *len, Err *e);

// Trains a byte-level BPE tokenizer of vocab_size tokens (tok_train_defaults: the
// chat specials appended) on examples_training_text(ds, tmpl), so that the template's
// words are single tokens. Deterministic.
Tokenizer *examples_train_tokenizer(const Dataset *ds, const ChatTemplate *tmpl, int vocab_size, Err *e);

#endif
