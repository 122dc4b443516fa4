// data/expr.h -- a small expression evaluator standing in for sympy's simplify in the
// paper's grader (PRM800K grader.py): are two expressions identically equal?
//
// Syntax: the text the grader hands to sympy after its normalisation (lower case, no
// spaces, no braces, "^" for powers): numbers, + - * / ^ **, postfix !, parentheses,
// implicit multiplication ("2x", "3sqrt(2)", "(x+1)(x-1)"), sqrt(...), pi, and single
// letters as unknowns (a multi-letter name is a product of letters, as sympy's
// split_symbols reads it). "e" and "i" are unknowns too: sympy's names are E and I.
//
// Equality: both sides are evaluated in complex arithmetic (principal branches, as
// sympy's) at four seeded random points, each unknown twice positive and twice negative;
// equal when the difference vanishes at every point within 2e-15 of the magnitude
// (a few roundings: a 13-digit decimal is not the fraction, as for sympy).
#ifndef O1P_EXPR_H
#define O1P_EXPR_H

// 1 if a and b are identically equal, 0 if not, -1 if either does not parse or a value
// is not finite.
int expr_equal(const char *a, const char *b);

#endif
