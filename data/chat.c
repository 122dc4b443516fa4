// data/chat.c -- ChatML prompt and completion texts.
#include "chat.h"

#include <stdlib.h>
#include <string.h>

// malloc'ed concatenation of n strings.
static char *concat(const char **parts, int n) {
    size_t len = 0;
    for (int i = 0; i < n; i++) len += strlen(parts[i]);
    char *s = malloc(len + 1), *o = s;
    if (!s) return NULL;
    for (int i = 0; i < n; i++) {
        size_t k = strlen(parts[i]);
        memcpy(o, parts[i], k);
        o += k;
    }
    *o = 0;
    return s;
}

char *chat_prompt(const char *system, const char *problem) {
    const char *parts[] = {CHAT_IM_START "system\n", system ? system : CHAT_SYSTEM_PROMPT,
                           CHAT_IM_END "\n" CHAT_IM_START "user\n", problem,
                           CHAT_IM_END "\n" CHAT_IM_START "assistant\n"};
    return concat(parts, 5);
}

char *chat_completion(const char *solution) {
    const char *parts[] = {solution, CHAT_IM_END};
    return concat(parts, 2);
}

char *chat_jinja(void) {
    // the system prompt as a Jinja string literal: backslashes and quotes escaped
    const char *sys = CHAT_SYSTEM_PROMPT;
    char lit[2 * sizeof CHAT_SYSTEM_PROMPT], *o = lit;
    for (const char *c = sys; *c; c++) {
        if (*c == '\\' || *c == '\'') *o++ = '\\';
        *o++ = *c;
    }
    *o = 0;
    const char *parts[] = {
        "{%- for message in messages %}"
        "{%- if loop.first and message['role'] != 'system' %}"
        "{{- '" CHAT_IM_START "system\\n", lit, CHAT_IM_END "\\n' }}"
        "{%- endif %}"
        "{{- '" CHAT_IM_START "' + message['role'] + '\\n' + message['content'] + '" CHAT_IM_END "\\n' }}"
        "{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '" CHAT_IM_START "assistant\\n' }}{%- endif %}"};
    return concat(parts, 3);
}

size_t chat_answer_len(const char *text) {
    const char *end = strstr(text, CHAT_IM_END);
    return end ? (size_t)(end - text) : strlen(text);
}
