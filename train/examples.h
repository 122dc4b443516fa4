// train/examples.h -- from datasets and model folders to token ids: what every stage
// (sft, generate, presample, prune, eval) starts from.
//
// A dataset example becomes a TokExample (data/batch.h) through the chat template
// (data/chat.h):
//   prompt     = ids of chat_prompt(system, problem)        weight 0 in training
//   completion = ids of chat_completion(solution)           weight 1 in training
//                (the solution followed by the single <|im_end|> token)
// The two texts are encoded separately, special tokens split out (the template's
// <|im_start|> / <|im_end|> must each be one special token of the tokenizer), so that
// prompt ++ completion is what the model is trained on and what generation continues.
//
// A model folder is dir/config.json + dir/model.safetensors (model/io.h) and
// dir/tokenizer.json. The tokenizer must fit the model: every id it can produce must be
// below the model's vocab_size (models often pad their embedding, so a smaller
// tokenizer is fine), and it must have <|im_start|> and <|im_end|> as special tokens.
#ifndef O1P_EXAMPLES_H
#define O1P_EXAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "../data/batch.h"
#include "../data/dataset.h"
#include "../model/model.h"
#include "../tokenizer/tokenizer.h"

// The ids of the chat template's special tokens; -1 when the tokenizer lacks one.
typedef struct {
    int im_start, im_end, endoftext;
} ChatTokens;

// Looks the special tokens up. Fails (naming `name`, usually the tokenizer's path) when
// <|im_start|> or <|im_end|> is missing or not a special token.
int chat_tokens(const Tokenizer *t, const char *name, ChatTokens *ct, Err *e);

// Fails when the tokenizer's vocab (tok_vocab_size) exceeds the model's vocab_size:
// "TOKNAME: the tokenizer has 2051 tokens but the model's vocab_size is 2048".
int tok_check_fits(const Tokenizer *t, const char *tok_name, const Config *c, Err *e);

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
// Tokenizes every example of ds (system == NULL: CHAT_SYSTEM_PROMPT). Without
// EX_PROMPTS_ONLY every example must have a solution: an error names `name` (the
// dataset's path) and the 1-based example number otherwise. On error *out is empty.
int examples_tokenize(Tokenizer *t, const Dataset *ds, const char *name, const char *system,
                      int flags, TokSet *out, Err *e);
void tokset_free(TokSet *s);

// Trains a byte-level BPE tokenizer of vocab_size tokens (tok_train_defaults: the
// chat specials appended) on the chat-template texts of ds (prompts and, where present,
// completions), so that the template's words are single tokens. Deterministic.
Tokenizer *examples_train_tokenizer(const Dataset *ds, int vocab_size, Err *e);

// A model folder loaded for use: the model on backend k, its tokenizer, the chat ids.
typedef struct {
    Model m;
    Tokenizer *tok;
    ChatTokens chat;
} ModelDir;

// Loads dir (model_load + dir/tokenizer.json) and checks that they fit together.
// Errors: "DIR: no tokenizer.json (a model folder needs config.json,
// model.safetensors and tokenizer.json)", vocab mismatch, missing chat tokens, and
// every error of model_load / tok_load. On error nothing is left allocated.
int model_dir_load(ModelDir *md, const char *dir, const Kernels *k, Err *e);
void model_dir_free(ModelDir *md);

#endif
