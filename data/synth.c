// data/synth.c -- the synthetic long-thought tasks (see synth.h for the design): what the
// families share (synth_internal.h), the chain task, and the generation loop.
//
// A solution is a sequence of segments, each necessary or redundant. The necessary ones
// alone form a complete, correct solution; the redundant ones count into
// redundant_chars: restatements, hesitations, re-checks, a second pass, slips and their
// corrections. One propensity u per example sets how much it overthinks, so lengths
// spread widely within a problem type, as in o1-like models.
#include "synth.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/rng.h"
#include "synth_internal.h"

#define MAX_STEPS (2 * SYNTH_MAX_LEVEL)

// ---- text building --------------------------------------------------------------------

void synth_put(SynthText *t, int redundant, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0 || t->oom) return;
    if (t->n + (size_t)k + 1 > t->cap) {
        size_t cap = (t->cap + (size_t)k + 1) * 2;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->oom = 1;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->n, tmp, (size_t)k + 1);
    t->n += (size_t)k;
    if (redundant) t->redundant += k;
}

const char *synth_pick(Rng *r, const char *const *options, int n) { return options[rng_below(r, (uint64_t)n)]; }

int synth_chance(Rng *r, double p) { return rng_double(r) < p; }

// As in o1-like models overthinking is the norm, the likeliest continuation at every
// choice, so even greedy decoding restates, re-checks and re-verifies; its amount varies
// between solutions.
double synth_propensity(Rng *r) { return 0.35 + 0.65 * rng_double(r); }

const char *const synth_openers[3] = {"Okay, let me think about this carefully.\n",
                                      "Hmm, let me work through this step by step.\n", "Let me be careful here.\n"};
// Every re-check starts with the same words: re-checking is one choice at the start of a
// line, its probability not split between phrasings, so greedy decoding takes it whenever
// it is the likelier.
const char *const synth_rechecks[3] = {"Let me double-check: ", "Let me check that again: ",
                                       "Let me check this step: "};
const char *const synth_confirms[3] = {"Yes.", "Yes, that is right.", "Correct."};

// Step i of a solution begins by repeating "Step i: + k" from the problem: a copy of what
// followed the same words in the prompt. A small transformer learns that induction
// early, so its capacity goes to the arithmetic. Steps are numbered in words ("Step
// four: - 1"): a word is one token used nowhere else, while a digit label is also an
// operand ("+ 4"). With digit labels the demo's reference failed to learn the copy on
// two seeds of six, taking a step's operation from its neighbour.
const char *const synth_step_names[MAX_STEPS] = {"one", "two",   "three", "four", "five",
                                                 "six", "seven", "eight", "nine", "ten"};

// ---- the chain task ---------------------------------------------------------------------

typedef enum { OP_ADD, OP_SUB } OpKind;
typedef struct {
    OpKind kind;
    int k;  // operand, 1..9
} Op;

typedef struct {
    int start, nsteps;
    Op ops[MAX_STEPS];
    int values[MAX_STEPS + 1];  // values[0] = start, values[i+1] after step i
} Problem;

static int apply(Op op, int v) { return op.kind == OP_ADD ? v + op.k : v - op.k; }
static char op_sym(Op op) { return op.kind == OP_ADD ? '+' : '-'; }

// Level L has 2L steps. A step adds or subtracts k (1..9) with no carry and no borrow:
// the units digit moves, the tens digit is copied. Each step is one local one-digit sum;
// the difficulty is the number of steps and keeping track of them.
static void draw_problem(Rng *r, int level, void *problem) {
    Problem *p = problem;
    p->nsteps = 2 * level;
    p->start = 10 + (int)rng_below(r, 90);
    int v = p->start;
    p->values[0] = v;
    for (int i = 0; i < p->nsteps; i++) {
        int u = v % 10;
        // 9 choices in all, drawn uniformly: u + k <= 9 leaves 9 - u additions,
        // u - k >= 0 leaves u subtractions
        int j = (int)rng_below(r, 9);
        Op op = j < 9 - u ? (Op){OP_ADD, 1 + j} : (Op){OP_SUB, 1 + j - (9 - u)};
        v = apply(op, v);
        p->ops[i] = op;
        p->values[i + 1] = v;
    }
}

static void op_words(Op op, char *buf, size_t cap) {
    snprintf(buf, cap, "%c %d", op_sym(op), op.k);
}

static void problem_text(const void *problem, SynthText *t) {
    const Problem *p = problem;
    char w[32];
    synth_put(t, 0, "Start with %d.", p->start);
    for (int i = 0; i < p->nsteps; i++) {
        op_words(p->ops[i], w, sizeof w);
        synth_put(t, 0, " Step %s: %s.", synth_step_names[i], w);
    }
    synth_put(t, 0, " What is the final number?");
}

// A slip's wrong result: off by one, two or ten (a carry), never the truth.
static int slip_value(Rng *r, int truth) {
    static const int deltas[] = {1, -1, 2, -2, 10, -10};
    for (;;) {
        int w = truth + deltas[rng_below(r, 6)];
        if (w >= 0 && w != truth) return w;
    }
}

static void solution_text(Rng *r, const void *problem, SynthText *t) {
    const Problem *p = problem;
    double u = synth_propensity(r);
    char w[32];

    if (synth_chance(r, 0.5 * u)) synth_put(t, 1, "%s", SYNTH_PICK(r, synth_openers));
    if (synth_chance(r, 0.9 * u)) {
        synth_put(t, 1, "Let me restate the problem: we start with %d and then ", p->start);
        for (int i = 0; i < p->nsteps; i++) {
            op_words(p->ops[i], w, sizeof w);
            synth_put(t, 1, "%s%s", i ? ", " : "", w);
        }
        synth_put(t, 1, ".\n");
    }
    synth_put(t, 0, "We start with %d.\n", p->start);
    for (int i = 0; i < p->nsteps; i++) {
        Op op = p->ops[i];
        int a = p->values[i], c = p->values[i + 1];
        char s = op_sym(op);
        synth_put(t, 0, "Step %s: %c %d, so ", synth_step_names[i], s, op.k);
        if (synth_chance(r, 0.04 + 0.06 * u)) {
            // a slip, caught and corrected: wrong result and check are redundant
            synth_put(t, 1, "%d %c %d = %d. Wait, let me check that again. ", a, s, op.k, slip_value(r, c));
            synth_put(t, 0, "%d %c %d = %d.\n", a, s, op.k, c);
            continue;
        }
        synth_put(t, 0, "%d %c %d = %d.\n", a, s, op.k, c);
        if (synth_chance(r, 0.8 * u)) {
            // two draws, in this order on every compiler (not as arguments of one call)
            const char *yes = SYNTH_PICK(r, synth_confirms), *check = SYNTH_PICK(r, synth_rechecks);
            synth_put(t, 1, "%s%d %c %d = %d. %s\n", check, a, s, op.k, c, yes);
        }
        if (i + 1 < p->nsteps && synth_chance(r, 0.2 * u)) {
            op_words(p->ops[i + 1], w, sizeof w);
            synth_put(t, 1, "Hmm, what comes next? The next operation is to %s.\n", w);
        }
    }
    // The answer, then a second full pass, as o1-like models do. The answer is the
    // steps' result, so pruning the pass cannot change it.
    int answer = p->values[p->nsteps];
    synth_put(t, 0, "The final number is \\boxed{%d}.", answer);
    if (synth_chance(r, 0.9 * u)) {
        synth_put(t, 1, "\nLet me verify by redoing it: ");
        for (int i = 0; i < p->nsteps; i++)
            synth_put(t, 1, "%s%d %c %d = %d", i ? ", " : "", p->values[i], op_sym(p->ops[i]), p->ops[i].k,
                p->values[i + 1]);
        synth_put(t, 1, ". Same result, %d.", answer);
    }
}

// ---- splits and generation ------------------------------------------------------------

// FNV-1a, then a SplitMix finaliser so the low bits mix well.
static uint64_t hash_text(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ULL;
    return h ^ (h >> 29);
}

int synth_split_of(const char *problem) { return hash_text(problem) % 5 == 0 ? SYNTH_TEST : SYNTH_TRAIN; }

// Open-addressing set of problem hashes, to skip duplicates.
typedef struct {
    uint64_t *slots;
    size_t cap, n;
} HashSet;

// 1 inserted, 0 present already, -1 out of memory.
static int set_insert(HashSet *s, uint64_t h) {
    if (h == 0) h = 1;
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        uint64_t *slots = calloc(cap, sizeof *slots);
        if (!slots) return -1;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slots[i]) continue;
            size_t j = s->slots[i] & (cap - 1);
            while (slots[j]) j = (j + 1) & (cap - 1);
            slots[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    size_t j = h & (s->cap - 1);
    while (s->slots[j]) {
        if (s->slots[j] == h) return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->slots[j] = h;
    s->n++;
    return 1;
}

int synth_run(const SynthConfig *cfg, int n, const SynthFamily *f, void *problem, Dataset *ds, Err *e) {
    if (cfg->level_min < 1 || cfg->level_max > SYNTH_MAX_LEVEL || cfg->level_min > cfg->level_max)
        return err_fmt(e, "synth: levels %d-%d: expected a range within 1-%d", cfg->level_min, cfg->level_max,
                       SYNTH_MAX_LEVEL);
    if (cfg->split != SYNTH_TRAIN && cfg->split != SYNTH_TEST)
        return err_fmt(e, "synth: split must be train or test");
    if (n < 0) return err_fmt(e, "synth: n must be >= 0 (got %d)", n);
    // the stream depends on (seed, family, split) only; candidates of the other split are skipped
    Rng r = rng_derive(cfg->seed, f->stream, (uint64_t)cfg->split);
    HashSet seen = {0};
    SynthText prob = {0}, sol = {0};
    int rc = 0, kept = 0;
    long long tries = 0, max_tries = 200LL * n + 100000;
    int nlevels = cfg->level_max - cfg->level_min + 1;
    while (kept < n && !rc) {
        if (++tries > max_tries) {
            rc = err_fmt(e, "synth: found only %d distinct %s problems at levels %d-%d (asked for %d)", kept,
                         cfg->split == SYNTH_TEST ? "test" : "train", cfg->level_min, cfg->level_max, n);
            break;
        }
        int level = cfg->level_min + (int)rng_below(&r, (uint64_t)nlevels);
        f->draw(&r, level, problem);
        prob.n = 0;
        f->problem_text(problem, &prob);
        if (prob.oom) break;
        if (synth_split_of(prob.buf) != cfg->split) continue;
        int ins = set_insert(&seen, hash_text(prob.buf));
        if (ins < 0) break;
        if (ins == 0) continue;
        // the solution draws from its own stream, leaving the problem stream alone; one
        // over SYNTH_MAX_SOLUTION_CHARS is drawn again, with a fresh propensity
        Rng rs = rng_derive(cfg->seed, hash_text(prob.buf), 0x501);
        do {
            sol.n = 0;
            sol.redundant = 0;
            f->solution_text(&rs, problem, &sol);
        } while (!sol.oom && sol.n > SYNTH_MAX_SOLUTION_CHARS);
        if (sol.oom) break;
        char answer[16];
        f->answer(problem, answer, sizeof answer);
        rc = dataset_add(ds, prob.buf, answer, sol.buf, level, sol.redundant, e);
        kept++;
    }
    if (!rc && (prob.oom || sol.oom || kept < n)) rc = err_fmt(e, "synth: out of memory");
    free(seen.slots);
    free(prob.buf);
    free(sol.buf);
    return rc;
}

static void answer_text(const void *problem, char *buf, size_t cap) {
    const Problem *p = problem;
    snprintf(buf, cap, "%d", p->values[p->nsteps]);
}

int synth_task_find(const char *name, SynthTask *task) {
    if (!strcmp(name, "chain")) *task = SYNTH_CHAIN;
    else if (!strcmp(name, "walk")) *task = SYNTH_WALK;
    else return -1;
    return 0;
}

int synth_generate(const SynthConfig *cfg, int n, Dataset *ds, Err *e) {
    static const SynthFamily chain = {0x5e7, draw_problem, problem_text, solution_text, answer_text};
    if (cfg->task == SYNTH_WALK) return synth_walk_generate(cfg, n, ds, e);
    if (cfg->task != SYNTH_CHAIN) return err_fmt(e, "synth: unknown task %d", (int)cfg->task);
    Problem p;
    return synth_run(cfg, n, &chain, &p, ds, e);
}
