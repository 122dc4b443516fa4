// tests/test_grade.c -- boxed extraction, each normalisation rule of the grader, and the
// paper's datasets: every ground_truth_answer must grade equal to the boxed answer of
// its own ground_truth_solution (datasets, relative to the repo root).
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "../data/dataset.h"
#include "../data/grade.h"
#include "test.h"

static void expect_box(const char *text, const char *want) {
    char *got = grade_extract_boxed(text);
    if (!want) CHECK(got == NULL, "no box expected in %s, got %s", text, got);
    else CHECK(got && strcmp(got, want) == 0, "box of %s: want '%s' got '%s'", text, want, got ? got : "(none)");
    free(got);
}

static void test_extract(void) {
    expect_box("so \\boxed{42}.", "42");
    expect_box("\\boxed{\\frac{1}{2}} and later \\boxed{3}", "\\frac{1}{2}");  // the first
    expect_box("nested \\boxed{\\sqrt{\\frac{a}{b}}+{c}}", "\\sqrt{\\frac{a}{b}}+{c}");
    expect_box("set \\boxed{\\{1,2\\}}", "\\{1,2\\}");                        // escaped braces
    expect_box("\\fbox{7} then \\boxed{8}", "7");
    expect_box("$\\boxed 5$", "5");
    expect_box("no box here: 42", NULL);
    expect_box("unclosed \\boxed{12", NULL);
    expect_box("\\boxed{}", "");
    CHECK(grade_solution("thus \\boxed{0.5}", "\\frac12"), "grade_solution");
    CHECK(!grade_solution("the answer is 5", "5"), "missing box is wrong");
    CHECK(!grade_solution("\\boxed{6}", "5"), "wrong answer");
}

typedef struct {
    const char *a, *b;
    int eq;
} Case;

static void test_rules(void) {
    static const Case cases[] = {
        // whitespace, \left \right, spacing commands
        {" 1 + x ", "1+x", 1},
        {"\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})", 1},
        {"\\leftarrow", "arrow", 0},
        {"1\\,000", "1000", 1},
        {"10\\!000", "10000", 1},
        // \dfrac / \tfrac
        {"\\dfrac{33}{100}", "\\frac{33}{100}", 1},
        {"\\tfrac{1}{3}", "\\frac13", 1},
        // \text{} and units
        {"\\text{(C)}", "(C)", 1},
        {"5\\text{ cm}", "5", 1},
        {"12 \\text{ inches}", "12", 1},
        {"10 dollars", "10", 1},
        {"\\textbf{Monday}", "Monday", 1},
        {"\\mbox{yes}", "yes", 1},
        // \$ and \%
        {"\\$18", "18", 1},
        {"$18.00", "18", 1},
        {"25\\%", "25", 1},
        {"25%", "25", 1},
        // degrees
        {"40^\\circ", "40", 1},
        {"40^{\\circ}", "40", 1},
        {"40\xc2\xb0", "40", 1},
        // trailing .0, leading 0.
        {"5.0", "5", 1},
        {"5.00", "5", 1},
        {".5", "0.5", 1},
        {"-.25", "-0.25", 1},
        {".0000672", "0.0000672", 1},
        // k = prefixes
        {"k = 5", "5", 1},
        {"x=5", "5", 1},
        {"\\theta = 30", "30", 1},
        {"x \\in [-2,7]", "[-2,7]", 1},
        {"x+y=5", "5", 0},
        // \sqrt3, \frac12
        {"\\sqrt3", "\\sqrt{3}", 1},
        {"11\\sqrt2", "11\\sqrt{2}", 1},
        {"\\frac12", "\\frac{1}{2}", 1},
        {"\\frac1{2}", "\\frac{1}{2}", 1},
        {"\\frac{\\sqrt3}2", "\\frac{\\sqrt{3}}{2}", 1},
        {"\\sqrt[3]{2}", "\\sqrt[3]{2}", 1},
        // 0.5 vs \frac{1}{2}, a/b vs \frac{a}{b}
        {"0.5", "\\frac{1}{2}", 1},
        {"1/2", "\\frac{1}{2}", 1},
        {"-3/4", "-\\frac{3}{4}", 1},
        {"\\frac{-3}{4}", "-0.75", 1},
        {"3/4", "\\frac{4}{3}", 0},
        {"0.33", "\\frac{1}{3}", 0},
        {"\\frac{2}{4}", "\\frac{1}{2}", 1},
        {"15\\frac{39}{40}", "\\frac{639}{40}", 1},
        {"137 \\frac{1}{2}", "137.5", 1},
        // thousands separators
        {"12,345", "12345", 1},
        {"1,000,000", "1000000", 1},
        {"10{,}000", "10000", 1},
        {"1,000.5", "1000.5", 1},
        {"1,00", "100", 0},
        // tuples, lists, intervals element-wise
        {"(1, 2)", "(1,2)", 1},
        {"(0.5, 2)", "(\\frac{1}{2}, 2)", 1},
        {"[0, \\frac12)", "[0,0.5)", 1},
        {"(0, 1]", "[0, 1]", 0},
        {"(1,2)", "(1,2,3)", 0},
        {"3, 5, 7", "3,5,7", 1},
        {"3, 5, 7", "3, 7, 5", 0},
        {"(2,12) \\cup (12,102)", "(2, 12)\\cup(12, 102)", 1},
        {"(-\\infty, 0]", "(-\\infty,0]", 1},
        {"(1)+(2)", "(1)+(3)", 0},
        // plain mismatches and numbers
        {"5", "6", 0},
        {"5", "-5", 0},
        {"1000000", "1000001", 0},
        {"x^2+1", "x^2 + 1", 1},
        {"2516_8", "2516_8", 1},
        {"", "0", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const Case *c = &cases[i];
        int got = grade_equal(c->a, c->b), back = grade_equal(c->b, c->a);
        CHECK(got == c->eq && back == c->eq, "grade_equal('%s', '%s') = %d/%d, want %d", c->a, c->b, got, back,
              c->eq);
    }
    char *n = grade_normalize("\\left( \\dfrac12, 3 \\right)");
    CHECK(n && strcmp(n, "(\\frac{1}{2},3)") == 0, "normalize: %s", n);
    free(n);
}

// The dataset check: (file, minimum count of agreeing pairs, the explained exceptions).
static void test_dataset(const char *file, int min_ok, const int *expected_bad, int n_expected_bad) {
    char path[256];
    snprintf(path, sizeof path, "datasets/%s", file);
    Dataset ds;
    Err e = {{0}};
    if (dataset_load(path, &ds, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    int ok = 0, with_solution = 0, k = 0;
    for (int i = 0; i < ds.n; i++) {
        const Example *x = &ds.ex[i];
        if (!x->solution) continue;
        with_solution++;
        if (grade_solution(x->solution, x->answer)) {
            ok++;
            continue;
        }
        char *box = grade_extract_boxed(x->solution);
        printf("  %s[%d]: boxed '%s' vs answer '%s'\n", file, i, box ? box : "(none)", x->answer);
        free(box);
        CHECK(k < n_expected_bad && expected_bad[k] == i, "%s[%d] is not an explained exception", file, i);
        k++;
    }
    printf("%s: %d of %d ground-truth solutions grade equal to their answer (%d records with a null "
           "answer skipped)\n", file, ok, with_solution, ds.skipped);
    CHECK(k == n_expected_bad, "%s: %d exceptions, %d explained", file, k, n_expected_bad);
    CHECK(ok >= min_ok, "%s: %d agreeing, want at least %d", file, ok, min_ok);
    dataset_free(&ds);
}

int main(void) {
    test_extract();
    test_rules();
    // math_test.json: all 458 agree (the one that differs as a string, [239]
    // "15\frac{39}{40}" vs "\frac{639}{40}", is a mixed number, which the grader reads).
    test_dataset("math_test.json", 458, NULL, 0);
    // math_train_hard.json: 3 records have null answers and solutions (skipped by the
    // loader); of the other 408, one disagrees: [405] (loaded index) boxes an
    // intermediate \frac{\pi}{4} first and the answer \frac{5\pi}{4} later; the paper's
    // first-box rule grades it wrong, as the paper's code would.
    static const int hard_bad[] = {405};
    test_dataset("math_train_hard.json", 407, hard_bad, 1);
    return test_summary();
}
