// data/grade_lenient.c -- the lenient grader (GRADE_LENIENT, grade.h): its extraction,
// its normalisation passes (MATH's strip_string extended) and its comparison: normalised
// strings compare as numbers when both read as one, element-wise when both are tuples,
// intervals or lists, else as strings.
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grade_internal.h"

// ---- extraction ----------------------------------------------------------------------------

int lenient_find_boxed(const char *text, const char **start, size_t *len) {
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

// ---- normalisation passes ------------------------------------------------------------------

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

// ---- comparison ----------------------------------------------------------------------------

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

int lenient_equal(const char *given, const char *truth) {
    char *a = grade_normalize(given), *b = grade_normalize(truth);
    int eq = a && b && lenient_equal_norm(a, strlen(a), b, strlen(b), 0);
    free(a);
    free(b);
    return eq;
}
