// tests/test_grade.c -- the graders (data/grade.h). The paper's grader (the default) on
// the behaviours of PRM800K's grader.py + math_normalize.py: extraction, each rule, the
// 458 pre-generated answers of math_test.json against the official grader's verdicts,
// every truth of the four datasets against itself and its boxed solution, and a corpus
// of equivalent and near-miss rewrites. The lenient grader keeps its own rule table.
// `test_grade --corpus FILE` writes the corpus as `o1p grade` input (tests/test_grade_paper.sh).
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "../base/json.h"
#include "../data/dataset.h"
#include "../data/expr.h"
#include "../data/grade.h"
#include "test.h"

static void expect_box(const char *text, GradeMode mode, const char *want) {
    char *got = grade_extract_as(text, mode);
    if (!want) CHECK(got == NULL, "no box expected in %s, got %s", text, got);
    else CHECK(got && strcmp(got, want) == 0, "box of %s: want '%s' got '%s'", text, want, got ? got : "(none)");
    free(got);
}

// The graders by name (o1p grade, presample, eval --grader; the files' "grader").
static void test_mode_names(void) {
    GradeMode m = GRADE_LENIENT;
    CHECK(grade_mode_find("paper", &m) == 0 && m == GRADE_PAPER, "paper");
    CHECK(grade_mode_find("lenient", &m) == 0 && m == GRADE_LENIENT, "lenient");
    CHECK(grade_mode_find("Paper", &m) == -1 && m == GRADE_LENIENT, "another name");
    CHECK(!strcmp(grade_mode_name(GRADE_PAPER), "paper") && !strcmp(grade_mode_name(GRADE_LENIENT), "lenient"),
          "names");
}

static void test_extract(void) {
    expect_box("so \\boxed{42}.", GRADE_PAPER, "42");
    expect_box("\\boxed{\\frac{1}{2}} and later \\boxed{3}", GRADE_PAPER, "\\frac{1}{2}");  // the first
    expect_box("nested \\boxed{\\sqrt{\\frac{a}{b}}+{c}}", GRADE_PAPER, "\\sqrt{\\frac{a}{b}}+{c}");
    expect_box("set \\boxed{\\{1,2\\}}", GRADE_PAPER, "\\{1,2\\}");
    expect_box("unclosed \\boxed{12 then \\boxed{7}", GRADE_PAPER, "7");  // the first that closes
    expect_box("unclosed \\boxed{12", GRADE_PAPER, NULL);
    expect_box("\\boxed{50}% of it", GRADE_PAPER, "50}");  // the paper's extract_answer keeps the '}'
    expect_box("\\fbox{7} then \\boxed{8}", GRADE_PAPER, "8");
    expect_box("$\\boxed 5$", GRADE_PAPER, NULL);
    expect_box("\\boxed{}", GRADE_PAPER, "");
    expect_box("no box here: 42", GRADE_PAPER, NULL);
    expect_box("\\fbox{7} then \\boxed{8}", GRADE_LENIENT, "7");
    expect_box("$\\boxed 5$", GRADE_LENIENT, "5");
    expect_box("unclosed \\boxed{12", GRADE_LENIENT, NULL);
    CHECK(grade_solution("thus \\boxed{0.5}", "\\frac12"), "grade_solution");
    CHECK(!grade_solution("the answer is 5", "5"), "missing box is wrong");
    CHECK(grade_solution("the answer is 5", "\\text{None}"), "no box grades the string None, as the paper's");
    CHECK(!grade_solution_as("the answer is 5", "\\text{None}", GRADE_LENIENT), "lenient: no box is wrong");
    CHECK(!grade_solution("\\boxed{6}", "5"), "wrong answer");
}

typedef struct {
    const char *a, *b;  // given, truth
    int eq;
} Case;

static void check_cases(const Case *cases, size_t n, GradeMode mode, int both_ways) {
    for (size_t i = 0; i < n; i++) {
        const Case *c = &cases[i];
        int got = grade_equal_as(c->a, c->b, mode), back = both_ways ? grade_equal_as(c->b, c->a, mode) : got;
        CHECK(got == c->eq && back == c->eq, "%s grade('%s', '%s') = %d/%d, want %d",
              mode == GRADE_PAPER ? "paper" : "lenient", c->a, c->b, got, back, c->eq);
    }
}

// The paper's grader, rule by rule (verdicts of the official grader.py).
static void test_paper_rules(void) {
    static const Case cases[] = {
        // stricter than o1p's lenient grader
        {"2/4", "\\frac{1}{2}", 0},            // fractions exactly
        {"\\frac{2}{4}", "\\frac{1}{2}", 0},
        {"\\frac{24}{2}", "12", 0},            // an integer truth needs an integer
        {"0.3333333333333", "\\frac{1}{3}", 0},
        {"10 dollars", "10", 0},
        {"x \\in [-2,7]", "[-2,7]", 0},
        {"40\xc2\xb0", "40", 0},
        {"\\theta = 30", "30", 0},             // only a prefix of two characters
        {"k = 5", "5", 1},
        {"x=5", "5", 1},
        // more lenient
        {"East", "\\text{east}", 1},
        {"1+274I", "1+274i", 1},
        {"E", "\\text{(E)}", 1},
        {"12 pi", "12\\pi", 1},
        {"4210_5", "4210_{5}", 1},
        {"2 or 3", "2, 3", 1},
        {"2 and 3", "2, 3", 1},
        {"5\\text{ cm}", "5", 1},
        {"12 \\text{ inches}", "12", 1},
        {"(x+1)^2", "x^2+2x+1", 1},
        {"2\\sqrt{2}", "\\sqrt{8}", 1},
        {"\\pi/2", "\\frac{\\pi}{2}", 1},
        {"\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}", 1},
        {"\\sqrt{x^2}", "x", 0},               // sympy's principal branch: not for negative x
        {"x^2+2x+1", "(x+1)^2+1", 0},
        {"a+b+c", "c+b+a", 0},                 // three letters: no sympy
        {"x^{2}", "x^2", 1},                   // braces dropped before comparing strings
        {"x^10", "x^{10}", 1},
        {"2x^10", "x^10+x^10", 0},             // long powers never reach sympy
        // shared rules
        {"0.5", "\\frac{1}{2}", 1},
        {"1/2", "\\frac{1}{2}", 1},
        {"\\dfrac{33}{100}", "\\frac{33}{100}", 1},
        {"\\frac12", "\\frac{1}{2}", 1},
        {"\\sqrt3", "\\sqrt{3}", 1},
        {"5.0", "5", 1},
        {".5", "0.5", 1},
        {"12,345", "12345", 1},
        {"1,000,000", "1000000", 1},
        {"\\$18", "18", 1},
        {"25\\%", "25", 1},
        {"40^\\circ", "40", 1},
        {"40^{\\circ}", "40", 1},
        {"\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})", 1},
        {"(1, 2)", "(1,2)", 1},
        {"(0, 1]", "[0, 1]", 0},
        {"(1,2)", "(1,2,3)", 0},
        {"[0, \\frac12)", "[0,0.5)", 1},       // sympy: 1/2 - 0.5 is 0
        {"5", "6", 0},
        {"5", "-5", 0},
        {"1000000", "1000001", 0},
        {"", "0", 0},
        {"7\\frac{3}{4}", "\\frac{31}{4}", 1}, // a mixed number
        {"\\text{(C)}", "(C)", 1},
        {"\\textbf{Monday}", "Monday", 1},
    };
    check_cases(cases, sizeof cases / sizeof *cases, GRADE_PAPER, 0);
    CHECK(expr_equal("(x+1)^2", "x^2+2x+1") == 1, "expr (x+1)^2");
    CHECK(expr_equal("2sqrt(2)", "sqrt(8)") == 1, "expr sqrt");
    CHECK(expr_equal("pi/2", "1/2pi") == 1, "expr pi");
    CHECK(expr_equal("x", "y") == 0, "expr x y");
    CHECK(expr_equal("5!", "120") == 1, "expr factorial");
    CHECK(expr_equal("1/0", "1") == -1, "expr 1/0");
    CHECK(expr_equal("2+", "2") == -1, "expr syntax");
    // an unclosed sqrt( at the very end: the parser stays inside the text (heap copy of
    // exactly its length, so ASan sees a read past it; found by fuzz_dataset)
    char *open_sqrt = strdup("sqrt(2");
    CHECK(expr_equal(open_sqrt, "1") == -1, "expr unclosed sqrt(");
    free(open_sqrt);
}

// o1p's earlier grader, kept as GRADE_LENIENT.
static void test_lenient_rules(void) {
    static const Case lenient[] = {
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
    check_cases(lenient, sizeof lenient / sizeof *lenient, GRADE_LENIENT, 1);
    char *n = grade_normalize("\\left( \\dfrac12, 3 \\right)");
    CHECK(n && strcmp(n, "(\\frac{1}{2},3)") == 0, "normalize: %s", n);
    free(n);
}

static int load(const char *file, Dataset *ds) {
    char path[256];
    snprintf(path, sizeof path, "datasets/%s", file);
    Err e = {{0}};
    if (dataset_load(path, ds, &e)) {
        CHECK(0, "%s", e.msg);
        return -1;
    }
    return 0;
}

// PRM800K's pre-generated answers of math_test.json: the indices the official grader
// (grader.py, run with sympy 1.11 and pylatexenc 2.10) marks correct. 101 of 458.
static const int pregen_correct[] = {
    32,  34,  44,  45,  57,  85,  86,  90,  101, 106, 109, 112, 117, 124, 126, 128, 136, 142, 143, 148, 155,
    157, 160, 175, 178, 186, 187, 189, 205, 207, 213, 215, 216, 225, 229, 239, 242, 244, 246, 247, 249, 259,
    261, 262, 267, 268, 271, 273, 280, 287, 288, 290, 291, 298, 299, 310, 314, 319, 321, 322, 327, 333, 337,
    338, 343, 347, 348, 356, 364, 365, 376, 379, 383, 387, 389, 390, 392, 394, 403, 409, 412, 418, 420, 421,
    423, 424, 428, 429, 435, 436, 438, 442, 443, 445, 446, 448, 449, 451, 452, 453, 454};

static void test_pregenerated(void) {
    Json *j = json_parse_file("datasets/math_test.json", NULL);
    CHECK(j != NULL, "datasets/math_test.json");
    if (!j) return;
    const JsonValue *root = json_root(j);
    int n = (int)root->len, agree = 0, k = 0;
    for (int i = 0; i < n; i++) {
        const char *given = NULL, *truth = NULL;
        json_get_string(&root->items[i], "pre_generated_answer", "math_test.json", &given, NULL);
        json_get_string(&root->items[i], "ground_truth_answer", "math_test.json", &truth, NULL);
        int want = k < (int)(sizeof pregen_correct / sizeof *pregen_correct) && pregen_correct[k] == i;
        k += want;
        int got = given && truth && grade_equal(given, truth);
        agree += got == want;
        CHECK(got == want, "math_test[%d]: '%s' vs '%s': %d, the paper's grader says %d", i, given, truth, got, want);
    }
    printf("math_test.json pre-generated answers: %d of %d agree with the paper's grader\n", agree, n);
    CHECK(n == 458, "458 records, got %d", n);
    json_free(j);
}

// Every truth equals itself, and the boxed answer of its solution where there is one.
static void test_dataset(const char *file, int min_solution_ok) {
    Dataset ds;
    if (load(file, &ds)) return;
    int self = 0, ok = 0, with_solution = 0;
    for (int i = 0; i < ds.n; i++) {
        const Example *x = &ds.ex[i];
        self += grade_equal(x->answer, x->answer);
        CHECK(grade_equal(x->answer, x->answer), "%s[%d]: '%s' not equal to itself", file, i, x->answer);
        if (!x->solution) continue;
        with_solution++;
        if (grade_solution(x->solution, x->answer)) ok++;
        else {
            char *box = grade_extract_boxed(x->solution);
            printf("  %s[%d]: boxed '%s' vs answer '%s'\n", file, i, box ? box : "(none)", x->answer);
            free(box);
        }
    }
    printf("%s: %d of %d truths equal themselves; %d of %d boxed solutions grade correct\n", file, self, ds.n, ok,
           with_solution);
    CHECK(ok >= min_solution_ok, "%s: %d boxed solutions correct, want at least %d", file, ok, min_solution_ok);
    dataset_free(&ds);
}

// ---- the rewrite corpus -------------------------------------------------------------------

// Rewrites of a truth: equivalent forms the paper's grader reads as the truth, and near
// misses it must reject. kind: 1 equivalent, 0 near miss.
typedef struct {
    char text[1024];
    int kind;
} Rewrite;

static int add(Rewrite *r, int n, int kind, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int add(Rewrite *r, int n, int kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(r[n].text, sizeof r[n].text, fmt, ap);
    va_end(ap);
    if (len < 0 || len >= (int)sizeof r[n].text) return n;
    r[n].kind = kind;
    return n + 1;
}

// s with every `from` replaced by `to` into out (cap bytes); 0 if it does not fit.
static int subst(char *out, size_t cap, const char *s, const char *from, const char *to) {
    size_t o = 0, nf = strlen(from), nt = strlen(to);
    for (const char *p = s; *p;) {
        if (!strncmp(p, from, nf)) {
            if (o + nt >= cap) return 0;
            memcpy(out + o, to, nt), o += nt, p += nf;
        } else {
            if (o + 1 >= cap) return 0;
            out[o++] = *p++;
        }
    }
    out[o] = 0;
    return 1;
}

static int is_int_text(const char *s) {
    if (*s == '-') s++;
    return *s && strspn(s, "0123456789") == strlen(s);
}

// Equivalent rewrites: spacing, \text{}, $...$, \dfrac, \left \right, degrees, \%, a
// "k =" prefix, a unit, and per form of the truth: integers, fractions, \sqrt, \pi, case.
static int equivalents(const char *t, Rewrite *r, int n) {
    char b[900];
    n = add(r, n, 1, " %s ", t);
    n = add(r, n, 1, "\\text{%s}", t);
    n = add(r, n, 1, "$%s$", t);
    if (strstr(t, "\\frac") && subst(b, sizeof b, t, "\\frac", "\\dfrac")) n = add(r, n, 1, "%s", b);
    if (strchr(t, '(') && subst(b, sizeof b, t, "(", "\\left(")) n = add(r, n, 1, "%s", b);
    if (!strchr(t, '=')) n = add(r, n, 1, "k = %s", t);
    n = add(r, n, 1, "%s^\\circ", t);
    n = add(r, n, 1, "%s\\%%", t);
    n = add(r, n, 1, "%s\\text{ cm}", t);
    n = add(r, n, 1, "\\$%s", t);
    if (is_int_text(t)) {
        n = add(r, n, 1, "%s.0", t);
        n = add(r, n, 1, "%s.00", t);
        n = add(r, n, 1, "{%s}", t);
        n = add(r, n, 1, "%s \\text{ dollars}", t);
    }
    int a, d;
    char tail;
    if (sscanf(t, "\\frac{%d}{%d}%c", &a, &d, &tail) == 2) {
        n = add(r, n, 1, "%d/%d", a, d);
        n = add(r, n, 1, "\\tfrac{%d}{%d}", a, d);
    }
    if (strstr(t, "\\pi") && subst(b, sizeof b, t, "\\pi", " \\pi")) n = add(r, n, 1, "%s", b);
    if (strstr(t, "\\sqrt{") && subst(b, sizeof b, t, "\\sqrt{", "\\sqrt {")) n = add(r, n, 1, "%s", b);
    if (strstr(t, "\\text{")) {
        subst(b, sizeof b, t, "\\text{", "\\textbf{");
        n = add(r, n, 1, "%s", b);
    }
    strncpy(b, t, sizeof b - 1);
    b[sizeof b - 1] = 0;
    for (char *p = b; *p; p++) *p = (char)toupper((unsigned char)*p);
    if (strcmp(b, t) && !strchr(t, '\\')) n = add(r, n, 1, "%s", b);
    return n;
}

// Near misses: a changed digit, a sign, an appended digit, unreduced fractions, an integer
// written as a fraction, decimals for fractions, a dropped element.
static int near_misses(const char *t, Rewrite *r, int n) {
    char b[900];
    strncpy(b, t, sizeof b - 1);
    b[sizeof b - 1] = 0;
    char *dig = strpbrk(b, "123456789");
    if (dig) {
        *dig = (char)(*dig == '9' ? '1' : *dig + 1);
        n = add(r, n, 0, "%s", b);
    }
    if (strcmp(t, "0")) n = add(r, n, 0, "-(%s)", t);
    if (is_int_text(t)) {
        n = add(r, n, 0, "%s0", t);
        n = add(r, n, 0, "\\frac{%s0}{10}", t);
        n = add(r, n, 0, "%s.5", t);
        n = add(r, n, 0, "%s+1", t);
    }
    int a, d;
    char tail;
    if (sscanf(t, "\\frac{%d}{%d}%c", &a, &d, &tail) == 2 && d != 0) {
        n = add(r, n, 0, "\\frac{%d}{%d}", 2 * a, 2 * d);
        n = add(r, n, 0, "%d/%d", 3 * a, 3 * d);
        n = add(r, n, 0, "%.4f", (double)a / d);
        n = add(r, n, 0, "%.13f", (double)a / d);
    }
    if (strchr(t, ',') && (t[0] == '(' || t[0] == '[')) {
        const char *last = strrchr(t, ',');
        n = add(r, n, 0, "%.*s%c", (int)(last - t), t, t[strlen(t) - 1]);
    }
    n = add(r, n, 0, "%s+x", t);
    return n;
}

static const char *corpus_files[] = {"math_test.json", "math_train_hard.json", "gsm8k.json", "gaokao.json"};

// Builds the corpus over the four datasets; writes it as `o1p grade` input when out is
// set. Counts the rewrites graded as their construction says.
static void test_corpus(FILE *out) {
    static Rewrite r[64];
    int total = 0, as_built = 0;
    for (size_t f = 0; f < sizeof corpus_files / sizeof *corpus_files; f++) {
        Dataset ds;
        if (load(corpus_files[f], &ds)) return;
        for (int i = 0; i < ds.n; i++) {
            const char *t = ds.ex[i].answer;
            if (strlen(t) > 200) continue;
            int n = near_misses(t, r, equivalents(t, r, 0));
            for (int k = 0; k < n; k++) {
                char *resp = malloc(strlen(r[k].text) + 32);
                sprintf(resp, "The answer is \\boxed{%s}.", r[k].text);
                int got = grade_solution(resp, t);
                as_built += got == r[k].kind;
                total++;
                if (out) {
                    fputs("{\"response\": ", out);
                    json_write_string(out, resp, strlen(resp));
                    fputs(", \"answer\": ", out);
                    json_write_string(out, t, strlen(t));
                    fprintf(out, ", \"kind\": %d, \"o1p\": %d}\n", r[k].kind, got);
                }
                free(resp);
            }
        }
        dataset_free(&ds);
    }
    printf("rewrite corpus: %d rewrites, %d graded as built\n", total, as_built);
    // The official grader itself grades 101 of the 44346 against their construction
    // (exact decimals like 0.2500 for 1/4 are right; "k = \text{...}" is not unwrapped);
    // o1p agrees with it on all but 2 (15-digit decimals for fractions, within rounding).
    CHECK(total == 44346, "corpus of %d rewrites, want 44346", total);
    CHECK(as_built >= 44243, "%d graded as built, want 44243", as_built);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--corpus")) {
        FILE *f = fopen(argv[2], "w");
        if (!f) return 1;
        test_corpus(f);
        fclose(f);
        return 0;
    }
    test_mode_names();
    test_extract();
    test_paper_rules();
    test_lenient_rules();
    test_pregenerated();
    test_dataset("math_test.json", 458);
    test_dataset("math_train_hard.json", 407);
    test_dataset("gsm8k.json", 0);
    test_dataset("gaokao.json", 0);
    test_corpus(NULL);
    return test_summary();
}
