// tests/test_dataset.c -- dataset loading (JSON arrays, JSONL) and every bad-input case,
// the JSONL writer round trip, the chat template and its presets, the synthetic task (determinism,
// split disjointness, self-grading, statistics), batching and token lines.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/io.h"
#include "../base/json.h"
#include "../data/batch.h"
#include "../data/chat.h"
#include "../data/dataset.h"
#include "../data/grade.h"
#include "../data/synth.h"
#include "../data/toklines.h"
#include "test.h"

static int load(const char *text, Dataset *ds, Err *e) { return dataset_parse(text, strlen(text), "d.jsonl", ds, e); }

static void expect_bad(const char *text, const char *want) {
    Dataset ds;
    Err e = {{0}};
    int rc = load(text, &ds, &e);
    CHECK(rc == -1 && ds.n == 0, "should fail: %.50s", text);
    CHECK(strstr(e.msg, want) != NULL, "want '%s' in '%s'", want, e.msg);
    if (!rc) dataset_free(&ds);
}

static void test_load(void) {
    Dataset ds;
    Err e = {{0}};
    // JSONL, field aliases, numeric answer, levels, blank lines, CRLF
    const char *jl = "{\"problem\": \"p1\", \"answer\": \"a1\", \"solution\": \"s \\\\boxed{a1}\", \"level\": 3}\n"
                     "\n"
                     "{\"problem\": \"p2\", \"ground_truth_answer\": 18, \"ground_truth_solution\": null}\r\n"
                     "  {\"problem\": \"p3\", \"answer\": \"x\", \"level\": \"Level 5\", \"extra\": [1]}\n";
    CHECK(load(jl, &ds, &e) == 0, "jsonl: %s", e.msg);
    CHECK(ds.n == 3, "3 examples");
    if (ds.n == 3) {
        CHECK(!strcmp(ds.ex[0].problem, "p1") && !strcmp(ds.ex[0].answer, "a1") && ds.ex[0].level == 3 &&
                  !strcmp(ds.ex[0].solution, "s \\boxed{a1}") && ds.ex[0].redundant_chars == -1,
              "example 0");
        CHECK(!strcmp(ds.ex[1].answer, "18") && ds.ex[1].solution == NULL && ds.ex[1].level == 0, "example 1");
        CHECK(ds.ex[2].level == 5, "Level 5 string");
    }
    dataset_free(&ds);
    // JSON array, the paper's shape, with a null answer skipped
    const char *ja = "[{\"problem\": \"q\", \"ground_truth_answer\": \"1\", \"pre_generated_steps\": []},\n"
                     " {\"problem\": \"r\", \"ground_truth_answer\": null, \"ground_truth_solution\": null}]";
    CHECK(load(ja, &ds, &e) == 0 && ds.n == 1 && ds.skipped == 1 && ds.first_skipped == 1, "array: %s", e.msg);
    dataset_free(&ds);
    // the shared datasets all load
    static const char *files[] = {"gaokao.json", "gsm8k.json", "math_test.json", "math_train_hard.json"};
    static const int counts[] = {385, 1319, 458, 408};
    for (int i = 0; i < 4; i++) {
        char path[128];
        snprintf(path, sizeof path, "datasets/%s", files[i]);
        int rc = dataset_load(path, &ds, &e);
        CHECK(rc == 0 && ds.n == counts[i], "%s: %d examples (%s)", files[i], ds.n, rc ? e.msg : "");
        if (!rc) dataset_free(&ds);
    }
}

static void test_bad(void) {
    // malformed JSON, with line and column
    expect_bad("{\"problem\": \"a\", \"answer\": \"b\"}\n{\"problem\": \"a\" \"answer\": \"b\"}\n",
               "d.jsonl: line 2, column 17: expected ',' or '}' after object member");
    expect_bad("[{\"problem\": \"a\", \"answer\": \"b\"},\n {\"problem\": }]", "d.jsonl: line 2, column 14: expected a JSON value");
    // missing problem / answer, with line and element
    expect_bad("{\"problem\": \"a\", \"answer\": \"b\"}\n{\"answer\": \"b\"}\n",
               "d.jsonl: line 2, column 1: missing member \"problem\"");
    expect_bad("{\"problem\": \"a\"}\n", "d.jsonl: line 1, column 1: missing member \"answer\"");
    expect_bad("[{\"problem\": \"a\", \"answer\": \"b\"},\n  {\"problem\": \"a\"}]",
               "d.jsonl: line 2, column 3, element 1: missing member \"answer\"");
    // wrong types
    expect_bad("{\"problem\": 5, \"answer\": \"b\"}", "line 1, column 13: expected a string for \"problem\", found a number");
    expect_bad("{\"problem\": \"a\", \"answer\": [1]}", "line 1, column 28: expected a string or a number for the answer");
    expect_bad("{\"problem\": \"a\", \"answer\": \"b\", \"solution\": 3}", "expected a string for the solution");
    expect_bad("{\"problem\": \"a\", \"answer\": \"b\", \"level\": \"hard\"}", "line 1, column 42: expected an integer");
    expect_bad("{\"problem\": \"a\", \"answer\": \"b\", \"level\": 2.5}", "expected an integer");
    expect_bad("{\"problem\": \"a\", \"answer\": \"b\", \"redundant_chars\": -3}", "non-negative integer");
    expect_bad("[1, 2]", "line 1, column 2, element 0: expected an object with \"problem\" and \"answer\", found a number");
    expect_bad("{\"problem\": \"a\", \"answer\": \"b\"}\n[1]\n", "line 2, column 1: expected an object");
    // invalid UTF-8, with its position
    expect_bad("{\"problem\": \"a\xff\", \"answer\": \"b\"}", "d.jsonl: line 1, column 15: invalid UTF-8 (byte 0xFF)");
    expect_bad("{\"problem\": \"ok\", \"answer\": \"b\"}\n{\"problem\": \"\xc3(\", \"answer\": \"b\"}",
               "line 2, column 14: invalid UTF-8");
    // other shapes
    expect_bad("", "no examples");
    expect_bad("[]", "no examples");
    expect_bad("problem,answer\n1,2\n", "expected a JSON array ('[') or JSON Lines");
    Err e = {{0}};
    Dataset ds;
    CHECK(dataset_load("/nonexistent/d.jsonl", &ds, &e) == -1 && strstr(e.msg, "cannot open"), "missing file");
}

static void test_write(void) {
    Dataset ds = {0}, back;
    Err e = {{0}};
    CHECK(dataset_add(&ds, "p \"q\"\n\x01", "\\frac{1}{2}", "s\t\\boxed{x}", 2, 7, &e) == 0, "add");
    CHECK(dataset_add(&ds, "\xe2\x82\xac", "b", NULL, 0, -1, &e) == 0, "add");
    char path[] = "/tmp/o1p_test_ds_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK(dataset_write_jsonl(path, &ds, &e) == 0, "write: %s", e.msg);
    CHECK(dataset_load(path, &back, &e) == 0 && back.n == 2, "read back: %s", e.msg);
    if (back.n == 2) {
        for (int i = 0; i < 2; i++) {
            const Example *a = &ds.ex[i], *b = &back.ex[i];
            CHECK(!strcmp(a->problem, b->problem) && !strcmp(a->answer, b->answer) && a->level == b->level &&
                      a->redundant_chars == b->redundant_chars &&
                      (a->solution ? b->solution && !strcmp(a->solution, b->solution) : !b->solution),
                  "round trip %d", i);
        }
        dataset_free(&back);
    }
    // a failed write leaves nothing behind
    CHECK(dataset_write_jsonl("/nonexistent/dir/x.jsonl", &ds, &e) == -1, "unwritable");
    unlink(path);
    dataset_free(&ds);
}

static void test_chat(void) {
    char *p = chat_prompt(NULL, "What is 2+2?"), *c = chat_completion("4 \\boxed{4}");
    CHECK(p && !strcmp(p, "<|im_start|>system\nYou are a helpful assistant. You should think step-by-step and put "
                          "your final answer within \\boxed{}.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
                          "<|im_start|>assistant\n"),
          "prompt: %s", p);
    CHECK(c && !strcmp(c, "4 \\boxed{4}<|im_end|>"), "completion");
    CHECK(chat_answer_len(c) == 11 && chat_answer_len("abc") == 3, "answer length");
    free(p);
    free(c);
}

// The chat template as GGUF carries it (Jinja): the system prompt, the user template
// around the message, quotes and backslashes escaped.
static void test_jinja(void) {
    const char *loop = "{%- for message in messages %}{%- if loop.first and message['role'] != 'system' %}"
                       "{{- '<|im_start|>system\\n";
    const char *turns = "<|im_end|>\\n' }}{%- endif %}{%- if message['role'] == 'user' %}"
                        "{{- '<|im_start|>user\\n";
    const char *rest = "<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>' + message['role'] + '\\n' + "
                       "message['content'] + '<|im_end|>\\n' }}{%- endif %}{%- endfor %}{%- if "
                       "add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
    char want[4096];
    char *j = chat_jinja(NULL);
    snprintf(want, sizeof want, "%sYou are a helpful assistant. You should think step-by-step and put your final "
             "answer within \\\\boxed{}.%s' + message['content'] + '%s", loop, turns, rest);
    CHECK(j && !strcmp(j, want), "jinja, default:\n%s\nnot\n%s", j, want);
    free(j);
    ChatTemplate t = {.system = "It's", .user = "Solve the problem: {problem}\nBe brief."};
    j = chat_jinja(&t);
    snprintf(want, sizeof want, "%sIt\\'s%sSolve the problem: ' + message['content'] + '\nBe brief.%s", loop,
             turns, rest);
    CHECK(j && !strcmp(j, want), "jinja, a template:\n%s\nnot\n%s", j, want);
    free(j);
}

// Renders problem "P {x}" under preset name; compares with the whole expected prompt.
static void expect_preset(const char *name, const char *system, const char *user) {
    Err e = {{0}};
    ChatTemplate t;
    CHECK(chat_preset(name, &t, &e) == 0, "preset %s: %s", name, e.msg);
    char *p = chat_prompt(&t, "P {x}"), want[2048];
    snprintf(want, sizeof want, "<|im_start|>system\n%s<|im_end|>\n<|im_start|>user\n%s<|im_end|>\n"
                                "<|im_start|>assistant\n", system, user);
    CHECK(p && !strcmp(p, want), "preset %s renders\n%s\nnot\n%s", name, p, want);
    free(p);
}

static void test_presets(void) {
    const char *paper = "You are a helpful assistant. You should think step-by-step and put your final answer "
                        "within \\boxed{}.";
    expect_preset("default", paper, "P {x}");
    expect_preset("marco-train", paper, "P {x}");
    expect_preset("marco-eval", paper, "Solve the problem: P {x}");
    expect_preset("qwq", "You are a helpful and harmless assistant. You are Qwen developed by Alibaba. You should "
                         "think step-by-step and put your final answer within \\boxed{}.",
                  "Solve the problem: P {x}");
    expect_preset("fast", paper, "Solve the problem: P {x}\nBe confident. Solving this problem quickly with less "
                                 "pause, stop or reflection.");
    // the default template is byte for byte the NULL one
    ChatTemplate t, u;
    Err e = {{0}};
    chat_preset("default", &t, &e);
    char *a = chat_prompt(&t, "q"), *b = chat_prompt(NULL, "q");
    CHECK(a && b && !strcmp(a, b), "default == NULL");
    free(a);
    free(b);
    CHECK(chat_preset("marco", &t, &e) == -1 && strstr(e.msg, "'marco'") &&
              strstr(e.msg, "default, marco-train, marco-eval, qwq or fast"), "unknown preset: %s", e.msg);
    // resolve: a preset, then the parts replaced; the fallback without a preset
    PromptOpts o = {.preset = "qwq", .system = "Be brief."};
    CHECK(chat_template_resolve(&o, NULL, &t, &e) == 0 && !strcmp(t.system, "Be brief.") &&
              !strcmp(t.user, "Solve the problem: {problem}"), "system over qwq");
    o = (PromptOpts){.user_template = "Q: {problem}\nA:"};
    chat_preset("marco-eval", &u, &e);
    CHECK(chat_template_resolve(&o, &u, &t, &e) == 0 && !strcmp(t.user, "Q: {problem}\nA:") &&
              !strcmp(t.system, u.system), "user template over the fallback");
    o = (PromptOpts){0};
    CHECK(chat_template_resolve(&o, &u, &t, &e) == 0 && chat_template_same(&t, &u), "the fallback");
    CHECK(chat_template_resolve(&o, NULL, &t, &e) == 0 && !strcmp(chat_preset_name(&t), "default"), "no fallback");
    // placeholder rules: exactly one {problem}; other braces are literal
    o = (PromptOpts){.user_template = "Solve: {Problem}"};
    CHECK(chat_template_resolve(&o, NULL, &t, &e) == -1 && strstr(e.msg, "--user-template") &&
              strstr(e.msg, "exactly one {problem}") && strstr(e.msg, "found 0"), "no placeholder: %s", e.msg);
    o = (PromptOpts){.user_template = "{problem} and {problem}"};
    CHECK(chat_template_resolve(&o, NULL, &t, &e) == -1 && strstr(e.msg, "found 2"), "two: %s", e.msg);
    o = (PromptOpts){.user_template = "In \\boxed{}: {problem}"};
    CHECK(chat_template_resolve(&o, NULL, &t, &e) == 0 && chat_preset_name(&t) == NULL, "literal braces");
    char *q = chat_prompt(&t, "7");
    CHECK(q && strstr(q, "user\nIn \\boxed{}: 7<|im_end|>"), "literal braces render");
    free(q);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    o = (PromptOpts){.system = big};
    CHECK(chat_template_resolve(&o, NULL, &t, &e) == -1 && strstr(e.msg, "--system") && strstr(e.msg, "2047"),
          "too long: %s", e.msg);
    char d[200];
    chat_template_describe(&u, d, sizeof d);
    CHECK(!strcmp(d, "marco-eval"), "describe a preset: %s", d);
}

// The JSON members: written and read back; neither is the default; one alone, or a
// user template without {problem}, is an error naming the file and line.
static void test_template_json(void) {
    Err e = {{0}};
    ChatTemplate t, back;
    PromptOpts o = {.system = "S \"q\"\n", .user_template = "U: {problem}\t\\"};
    CHECK(chat_template_resolve(&o, NULL, &t, &e) == 0, "resolve");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fputc('{', f);
    chat_template_write_json(f, &t);
    fputc('}', f);
    fclose(f);
    Json *j = json_parse(buf, len, "t.json", &e);
    CHECK(j && chat_template_read_json(json_root(j), "t.json", &back, &e) == 0 && chat_template_same(&t, &back),
          "round trip: %s", buf);
    json_free(j);
    free(buf);
    const char *cases[][2] = {
        {"{\"k\": 1}", NULL},
        {"{\"system\": \"s\"}", "t.json: line 1: expected both \"system\" and \"user_template\""},
        {"{\"system\": \"s\", \"user_template\": \"no placeholder\"}", "t.json: line 1: expected exactly one"},
        {"{\"system\": \"s\", \"user_template\": 3}", "user_template"},
    };
    for (int i = 0; i < 4; i++) {
        j = json_parse(cases[i][0], strlen(cases[i][0]), "t.json", &e);
        int rc = chat_template_read_json(json_root(j), "t.json", &back, &e);
        if (!cases[i][1])
            CHECK(rc == 0 && !strcmp(chat_preset_name(&back), "default"), "absent: the default");
        else
            CHECK(rc == -1 && strstr(e.msg, cases[i][1]), "%s: %s", cases[i][0], e.msg);
        json_free(j);
    }
}

static void test_synth(void) {
    Err e = {{0}};
    Dataset a = {0}, b = {0}, t = {0};
    SynthConfig cfg = {.seed = 7, .level_min = 1, .level_max = 5, .split = SYNTH_TRAIN};
    CHECK(synth_generate(&cfg, 1500, &a, &e) == 0 && a.n == 1500, "synth: %s", e.msg);
    CHECK(synth_generate(&cfg, 1500, &b, &e) == 0, "synth again");
    int same = a.n == b.n;
    for (int i = 0; same && i < a.n; i++)
        same = !strcmp(a.ex[i].problem, b.ex[i].problem) && !strcmp(a.ex[i].solution, b.ex[i].solution) &&
               a.ex[i].redundant_chars == b.ex[i].redundant_chars;
    CHECK(same, "same seed, same examples");
    dataset_free(&b);
    SynthConfig other = cfg;
    other.seed = 8;
    CHECK(synth_generate(&other, 50, &b, &e) == 0, "seed 8");
    int differ = 0;
    for (int i = 0; i < 50; i++) differ += strcmp(a.ex[i].problem, b.ex[i].problem) != 0;
    CHECK(differ > 40, "another seed, other problems (%d of 50 differ)", differ);
    dataset_free(&b);

    SynthConfig tc = cfg;
    tc.split = SYNTH_TEST;
    CHECK(synth_generate(&tc, 500, &t, &e) == 0 && t.n == 500, "test split: %s", e.msg);
    // every problem in its split, no duplicates, no overlap (checked pairwise by hash sort)
    int wrong_split = 0, shared = 0, bad_grade = 0, bad_level = 0, over = 0;
    for (int i = 0; i < a.n; i++) wrong_split += synth_split_of(a.ex[i].problem) != SYNTH_TRAIN;
    for (int i = 0; i < t.n; i++) wrong_split += synth_split_of(t.ex[i].problem) != SYNTH_TEST;
    for (int i = 0; i < t.n; i++)
        for (int j = 0; j < a.n; j++) shared += !strcmp(t.ex[i].problem, a.ex[j].problem);
    int dups = 0;
    for (int i = 0; i < a.n; i++)
        for (int j = i + 1; j < a.n; j++) dups += !strcmp(a.ex[i].problem, a.ex[j].problem);
    CHECK(wrong_split == 0 && shared == 0 && dups == 0, "splits: %d misplaced, %d shared, %d duplicates",
          wrong_split, shared, dups);
    // self-consistency: the boxed answer grades correct; levels; lengths; redundancy; the
    // steps labelled in words, the last one (2 x level) in the problem and in the solution
    static const char *const last_step[] = {"", "Step two: ", "Step four: ", "Step six: ", "Step eight: ",
                                            "Step ten: "};
    int bad_labels = 0;
    for (int i = 0; i < a.n; i++) {
        const Example *x = &a.ex[i];
        bad_labels += x->level >= 1 && x->level <= 5 &&
                      (!strstr(x->problem, "Step one: ") || !strstr(x->problem, last_step[x->level]) ||
                       !strstr(x->solution, last_step[x->level]) || strstr(x->problem, "Step 1"));
        bad_grade += !grade_solution(x->solution, x->answer);
        bad_level += x->level < 1 || x->level > 5;
        over += strlen(x->solution) > SYNTH_MAX_SOLUTION_CHARS ||
                x->redundant_chars < 0 || x->redundant_chars >= (long)strlen(x->solution);
    }
    CHECK(bad_grade == 0 && bad_level == 0 && over == 0, "%d misgraded, %d bad levels, %d bad lengths", bad_grade,
          bad_level, over);
    CHECK(bad_labels == 0, "%d examples without their steps labelled one to 2 x level", bad_labels);
    DatasetStats st;
    dataset_stats(&a, &st);
    printf("synth (seed 7, 1500 train examples): level, count, mean solution chars, redundant fraction\n");
    for (int l = 1; l <= 5; l++) {
        printf("  %d  %4d  %6.1f  %.3f\n", l, st.count[l], st.mean_chars[l], st.redundant_frac[l]);
        CHECK(st.count[l] > 200, "level %d drawn", l);
        if (l > 1) CHECK(st.mean_chars[l] > st.mean_chars[l - 1], "longer at level %d", l);
        CHECK(st.graded[l] == st.count[l] && st.correct[l] == st.graded[l], "level %d: %d/%d solutions correct",
              l, st.correct[l], st.graded[l]);
    }
    CHECK(st.total_redundant_frac > 0.5 && st.total_redundant_frac < 0.75, "redundant fraction %.3f in 0.5..0.75",
          st.total_redundant_frac);
    // the spread: overthinking is the norm (most solutions more than half redundant), but
    // some solutions are lean
    int lean = 0, heavy = 0, slips = 0;
    for (int i = 0; i < a.n; i++) {
        double f = (double)a.ex[i].redundant_chars / (double)strlen(a.ex[i].solution);
        lean += f < 0.4;
        heavy += f > 0.6;
        slips += strstr(a.ex[i].solution, "Wait, let me check that again.") != NULL;
    }
    CHECK(lean > 50 && heavy > 100 && slips > 200, "spread: %d lean, %d heavy, %d with checks", lean, heavy, slips);
    // levels option and bad configs
    SynthConfig l3 = {.seed = 1, .level_min = 3, .level_max = 3, .split = SYNTH_TRAIN};
    CHECK(synth_generate(&l3, 20, &b, &e) == 0, "level 3 only");
    int all3 = 1;
    for (int i = 0; i < b.n; i++) all3 &= b.ex[i].level == 3;
    CHECK(all3 && b.n == 20, "all level 3");
    dataset_free(&b);
    SynthConfig bad = {.seed = 1, .level_min = 0, .level_max = 6};
    CHECK(synth_generate(&bad, 1, &b, &e) == -1 && strstr(e.msg, "levels"), "bad levels");
    dataset_free(&a);
    dataset_free(&t);
}

// 5 examples: prompt lengths 3,2,4,6,1; completions 2,3,0,4,9 (id = 100*i + position)
static void batch_examples(TokExample ex[5]) {
    static int ids[5][20];
    const int plen[5] = {3, 2, 4, 6, 1}, clen[5] = {2, 3, 0, 4, 9};
    for (int i = 0; i < 5; i++) {
        for (int k = 0; k < 20; k++) ids[i][k] = 100 * i + k;
        ex[i] = (TokExample){ids[i], plen[i], ids[i] + plen[i], clen[i]};
    }
}

// batch_fill: rows, targets, weights, truncation, padding rows.
static void test_batch_fill(void) {
    TokExample ex[5];
    batch_examples(ex);
    enum { B = 2, T = 8 };
    int tok[B * T], tgt[B * T], lens[B], idx[2] = {0, 4};
    float w[B * T];
    long cut = batch_fill(ex, idx, 2, B, T, -7, tok, tgt, w, lens);
    // row 0: seq 0 1 2 | 3 4 (P=3, C=2), len 5
    CHECK(lens[0] == 5 && cut == 2, "lens %d, cut %ld", lens[0], cut);
    int want_tok0[T] = {0, 1, 2, 3, 4, -7, -7, -7}, want_tgt0[T] = {1, 2, 3, 4, -1, -1, -1, -1};
    float want_w0[T] = {0, 0, 1, 1, 0, 0, 0, 0};
    int ok = 1;
    for (int t = 0; t < T; t++) ok &= tok[t] == want_tok0[t] && tgt[t] == want_tgt0[t] && w[t] == want_w0[t];
    CHECK(ok, "row 0 tokens / targets / weights");
    // row 1: P=1, C truncated to 7: seq 400..407, weights on t = 0..6
    ok = lens[1] == 8;
    for (int t = 0; t < T; t++)
        ok &= tok[T + t] == 400 + t && tgt[T + t] == (t < 7 ? 401 + t : -1) && w[T + t] == (t < 7 ? 1.0f : 0.0f);
    CHECK(ok, "row 1 truncated");
    // padding rows
    batch_fill(ex, idx, 1, B, T, 0, tok, tgt, w, lens);
    ok = lens[1] == 0;
    for (int t = 0; t < T; t++) ok &= tgt[T + t] == -1 && w[T + t] == 0;
    CHECK(ok, "empty padding row");
}

// The batcher: policies and counts, epochs, seeking, seeds.
static void test_batcher(void) {
    TokExample ex[5];
    batch_examples(ex);
    enum { B = 2, T = 8 };
    int tok[B * T], tgt[B * T], lens[B];
    float w[B * T];
    Batcher b;
    Err e = {{0}};
    CHECK(batcher_init(&b, ex, 5, B, T, BATCH_DROP, 42, &e) == 0, "init drop");
    CHECK(b.stats.total == 5 && b.stats.kept == 2 && b.stats.dropped == 3 && b.stats.truncated == 0,
          "drop: kept %d dropped %d", b.stats.kept, b.stats.dropped);  // ex 2 empty, ex 3 and 4 over-long
    batcher_free(&b);
    CHECK(batcher_init(&b, ex, 5, B, T, BATCH_TRUNCATE, 42, &e) == 0, "init truncate");
    CHECK(b.stats.kept == 4 && b.stats.dropped == 1 && b.stats.truncated == 2 && b.stats.truncated_tokens == 4,
          "truncate: kept %d dropped %d truncated %d (%lld tokens)", b.stats.kept, b.stats.dropped,
          b.stats.truncated, (long long)b.stats.truncated_tokens);
    // each epoch visits every kept example once; deterministic; restorable
    int seen[5] = {0}, first[8];
    for (int s = 0; s < 4; s++) {  // 8 rows = two epochs of 4
        batcher_next(&b, tok, tgt, w, lens);
        for (int r = 0; r < B; r++) {
            first[s * B + r] = tok[r * T] / 100;
            seen[tok[r * T] / 100]++;
        }
    }
    CHECK(seen[0] == 2 && seen[1] == 2 && seen[2] == 0 && seen[3] == 2 && seen[4] == 2, "two epochs");
    CHECK(b.at.epoch == 1 && b.at.pos == 4, "position (epoch %lld, pos %lld)", (long long)b.at.epoch,
          (long long)b.at.pos);
    Batcher c;
    batcher_init(&c, ex, 5, B, T, BATCH_TRUNCATE, 42, &e);
    BatchPos mid = {0, 2};
    CHECK(batcher_seek(&c, mid, &e) == 0, "seek");
    int same = 1;
    for (int s = 1; s < 4; s++) {
        batcher_next(&c, tok, tgt, w, lens);
        for (int r = 0; r < B; r++) same &= tok[r * T] / 100 == first[s * B + r];
    }
    CHECK(same, "restored position gives the same batches");
    BatchPos badpos = {0, 9};
    CHECK(batcher_seek(&c, badpos, &e) == -1, "bad position refused");
    batcher_free(&c);
    // another seed, another order (over 20 epochs of 4, some epoch must differ)
    Batcher d;
    batcher_init(&d, ex, 5, 4, T, BATCH_TRUNCATE, 43, &e);
    batcher_free(&b);
    batcher_init(&b, ex, 5, 4, T, BATCH_TRUNCATE, 42, &e);
    int differ = 0;
    for (int s = 0; s < 20; s++) {
        int tb[4 * T], td[4 * T], tg[4 * T], ln[4];
        float wt[4 * T];
        batcher_next(&b, tb, tg, wt, ln);
        batcher_next(&d, td, tg, wt, ln);
        for (int r = 0; r < 4; r++) differ += tb[r * T] != td[r * T];
    }
    CHECK(differ > 0, "seeds change the order");
    batcher_free(&b);
    batcher_free(&d);
    CHECK(batcher_init(&b, ex, 1, B, 2, BATCH_DROP, 1, &e) == -1 && strstr(e.msg, "none of the 1"), "nothing fits");
    CHECK(batcher_init(&b, ex, 5, 0, T, BATCH_DROP, 1, &e) == -1, "B = 0 refused");
}

static void expect_toklines_error(const char *text, const char *want) {
    TokLines tl;
    Err e = {{0}};
    int rc = toklines_parse(text, strlen(text), "t.txt", 10, 4, &tl, &e);
    CHECK(rc == -1 && !tl.tokens && strstr(e.msg, want), "'%s': want '%s', got '%s'", text, want, e.msg);
}

static void test_toklines(void) {
    TokLines tl;
    Err e = {{0}};
    const char *text = "1 2 3\n 4\t5 \r\n9\n";
    CHECK(toklines_parse(text, strlen(text), "t.txt", 10, 4, &tl, &e) == 0, "parse: %s", e.msg);
    int want[3][3] = {{1, 2, 3}, {4, 5, 0}, {9, 0, 0}}, ok = tl.B == 3 && tl.T == 3;
    for (int b = 0; ok && b < 3; b++)
        for (int t = 0; t < 3; t++) ok &= tl.tokens[b * 3 + t] == want[b][t];
    CHECK(ok && tl.lens[0] == 3 && tl.lens[1] == 2 && tl.lens[2] == 1, "grid and lengths");
    toklines_free(&tl);
    expect_toklines_error("1 2\n3 x\n", "t.txt: line 2, column 3: expected a token id");
    expect_toklines_error("1 2\n3 12\n", "line 2, column 3: token id 12 is out of range (vocab_size = 10)");
    expect_toklines_error("1\n\n2\n", "t.txt: line 2: empty line");
    expect_toklines_error("1 2 3 4 5\n", "line 1: 5 tokens exceed max_position_embeddings = 4");
    expect_toklines_error("", "t.txt: no token lines");
    expect_toklines_error("1 -2\n", "token id -2 is out of range");
}

// batch_cutoff against LLaMA-Factory's infer_seqlen (values from its Python, cutoff 10),
// then the rows batch_fill makes of the cut examples: the first P prompt and C
// completion tokens.
static void test_cutoff(void) {
    enum { N = 7, CUT = 10 };
    static int ids[N][40];
    const int plen[N] = {3, 8, 2, 7, 6, 5, 12}, clen[N] = {2, 4, 20, 13, 9, 5, 3};
    const int want_p[N] = {3, 6, 2, 4, 4, 5, 7}, want_c[N] = {2, 4, 8, 6, 6, 5, 3};
    TokExample ex[N];
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 40; k++) ids[i][k] = 100 * i + k;
        ex[i] = (TokExample){ids[i], plen[i], ids[i] + plen[i], clen[i]};
    }
    CHECK(batch_cutoff(ex, N, 0) == 0 && ex[2].completion_len == 20, "cutoff 0 cut something");
    int cut = batch_cutoff(ex, N, CUT);
    CHECK(cut == 5, "%d examples cut, expected 5", cut);
    for (int i = 0; i < N; i++) {
        CHECK(ex[i].prompt_len == want_p[i] && ex[i].completion_len == want_c[i],
              "example %d (%d + %d): cut to %d + %d, expected %d + %d", i, plen[i], clen[i], ex[i].prompt_len,
              ex[i].completion_len, want_p[i], want_c[i]);
        int tok[CUT], tgt[CUT], len, row = i, ok = 1;
        float w[CUT];
        batch_fill(ex, &row, 1, 1, CUT, -7, tok, tgt, w, &len);
        for (int t = 0; t < want_p[i]; t++) ok &= tok[t] == 100 * i + t;
        for (int t = 0; t < want_c[i]; t++) ok &= tok[want_p[i] + t] == 100 * i + plen[i] + t;
        CHECK(ok && len == want_p[i] + want_c[i], "example %d: the row is not prompt[0..P) ++ completion[0..C)", i);
    }
}

int main(void) {
    test_load();
    test_bad();
    test_write();
    test_chat();
    test_jinja();
    test_presets();
    test_template_json();
    test_synth();
    test_batch_fill();
    test_batcher();
    test_cutoff();
    test_toklines();
    return test_summary();
}
