// data/grade_internal.h -- what the grader's files share: grade.c (the string passes
// both graders use), grade_lenient.c, grade_paper.c and grade_paper_normalize.c. Not part
// of the public API.
//
// A pass takes a malloc'ed string and returns one, freeing or reusing its input; NULL
// (out of memory) passes through.
#ifndef O1P_GRADE_INTERNAL_H
#define O1P_GRADE_INTERNAL_H

#include <stddef.h>

#include "grade.h"

// ---- grade.c: shared string passes

// The index just past the '}' that matches the '{' at s[0], or 0 if unclosed. A
// backslash escapes the next character: "\{" and "\}" do not count.
size_t match_brace(const char *s, size_t n);
// malloc'ed copy of s[0..n), or NULL.
char *dup_n(const char *s, size_t n);
// Replaces every occurrence of `from` by `to`; frees s.
char *replace_all(char *s, const char *from, const char *to);
// s[0..n) is one digit or more.
int all_digits(const char *s, size_t n);
// "0" before the number: ".5" -> "0.5", "-.5" -> "-0.5"; frees s.
char *prepend_zero(char *s);

// ---- grade_lenient.c

// The lenient finder: the first \\boxed or \\fbox, or "\\boxed 5"; an unclosed first box is none.
int lenient_find_boxed(const char *text, const char **start, size_t *len);
// The lenient verdict: 1 if given is equivalent to truth, else 0.
int lenient_equal(const char *given, const char *truth);

// ---- grade_paper.c: Python's string and number rules, the paper's verdict

// str.strip() in place.
char *py_strip(char *s);
// float(s): 1 with the value, or 0 where Python raises ValueError.
int py_float(const char *s, double *out);
// |x - round(x)| <= 1e-7; int(round(inf)) raises, so not finite is not whole.
int py_is_int(double x);
// str(int(x)) for a finite x, exact as Python's big integers.
char *py_int_str(double x);
// grader.py's _str_is_int: the string, its number commas dropped, reads as a whole number.
int str_is_int(const char *s);
// grader.py's grade_answer: 1 if given is equivalent to truth, else 0.
int paper_equal(const char *given, const char *truth);

// ---- grade_paper_normalize.c

// math_normalize.normalize_answer.
char *mathd_normalize(const char *answer);
// grader.py _normalize.
char *prm_normalize(const char *answer);

#endif
