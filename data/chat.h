// data/chat.h -- the chat template: ChatML as Qwen2/Qwen2.5 use it, with the paper's
// system prompt.
//
// An example becomes two texts, which engine/tokset.c tokenizes separately; the
// tokenizer must have <|im_start|> and <|im_end|> as single tokens:
//   prompt     = "<|im_start|>system\n" SYSTEM "<|im_end|>\n"
//                "<|im_start|>user\n" PROBLEM "<|im_end|>\n"
//                "<|im_start|>assistant\n"                         (weight 0)
//   completion = SOLUTION "<|im_end|>"                               (weight 1)
// prompt + completion is what Qwen's apply_chat_template gives with
// add_generation_prompt=True, then the answer. Generation continues the prompt and
// stops at <|im_end|>.
#ifndef O1P_CHAT_H
#define O1P_CHAT_H

#include <stddef.h>

#define CHAT_IM_START "<|im_start|>"
#define CHAT_IM_END "<|im_end|>"
#define CHAT_SYSTEM_PROMPT \
    "You are a helpful assistant. You should think step-by-step and put your final answer within \\boxed{}."

// malloc'ed prompt text for problem; system == NULL means CHAT_SYSTEM_PROMPT.
// Returns NULL only when out of memory.
char *chat_prompt(const char *system, const char *problem);
// malloc'ed completion text: solution + "<|im_end|>". NULL when out of memory.
char *chat_completion(const char *solution);
// malloc'ed Jinja text of the same template with CHAT_SYSTEM_PROMPT as the default
// system message, as GGUF's tokenizer.chat_template carries it for llama.cpp. NULL when
// out of memory.
char *chat_jinja(void);
// The length of the answer in a generated completion: text up to the first
// "<|im_end|>", or all of it.
size_t chat_answer_len(const char *text);

#endif
