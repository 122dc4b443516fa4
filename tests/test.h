// tests/test.h -- the smallest test harness that does the job.
//
// CHECK(cond, fmt, ...) counts a pass or prints the failure with its place; a test
// program ends with `return test_summary();`, which prints "N passed, N failed" (the
// line CI reads; tests/run.sh adds the programs' lines up) and returns non-zero on any
// failure. CHECK_NEAR compares floats with a relative+absolute tolerance.
#ifndef O1P_TEST_H
#define O1P_TEST_H

#include <math.h>
#include <stdio.h>

static int test_passed, test_failed;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            test_passed++;                                                 \
        } else {                                                           \
            test_failed++;                                                 \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);           \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

// |a - b| <= atol + rtol * |b|
#define CHECK_NEAR(a, b, rtol, atol, what)                                                 \
    do {                                                                                   \
        double a_ = (a), b_ = (b);                                                         \
        CHECK(fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_), "%s: %.9g vs %.9g", (what), a_, \
              b_);                                                                         \
    } while (0)

static inline int test_summary(void) {
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
