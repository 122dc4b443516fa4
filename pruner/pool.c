// pruner/pool.c -- prune's training rows from the pre-samples (see pool.h).
#include "pool.h"

#include <stdlib.h>
#include <string.h>

#include "reward.h"

void pool_free(Pool *p) {
    free(p->problem);
    free(p->length);
    free(p->correct);
    free(p->trained);
    free(p->ex);
    memset(p, 0, sizeof *p);
}

int pool_from_presample(const Presample *ps, const char *ps_path, const Dataset *ds, const char *data_path,
                        const TokSet *prompts, const Config *c, const unsigned char *keep, Pool *p, Err *e) {
    memset(p, 0, sizeof *p);
    if (ps->n_problems_total != ds->n)
        return err_fmt(e, "%s: pre-sampled a dataset of %d problems, but %s has %d (not the same dataset?)", ps_path,
                       ps->n_problems_total, data_path, ds->n);
    int n = 0;
    for (int i = 0; i < ps->n_problems; i++) n += keep ? keep[i] : 1;
    n *= ps->k;
    if (n == 0) return err_fmt(e, "%s: no complete problem (run o1p presample to the end)", ps_path);
    p->n = n;
    p->k = ps->k;
    p->problem = malloc((size_t)n * sizeof(int));
    p->length = malloc((size_t)n * sizeof(int));
    p->correct = malloc((size_t)n * sizeof(int));
    p->trained = malloc((size_t)n * sizeof(int));
    p->ex = malloc((size_t)n * sizeof *p->ex);
    if (!p->problem || !p->length || !p->correct || !p->trained || !p->ex)
        return err_fmt(e, "out of memory for %d samples", n);
    for (int j = 0, i = 0; j < ps->n_problems * ps->k; j++) {
        const PresampleItem *it = &ps->items[j];
        if (keep && !keep[it->problem]) continue;
        for (int t = 0; t < it->n_ids; t++)
            if (it->ids[t] < 0 || it->ids[t] >= c->vocab_size)
                return err_fmt(e, "%s: problem %d, sample %d: token id %d is outside the model's vocab of %d", ps_path,
                               it->problem, it->sample, it->ids[t], c->vocab_size);
        p->problem[i] = it->problem;
        p->length[i] = it->length;
        p->correct[i] = it->correct;
        p->ex[i] = prompts->ex[it->problem];
        p->ex[i].completion = (const int *)it->ids;
        p->ex[i].completion_len = it->n_ids;
        i++;
    }
    return 0;
}

int pool_difficulty_half(const char *difficulty, const Presample *ps, unsigned char **keep, Err *e) {
    *keep = NULL;
    if (!difficulty || !strcmp(difficulty, "all")) return 0;
    int harder = !strcmp(difficulty, "harder");
    if (!harder && strcmp(difficulty, "easier"))
        return err_fmt(e, "--difficulty: expected all, easier or harder, got '%s'", difficulty);
    if (ps->n_problems < 2) return err_fmt(e, "--difficulty %s: needs 2 pre-sampled problems or more", difficulty);
    *keep = malloc((size_t)ps->n_problems);
    if (!*keep) return err_fmt(e, "out of memory");
    return select_difficulty_half(ps->accuracy, ps->n_problems, harder, *keep, e);
}
