// tests/test_synth_walk.c -- the walk task (data/synth_walk.c): every answer recomputed
// from the problem text by a solver of its own, the necessary lines alone a complete
// walk to it (and exactly the characters not counted redundant), levels scaling the
// steps and lengths, determinism, disjoint splits, the grader on its letter answers, and
// the task names.
#include <stdlib.h>
#include <string.h>

#include "../data/dataset.h"
#include "../data/grade.h"
#include "../data/synth.h"
#include "test.h"

static const char *const numbers[] = {"one", "two", "three", "four", "five",
                                      "six", "seven", "eight", "nine", "ten"};

// The problem read back: arrow[c] = target of letter c ('A' + c), 0 where none.
typedef struct {
    char arrow[26];
    int narrows, hops;
    char start;
} Parsed;

// "Arrows: Q to K, D to Q. Start at D and follow two arrows. Where do you end?" -> 0, or -1.
static int parse_problem(const char *s, Parsed *p) {
    memset(p, 0, sizeof *p);
    if (strncmp(s, "Arrows:", 7)) return -1;
    s += 7;
    for (;;) {
        char a, b;
        int k = 0;
        if (sscanf(s, " %c to %c%n", &a, &b, &k) != 2 || a < 'A' || a > 'Z' || b < 'A' || b > 'Z') return -1;
        if (p->arrow[a - 'A']) return -1;  // one arrow out of each letter
        p->arrow[a - 'A'] = b;
        p->narrows++;
        s += k;
        if (*s == '.') break;
        if (*s++ != ',') return -1;
    }
    char word[16];
    int k = 0;
    if (sscanf(s, ". Start at %c and follow %15s arrows. Where do you end?%n", &p->start, word, &k) != 2 ||
        s[k])
        return -1;
    for (int i = 0; i < 10; i++)
        if (!strcmp(word, numbers[i])) p->hops = i + 1;
    return p->hops ? 0 : -1;
}

// Follows the arrows; 0 if the walk leaves the letters that have one.
static char walk(const Parsed *p) {
    char c = p->start;
    for (int i = 0; i < p->hops && c; i++) c = p->arrow[c - 'A'];
    return c;
}

// The solution's necessary text by its lines: "We start at", "Step ..." (less a slip and
// its check) and "We end at" are kept, everything else is overthinking. *slip_ok is
// cleared when a slip names the correct target.
static char *necessary_text(const char *sol, const Parsed *p, int *slip_ok) {
    static const char wait[] = ". Wait, let me check that again. ";
    char *out = calloc(strlen(sol) + 2, 1);
    size_t n = 0;
    for (const char *line = sol; *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (!strncmp(line, "We start at ", 12) || !strncmp(line, "We end at ", 10) || !strncmp(line, "Step ", 5)) {
            const char *w = strstr(line, wait);
            if (w && w < line + len) {
                const char *colon = strchr(line, ':');  // "Step six: N to J. Wait, ... N to I."
                char a = colon[2], slip = colon[7];
                if (slip == p->arrow[a - 'A']) *slip_ok = 0;
                size_t head = (size_t)(colon + 2 - line), skip = (size_t)(w + strlen(wait) - line);
                memcpy(out + n, line, head);
                memcpy(out + n + head, line + skip, len - skip);
                n += head + len - skip;
            } else {
                memcpy(out + n, line, len);
                n += len;
            }
            out[n++] = '\n';
        }
        line += len + (eol != NULL);
    }
    if (n) out[--n] = 0;  // the last line's newline belongs to what follows it
    return out;
}

// The necessary text must be exactly: "We start at S.\n", "Step one: S to X.\n", ...,
// "We end at \boxed{E}." walking the problem's arrows. Returns the steps, -1 if not.
static int check_walk_text(const char *s, const Parsed *p) {
    char cur = p->start, buf[64];
    snprintf(buf, sizeof buf, "We start at %c.\n", cur);
    if (strncmp(s, buf, strlen(buf))) return -1;
    s += strlen(buf);
    int steps = 0;
    for (; steps < 10 && !strncmp(s, "Step ", 5); steps++) {
        char next = p->arrow[cur - 'A'];
        snprintf(buf, sizeof buf, "Step %s: %c to %c.\n", numbers[steps], cur, next);
        if (strncmp(s, buf, strlen(buf))) return -1;
        s += strlen(buf);
        cur = next;
    }
    snprintf(buf, sizeof buf, "We end at \\boxed{%c}.", cur);
    return strcmp(s, buf) ? -1 : steps;
}

static void test_solutions(const Dataset *a) {
    int unparsed = 0, wrong = 0, bad_lean = 0, bad_count = 0, bad_len = 0, bad_slip = 0, slips = 0;
    for (int i = 0; i < a->n; i++) {
        const Example *x = &a->ex[i];
        Parsed p;
        if (parse_problem(x->problem, &p)) {
            unparsed++;
            continue;
        }
        char want[2] = {walk(&p), 0};
        char *boxed = grade_extract_boxed(x->solution);
        wrong += !want[0] || strcmp(x->answer, want) || !boxed || strcmp(boxed, want);
        free(boxed);
        int slip_ok = 1;
        char *lean = necessary_text(x->solution, &p, &slip_ok);
        bad_lean += check_walk_text(lean, &p) != 2 * x->level || p.hops != 2 * x->level;
        bad_count += p.narrows != 2 * x->level + 3;
        bad_len += (long)strlen(lean) + x->redundant_chars != (long)strlen(x->solution) ||
                   strlen(x->solution) > SYNTH_MAX_SOLUTION_CHARS;
        bad_slip += !slip_ok;
        slips += strstr(x->solution, "Wait, let me check that again.") != NULL;
        free(lean);
    }
    CHECK(unparsed == 0, "%d problems unreadable", unparsed);
    CHECK(wrong == 0, "%d answers differ from the walk", wrong);
    CHECK(bad_lean == 0, "%d solutions whose necessary lines are not a complete walk of 2 x level steps", bad_lean);
    CHECK(bad_count == 0, "%d problems without 2 x level + 3 arrows", bad_count);
    CHECK(bad_len == 0, "%d solutions whose redundant_chars is not everything but the walk", bad_len);
    CHECK(bad_slip == 0 && slips > 100, "slips: %d of %d name the correct target", bad_slip, slips);
}

static void test_levels(const Dataset *a) {
    DatasetStats st;
    dataset_stats(a, &st);
    printf("walk (seed 7, %d train examples): level, count, mean solution chars, redundant fraction\n", a->n);
    for (int l = 1; l <= SYNTH_MAX_LEVEL; l++) {
        printf("  %d  %4d  %6.1f  %.3f\n", l, st.count[l], st.mean_chars[l], st.redundant_frac[l]);
        CHECK(st.count[l] > 200, "level %d drawn", l);
        if (l > 1) CHECK(st.mean_chars[l] > st.mean_chars[l - 1], "longer at level %d", l);
        CHECK(st.correct[l] == st.count[l], "level %d: %d/%d solutions grade correct", l, st.correct[l], st.count[l]);
    }
    CHECK(st.total_redundant_frac > 0.5 && st.total_redundant_frac < 0.8, "redundant fraction %.3f in 0.5..0.8",
          st.total_redundant_frac);
    int lean = 0, heavy = 0;
    for (int i = 0; i < a->n; i++) {
        double f = (double)a->ex[i].redundant_chars / (double)strlen(a->ex[i].solution);
        lean += f < 0.4;
        heavy += f > 0.6;
    }
    CHECK(lean > 30 && heavy > 100, "spread: %d lean, %d heavy", lean, heavy);
}

// The grader takes a letter answer and refuses any other letter.
static void test_grading(const Dataset *a) {
    int bad = 0;
    for (char c = 'A'; c <= 'Z'; c++)
        for (char d = 'A'; d <= 'Z'; d++) {
            char s[2] = {c, 0}, t[2] = {d, 0};
            bad += grade_equal(s, t) != (c == d);
        }
    CHECK(bad == 0, "%d letter pairs graded wrongly", bad);
    int accepted = 0, rejected = 0;
    for (int i = 0; i < 50; i++) {
        const Example *x = &a->ex[i];
        accepted += grade_solution(x->solution, x->answer);
        char *sol = strdup(x->solution);
        char *box = strstr(sol, "\\boxed{") + 7;
        *box = *box == 'A' ? 'B' : 'A';  // another letter in the box
        rejected += !grade_solution(sol, x->answer);
        free(sol);
    }
    CHECK(accepted == 50 && rejected == 50, "grader: %d/50 accepted, %d/50 wrong ones rejected", accepted, rejected);
}

static int same_examples(const Dataset *a, const Dataset *b) {
    int same = a->n == b->n;
    for (int i = 0; same && i < a->n; i++)
        same = !strcmp(a->ex[i].problem, b->ex[i].problem) && !strcmp(a->ex[i].solution, b->ex[i].solution) &&
               !strcmp(a->ex[i].answer, b->ex[i].answer) && a->ex[i].level == b->ex[i].level &&
               a->ex[i].redundant_chars == b->ex[i].redundant_chars;
    return same;
}

static void test_determinism_and_splits(const Dataset *a, const SynthConfig *cfg) {
    Err e = {{0}};
    Dataset b = {0}, t = {0};
    CHECK(synth_generate(cfg, a->n, &b, &e) == 0 && same_examples(a, &b), "same seed, same examples: %s", e.msg);
    dataset_free(&b);
    SynthConfig other = *cfg;
    other.seed = 8;
    CHECK(synth_generate(&other, 50, &b, &e) == 0, "seed 8: %s", e.msg);
    int differ = 0;
    for (int i = 0; i < b.n; i++) differ += strcmp(a->ex[i].problem, b.ex[i].problem) != 0;
    CHECK(differ > 40, "another seed, other problems (%d of 50 differ)", differ);
    dataset_free(&b);
    SynthConfig tc = *cfg;
    tc.split = SYNTH_TEST;
    CHECK(synth_generate(&tc, 300, &t, &e) == 0 && t.n == 300, "test split: %s", e.msg);
    int misplaced = 0, shared = 0, dups = 0;
    for (int i = 0; i < a->n; i++) misplaced += synth_split_of(a->ex[i].problem) != SYNTH_TRAIN;
    for (int i = 0; i < t.n; i++) misplaced += synth_split_of(t.ex[i].problem) != SYNTH_TEST;
    for (int i = 0; i < t.n; i++)
        for (int j = 0; j < a->n; j++) shared += !strcmp(t.ex[i].problem, a->ex[j].problem);
    for (int i = 0; i < a->n; i++)
        for (int j = i + 1; j < a->n; j++) dups += !strcmp(a->ex[i].problem, a->ex[j].problem);
    CHECK(misplaced == 0 && shared == 0 && dups == 0, "splits: %d misplaced, %d shared, %d duplicates", misplaced,
          shared, dups);
    dataset_free(&t);
}

static void test_tasks(void) {
    SynthTask task = SYNTH_WALK;
    CHECK(synth_task_find("chain", &task) == 0 && task == SYNTH_CHAIN, "chain");
    CHECK(synth_task_find("walk", &task) == 0 && task == SYNTH_WALK, "walk");
    CHECK(synth_task_find("graph", &task) == -1, "an unknown task");
    // the zero config is the chain, and the walk shares its level checks
    Err e = {{0}};
    Dataset d = {0};
    SynthConfig chain = {.seed = 1, .level_min = 1, .level_max = 1};
    CHECK(synth_generate(&chain, 1, &d, &e) == 0 && !strncmp(d.ex[0].problem, "Start with ", 11), "default chain");
    dataset_free(&d);
    SynthConfig bad = {.seed = 1, .level_min = 0, .level_max = 6, .task = SYNTH_WALK};
    CHECK(synth_generate(&bad, 1, &d, &e) == -1 && strstr(e.msg, "levels"), "bad levels: %s", e.msg);
}

int main(void) {
    Err e = {{0}};
    Dataset a = {0};
    SynthConfig cfg = {.seed = 7, .level_min = 1, .level_max = 5, .split = SYNTH_TRAIN, .task = SYNTH_WALK};
    CHECK(synth_generate(&cfg, 1500, &a, &e) == 0 && a.n == 1500, "walk: %s", e.msg);
    if (a.n == 1500) {
        test_solutions(&a);
        test_levels(&a);
        test_grading(&a);
        test_determinism_and_splits(&a, &cfg);
    }
    dataset_free(&a);
    test_tasks();
    return test_summary();
}
