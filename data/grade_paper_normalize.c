// data/grade_paper_normalize.c -- the paper's two normalisers: Hendrycks'
// math_normalize.py and PRM800K's grader.py _normalize, with the LaTeX-to-text rendering
// of pylatexenc that _normalize relies on. The passes follow the Python originals step by
// step; each names the one it stands for.
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grade_internal.h"

// ---- the MATH normaliser (math_normalize.py) -----------------------------------------------

// A whole "\text{...}" with something inside and no newline: its content, in place.
static char *unwrap_whole_text(char *s) {
    size_t n = strlen(s);
    if (n < 8 || strncmp(s, "\\text{", 6) || s[n - 1] != '}' || memchr(s, '\n', n)) return s;
    memmove(s, s + 6, n - 7);
    s[n - 7] = 0;
    return s;
}

// "\text{ " only marks units: keep what is before it. Two of them: the normaliser gives up.
static char *remove_right_units(char *s, int *fail) {
    if (!s) return NULL;
    char *t = strstr(s, "\\text{ ");
    if (!t) return s;
    if (strstr(t + 1, "\\text{ ")) *fail = 1;
    *t = 0;
    return s;
}

// "\sqrt3" -> "\sqrt{3}": the one character after each \sqrt gets braces.
static char *fix_sqrt(char *s, int *fail) {
    if (!s) return NULL;
    size_t count = 0;
    for (const char *p = strstr(s, "\\sqrt"); p; p = strstr(p + 5, "\\sqrt")) count++;
    char *out = malloc(strlen(s) + 2 * count + 1);
    if (!out) {
        free(s);
        return NULL;
    }
    char *o = out;
    for (const char *p = s;;) {
        const char *q = strstr(p, "\\sqrt");
        size_t keep = q ? (size_t)(q - p) : strlen(p);
        memcpy(o, p, keep);
        o += keep;
        if (!q) break;
        p = q + 5;
        o = stpcpy(o, "\\sqrt");
        const char *next = strstr(p, "\\sqrt");
        if (*p == 0 || p == next) *fail = 1;  // an empty piece: Python's IndexError
        else if (*p != '{') o += sprintf(o, "{%c}", *p++);
    }
    *o = 0;
    free(s);
    return out;
}

// "\frac12" -> "\frac{1}{2}", "\frac1{2}" -> "\frac{1}{2}": the pieces after each \frac.
static char *fix_fracs(char *s, int *fail) {
    if (!s) return NULL;
    char *out = malloc(strlen(s) * 3 + 1);
    if (!out) {
        free(s);
        return NULL;
    }
    char *o = out;
    const char *q = strstr(s, "\\frac");
    memcpy(o, s, q ? (size_t)(q - s) : strlen(s));
    o += q ? (size_t)(q - s) : strlen(s);
    while (q) {
        const char *p = q + 5;
        q = strstr(p, "\\frac");
        size_t n = q ? (size_t)(q - p) : strlen(p);
        o = stpcpy(o, "\\frac");
        if (n == 0) {
            *fail = 1;  // IndexError on the empty piece
            break;
        }
        if (p[0] != '{' && n < 2) {  // too short to fix: the string as it was
            free(out);
            return s;
        }
        size_t used = 0;  // the characters of the piece given braces
        if (p[0] != '{' && p[1] != '{') used = 2, o += sprintf(o, "{%c}{%c}", p[0], p[1]);
        else if (p[0] != '{') used = 1, o += sprintf(o, "{%c}", p[0]);
        o = stpncpy(o, p + used, n - used);
    }
    *o = 0;
    free(s);
    return out;
}

// "a/b" of two integers written plainly -> "\frac{a}{b}".
static char *fix_a_slash_b(char *s) {
    if (!s) return NULL;
    char *slash = strchr(s, '/');
    if (!slash || strchr(slash + 1, '/')) return s;
    const char *a = s[0] == '-' ? s + 1 : s, *b = slash + 1;
    size_t na = (size_t)(slash - a), nb = strlen(b);
    const char *bd = b[0] == '-' ? b + 1 : b;
    size_t nbd = nb - (size_t)(bd - b);
    // str(int(x)) == x: digits, no leading zero unless "0"
    int ok = all_digits(a, na) && (na == 1 || a[0] != '0') && !(s[0] == '-' && na == 1 && a[0] == '0') &&
             all_digits(bd, nbd) && (nbd == 1 || bd[0] != '0') && !(bd != b && nbd == 1 && bd[0] == '0');
    if (!ok) return s;
    size_t n = strlen(s) + 16;
    char *out = malloc(n);
    if (out) {
        *slash = 0;
        snprintf(out, n, "\\frac{%s}{%s}", s, b);
    }
    free(s);
    return out;
}

// Hendrycks' _strip_string. On a Python exception the normaliser returns its input.
static char *strip_string(char *s, int *fail) {
    s = replace_all(s, "\n", "");
    s = replace_all(s, "\\!", "");
    s = replace_all(s, "\\\\", "\\");
    s = replace_all(s, "tfrac", "frac");
    s = replace_all(s, "dfrac", "frac");
    s = replace_all(s, "\\left", "");
    s = replace_all(s, "\\right", "");
    s = replace_all(s, "^{\\circ}", "");
    s = replace_all(s, "^\\circ", "");
    s = replace_all(s, "\\$", "");
    s = remove_right_units(s, fail);
    s = replace_all(s, "\\%", "");
    s = replace_all(s, " .", " 0.");
    s = replace_all(s, "{.", "{0.");
    if (!s || !*s || *fail) return s;
    if (s[0] == '.') s = prepend_zero(s);
    char *eq = strchr(s, '=');
    if (eq && !strchr(eq + 1, '=') && eq - s <= 2) memmove(s, eq + 1, strlen(eq + 1) + 1);
    s = fix_sqrt(s, fail);
    if (!s || *fail) return s;
    s = replace_all(s, " ", "");
    s = fix_fracs(s, fail);
    if (s && !strcmp(s, "0.5")) s = replace_all(s, "0.5", "\\frac{1}{2}");
    return fix_a_slash_b(s);
}

char *mathd_normalize(const char *answer) {
    char *s = py_strip(dup_n(answer, strlen(answer)));
    if (!s) return NULL;
    size_t n = strlen(s);
    s = unwrap_whole_text(s);
    if (strlen(s) != n) s = py_strip(s);
    char *kept = dup_n(s, strlen(s));
    int fail = 0;
    s = strip_string(s, &fail);
    if (fail || !s) {
        free(s);
        return kept;
    }
    free(kept);
    return s;
}

// ---- LaTeX to text, as pylatexenc's latex2text renders it ----------------------------------

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
    int depth;   // group nesting; deeper than 200 renders as nothing (bounds the stack)
    int matrix;  // inside a matrix environment: "[ a b; c d ]"
} Buf;

static void buf_put(Buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void buf_puts(Buf *b, const char *s) { buf_put(b, s, strlen(s)); }

// Macros rendered as a fixed text; the arithmetic ones are the symbols the grader reads.
static const char *const latex_symbols[][2] = {
    {"pi", "\xcf\x80"},        {"infty", "\xe2\x88\x9e"},   {"cup", "\xe2\x88\xaa"},     {"cap", "\xe2\x88\xa9"},
    {"cdot", "\xc2\xb7"},      {"times", "\xc3\x97"},       {"le", "\xe2\x89\xa4"},      {"leq", "\xe2\x89\xa4"},
    {"ge", "\xe2\x89\xa5"},    {"geq", "\xe2\x89\xa5"},     {"in", "\xe2\x88\x88"},      {"circ", "\xe2\x88\x98"},
    {"dots", "\xe2\x80\xa6"},  {"ldots", "\xe2\x80\xa6"},   {"cdots", "\xe2\x8b\xaf"},   {"neq", "\xe2\x89\xa0"},
    {"pm", "\xc2\xb1"},        {"to", "\xe2\x86\x92"},      {"rightarrow", "\xe2\x86\x92"}, {"mid", "|"},
    {"emptyset", "\xe2\x88\x85"}, {"varnothing", "\xe2\x88\x85"}, {"prime", "'"},     {"div", "\xc3\xb7"},
    {"alpha", "\xce\xb1"},     {"beta", "\xce\xb2"},        {"gamma", "\xce\xb3"},       {"delta", "\xce\xb4"},
    {"theta", "\xce\xb8"},     {"lambda", "\xce\xbb"},      {"mu", "\xce\xbc"},          {"sigma", "\xcf\x83"},
    {"omega", "\xcf\x89"},     {"phi", "\xcf\x95"},         {"quad", "  "},              {"qquad", "    "},
    {"sin", "sin"},            {"cos", "cos"},              {"tan", "tan"},              {"log", "log"},
    {"ln", "ln"},              {"exp", "exp"},              {"max", "max"},              {"min", "min"},
};

// Macros whose one argument is rendered as plain text.
static const char *const latex_text_macros[] = {"text", "textbf", "textit", "textrm", "textsf", "texttt",
                                                "emph", "mathrm", "mathit", "mathbf", "operatorname",
                                                "overline", "boxed", "fbox", "pmod", "hat", "vec", "bar"};

static size_t render_latex(const char *s, size_t n, Buf *out);

// One macro argument at s[i]: a {group} or a single token. Returns the index after it.
static size_t render_arg(const char *s, size_t n, size_t i, Buf *out) {
    while (i < n && isspace((unsigned char)s[i])) i++;
    if (i >= n) return i;
    if (s[i] == '{') {
        size_t end = match_brace(s + i, n - i);
        if (!end) end = n - i;
        render_latex(s + i + 1, end - (s[i + end - 1] == '}' ? 2 : 1), out);
        return i + end;
    }
    if (s[i] == '\\') {
        size_t k = i + 1;
        if (k < n && isalpha((unsigned char)s[k])) {
            while (k < n && isalpha((unsigned char)s[k])) k++;
        } else if (k < n) {
            k++;
        }
        render_latex(s + i, k - i, out);
        return k;
    }
    render_latex(s + i, 1, out);
    return i + 1;
}

// "{pmatrix}" and the like at s: pylatexenc writes those as "[ a b; c d ]".
static int is_matrix_env(const char *s, size_t n) {
    static const char *names[] = {"{pmatrix}", "{bmatrix}", "{matrix}", "{vmatrix}", "{array}"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (n >= strlen(names[i]) && !strncmp(s, names[i], strlen(names[i]))) return 1;
    return 0;
}

// The macro named s[i..k) (its arguments follow at k). Returns the index after it all.
static size_t render_macro(const char *s, size_t n, size_t i, size_t k, Buf *out) {
    const char *name = s + i;
    size_t len = k - i;
#define IS(w) (len == strlen(w) && !strncmp(name, w, len))
    while (k < n && isspace((unsigned char)s[k])) k++;
    if (IS("frac")) {
        k = render_arg(s, n, k, out);
        buf_puts(out, "/");
        return render_arg(s, n, k, out);
    }
    if (IS("sqrt")) {
        if (k < n && s[k] == '[') {
            const char *close = memchr(s + k, ']', n - k);
            k = close ? (size_t)(close - s) + 1 : n;
        }
        buf_puts(out, "\xe2\x88\x9a(");
        k = render_arg(s, n, k, out);
        buf_puts(out, ")");
        return k;
    }
    if ((IS("begin") || IS("end")) && is_matrix_env(s + k, n - k)) {
        out->matrix += IS("begin") ? 1 : -1;
        buf_puts(out, IS("begin") ? "[ " : " ]");
    }
    if (IS("mbox") || IS("begin") || IS("end")) {  // another environment renders as its content
        Buf skip = {0};
        k = render_arg(s, n, k, &skip);
        free(skip.p);
        return k;
    }
    for (size_t t = 0; t < sizeof latex_text_macros / sizeof *latex_text_macros; t++)
        if (IS(latex_text_macros[t])) return render_arg(s, n, k, out);
    for (size_t t = 0; t < sizeof latex_symbols / sizeof *latex_symbols; t++)
        if (IS(latex_symbols[t][0])) buf_puts(out, latex_symbols[t][1]);
#undef IS
    return k;  // any other macro renders as nothing
}

// Renders s[0..n) to out; returns n.
static size_t render_latex(const char *s, size_t n, Buf *out) {
    if (out->depth >= 200) return n;
    out->depth++;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c == '\\' && i + 1 < n && isalpha((unsigned char)s[i + 1])) {
            size_t k = i + 1;
            while (k < n && isalpha((unsigned char)s[k])) k++;
            i = render_macro(s, n, i + 1, k, out);
        } else if (c == '\\' && i + 1 < n) {
            char e = s[i + 1];
            if (e == '\\') buf_puts(out, out->matrix ? "; " : "\n");
            else if (e == ',' || e == ';' || e == ':' || e == ' ') buf_puts(out, " ");
            else if (strchr("{}%$_&#", e)) buf_put(out, &e, 1);  // any other, "\1" too, is nothing
            i += 2;
        } else if (c == '{') {
            size_t end = match_brace(s + i, n - i);
            if (!end) end = n - i;
            render_latex(s + i + 1, end - (s[i + end - 1] == '}' ? 2 : 1), out);
            i += end;
        } else if (c == '%') {
            while (i < n && s[i] != '\n') i++;
        } else {
            if (c == '&') buf_puts(out, out->matrix ? " " : "   ");
            else if (c == '~') buf_puts(out, "\xc2\xa0");
            else if (c != '}' && c != '$' && c != '\\') buf_put(out, &c, 1);
            i++;
        }
    }
    out->depth--;
    return n;
}

// grader.py's _parse_latex: latex2text, then the symbols sympy reads.
static char *parse_latex(char *s) {
    s = replace_all(s, "\\tfrac", "\\frac");
    s = replace_all(s, "\\dfrac", "\\frac");
    s = replace_all(s, "\\frac", " \\frac");
    if (!s) return NULL;
    Buf out = {0};
    buf_puts(&out, "");
    render_latex(s, strlen(s), &out);
    free(s);
    if (out.oom) {
        free(out.p);
        return NULL;
    }
    s = out.p;
    s = replace_all(s, "\xe2\x88\x9a", "sqrt");
    s = replace_all(s, "\xcf\x80", "pi");
    s = replace_all(s, "\xe2\x88\x9e", "inf");
    s = replace_all(s, "\xe2\x88\xaa", "U");
    s = replace_all(s, "\xc2\xb7", "*");
    s = replace_all(s, "\xc3\x97", "*");
    return py_strip(s);
}

// ---- PRM800K's normaliser (grader.py _normalize) -------------------------------------------

// re.sub(unit + r"(es)?(s)? *(\^[0-9]+)?", "", s) for each unit word, in the grader's order.
static char *drop_units(char *s) {
    static const char *units[] = {"degree", "cm",  "centimeter", "meter", "mile", "second", "minute", "hour",
                                  "day",    "week", "month",     "year",  "foot", "feet",   "inch",   "yard"};
    if (!s) return NULL;
    for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
        size_t nu = strlen(units[u]);
        char *o = s;
        for (const char *p = s; *p;) {
            if (strncmp(p, units[u], nu)) {
                *o++ = *p++;
                continue;
            }
            p += nu;
            if (!strncmp(p, "es", 2)) p += 2;
            if (*p == 's') p++;
            while (*p == ' ') p++;
            if (*p == '^' && isdigit((unsigned char)p[1]))
                for (p++; isdigit((unsigned char)*p);) p++;
        }
        *o = 0;
    }
    return s;
}

// re.sub(head + " *" + tail, repl, s), repl no longer than the head and tail together.
static char *squeeze_spaces(char *s, const char *head, const char *tail, const char *repl) {
    if (!s) return NULL;
    size_t nh = strlen(head), nt = strlen(tail), nr = strlen(repl);
    char *o = s;
    for (const char *p = s; *p;) {
        const char *q = p + nh;
        if (!strncmp(p, head, nh)) {
            while (*q == ' ') q++;
            if (!strncmp(q, tail, nt)) {
                memmove(o, repl, nr);
                o += nr;
                p = q + nt;
                continue;
            }
        }
        *o++ = *p++;
    }
    *o = 0;
    return s;
}

// re.sub("([0-9]) +([0-9])", r"\1+\2", s): "7 3/4" -> "7+3/4".
static char *join_mixed_numbers(char *s) {
    if (!s) return NULL;
    char *o = s;
    for (const char *p = s; *p;) {
        const char *q = p + 1;
        while (*q == ' ') q++;
        if (isdigit((unsigned char)*p) && q > p + 1 && isdigit((unsigned char)*q)) {
            *o++ = *p;
            *o++ = '+';
            *o++ = *q;
            p = q + 1;
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    return s;
}

static char *drop_chars(char *s, const char *set) {
    if (!s) return NULL;
    char *o = s;
    for (const char *p = s; *p; p++)
        if (!strchr(set, *p)) *o++ = *p;
    *o = 0;
    return s;
}

static char *to_int_str(char *s, double x) {
    free(s);
    return py_int_str(x);
}

char *prm_normalize(const char *answer) {
    char *s = unwrap_whole_text(dup_n(answer, strlen(answer)));
    s = replace_all(s, "\\%", "%");
    s = replace_all(s, "\\$", "$");
    s = drop_chars(s, "$%");
    s = replace_all(s, " or ", " , ");
    s = replace_all(s, " and ", " , ");
    s = replace_all(s, "million", "*10^6");
    s = replace_all(s, "billion", "*10^9");
    s = replace_all(s, "trillion", "*10^12");
    s = drop_units(s);
    s = squeeze_spaces(s, "^", "\\circ", "");
    if (!s) return NULL;
    size_t n = strlen(s);
    if (n > 0 && s[0] == '{' && s[n - 1] == '}') {
        memmove(s, s + 1, n - 2);
        s[n - 2] = 0;
    }
    s = squeeze_spaces(s, ",\\!", "", "");
    double x;
    if (s && py_float(s, &x) && py_is_int(x)) s = to_int_str(s, nearbyint(x));
    if (s && strchr(s, '\\')) s = parse_latex(s);
    s = squeeze_spaces(s, "-", "", "-");
    s = join_mixed_numbers(s);
    s = drop_chars(s, " {}");
    for (char *p = s; p && *p; p++) *p = (char)tolower((unsigned char)*p);
    if (s && str_is_int(s)) {
        char *t = drop_chars(dup_n(s, strlen(s)), ",");
        if (t && py_float(t, &x)) s = to_int_str(s, x);
        free(t);
    }
    return s;
}
