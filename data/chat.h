// data/chat.h -- the chat template: ChatML as Qwen2/Qwen2.5 use it, with a prompt
// template (a system prompt and a user turn around the problem).
//
// An example becomes two texts, which engine/tokset.c tokenizes separately; the
// tokenizer must have <|im_start|> and <|im_end|> as single tokens:
//   prompt     = "<|im_start|>system\n" SYSTEM "<|im_end|>\n"
//                "<|im_start|>user\n" USER "<|im_end|>\n"
//                "<|im_start|>assistant\n"                         (weight 0)
//   completion = SOLUTION "<|im_end|>"                               (weight 1)
// USER is the template's user turn with its one "{problem}" replaced by the problem
// (every other character, braces included, is literal). prompt + completion is what
// Qwen's apply_chat_template gives with add_generation_prompt=True, then the answer.
// Generation continues the prompt and stops at <|im_end|>.
//
// Presets (chat_preset), as the official O1-Pruner code (StarDewXXX/O1-Pruner) uses them:
//   default      the paper's system prompt, the raw problem
//   marco-train  what it trains on (o1_scripts/construct_dataset.py, format_data, for both
//                models): the same text as default
//   marco-eval   what it pre-samples and evaluates Marco-o1 with (o1_scripts/inference.py,
//                prepare_prompts_for_solution, model "marco"): the paper's system prompt,
//                "Solve the problem: {problem}"
//   qwq          the same for QwQ (model "qwq"): Qwen's system prompt with the step-by-step
//                sentence, "Solve the problem: {problem}"
//   fast         the Fast-Solving Prompt baseline: marco-eval with inference.py's
//                speed == "fast" suffix appended to the user turn
#ifndef O1P_CHAT_H
#define O1P_CHAT_H

#include <stddef.h>
#include <stdio.h>

#include "../base/err.h"
#include "../base/json.h"

#define CHAT_IM_START "<|im_start|>"
#define CHAT_IM_END "<|im_end|>"
#define CHAT_PROBLEM "{problem}"
#define CHAT_SYSTEM_PROMPT \
    "You are a helpful assistant. You should think step-by-step and put your final answer within \\boxed{}."
#define CHAT_PRESETS "default, marco-train, marco-eval, qwq or fast"

// A prompt template; fixed arrays, so that it is copied and recorded by value.
typedef struct {
    char system[2048];  // the system prompt
    char user[2048];    // the user turn: exactly one CHAT_PROBLEM
} ChatTemplate;

// How a stage picks its template: a preset by name, then either part replaced. NULL
// members: not given.
typedef struct {
    const char *preset, *system, *user_template;
} PromptOpts;

// The preset `name` into *t. Error: the unknown name and the presets.
int chat_preset(const char *name, ChatTemplate *t, Err *e);
// The preset t equals, or NULL (a template of its own).
const char *chat_preset_name(const ChatTemplate *t);
// The template o asks for: o's preset (else *fallback, else default) with o's system
// and user template in place of the preset's. Errors name the option and what was
// expected: an unknown preset, a part too long, a user template without exactly one
// {problem}.
int chat_template_resolve(const PromptOpts *o, const ChatTemplate *fallback, ChatTemplate *t, Err *e);
// 1 when a and b are the same text.
int chat_template_same(const ChatTemplate *a, const ChatTemplate *b);
// A short description for messages: "marco-eval" or "system \"...\", user \"...\"",
// each part cut to 60 bytes.
void chat_template_describe(const ChatTemplate *t, char *out, size_t cap);

// In JSON: the members "system" and "user_template" of an object. Writes them (no
// surrounding comma or braces). Reads them from obj (name: the file, for messages):
// neither there is the default template (a file of an older o1p), one alone an error,
// as is a user template without exactly one {problem}.
void chat_template_write_json(FILE *f, const ChatTemplate *t);
int chat_template_read_json(const JsonValue *obj, const char *name, ChatTemplate *t, Err *e);

// malloc'ed prompt text for problem; t == NULL means the default template.
// Returns NULL only when out of memory.
char *chat_prompt(const ChatTemplate *t, const char *problem);
// malloc'ed completion text: solution + "<|im_end|>". NULL when out of memory.
char *chat_completion(const char *solution);
// malloc'ed Jinja text of template t (NULL: the default) for a chat: t's system prompt
// unless the chat has its own, each user message posed through t's user template, as
// GGUF's tokenizer.chat_template carries it for llama.cpp. NULL when out of memory.
char *chat_jinja(const ChatTemplate *t);
// The length of the answer in a generated completion: text up to the first
// "<|im_end|>", or all of it.
size_t chat_answer_len(const char *text);

#endif
