// data/synth_walk.c -- the walk task: follow arrows between letters (see synth.h).
//
// Level L: 2L + 3 distinct capital letters, each with one arrow out. The walk from the
// start visits 2L + 1 distinct letters; the arrows out of its last letter and of the two
// others point anywhere but back at themselves, so every letter has an arrow and the
// count alone says where to stop. The problem lists the arrows shuffled: each step is a
// lookup, and no shortcut (the end of a path, the letter before the start on a cycle)
// names the answer without walking.
#include <stdio.h>

#include "synth_internal.h"

#define MAX_HOPS (2 * SYNTH_MAX_LEVEL)
#define MAX_NODES (MAX_HOPS + 3)

typedef struct {
    int nnodes, hops;         // nnodes = hops + 3; the walk is nodes 0, 1, ..., hops
    char letter[MAX_NODES];   // node -> its letter
    int next[MAX_NODES];      // node -> the node its arrow points to
    int order[MAX_NODES];     // the arrows in the problem's order (their source nodes)
} Walk;

static void draw_walk(Rng *r, int level, void *problem) {
    Walk *w = problem;
    w->hops = 2 * level;
    w->nnodes = w->hops + 3;
    int alphabet[26];
    for (int i = 0; i < 26; i++) alphabet[i] = i;
    rng_shuffle_ints(r, alphabet, 26);
    for (int i = 0; i < w->nnodes; i++) w->letter[i] = (char)('A' + alphabet[i]);
    // pass 1: the walk, node i to i + 1; pass 2: the other arrows, anywhere but a self-loop
    for (int i = 0; i < w->hops; i++) w->next[i] = i + 1;
    for (int i = w->hops; i < w->nnodes; i++) {
        int j = (int)rng_below(r, (uint64_t)(w->nnodes - 1));
        w->next[i] = j < i ? j : j + 1;
    }
    for (int i = 0; i < w->nnodes; i++) w->order[i] = i;
    rng_shuffle_ints(r, w->order, w->nnodes);
}

static void walk_problem_text(const void *problem, SynthText *t) {
    const Walk *w = problem;
    synth_put(t, 0, "Arrows:");
    for (int i = 0; i < w->nnodes; i++) {
        int a = w->order[i];
        synth_put(t, 0, "%s %c to %c", i ? "," : "", w->letter[a], w->letter[w->next[a]]);
    }
    synth_put(t, 0, ". Start at %c and follow %s arrows. Where do you end?", w->letter[0],
              synth_step_names[w->hops - 1]);
}

// A slip's wrong target: another letter of the problem, neither the truth nor the source.
static char slip_letter(Rng *r, const Walk *w, int from) {
    for (;;) {
        int j = (int)rng_below(r, (uint64_t)w->nnodes);
        if (j != from && j != w->next[from]) return w->letter[j];
    }
}

// The walk's segments, in the chain's kinds and proportions (synth.c).
static void walk_solution_text(Rng *r, const void *problem, SynthText *t) {
    const Walk *w = problem;
    double u = synth_propensity(r);
    char start = w->letter[0], end = w->letter[w->hops];

    if (synth_chance(r, 0.5 * u)) synth_put(t, 1, "%s", SYNTH_PICK(r, synth_openers));
    if (synth_chance(r, 0.9 * u)) {
        synth_put(t, 1, "Let me restate the problem: we start at %c and follow %s arrows; the arrows are ", start,
                  synth_step_names[w->hops - 1]);
        for (int i = 0; i < w->nnodes; i++) {
            int a = w->order[i];
            synth_put(t, 1, "%s%c to %c", i ? ", " : "", w->letter[a], w->letter[w->next[a]]);
        }
        synth_put(t, 1, ".\n");
    }
    synth_put(t, 0, "We start at %c.\n", start);
    for (int i = 0; i < w->hops; i++) {
        char a = w->letter[i], b = w->letter[i + 1];
        synth_put(t, 0, "Step %s: ", synth_step_names[i]);
        if (synth_chance(r, 0.04 + 0.06 * u)) {
            // a slip, caught and corrected: wrong target and check are redundant
            synth_put(t, 1, "%c to %c. Wait, let me check that again. ", a, slip_letter(r, w, i));
            synth_put(t, 0, "%c to %c.\n", a, b);
            continue;
        }
        synth_put(t, 0, "%c to %c.\n", a, b);
        if (synth_chance(r, 0.8 * u)) {
            // two draws, in this order on every compiler (not as arguments of one call)
            const char *yes = SYNTH_PICK(r, synth_confirms), *check = SYNTH_PICK(r, synth_rechecks);
            synth_put(t, 1, "%sthe arrow from %c goes to %c. %s\n", check, a, b, yes);
        }
        if (i + 1 < w->hops && synth_chance(r, 0.2 * u))
            synth_put(t, 1, "Hmm, what comes next? The next arrow starts at %c.\n", b);
    }
    synth_put(t, 0, "We end at \\boxed{%c}.", end);
    if (synth_chance(r, 0.9 * u)) {
        synth_put(t, 1, "\nLet me verify by redoing it: ");
        for (int i = 0; i < w->hops; i++) synth_put(t, 1, "%s%c to %c", i ? ", " : "", w->letter[i], w->letter[i + 1]);
        synth_put(t, 1, ". Same result, %c.", end);
    }
}

static void walk_answer(const void *problem, char *buf, size_t cap) {
    const Walk *w = problem;
    snprintf(buf, cap, "%c", w->letter[w->hops]);
}

int synth_walk_generate(const SynthConfig *cfg, int n, Dataset *ds, Err *e) {
    static const SynthFamily walk = {0xa770, draw_walk, walk_problem_text, walk_solution_text, walk_answer};
    Walk w;
    return synth_run(cfg, n, &walk, &w, ds, e);
}
