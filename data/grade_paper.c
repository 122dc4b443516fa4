// data/grade_paper.c -- the paper's grader (GRADE_PAPER, grade.h: PRM800K grader.py with
// math_normalize.py): its extraction, the Python string and number rules its passes
// follow, and grade_answer's comparison of the normalised answers (the normalisers are in
// grade_paper_normalize.c). Each pass names the Python original it stands for.
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "grade_internal.h"

// ---- extraction ----------------------------------------------------------------------------

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

// ---- Python's string and number rules ------------------------------------------------------

static int is_py_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

char *py_strip(char *s) {
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

int py_float(const char *s, double *out) {
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

int py_is_int(double x) { return isfinite(x) && fabs(x - nearbyint(x)) <= 1e-7; }

char *py_int_str(double x) {
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

int str_is_int(const char *s) {
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

// ---- comparison (grader.py grade_answer) ---------------------------------------------------

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

int paper_equal(const char *given, const char *truth) {
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
