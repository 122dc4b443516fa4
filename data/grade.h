// data/grade.h -- answer extraction and grading.
//
// Two graders (GradeMode):
//
// GRADE_PAPER, the default: the official O1-Pruner code's, which is PRM800K's
// grader.py with Hendrycks' math_normalize.py, rewritten in C from their behaviour.
//   - extraction: the content of the first "boxed{" whose braces close, braces counted as
//     written; "\boxed{50}%" gives "50}". No box: the answer is the string "None".
//   - equal when the MATH normaliser (strip_string: \left, \right, \!, \$, \%, degrees,
//     a "\text{ unit}" tail, "k=" prefixes, \sqrt3, \frac12, a/b) makes both the same;
//   - else PRM800K's normaliser: \text{} unwrapped, units and $ % dropped, "or"/"and" as
//     commas, LaTeX rendered to text as pylatexenc does (\frac{a}{b} -> a/b, \sqrt{x} ->
//     sqrt(x), \pi -> pi), spaces and braces dropped, lower case, whole numbers as integers;
//   - equal strings are equal; "(a,b)" / "[a,b)" tuples compare element by element with
//     the same brackets; per element: integer fractions must match as written (2/4 is
//     not 1/2), an integer truth needs an integer answer, else the difference must vanish
//     identically (sympy's simplify in the original; here expr_equal, data/expr.h), tried
//     only with at most two letters and no "^{", "^(" or long powers.
//
// GRADE_LENIENT: o1p's earlier grader, MATH's strip_string extended: numbers by value
// (0.5 == 1/2 == 2/4, within 1e-9), trailing unit words, "name =" and "\in" prefixes,
// tuples, lists and unions element-wise; extraction takes \boxed{}, \fbox{} and "\boxed 5".
#ifndef O1P_GRADE_H
#define O1P_GRADE_H

#include <stddef.h>

typedef enum { GRADE_PAPER, GRADE_LENIENT } GradeMode;

// The grader named "paper" or "lenient" into *mode: 0, or -1 for another name.
int grade_mode_find(const char *name, GradeMode *mode);
// "paper" or "lenient".
const char *grade_mode_name(GradeMode mode);

// The paper's extraction: returns 1 with the content of the first closed "boxed{" in
// *start and *len; 0 when there is none.
int grade_find_boxed(const char *text, const char **start, size_t *len);
// malloc'ed copy of the boxed answer under mode, or NULL (none, or out of memory).
char *grade_extract_as(const char *text, GradeMode mode);
// grade_extract_as(text, GRADE_PAPER).
char *grade_extract_boxed(const char *text);
// malloc'ed normalised form under the lenient grader, or NULL when out of memory.
char *grade_normalize(const char *answer);
// 1 if the given answer is equivalent to the truth under mode, else 0.
int grade_equal_as(const char *given, const char *truth, GradeMode mode);
int grade_equal(const char *given, const char *truth);  // GRADE_PAPER
// Grades the boxed answer of a full response: 1 correct, 0 wrong. Without a box the
// paper's grader grades the string "None", the lenient one says wrong.
int grade_solution_as(const char *solution, const char *truth, GradeMode mode);
int grade_solution(const char *solution, const char *truth);  // GRADE_PAPER

#endif
