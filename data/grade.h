// data/grade.h -- answer extraction and grading, as in the MATH benchmark's grader.
//
// Extraction: the content of the FIRST \boxed{...}, \fbox{...} or "\boxed 5", braces
// nested, as the paper's evaluation code does. No box, no answer: wrong.
//
// Equivalence (grade_equal): Hendrycks et al.'s strip_string normalisation, extended:
//   - whitespace, "\!", "\,", "\;", "\ ", \left/\right, \displaystyle removed;
//   - \dfrac, \tfrac -> \frac; \frac12 -> \frac{1}{2}; \sqrt3 -> \sqrt{3};
//   - \text{...}, \textbf{...}, \mbox{...}, \mathrm{...} unwrapped; a trailing unit word
//     after a number ("5 \text{ cm}", "10 dollars") dropped;
//   - \$, $, \%, %, ^\circ, ^{\circ}, \degree removed;
//   - "k = 5", "x=5" -> "5" (a short variable name before one '=');
//   - numbers compared by value: 0.5 == \frac{1}{2} == 1/2 == .5 == 0.50, 12,345 == 12345,
//     "5.0" == "5", -\frac{1}{2} == \frac{-1}{2}; relative tolerance 1e-9;
//   - tuples, lists and intervals compared element-wise: "(1, 2)" == "(1,2)",
//     "[0, \frac12)" == "[0,0.5)"; brackets must match; a top-level comma list "1, 2" is
//     compared element-wise too;
//   - otherwise the normalised strings must be equal.
#ifndef O1P_GRADE_H
#define O1P_GRADE_H

#include <stddef.h>

// Finds the first \boxed or \fbox in text: returns 1 with its content, inside the
// braces, in *start and *len; 0 when there is none or it is unclosed.
int grade_find_boxed(const char *text, const char **start, size_t *len);
// malloc'ed copy of the first boxed content, or NULL (none, or out of memory).
char *grade_extract_boxed(const char *text);
// malloc'ed normalised form of an answer, or NULL when out of memory: what grade_equal
// compares when the answers are not numbers or tuples.
char *grade_normalize(const char *answer);
// 1 if the answers are equivalent, else 0.
int grade_equal(const char *given, const char *truth);
// Grades the boxed answer of a solution: 1 correct, 0 wrong or no box.
int grade_solution(const char *solution, const char *truth);

#endif
