// data/chat.c -- prompt templates, and ChatML prompt and completion texts.
#include "chat.h"

#include <stdlib.h>
#include <string.h>

// The presets (sources in chat.h: the official code's files and functions).
static const struct {
    const char *name, *system, *user;
} presets[] = {
    {"default", CHAT_SYSTEM_PROMPT, CHAT_PROBLEM},
    // construct_dataset.py's training messages: the paper's system prompt, the raw problem
    {"marco-train", CHAT_SYSTEM_PROMPT, CHAT_PROBLEM},
    // inference.py, model "marco"
    {"marco-eval", CHAT_SYSTEM_PROMPT, "Solve the problem: " CHAT_PROBLEM},
    // inference.py, model "qwq"
    {"qwq",
     "You are a helpful and harmless assistant. You are Qwen developed by Alibaba. You should think step-by-step "
     "and put your final answer within \\boxed{}.",
     "Solve the problem: " CHAT_PROBLEM},
    // inference.py, model "marco", speed "fast" (its wording, as written there)
    {"fast", CHAT_SYSTEM_PROMPT,
     "Solve the problem: " CHAT_PROBLEM "\nBe confident. Solving this problem quickly with less pause, stop or "
     "reflection."},
};
enum { N_PRESETS = sizeof presets / sizeof presets[0] };

// Copies s into dst[cap]; fails naming `what` when it does not fit.
static int set_part(char *dst, size_t cap, const char *s, const char *what, Err *e) {
    size_t n = strlen(s);
    if (n >= cap) return err_fmt(e, "%s: %zu bytes; at most %zu fit", what, n, cap - 1);
    memcpy(dst, s, n + 1);
    return 0;
}

int chat_preset(const char *name, ChatTemplate *t, Err *e) {
    for (int i = 0; i < N_PRESETS; i++)
        if (!strcmp(presets[i].name, name)) {
            snprintf(t->system, sizeof t->system, "%s", presets[i].system);
            snprintf(t->user, sizeof t->user, "%s", presets[i].user);
            return 0;
        }
    return err_fmt(e, "unknown prompt preset '%s' (expected %s)", name, CHAT_PRESETS);
}

const char *chat_preset_name(const ChatTemplate *t) {
    for (int i = 0; i < N_PRESETS; i++)
        if (!strcmp(presets[i].system, t->system) && !strcmp(presets[i].user, t->user)) return presets[i].name;
    return NULL;
}

// The number of CHAT_PROBLEM in s.
static int count_placeholders(const char *s) {
    int n = 0;
    for (const char *p = strstr(s, CHAT_PROBLEM); p; p = strstr(p + strlen(CHAT_PROBLEM), CHAT_PROBLEM)) n++;
    return n;
}

// A user template must hold exactly one CHAT_PROBLEM; what names where it came from.
static int check_user(const char *user, const char *what, Err *e) {
    int n = count_placeholders(user);
    if (n != 1)
        return err_fmt(e, "%s: expected exactly one " CHAT_PROBLEM " (where the problem goes) in the user template, "
                          "found %d in \"%.80s\"", what, n, user);
    return 0;
}

int chat_template_resolve(const PromptOpts *o, const ChatTemplate *fallback, ChatTemplate *t, Err *e) {
    if (o->preset) {
        if (chat_preset(o->preset, t, e)) return err_wrap(e, "--prompt");
    } else if (fallback) {
        *t = *fallback;
    } else {
        chat_preset("default", t, e);
    }
    if (o->system && set_part(t->system, sizeof t->system, o->system, "--system", e)) return -1;
    if (o->user_template && set_part(t->user, sizeof t->user, o->user_template, "--user-template", e)) return -1;
    const char *what = o->user_template ? "--user-template" : o->preset ? "--prompt" : "the recorded template";
    return check_user(t->user, what, e);
}

int chat_template_same(const ChatTemplate *a, const ChatTemplate *b) {
    return !strcmp(a->system, b->system) && !strcmp(a->user, b->user);
}

void chat_template_describe(const ChatTemplate *t, char *out, size_t cap) {
    const char *name = chat_preset_name(t);
    if (name)
        snprintf(out, cap, "%s", name);
    else
        snprintf(out, cap, "system \"%.60s%s\", user \"%.60s%s\"", t->system, strlen(t->system) > 60 ? "..." : "",
                 t->user, strlen(t->user) > 60 ? "..." : "");
}

void chat_template_write_json(FILE *f, const ChatTemplate *t) {
    fputs("\"system\": ", f);
    json_write_string(f, t->system, strlen(t->system));
    fputs(", \"user_template\": ", f);
    json_write_string(f, t->user, strlen(t->user));
}

int chat_template_read_json(const JsonValue *obj, const char *name, ChatTemplate *t, Err *e) {
    const char *system = NULL, *user = NULL;
    chat_preset("default", t, e);
    if (json_opt_string(obj, "system", name, &system, e) || json_opt_string(obj, "user_template", name, &user, e))
        return -1;
    if (!system && !user) return 0;
    if (!system || !user)
        return err_fmt(e, "%s: line %d: expected both \"system\" and \"user_template\" (or neither: the default "
                          "template)", name, obj->line);
    char what[4200];
    snprintf(what, sizeof what, "%s: line %d", name, obj->line);
    if (set_part(t->system, sizeof t->system, system, what, e) || set_part(t->user, sizeof t->user, user, what, e))
        return -1;
    return check_user(t->user, what, e);
}

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

char *chat_prompt(const ChatTemplate *t, const char *problem) {
    const char *system = t ? t->system : CHAT_SYSTEM_PROMPT, *user = t ? t->user : CHAT_PROBLEM;
    // the user turn: before the placeholder, the problem, after it
    const char *at = strstr(user, CHAT_PROBLEM);
    size_t before = at ? (size_t)(at - user) : strlen(user);
    char head[sizeof t->user];
    snprintf(head, sizeof head, "%.*s", (int)before, user);
    const char *parts[] = {CHAT_IM_START "system\n", system, CHAT_IM_END "\n" CHAT_IM_START "user\n", head,
                           at ? problem : "", at ? at + strlen(CHAT_PROBLEM) : "",
                           CHAT_IM_END "\n" CHAT_IM_START "assistant\n"};
    return concat(parts, 7);
}

char *chat_completion(const char *solution) {
    const char *parts[] = {solution, CHAT_IM_END};
    return concat(parts, 2);
}

// src as a Jinja string literal's body into out (cap >= 2 strlen(src) + 1): backslashes
// and quotes escaped.
static void jinja_escape(const char *src, char *out) {
    for (const char *c = src; *c; c++) {
        if (*c == '\\' || *c == '\'') *out++ = '\\';
        *out++ = *c;
    }
    *out = 0;
}

char *chat_jinja(const ChatTemplate *t) {
    ChatTemplate dflt;
    if (!t) {
        snprintf(dflt.system, sizeof dflt.system, "%s", CHAT_SYSTEM_PROMPT);
        snprintf(dflt.user, sizeof dflt.user, "%s", CHAT_PROBLEM);
        t = &dflt;
    }
    // the user turn: the text around {problem}, which becomes the message's content
    const char *at = strstr(t->user, CHAT_PROBLEM);
    char head[sizeof t->user];
    snprintf(head, sizeof head, "%.*s", (int)(at - t->user), t->user);
    char sys[2 * sizeof t->system], pre[2 * sizeof t->user], post[2 * sizeof t->user];
    jinja_escape(t->system, sys);
    jinja_escape(head, pre);
    jinja_escape(at + strlen(CHAT_PROBLEM), post);
    const char *parts[] = {
        "{%- for message in messages %}"
        "{%- if loop.first and message['role'] != 'system' %}"
        "{{- '" CHAT_IM_START "system\\n", sys, CHAT_IM_END "\\n' }}"
        "{%- endif %}"
        "{%- if message['role'] == 'user' %}"
        "{{- '" CHAT_IM_START "user\\n", pre, "' + message['content'] + '", post, CHAT_IM_END "\\n' }}"
        "{%- else %}"
        "{{- '" CHAT_IM_START "' + message['role'] + '\\n' + message['content'] + '" CHAT_IM_END "\\n' }}"
        "{%- endif %}"
        "{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '" CHAT_IM_START "assistant\\n' }}{%- endif %}"};
    return concat(parts, 7);
}

size_t chat_answer_len(const char *text) {
    const char *end = strstr(text, CHAT_IM_END);
    return end ? (size_t)(end - text) : strlen(text);
}
