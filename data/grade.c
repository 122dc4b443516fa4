// data/grade.c -- boxed-answer extraction and answer equivalence: the lenient grader,
// then the paper's (PRM800K grader.py with math_normalize.py), then the public calls.
//
// Both rewrite answers in passes. A pass takes a malloc'ed string and returns one,
// freeing or reusing its input; NULL (out of memory) passes through. The paper's passes
// follow the Python originals step by step; each names the one it stands for.
// The lenient grader compares normalised strings as numbers when both read as one,
// element-wise when both are tuples, intervals or lists, else as strings.
#include "grade.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

// ---- shared helpers and the lenient extraction ---------------------------------------------

// The index just past the '}' that matches the '{' at s[0], or 0 if unclosed. A
// backslash escapes the next character: "\{" and "\}" do not count.
static size_t match_brace(const char *s, size_t n) {
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            i++;
        } else if (s[i] == '{') {
            depth++;
        } else if (s[i] == '}') {
            if (--depth == 0) return i + 1;
        }
    }
    return 0;
}

// The lenient finder: the first \\boxed or \\fbox, or "\\boxed 5"; an unclosed first box is none.
static int lenient_find_boxed(const char *text, const char **start, size_t *len) {
    const char *b = strstr(text, "\\boxed"), *f = strstr(text, "\\fbox");
    const char *p = b && (!f || b < f) ? b : f;
    if (!p) return 0;
    p += p == b ? 6 : 5;
    if (*p == '{') {
        size_t end = match_brace(p, strlen(p));
        if (!end) return 0;
        *start = p + 1;
        *len = end - 2;
        return 1;
    }
    if (*p != ' ') return 0;  // "\boxed 5": up to the next '$' or space
    while (*p == ' ') p++;
    size_t n = 0;
    while (p[n] && p[n] != '$' && !isspace((unsigned char)p[n])) n++;
    if (!n) return 0;
    *start = p;
    *len = n;
    return 1;
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}



// ---- the lenient grader: normalisation passes ----------------------------------------------

// Replaces every occurrence of `from` by `to`; frees s.
static char *replace_all(char *s, const char *from, const char *to) {
    if (!s) return NULL;
    size_t nf = strlen(from), nt = strlen(to), count = 0;
    for (const char *p = strstr(s, from); p; p = strstr(p + nf, from)) count++;
    if (!count) return s;
    char *out = malloc(strlen(s) - count * nf + count * nt + 1);
    if (!out) {
        free(s);
        return NULL;
    }
    char *o = out;
    const char *p = s;
    for (const char *q = strstr(p, from); q; q = strstr(p, from)) {
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, nt);
        o += nt;
        p = q + nf;
    }
    strcpy(o, p);
    free(s);
    return out;
}

static int is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Removes "\left" and "\right" (but not "\leftarrow", "\rightarrow").
static char *drop_left_right(char *s) {
    if (!s) return NULL;
    char *o = s;
    for (const char *p = s; *p;) {
        size_t k = !strncmp(p, "\\left", 5) ? 5 : !strncmp(p, "\\right", 6) ? 6 : 0;
        if (k && !is_letter(p[k])) {
            p += k;
            continue;
        }
        *o++ = *p++;
    }
    *o = 0;
    return s;
}

// Unwraps \text{X}, \textbf{X}, \mbox{X}, \mathrm{X}, \textrm{X}, \mathbf{X} to X. A text
// group that ends the answer after a value is a unit, dropped: "5\text{ cm}" -> "5".
static char *unwrap_text(char *s) {
    static const char *cmds[] = {"\\text{", "\\textbf{", "\\textrm{", "\\mbox{", "\\mathrm{", "\\mathbf{"};
    if (!s) return NULL;
    for (;;) {
        char *hit = NULL;
        size_t k = 0;
        for (size_t c = 0; c < sizeof cmds / sizeof *cmds; c++) {
            char *h = strstr(s, cmds[c]);
            if (h && (!hit || h < hit)) hit = h, k = strlen(cmds[c]);
        }
        if (!hit) return s;
        char *open = hit + k - 1;
        size_t end = match_brace(open, strlen(open));
        if (!end) return s;
        char *after = open + end;
        // a unit: the group ends the string and follows a digit or '}', spaces between
        const char *q = hit;
        while (q > s && q[-1] == ' ') q--;
        int unit = *after == 0 && q > s && (isdigit((unsigned char)q[-1]) || q[-1] == '}');
        if (unit) {
            *hit = 0;
        } else {
            size_t inner = end - 2;
            memmove(hit, open + 1, inner);
            memmove(hit + inner, after, strlen(after) + 1);
        }
    }
}

// A bare one-character argument of cmd gets braces: "\sqrt3" -> "\sqrt{3}",
// "\frac12" -> "\frac{1}{2}", "\frac1{2}" -> "\frac{1}{2}".
static char *brace_args(char *s, const char *cmd, int nargs) {
    if (!s) return NULL;
    size_t nc = strlen(cmd);
    char *out = malloc(strlen(s) * 3 + 1);  // each bare char grows to 3
    if (!out) {
        free(s);
        return NULL;
    }
    char *o = out;
    for (const char *p = s; *p;) {
        if (strncmp(p, cmd, nc) || is_letter(p[nc])) {
            *o++ = *p++;
            continue;
        }
        memcpy(o, cmd, nc);
        o += nc;
        p += nc;
        for (int a = 0; a < nargs && *p; a++) {
            if (*p == '{') {
                size_t end = match_brace(p, strlen(p));
                if (!end) break;
                memcpy(o, p, end);
                o += end;
                p += end;
            } else if (*p == '\\' || *p == '[') {
                break;  // a command argument or \sqrt[n]: leave as is
            } else {
                *o++ = '{';
                *o++ = *p++;
                *o++ = '}';
            }
        }
    }
    *o = 0;
    free(s);
    return out;
}

static char *drop_spaces(char *s) {
    if (!s) return NULL;
    char *o = s;
    for (const char *p = s; *p; p++)
        if (!isspace((unsigned char)*p)) *o++ = *p;
    *o = 0;
    return s;
}

static int all_digits(const char *s, size_t n) {
    if (!n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

// Drops a "name = " or "name \in " prefix: a short variable name before the only '='.
// A name is letters, digits, '_' or a command like \theta.
static char *drop_assignment(char *s) {
    if (!s) return NULL;
    char *eq = strchr(s, '=');
    size_t skip = 0;
    if (eq && !strchr(eq + 1, '=')) skip = (size_t)(eq - s) + 1;
    char *in = strstr(s, "\\in");
    if (!skip && in && !is_letter(in[3])) skip = (size_t)(in - s) + 3;
    if (!skip) return s;
    size_t name = skip - (s[skip - 1] == '=' ? 1 : 3);
    while (name > 0 && s[name - 1] == ' ') name--;
    if (name == 0 || name > 8) return s;
    if (!(is_letter(s[0]) || s[0] == '\\')) return s;
    for (size_t i = 0; i < name; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '\\' || s[i] == '{' || s[i] == '}'))
            return s;
    memmove(s, s + skip, strlen(s + skip) + 1);
    return s;
}

// Thousands separators: "12,345,678" -> "12345678", "10{,}000" -> "10000", when every
// group after the first has three digits.
static char *drop_thousands(char *s) {
    s = replace_all(s, "{,}", ",");
    if (!s) return NULL;
    const char *p = s;
    if (*p == '-') p++;
    size_t lead = strspn(p, "0123456789");
    if (lead == 0 || lead > 3 || p[lead] != ',') return s;
    const char *q = p + lead;
    while (*q == ',') {
        if (strspn(q + 1, "0123456789") != 3) return s;
        q += 4;
    }
    if (*q && *q != '.') return s;
    if (*q == '.' && !all_digits(q + 1, strlen(q + 1))) return s;
    char *o = s;
    for (const char *r = s; *r; r++)
        if (*r != ',') *o++ = *r;
    *o = 0;
    return s;
}

// "10 dollars", "5 cm": a number followed by plain words is the number.
static char *drop_unit_words(char *s) {
    if (!s) return NULL;
    const char *p = s;
    if (*p == '-') p++;
    size_t n = strspn(p, "0123456789.,");
    if (!n || p[n] != ' ') return s;
    for (const char *q = p + n; *q; q++)
        if (!(is_letter(*q) || *q == ' ')) return s;
    s[(p - s) + n] = 0;
    return s;
}

// "a/b" with integers a, b -> "\frac{a}{b}".
static char *slash_to_frac(char *s) {
    if (!s) return NULL;
    char *slash = strchr(s, '/');
    if (!slash || strchr(slash + 1, '/')) return s;
    const char *a = s[0] == '-' ? s + 1 : s;
    if (!all_digits(a, (size_t)(slash - a)) || !all_digits(slash + 1, strlen(slash + 1))) return s;
    size_t n = strlen(s) + 16;
    char *out = malloc(n);
    if (!out) {
        free(s);
        return NULL;
    }
    *slash = 0;
    snprintf(out, n, "%s\\frac{%s}{%s}", s[0] == '-' ? "-" : "", a, slash + 1);
    free(s);
    return out;
}

// "0" before the number: ".5" -> "0.5", "-.5" -> "-0.5"; frees s.
static char *prepend_zero(char *s) {
    if (!s) return NULL;
    char *t = malloc(strlen(s) + 2);
    if (t) {
        size_t sign = s[0] == '-';
        memcpy(t, s, sign);
        t[sign] = '0';
        strcpy(t + sign + 1, s + sign);
    }
    free(s);
    return t;
}

char *grade_normalize(const char *answer) {
    char *s = dup_n(answer, strlen(answer));
    s = replace_all(s, "\n", " ");
    s = replace_all(s, "\\!", "");
    s = replace_all(s, "\\,", "");
    s = replace_all(s, "\\;", "");
    s = replace_all(s, "\\:", "");
    s = replace_all(s, "\\ ", " ");
    s = replace_all(s, "\\\\", "\\");
    s = replace_all(s, "\\displaystyle", "");
    s = replace_all(s, "tfrac", "frac");
    s = replace_all(s, "dfrac", "frac");
    s = drop_left_right(s);
    s = replace_all(s, "^{\\circ}", "");
    s = replace_all(s, "^\\circ", "");
    s = replace_all(s, "\\circ", "");
    s = replace_all(s, "\\degree", "");
    s = replace_all(s, "\xc2\xb0", "");  // the degree sign
    s = replace_all(s, "\\$", "");
    s = replace_all(s, "$", "");
    s = replace_all(s, "\\%", "");
    s = replace_all(s, "%", "");
    s = unwrap_text(s);
    s = drop_unit_words(s);
    s = replace_all(s, " .", " 0.");
    s = replace_all(s, "{.", "{0.");
    s = drop_assignment(s);
    s = drop_spaces(s);
    s = brace_args(s, "\\sqrt", 1);
    s = brace_args(s, "\\frac", 2);
    s = drop_thousands(s);
    s = slash_to_frac(s);
    if (s && (s[0] == '.' || (s[0] == '-' && s[1] == '.'))) s = prepend_zero(s);  // ".5" -> "0.5"
    return s;
}

// ---- the lenient grader: comparison ------------------------------------------------------

// A plain decimal "-12.50" filling s[0..n) exactly.
static int read_decimal(const char *s, size_t n, double *out) {
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    size_t d = i, dot = 0, digits = 0;
    for (; i < n; i++) {
        if (isdigit((unsigned char)s[i])) digits++;
        else if (s[i] == '.' && !dot) dot = 1;
        else return 0;
    }
    if (!digits || n - d > 64) return 0;
    char buf[72];
    memcpy(buf, s, n);
    buf[n] = 0;
    *out = strtod(buf, NULL);
    return 1;
}

// A number in normalised form: a decimal, \frac{A}{B}, -\frac{A}{B} or a mixed number
// "15\frac{39}{40}"; A and B are numbers themselves.
static int read_number(const char *s, size_t n, double *out) {
    if (read_decimal(s, n, out)) return 1;
    const char *f = NULL;
    for (size_t i = 0; i + 6 <= n && !f; i++)
        if (!memcmp(s + i, "\\frac{", 6)) f = s + i;
    if (!f) return 0;
    size_t pre = (size_t)(f - s);
    const char *a = f + 5, *end = s + n;
    size_t ea = match_brace(a, (size_t)(end - a));
    if (!ea || a + ea >= end || a[ea] != '{') return 0;
    const char *b = a + ea;
    size_t eb = match_brace(b, (size_t)(end - b));
    if (!eb || b + eb != end) return 0;
    double num, den, whole = 0;
    if (!read_number(a + 1, ea - 2, &num) || !read_number(b + 1, eb - 2, &den) || den == 0) return 0;
    double v = num / den;
    int neg = 0;
    if (pre == 1 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
    } else if (pre > 0) {
        // mixed number: an integer, then a positive proper fraction
        if (!read_decimal(s, pre, &whole) || memchr(s, '.', pre)) return 0;
        if (v < 0 || v >= 1) return 0;
        neg = s[0] == '-';
        v = fabs(whole) + v;
    }
    *out = neg ? -v : v;
    return 1;
}

// Relative tolerance 1e-9: enough for rounding in a/b, not for 1000000 vs 1000001.
static int numbers_equal(double a, double b) {
    double d = fabs(a - b);
    return d <= 1e-9 * fmax(fabs(a), fabs(b)) || d <= 1e-12;
}

// Splits s[0..n) at each sep outside (), [] and {}. Returns the number of parts, their
// bounds in starts and lens, or -1 for more than max parts.
static int split_top(const char *s, size_t n, const char *sep, const char **starts, size_t *lens, int max) {
    size_t ns = strlen(sep);
    int depth = 0, k = 0;
    size_t from = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] == '\\' && strncmp(s + i, sep, ns) != 0) {
            i++;
            continue;
        }
        if (i < n && (s[i] == '(' || s[i] == '[' || s[i] == '{')) depth++;
        else if (i < n && (s[i] == ')' || s[i] == ']' || s[i] == '}')) depth--;
        if (i == n || (depth == 0 && !strncmp(s + i, sep, ns))) {
            if (k == max) return -1;
            starts[k] = s + from;
            lens[k] = i - from;
            k++;
            from = i + ns;
            if (i < n) i += ns - 1;
        }
    }
    return k;
}

#define MAX_PARTS 64

// 1 if the bracket at s[0] closes at s[n-1] and not before: "(1,2)" yes, "(1)+(2)" no.
static int encloses(const char *s, size_t n) {
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            i++;
            continue;
        }
        if (s[i] == '(' || s[i] == '[' || s[i] == '{') depth++;
        else if ((s[i] == ')' || s[i] == ']' || s[i] == '}') && --depth == 0 && i + 1 < n) return 0;
    }
    return depth == 0;
}

static int lenient_equal_norm(const char *a, size_t na, const char *b, size_t nb, int depth) {
    if (na == nb && !memcmp(a, b, na)) return 1;
    double x, y;
    if (read_number(a, na, &x) && read_number(b, nb, &y)) return numbers_equal(x, y);
    if (depth > 8) return 0;
    // unions, then comma lists, then tuples / intervals
    static const char *seps[] = {"\\cup", ","};
    for (int si = 0; si < 2; si++) {
        const char *pa[MAX_PARTS], *pb[MAX_PARTS];
        size_t la[MAX_PARTS], lb[MAX_PARTS];
        int ka = split_top(a, na, seps[si], pa, la, MAX_PARTS);
        int kb = split_top(b, nb, seps[si], pb, lb, MAX_PARTS);
        if (ka > 1 || kb > 1) {
            if (ka != kb) return 0;
            for (int i = 0; i < ka; i++)
                if (!lenient_equal_norm(pa[i], la[i], pb[i], lb[i], depth + 1)) return 0;
            return 1;
        }
    }
    // one bracketed group, "(x)" or "[x)": brackets must match, contents are compared
    if (na >= 2 && nb >= 2 && strchr("([", a[0]) && strchr(")]", a[na - 1]) && a[0] == b[0] &&
        a[na - 1] == b[nb - 1]) {
        const char *pa[MAX_PARTS], *pb[MAX_PARTS];
        size_t la[MAX_PARTS], lb[MAX_PARTS];
        if (!encloses(a, na) || !encloses(b, nb)) return 0;
        int ka = split_top(a + 1, na - 2, ",", pa, la, MAX_PARTS);
        int kb = split_top(b + 1, nb - 2, ",", pb, lb, MAX_PARTS);
        if (ka < 1 || ka != kb) return 0;
        for (int i = 0; i < ka; i++)
            if (!lenient_equal_norm(pa[i], la[i], pb[i], lb[i], depth + 1)) return 0;
        return 1;
    }
    return 0;
}

// ---- the paper's grader: extraction ------------------------------------------------------

int grade_find_boxed(const char *text, const char **start, size_t *len) {
    // the first "boxed{" whose braces close; braces are counted as written
    // each box is read only up to the next "boxed{", as the paper's split('boxed{') does
    for (const char *p = strstr(text, "boxed{"); p; p = strstr(p + 6, "boxed{")) {
        const char *q = p + 6, *next = strstr(q, "boxed{");
        size_t n = next ? (size_t)(next - q) : strlen(q);
        int depth = 0;
        for (size_t i = 0; i < n; i++) {
            if (q[i] == '{') depth++;
            else if (q[i] == '}' && --depth < 0) {
                *start = q;
                *len = i + 1 < n && q[i + 1] == '%' ? i + 1 : i;  // "\boxed{50}%" keeps the '}', as the paper's
                return 1;
            }
        }
    }
    return 0;
}

// ---- the paper's grader: Python's string and number rules -------------------------------

static int is_py_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// str.strip() in place.
static char *py_strip(char *s) {
    if (!s) return NULL;
    size_t a = 0, n = strlen(s);
    while (a < n && is_py_space(s[a])) a++;
    while (n > a && is_py_space(s[n - 1])) n--;
    memmove(s, s + a, n - a);
    s[n - a] = 0;
    return s;
}

// A digit run with '_' only between digits, as float() takes it; returns its length.
static size_t py_digits(const char *s, char *out, size_t *o) {
    size_t i = 0;
    while (isdigit((unsigned char)s[i]) || (s[i] == '_' && i > 0 && isdigit((unsigned char)s[i - 1]) &&
                                            isdigit((unsigned char)s[i + 1]))) {
        if (s[i] != '_') out[(*o)++] = s[i];
        i++;
    }
    return i;
}

// float(s): 1 with the value, or 0 where Python raises ValueError.
static int py_float(const char *s, double *out) {
    size_t n = strlen(s), a = 0;
    while (a < n && is_py_space(s[a])) a++;
    while (n > a && is_py_space(s[n - 1])) n--;
    if (n - a > 300) return 0;
    char buf[320];
    size_t o = 0, i = a;
    if (s[i] == '+' || s[i] == '-') buf[o++] = s[i++];
    const char *word = s + i;
    size_t wn = n - i;
    if ((wn == 3 && !strncasecmp(word, "inf", 3)) || (wn == 8 && !strncasecmp(word, "infinity", 8)) ||
        (wn == 3 && !strncasecmp(word, "nan", 3))) {
        memcpy(buf + o, word, wn);
        buf[o + wn] = 0;
        *out = strtod(buf, NULL);
        return 1;
    }
    size_t whole = py_digits(s + i, buf, &o), frac = 0;
    i += whole;
    if (s[i] == '.') {
        buf[o++] = s[i++];
        frac = py_digits(s + i, buf, &o);
        i += frac;
    }
    if (!whole && !frac) return 0;
    if (s[i] == 'e' || s[i] == 'E') {
        buf[o++] = s[i++];
        if (s[i] == '+' || s[i] == '-') buf[o++] = s[i++];
        size_t ex = py_digits(s + i, buf, &o);
        if (!ex) return 0;
        i += ex;
    }
    if (i != n) return 0;
    buf[o] = 0;
    *out = strtod(buf, NULL);
    return 1;
}

// |x - round(x)| <= 1e-7; int(round(inf)) raises, so not finite is not whole.
static int py_is_int(double x) { return isfinite(x) && fabs(x - nearbyint(x)) <= 1e-7; }

// str(int(x)) for a finite x, exact as Python's big integers.
static char *py_int_str(double x) {
    char *out = malloc(330);
    if (out) snprintf(out, 330, "%.0f", trunc(x) + 0.0);
    return out;
}

// re.sub(r"(\d)(,)(\d\d\d)($|\D)", r"\1\3\4") until nothing changes.
static char *strip_number_commas(char *s) {
    if (!s) return NULL;
    for (int changed = 1; changed;) {
        changed = 0;
        size_t n = strlen(s), o = 0;
        for (size_t i = 0; i < n;) {
            int hit = i + 4 < n && isdigit((unsigned char)s[i]) && s[i + 1] == ',' && all_digits(s + i + 2, 3) &&
                      (i + 5 == n || !isdigit((unsigned char)s[i + 5]));
            if (!hit) {
                s[o++] = s[i++];
                continue;
            }
            s[o++] = s[i];
            memmove(s + o, s + i + 2, 3);
            o += 3;
            i += 5;
            if (i < n) s[o++] = s[i++];
            changed = 1;
        }
        s[o] = 0;
    }
    return s;
}

// grader.py's _str_is_int: the string, its number commas dropped, reads as a whole number.
static int str_is_int(const char *s) {
    char *t = strip_number_commas(dup_n(s, strlen(s)));
    double x;
    int yes = t && py_float(t, &x) && py_is_int(x);
    free(t);
    return yes;
}

// Digits, not all zeros: the regex 0*[1-9][0-9]*.
static int all_digits_nonzero(const char *s, size_t n) {
    if (!all_digits(s, n)) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '0') return 1;
    return 0;
}

// re.search(r"^-?[0-9]+.?/0*[1-9][0-9]*.?$", s): an integer fraction, one stray
// character allowed after each side.
static int is_frac(const char *s) {
    size_t n = strlen(s);
    if (n && s[n - 1] == '\n') n--;  // "$" also matches before a final newline
    const char *a = s[0] == '-' ? s + 1 : s;
    for (const char *slash = strchr(a, '/'); slash && (size_t)(slash - s) < n; slash = strchr(slash + 1, '/')) {
        size_t na = (size_t)(slash - a), nb = n - (size_t)(slash + 1 - s);
        const char *b = slash + 1;
        int num = all_digits(a, na) || (na > 1 && a[na - 1] != '\n' && all_digits(a, na - 1));
        int den = all_digits_nonzero(b, nb) || (nb > 1 && b[nb - 1] != '\n' && all_digits_nonzero(b, nb - 1));
        if (num && den) return 1;
    }
    return 0;
}

// ---- the paper's grader: the MATH normaliser (math_normalize.py) ---------------------------

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

// math_normalize.normalize_answer.
static char *mathd_normalize(const char *answer) {
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

// ---- the paper's grader: LaTeX to text, as pylatexenc's latex2text renders it -------------

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

// ---- the paper's grader: PRM800K's normaliser (grader.py _normalize) ----------------------

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

// grader.py _normalize.
static char *prm_normalize(const char *answer) {
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

// ---- the paper's grader: comparison (grader.py grade_answer) -------------------------------

#define MAX_ELEMS 64

// split_tuple: "(a,b)" or "[a,b)" with no other bracket inside splits at every comma.
// Returns the element count (0 for ""), -1 for too many; the elements are written into buf.
static int split_tuple(const char *expr, char *buf, char **elems) {
    strcpy(buf, expr);
    strip_number_commas(buf);
    size_t n = strlen(buf);
    if (n == 0) return 0;
    const char *brackets = "()[]";
    int tuple = n > 2 && strchr(brackets, buf[0]) && strchr(brackets, buf[n - 1]);
    for (size_t i = 1; tuple && i + 1 < n; i++)
        if (strchr(brackets, buf[i])) tuple = 0;
    if (!tuple) {
        elems[0] = buf;
        return 1;
    }
    buf[n - 1] = 0;
    int k = 0;
    for (char *p = buf + 1;; k++) {
        if (k == MAX_ELEMS) return -1;
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        elems[k] = py_strip(p);
        if (!comma) return k + 1;
        p = comma + 1;
    }
}

// should_allow_eval: at most two distinct letters (sqrt and frac not counted), no "^{",
// "^(", "^<digits>^" or a power of two or more digits.
static int sympy_allowed(const char *expr) {
    char *s = replace_all(replace_all(dup_n(expr, strlen(expr)), "sqrt", ""), "frac", "");
    if (!s) return 0;
    int seen[256] = {0}, letters = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int alpha = isalpha(*p) || (*p >= 0xC0);  // a UTF-8 lead byte: Python counts π as a letter
        if (alpha && !seen[*p]++) letters++;
    }
    free(s);
    if (letters > 2 || strstr(expr, "^{") || strstr(expr, "^(")) return 0;
    for (const char *p = strchr(expr, '^'); p; p = strchr(p + 1, '^')) {
        size_t d = strspn(p + 1, "0123456789");
        if (d >= 2 || (d == 1 && p[2] == '^')) return 0;
    }
    return 1;
}

// are_equal_under_sympy, with expr_equal standing in for simplify(truth - given) == 0.
static int equal_symbolic(const char *truth, const char *given) {
    size_t n = strlen(truth) + strlen(given) + 8;
    char *diff = malloc(n);
    if (!diff) return 0;
    snprintf(diff, n, "(%s)-(%s)", truth, given);
    int ok = sympy_allowed(diff) && expr_equal(truth, given) == 1;
    free(diff);
    return ok;
}

static int elements_equal(char **truth, char **given, int k) {
    for (int i = 0; i < k; i++) {
        if (is_frac(truth[i]) && is_frac(given[i])) {
            if (strcmp(truth[i], given[i])) return 0;  // unreduced fractions are wrong
        } else if (str_is_int(truth[i]) != str_is_int(given[i])) {
            return 0;  // an integer truth needs an integer answer
        } else if (!equal_symbolic(truth[i], given[i])) {
            return 0;
        }
    }
    return 1;
}

static int paper_equal_normalized(const char *truth, const char *given) {
    if (!strcmp(truth, given)) return 1;
    if (!*given) return 0;
    char *tb = malloc(strlen(truth) + 1), *gb = malloc(strlen(given) + 1);
    char *te[MAX_ELEMS], *ge[MAX_ELEMS];
    int eq = 0;
    if (tb && gb) {
        int kt = split_tuple(truth, tb, te), kg = split_tuple(given, gb, ge);
        size_t nt = strlen(truth), ng = strlen(given);
        if (kt > 1 && (!nt || truth[0] != given[0] || truth[nt - 1] != given[ng - 1])) eq = 0;
        else if (kt < 0 || kt != kg) eq = 0;
        else eq = elements_equal(te, ge, kt);
    }
    free(tb);
    free(gb);
    return eq;
}

static int paper_equal(const char *given, const char *truth) {
    char *mt = mathd_normalize(truth), *mg = mathd_normalize(given);
    int eq = mt && mg && !strcmp(mt, mg);
    free(mt);
    free(mg);
    if (eq) return 1;
    char *nt = prm_normalize(truth), *ng = prm_normalize(given);
    eq = nt && ng && paper_equal_normalized(nt, ng);
    free(nt);
    free(ng);
    return eq;
}

// ---- the public calls ------------------------------------------------------------------

static int lenient_equal(const char *given, const char *truth) {
    char *a = grade_normalize(given), *b = grade_normalize(truth);
    int eq = a && b && lenient_equal_norm(a, strlen(a), b, strlen(b), 0);
    free(a);
    free(b);
    return eq;
}

int grade_equal_as(const char *given, const char *truth, GradeMode mode) {
    if (!given || !truth) return 0;
    return mode == GRADE_LENIENT ? lenient_equal(given, truth) : paper_equal(given, truth);
}

int grade_equal(const char *given, const char *truth) { return grade_equal_as(given, truth, GRADE_PAPER); }

char *grade_extract_as(const char *text, GradeMode mode) {
    const char *s;
    size_t n;
    int found = mode == GRADE_LENIENT ? lenient_find_boxed(text, &s, &n) : grade_find_boxed(text, &s, &n);
    return found ? dup_n(s, n) : NULL;
}

int grade_solution_as(const char *solution, const char *truth, GradeMode mode) {
    char *boxed = grade_extract_as(solution, mode);
    // the paper's extract_answer returns the string "None" when there is no box, and grades it
    int ok = boxed ? grade_equal_as(boxed, truth, mode) : mode == GRADE_PAPER && grade_equal_as("None", truth, mode);
    free(boxed);
    return ok;
}

int grade_solution(const char *solution, const char *truth) { return grade_solution_as(solution, truth, GRADE_PAPER); }

char *grade_extract_boxed(const char *text) { return grade_extract_as(text, GRADE_PAPER); }

int grade_mode_find(const char *name, GradeMode *mode) {
    if (!strcmp(name, "paper")) *mode = GRADE_PAPER;
    else if (!strcmp(name, "lenient")) *mode = GRADE_LENIENT;
    else return -1;
    return 0;
}

const char *grade_mode_name(GradeMode mode) { return mode == GRADE_LENIENT ? "lenient" : "paper"; }
