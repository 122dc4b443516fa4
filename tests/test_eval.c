// tests/test_eval.c -- AES (hand-computed, an accuracy drop included), the summaries,
// the JSON round trip, the exact Markdown of the results tables (Table 2 over several
// datasets with its average column), Table 2's JSON, and the majority vote on hand-made
// samples (pruner/eval.h).
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../pruner/eval.h"
#include "test.h"

static void test_aes(void) {
    // dL = (100 - 60) / 100 = 0.4; dAcc = (0.55 - 0.5) / 0.5 = 0.1 -> 0.4 + 3 * 0.1
    CHECK_NEAR(eval_aes(0.55, 60, 0.5, 100), 0.7, 1e-12, 1e-12, "AES, shorter and more accurate");
    // accuracy drop: dAcc = -0.1 -> 0.4 - 5 * 0.1
    CHECK_NEAR(eval_aes(0.45, 60, 0.5, 100), -0.1, 1e-12, 1e-12, "AES, accuracy drop");
    // longer but more accurate: dL = -0.2, dAcc = 0.2 -> -0.2 + 0.6
    CHECK_NEAR(eval_aes(0.6, 120, 0.5, 100), 0.4, 1e-12, 1e-12, "AES, longer");
    CHECK_NEAR(eval_aes(0.5, 100, 0.5, 100), 0.0, 0, 1e-15, "AES of the baseline itself");
    // The paper's sign convention: losing 10% accuracy costs more than 40% of the length saves.
    CHECK(eval_aes(0.45, 60, 0.5, 100) < 0, "an accuracy drop of 10%% should outweigh 40%% shorter");
    CHECK(isnan(eval_aes(0.5, 50, 0.0, 100)) && isnan(eval_aes(0.5, 50, 0.5, 0)), "AES undefined baseline");
}

static void make_run(EvalResult *r, const char *model, const char *dataset, const int *correct, const int *len,
                     const int *level, int n) {
    memset(r, 0, sizeof *r);
    snprintf(r->model, sizeof r->model, "%s", model);
    snprintf(r->dataset, sizeof r->dataset, "%s", dataset);
    r->k = 1;
    r->n_problems = n;
    r->seconds = 2.0 * n;
    r->items = calloc((size_t)n, sizeof *r->items);
    r->all.n = n;
    for (int i = 0; i < n; i++) {
        r->items[i] = (EvalItem){.index = i, .level = level[i], .correct = correct[i], .length = len[i]};
        r->items[i].output = strdup(correct[i] ? "so \\boxed{7}\n\"quoted\"" : "no box");
        r->items[i].answer = correct[i] ? strdup("7") : NULL;
    }
    eval_summarize(r);
}

static char *render(void (*fn)(FILE *, const EvalResult *, int, const EvalResult *, int), const EvalResult *runs,
                    int n, const EvalResult *bases, int nb) {
    char *text;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    fn(f, runs, n, bases, nb);
    fclose(f);
    return text;
}

static void test_tables(void) {
    const int lev[4] = {1, 1, 2, 2};
    const int c_ref[4] = {1, 0, 1, 1}, l_ref[4] = {100, 120, 200, 180};   // 75%, 150
    const int c_new[4] = {1, 1, 1, 0}, l_new[4] = {50, 70, 110, 70};      // 75%, 75
    const int c_dpo[4] = {1, 0, 0, 0}, l_dpo[4] = {90, 90, 90, 90};       // 25%, 90
    EvalResult base, runs[3];
    make_run(&base, "ref", "synth", c_ref, l_ref, lev, 4);
    make_run(&runs[0], "pruned", "synth", c_new, l_new, lev, 4);
    make_run(&runs[1], "dpo", "synth", c_dpo, l_dpo, lev, 4);
    make_run(&runs[2], "pruned", "gsm8k", c_new, l_new, lev, 4);
    CHECK_NEAR(base.all.accuracy, 0.75, 0, 1e-12, "accuracy");
    CHECK_NEAR(base.all.mean_length, 150, 0, 1e-12, "mean length");
    CHECK(base.level[1].n == 2 && base.level[2].n == 2, "levels %d %d", base.level[1].n, base.level[2].n);
    CHECK_NEAR(base.level[1].accuracy, 0.5, 0, 1e-12, "level 1 accuracy");
    CHECK_NEAR(base.level[2].mean_length, 190, 0, 1e-12, "level 2 length");

    // pruned: dL = 0.5, dAcc = 0 -> 0.5; dpo: dL = 0.4, dAcc = -2/3 -> 0.4 - 10/3 = -2.933;
    // gsm8k has no baseline: "-".
    char *t = render(eval_table_markdown, runs, 3, &base, 1);
    const char *want =
        "| Model | synth Acc (%) | synth Length | synth AES | gsm8k Acc (%) | gsm8k Length | gsm8k AES |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
        "| ref | 75.0 | 150.0 | - | - | - | - |\n"
        "| pruned | 75.0 | 75.0 | 0.500 | 75.0 | 75.0 | - |\n"
        "| dpo | 25.0 | 90.0 | -2.933 | - | - | - |\n";
    CHECK(!strcmp(t, want), "Table 2 layout:\n%s\nexpected:\n%s", t, want);
    free(t);

    char *lv;
    size_t len;
    FILE *f = open_memstream(&lv, &len);
    eval_levels_markdown(f, &runs[0], &base);
    fclose(f);
    const char *want_lv =
        "| Level | Problems | ref Acc (%) | pruned Acc (%) | ref Length | pruned Length | Length change |\n"
        "|---:|---:|---:|---:|---:|---:|---:|\n"
        "| 1 | 2 | 50.0 | 100.0 | 110.0 | 60.0 | -45.5% |\n"
        "| 2 | 2 | 100.0 | 50.0 | 190.0 | 90.0 | -52.6% |\n"
        "| all | 4 | 75.0 | 75.0 | 150.0 | 75.0 | -50.0% |\n";
    CHECK(!strcmp(lv, want_lv), "per-level table:\n%s\nexpected:\n%s", lv, want_lv);
    free(lv);

    // JSON round trip: every item and the summaries.
    char path[] = "/tmp/o1p_test_eval_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    Err e;
    EvalResult back;
    CHECK(chat_preset("qwq", &runs[0].tmpl, &e) == 0, "preset");
    runs[0].grader = GRADE_LENIENT;
    CHECK(eval_write_json(path, &runs[0], &e) == 0, "%s", e.msg);
    CHECK(eval_read_json(path, &back, &e) == 0, "%s", e.msg);
    CHECK(!strcmp(back.model, "pruned") && !strcmp(back.dataset, "synth") && back.all.n == 4 && back.k == 1 &&
              back.n_problems == 4, "round trip header");
    CHECK(chat_template_same(&back.tmpl, &runs[0].tmpl) && back.grader == GRADE_LENIENT, "round trip prompt, grader");
    CHECK_NEAR(back.all.mean_length, 75, 0, 1e-12, "round trip length");
    CHECK_NEAR(back.level[2].accuracy, 0.5, 0, 1e-12, "round trip level accuracy");
    int same = 1;
    for (int i = 0; i < 4; i++)
        same &= back.items[i].length == runs[0].items[i].length && back.items[i].correct == runs[0].items[i].correct &&
                !strcmp(back.items[i].output, runs[0].items[i].output) &&
                (!back.items[i].answer) == (!runs[0].items[i].answer);
    CHECK(same, "round trip items");
    eval_result_free(&back);
    // A file of an older o1p (no prompt, no grader): the default template, the paper's grader.
    FILE *g = fopen(path, "w");
    fputs("{\"model\": \"m\", \"dataset\": \"d\", \"k\": 1, \"temperature\": 0, \"seconds\": 1, "
          "\"n_problems\": 0, \"problems\": []}", g);
    fclose(g);
    CHECK(eval_read_json(path, &back, &e) == 0 && !strcmp(chat_preset_name(&back.tmpl), "default") &&
              back.grader == GRADE_PAPER, "older eval JSON: %s", e.msg);
    eval_result_free(&back);
    // A file that is not an eval result is an error naming it.
    g = fopen(path, "w");
    fputs("{\"model\": \"x\"}", g);
    fclose(g);
    CHECK(eval_read_json(path, &back, &e) == -1 && strstr(e.msg, path), "bad eval JSON: %s", e.msg);
    unlink(path);
    eval_result_free(&base);
    for (int i = 0; i < 3; i++) eval_result_free(&runs[i]);
}

// Table 2 over three datasets: the average column is the unweighted mean over them.
static void test_table2(void) {
    const int lev[2] = {1, 1}, c10[2] = {1, 0}, c11[2] = {1, 1}, c00[2] = {0, 0};
    const int l100[2] = {100, 100}, l50[2] = {40, 60}, l200[2] = {200, 200}, l120[2] = {120, 120};
    EvalResult base[3], runs[3];
    make_run(&base[0], "ref", "math", c10, l100, lev, 2);   // 50%, 100
    make_run(&base[1], "ref", "gsm8k", c11, l200, lev, 2);  // 100%, 200
    make_run(&base[2], "ref", "gaokao", c10, l100, lev, 2); // 50%, 100
    make_run(&runs[0], "pruned", "math", c11, l50, lev, 2);   // 100%, 50: 0.5 + 3 = 3.5
    make_run(&runs[1], "pruned", "gsm8k", c10, l120, lev, 2); // 50%, 120: 0.4 - 2.5 = -2.1
    make_run(&runs[2], "pruned", "gaokao", c00, l200, lev, 2);// 0%, 200: -1 - 5 = -6
    // averages: ref 66.7%, 133.3; pruned 50%, 123.3, AES (3.5 - 2.1 - 6) / 3 = -1.533;
    // time 4 s per dataset (make_run: 2 s a problem)
    char *t = render(eval_table2_markdown, runs, 3, base, 3);
    const char *want =
        "| Model | math Acc (%) | math Length | math AES | gsm8k Acc (%) | gsm8k Length | gsm8k AES | gaokao Acc (%) | "
        "gaokao Length | gaokao AES | Average Acc (%) | Average Length | Average AES |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        "| ref | 50.0 | 100.0 | - | 100.0 | 200.0 | - | 50.0 | 100.0 | - | 66.7 | 133.3 | - |\n"
        "| pruned | 100.0 | 50.0 | 3.500 | 50.0 | 120.0 | -2.100 | 0.0 | 200.0 | -6.000 | 50.0 | 123.3 | -1.533 |\n"
        "\n"
        "| Model | math Time (s) | gsm8k Time (s) | gaokao Time (s) | Total Time (s) |\n"
        "|---|---:|---:|---:|---:|\n"
        "| ref | 4.00 | 4.00 | 4.00 | 12.00 |\n"
        "| pruned | 4.00 | 4.00 | 4.00 | 12.00 |\n";
    CHECK(!strcmp(t, want), "Table 2 with the average:\n%s\nexpected:\n%s", t, want);
    free(t);
    // a model without a run on one dataset has no average
    t = render(eval_table2_markdown, runs, 2, base, 3);
    CHECK(strstr(t, "| pruned | 100.0 | 50.0 | 3.500 | 50.0 | 120.0 | -2.100 | - | - | - | - | - | - |\n") != NULL,
          "incomplete row:\n%s", t);
    free(t);

    const EvalResult *rp[3] = {&runs[0], &runs[1], &runs[2]}, *bp[3] = {&base[0], &base[1], NULL};
    EvalAverage avg;
    eval_average(rp, bp, 3, &avg);
    CHECK(isnan(avg.aes), "a dataset without a baseline: no average AES");
    CHECK_NEAR(avg.seconds, 12, 0, 1e-12, "total time");
    bp[2] = &base[2];
    eval_average(rp, bp, 3, &avg);
    CHECK_NEAR(avg.aes, (3.5 - 2.1 - 6) / 3, 1e-12, 1e-12, "average AES");
    CHECK_NEAR(avg.mean_length, 370.0 / 3, 1e-12, 0, "average length");
    CHECK_NEAR(avg.accuracy, 0.5, 0, 1e-15, "average accuracy");

    char path[] = "/tmp/o1p_test_table2_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    Err e;
    CHECK(eval_write_table_json(path, rp, bp, 3, &e) == 0, "%s", e.msg);
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "r");
    CHECK(f && getdelim(&text, &len, 0, f) > 0, "read %s", path);
    if (f) fclose(f);
    const char *want_json =
        "{\"model\": \"pruned\", \"baseline\": \"ref\",\n"
        " \"datasets\": [\n"
        "  {\"dataset\": \"math\", \"n_problems\": 2, \"k\": 1, \"accuracy\": 1, \"mean_length\": 50, \"aes\": 3.5, "
        "\"seconds\": 4},\n"
        "  {\"dataset\": \"gsm8k\", \"n_problems\": 2, \"k\": 1, \"accuracy\": 0.5, \"mean_length\": 120, \"aes\": -2.1, "
        "\"seconds\": 4},\n"
        "  {\"dataset\": \"gaokao\", \"n_problems\": 2, \"k\": 1, \"accuracy\": 0, \"mean_length\": 200, \"aes\": -6, "
        "\"seconds\": 4}],\n"
        " \"average\": {\"datasets\": 3, \"accuracy\": 0.5, \"mean_length\": 123.333333, \"aes\": -1.53333333, "
        "\"seconds\": 12}}\n";
    CHECK(text && !strcmp(text, want_json), "Table 2 JSON:\n%s\nexpected:\n%s", text, want_json);
    free(text);
    unlink(path);
    for (int i = 0; i < 3; i++) {
        eval_result_free(&base[i]);
        eval_result_free(&runs[i]);
    }
}

// The sample's answer (NULL: none) and correctness.
static EvalItem vote_item(const char *answer, int correct) {
    return (EvalItem){.answer = (char *)answer, .correct = correct};
}

static void test_vote(void) {
    int scratch[12];
    // "1/2" and "\frac{1}{2}" are one answer under the grader: groups {0, 2} and {1, 3, 4}
    EvalItem a[6] = {vote_item("1/2", 1), vote_item("7", 0), vote_item("\\frac{1}{2}", 1), vote_item("7", 0),
                     vote_item("7", 0), vote_item(NULL, 0)};
    CHECK(eval_vote(a, 6, GRADE_PAPER, scratch) == 1, "the largest group wins: %d", eval_vote(a, 6, GRADE_PAPER, scratch));
    // a tie (2 against 2, one abstains): the group opened first, whose head is sample 1
    EvalItem b[5] = {vote_item(NULL, 0), vote_item("\\frac{1}{2}", 1), vote_item("7", 0), vote_item("1/2", 1),
                     vote_item("7", 0)};
    CHECK(eval_vote(b, 5, GRADE_PAPER, scratch) == 1, "tie: %d", eval_vote(b, 5, GRADE_PAPER, scratch));
    // the same answers in the other order: the 1/2 group opens first and wins the tie
    EvalItem c[4] = {vote_item("1/2", 1), vote_item("7", 0), vote_item("7", 0), vote_item("\\frac{1}{2}", 1)};
    CHECK(eval_vote(c, 4, GRADE_PAPER, scratch) == 0, "tie, other order: %d", eval_vote(c, 4, GRADE_PAPER, scratch));
    EvalItem none[2] = {vote_item(NULL, 0), vote_item(NULL, 0)};
    CHECK(eval_vote(none, 2, GRADE_PAPER, scratch) == -1, "no answer: no vote");
    CHECK(eval_vote(a, 1, GRADE_PAPER, scratch) == 0, "k = 1: the sample itself");

    // A run of 3 problems x 4 samples: votes right, wrong (tie to the wrong group), none.
    EvalResult r = {.k = 4, .n_problems = 3};
    EvalItem items[12] = {vote_item("5", 1), vote_item("5", 1), vote_item("6", 0), vote_item(NULL, 0),
                          vote_item("6", 0), vote_item("5", 1), vote_item("5", 1), vote_item("6", 0),
                          vote_item(NULL, 0), vote_item(NULL, 0), vote_item(NULL, 0), vote_item(NULL, 0)};
    r.items = items;
    r.all.n = 12;
    Err e;
    CHECK(eval_summarize_votes(&r, GRADE_PAPER, &e) == 0, "%s", e.msg);
    CHECK_NEAR(r.vote_accuracy, 1.0 / 3, 0, 1e-15, "vote accuracy of 3 problems");
    eval_summarize(&r);
    CHECK_NEAR(r.all.accuracy, 4.0 / 12, 0, 1e-15, "accuracy over all samples");
}

// The comparison over seeds: two runs of ppo, one of dpo, against ref (eval_compare_markdown).
static void test_compare(void) {
    const int lev[4] = {1, 1, 2, 2};
    const int c_ref[4] = {1, 0, 1, 1}, l_ref[4] = {100, 120, 200, 180};  // 75%, 150; levels 110, 190
    const int c_p1[4] = {1, 1, 1, 0}, l_p1[4] = {50, 70, 110, 70};       // 75%, 75; 60, 90
    const int c_p2[4] = {1, 1, 1, 1}, l_p2[4] = {60, 60, 100, 100};      // 100%, 80; 60, 100
    const int c_d[4] = {1, 0, 0, 0}, l_d[4] = {90, 90, 90, 90};          // 25%, 90; 90, 90
    EvalResult ref, r[3];
    make_run(&ref, "ref", "synth", c_ref, l_ref, lev, 4);
    make_run(&r[0], "ppo", "synth", c_p1, l_p1, lev, 4);
    make_run(&r[1], "dpo", "synth", c_d, l_d, lev, 4);
    make_run(&r[2], "ppo", "synth", c_p2, l_p2, lev, 4);
    // the second ppo run drew 64 samples of its own (a second round)
    CompareRun runs[3] = {{&r[0], 1000, 0, 10.2}, {&r[1], NAN, NAN, NAN}, {&r[2], 2000, 64, 13.0}};
    char *t;
    size_t len;
    FILE *f = open_memstream(&t, &len);
    int methods = eval_compare_markdown(f, &ref, runs, 3, 256);
    fclose(f);
    CHECK(methods == 2, "compare: 2 methods, got %d", methods);
    // AES: ppo 0.5 (same accuracy, half the length) and 70/150 + 3 (1/3); dpo 0.4 - 5 (2/3)
    const char *rows[] = {
        "| ref | 75.0 | 150.0 | - | 256 | - | - |\n",
        "| ppo | 87.5 [75.0, 100.0] | 77.5 [75.0, 80.0] | +0.983 [+0.500, +1.467] | 288 [256, 320] | 1500 [1000, 2000] | 12 [10, 13] |\n",
        "| dpo | 25.0 [25.0, 25.0] | 90.0 [90.0, 90.0] | -2.933 [-2.933, -2.933] | 256 [256, 256] | n/a | n/a |\n",
        "| method | level 1 (2) | level 2 (2) | all (4) |\n",
        "| ref | 110.0 | 190.0 | 150.0 |\n",
        "| ppo | 60.0 (0.55) | 95.0 (0.50) | 77.5 (0.52) |\n",
        "| dpo | 90.0 (0.82) | 90.0 (0.47) | 90.0 (0.60) |\n",
    };
    for (int i = 0; i < 7; i++) CHECK(strstr(t, rows[i]) != NULL, "compare table row %d missing:\n%s\nin:\n%s", i, rows[i], t);
    CHECK(strstr(t, "| ppo |") < strstr(t, "| dpo |"), "compare: methods in the order met");
    free(t);
    eval_result_free(&ref);
    for (int i = 0; i < 3; i++) eval_result_free(&r[i]);
}

int main(void) {
    test_aes();
    test_tables();
    test_table2();
    test_vote();
    test_compare();
    return test_summary();
}
