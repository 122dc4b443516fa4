// data/expr.c -- recursive-descent evaluation of grader expressions at sample points.
//
// Grammar (Python's precedence, which sympy's parser keeps):
//   sum     := term (('+' | '-') term)*
//   term    := unary (('*' | '/') unary | implicit unary)*
//   unary   := ('-' | '+') unary | power
//   power   := postfix ('**' unary)?        right-associative, binds tighter than unary -
//   postfix := primary '!'*
//   primary := number | name | name '(' sum ')' | '(' sum ')'
#include "expr.h"

#include <complex.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s;    // the text, '^' already read as '**'
    size_t i;         // the read position
    int bad;          // set on a syntax error
    int depth;        // nesting of unary operators and parentheses, bounded
    double vars[26];  // the value of each unknown letter at this point
} Parser;

static double complex parse_sum(Parser *p);
static double complex parse_unary(Parser *p);

static int peek_is(Parser *p, const char *tok) { return !strncmp(p->s + p->i, tok, strlen(tok)); }

// "**" or "^": a power operator.
static size_t power_op(Parser *p) { return peek_is(p, "**") ? 2 : p->s[p->i] == '^' ? 1 : 0; }

// A Python number literal: digits with '_' between them, a '.', an exponent. A whole
// number with a leading zero ("049") is a syntax error, as in Python.
static double complex parse_number(Parser *p) {
    char buf[128];
    size_t n = 0, i = p->i;
    const char *s = p->s;
    for (; isdigit((unsigned char)s[i]) || s[i] == '.' || (s[i] == '_' && isdigit((unsigned char)s[i + 1])); i++)
        if (s[i] != '_' && n + 1 < sizeof buf) buf[n++] = s[i];
    int sign = s[i] && (s[i + 1] == '+' || s[i + 1] == '-');
    if ((s[i] == 'e' || s[i] == 'E') && isdigit((unsigned char)s[i + 1 + sign])) {
        for (int k = 0; k < 1 + sign; k++)
            if (n + 1 < sizeof buf) buf[n++] = s[i++];
        for (; isdigit((unsigned char)s[i]); i++)
            if (n + 1 < sizeof buf) buf[n++] = s[i];
    }
    buf[n] = 0;
    char *end;
    double v = strtod(buf, &end);
    int whole = strspn(buf, "0123456789") == n;
    if (n == 0 || *end || strchr(buf, '.') != strrchr(buf, '.') || (whole && buf[0] == '0' && strspn(buf, "0") != n))
        p->bad = 1;
    p->i = i;
    return v;
}

// A name: sqrt(...), pi, or a product of unknown letters.
static double complex parse_name(Parser *p) {
    size_t n = 0;
    while (isalpha((unsigned char)p->s[p->i + n])) n++;
    const char *name = p->s + p->i;
    p->i += n;
    if (n == 4 && !strncmp(name, "sqrt", 4)) {
        if (p->s[p->i] != '(') {
            p->bad = 1;
            return 0;
        }
        p->i++;
        double complex v = parse_sum(p);
        if (p->s[p->i] != ')') p->bad = 1;
        else p->i++;
        return csqrt(v);
    }
    if (n == 2 && !strncmp(name, "pi", 2)) return 3.14159265358979323846;
    if (p->s[p->i] == '(' || isdigit((unsigned char)p->s[p->i]) || p->s[p->i] == '_') p->bad = 1;  // f(x), x2
    double complex v = 1;
    for (size_t k = 0; k < n; k++) v *= p->vars[tolower((unsigned char)name[k]) - 'a'];
    return v;
}

static double complex parse_primary(Parser *p) {
    char c = p->s[p->i];
    if (c == '(') {
        p->i++;
        double complex v = parse_sum(p);
        if (p->s[p->i] != ')') p->bad = 1;
        else p->i++;
        return v;
    }
    if (isdigit((unsigned char)c) || c == '.') return parse_number(p);
    if (isalpha((unsigned char)c)) return parse_name(p);
    p->bad = 1;
    return 0;
}

// n! for a whole n >= 0; anything else is not a number here.
static double complex parse_postfix(Parser *p) {
    double complex v = parse_primary(p);
    while (p->s[p->i] == '!' && p->s[p->i + 1] != '=') {
        p->i++;
        double r = creal(v);
        if (cimag(v) != 0 || r < 0 || r != floor(r) || r > 170) p->bad = 1;
        else v = tgamma(r + 1);
    }
    return v;
}

// Whole exponents by repeated multiplication: exact for (x+1)^2, and real for negatives.
static double complex power(double complex b, double complex e) {
    double r = creal(e);
    if (cimag(e) == 0 && r == floor(r) && fabs(r) <= 64) {
        double complex v = 1;
        for (int k = 0; k < (int)fabs(r); k++) v *= b;
        return r < 0 ? 1 / v : v;
    }
    return cpow(b, e);
}

static double complex parse_power(Parser *p) {
    double complex v = parse_postfix(p);
    size_t op = power_op(p);
    if (!op) return v;
    p->i += op;
    return power(v, parse_unary(p));
}

static double complex parse_unary(Parser *p) {
    if (p->depth > 500) {  // no deeper than a sane answer: the stack stays small
        p->bad = 1;
        return 0;
    }
    p->depth++;
    double complex v;
    if (p->s[p->i] == '-') {
        p->i++;
        v = -parse_unary(p);
    } else if (p->s[p->i] == '+') {
        p->i++;
        v = parse_unary(p);
    } else {
        v = parse_power(p);
    }
    p->depth--;
    return v;
}

// A factor can start here without an operator: implicit multiplication.
static int starts_factor(Parser *p) {
    char c = p->s[p->i];
    return c == '(' || isalnum((unsigned char)c) || c == '.';
}

static double complex parse_term(Parser *p) {
    double complex v = parse_unary(p);
    while (!p->bad) {
        char c = p->s[p->i];
        if (c == '*' && p->s[p->i + 1] != '*') {
            p->i++;
            v *= parse_unary(p);
        } else if (c == '/') {
            p->i++;
            v /= parse_unary(p);
        } else if (starts_factor(p)) {
            v *= parse_unary(p);
        } else {
            break;
        }
    }
    return v;
}

static double complex parse_sum(Parser *p) {
    double complex v = parse_term(p);
    while (!p->bad && (p->s[p->i] == '+' || p->s[p->i] == '-')) {
        char op = p->s[p->i++];
        double complex t = parse_term(p);
        v = op == '+' ? v + t : v - t;
    }
    return v;
}

// Evaluates s with the unknowns at vars; 0 on a syntax error or a value that is not finite.
static int eval_at(const char *s, const double *vars, double complex *out) {
    Parser p = {.s = s};
    memcpy(p.vars, vars, sizeof p.vars);
    *out = parse_sum(&p);
    if (p.bad || p.s[p.i] != 0) return 0;
    return isfinite(creal(*out)) && isfinite(cimag(*out));
}

int expr_equal(const char *a, const char *b) {
    // fixed seeds: the same verdict on every run
    unsigned long long state = 0x9E3779B97F4A7C15ULL;
    for (int point = 0; point < 4; point++) {
        double vars[26];
        for (int k = 0; k < 26; k++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            double mag = 0.5 + 2.0 * (double)(state >> 11) / 9007199254740992.0;
            vars[k] = (k + point) % 2 ? -mag : mag;  // each unknown takes both signs
        }
        double complex va, vb;
        if (!eval_at(a, vars, &va) || !eval_at(b, vars, &vb)) return -1;
        // a few rounding errors, no more: sympy tells 4.6666666666667 from 14/3
        if (cabs(va - vb) > 2e-15 * fmax(cabs(va), cabs(vb))) return 0;
    }
    return 1;
}
