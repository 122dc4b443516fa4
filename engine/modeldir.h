// engine/modeldir.h -- a model folder: the model, its tokenizer and the chat template's ids.
//
// A model folder is dir/config.json + dir/model.safetensors (model/io.h) and
// dir/tokenizer.json. The tokenizer must fit the model: every id it can produce must be
// below the model's vocab_size (models often pad their embedding, so a smaller
// tokenizer is fine), and it must have <|im_start|> and <|im_end|> as special tokens.
#ifndef O1P_MODELDIR_H
#define O1P_MODELDIR_H

#include "../base/err.h"
#include "../data/chat.h"
#include "../model/model.h"
#include "../tokenizer/tokenizer.h"

// The ids of the chat template's special tokens; -1 when the tokenizer lacks one.
typedef struct {
    int im_start, im_end, endoftext;
} ChatTokens;

// Looks the special tokens up. Fails (naming `name`, usually the tokenizer's path) when
// <|im_start|> or <|im_end|> is missing or not a special token.
int chat_tokens(const Tokenizer *t, const char *name, ChatTokens *ct, Err *e);

// The ids that end a generated answer: <|im_end|>, then <|endoftext|> when the tokenizer
// has it. Writes them to stop[0..2) and returns their count.
int chat_stop_ids(const ChatTokens *ct, int32_t stop[2]);

// Fails when the tokenizer's vocab (tok_vocab_size) exceeds the model's vocab_size:
// "TOKNAME: the tokenizer has 2051 tokens but the model's vocab_size is 2048".
int tok_check_fits(const Tokenizer *t, const char *tok_name, const Config *c, Err *e);

// A model folder loaded for use: the model on backend k, its tokenizer, the chat ids.
typedef struct {
    Model m;
    Tokenizer *tok;
    ChatTokens chat;
} ModelDir;

// Loads dir (model_load, or with weights_only model_load_weights: for decoding only, no
// fp32 parameters beside bf16 weights; + dir/tokenizer.json) and checks that they fit
// together.
// Errors: "DIR: no tokenizer.json (a model folder needs config.json,
// model.safetensors and tokenizer.json)", vocab mismatch, missing chat tokens, and
// every error of model_load / tok_load. On error nothing is left allocated.
int model_dir_load(ModelDir *md, const char *dir, const Kernels *k, int weights_only, Err *e);
void model_dir_free(ModelDir *md);

// The ids a sampler may draw from md's model (SamplerOpts.n_ids): those its tokenizer
// has. When the model's vocab_size is larger (padded embedding rows) and not quiet, says
// on stderr that the ids past the tokenizer's are never sampled, naming dir.
int model_dir_sample_ids(const ModelDir *md, const char *dir, int quiet);

// The prompt template a folder's weights were trained under: dir/prompt.json, written by
// the sft or prune that made it:
//   {"prompt": 1, "stage": "sft" | "prune", "system": .., "user_template": ..
//    [, "presample": {"system": .., "user_template": ..}]}
// "presample" (prune): the template its pre-samples were drawn with, when that is
// another. Stages that sample from a folder use its template unless told otherwise.
// Reads it into *t (*recorded 1), or the default template without the file (*recorded 0).
int model_dir_template(const char *dir, ChatTemplate *t, int *recorded, Err *e);
// The template a stage uses on folder dir: o's (chat_template_resolve) over the one dir
// records.
int model_dir_resolve_template(const char *dir, const PromptOpts *o, ChatTemplate *t, Err *e);
// A resumed run's template must be the one its folder records (when it records one):
// else an error naming dir/prompt.json and both templates.
int model_dir_check_template(const char *dir, const ChatTemplate *t, Err *e);
// Writes dir/prompt.json (atomically); sampled: NULL, or the pre-samples' template.
int model_dir_save_template(const char *dir, const char *stage, const ChatTemplate *t, const ChatTemplate *sampled,
                            Err *e);

#endif
