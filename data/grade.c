// data/grade.c -- the graders' shared string passes and the public calls: extraction and
// verdicts under a GradeMode (grade.h). The lenient grader is in grade_lenient.c, the
// paper's in grade_paper.c with its normalisers in grade_paper_normalize.c.
//
// Both graders rewrite answers in passes. A pass takes a malloc'ed string and returns
// one, freeing or reusing its input; NULL (out of memory) passes through.
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "grade_internal.h"

// ---- shared string passes ------------------------------------------------------------------

size_t match_brace(const char *s, size_t n) {
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

char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *replace_all(char *s, const char *from, const char *to) {
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

int all_digits(const char *s, size_t n) {
    if (!n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

char *prepend_zero(char *s) {
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

// ---- the public calls ----------------------------------------------------------------------

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
