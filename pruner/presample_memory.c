// pruner/presample_memory.c -- pre-samples of some problems into memory, from weights
// in memory: prune --online's groups (see presample.h).
#include <stdlib.h>
#include <string.h>

#include "../engine/sampler.h"
#include "presample.h"

typedef struct {
    ModelDir *md;
    const Dataset *ds;
    const int *problems;
    const Presample *h;
    Presample *out;
    Err *e;
} MemoryRun;

// A finished sample: graded into its item.
static int on_sample(void *user, const SampleResult *s) {
    MemoryRun *r = user;
    int k = r->h->k, p = r->problems[s->request];
    int32_t *ids = malloc((s->n ? (size_t)s->n : 1) * sizeof *ids);
    if (!ids) {
        err_fmt(r->e, "out of memory");
        return 1;
    }
    memcpy(ids, s->ids, (size_t)s->n * sizeof *ids);
    return presample_item(r->md->tok, r->h->grader, r->ds->ex[p].answer, p, s->sample, ids, s->n, s->truncated,
                          s->mean_logprob, &r->out->items[(size_t)s->request * k + s->sample], r->e) != 0;
}

// The sampler of the run (the context: its longest prompt + max_new, at most the
// model's) and one request per problem.
static Sampler *plan(ModelDir *md, const TokSet *prompts, const int *problems, int n, const Presample *h,
                     uint64_t id_base, SampleRequest *reqs, Err *e) {
    int ctx = md->m.cfg.max_seq_len, max_p = 0;
    for (int i = 0; i < n; i++)
        if (prompts->ex[problems[i]].prompt_len > max_p) max_p = prompts->ex[problems[i]].prompt_len;
    int max_len = sampler_max_len(max_p, h->max_new, ctx);
    for (int i = 0; i < n; i++) {
        const TokExample *x = &prompts->ex[problems[i]];
        reqs[i] = (SampleRequest){(const int32_t *)x->prompt, x->prompt_len, h->k,
                                  sampler_new_tokens(max_len, x->prompt_len, h->max_new), (float)h->temperature,
                                  h->top_k, (float)h->top_p, h->seed, id_base + (uint64_t)problems[i]};
    }
    int32_t stop[2];
    SamplerOpts so = {PRESAMPLE_MEMORY_SLOTS, max_len, 0, stop, chat_stop_ids(&md->chat, stop),
                      tok_vocab_size(md->tok)};
    return sampler_create(&md->m, &so, e);
}

int presample_memory(ModelDir *md, const Dataset *ds, const TokSet *prompts, const int *problems, int n,
                     const Presample *h, uint64_t id_base, Presample *out, Err *e) {
    *out = *h;  // the header; the blocks follow
    out->complete_bytes = 0;
    int k = h->k;
    SampleRequest *reqs = malloc((size_t)n * sizeof *reqs);
    out->items = calloc((size_t)n * k, sizeof *out->items);
    out->mean_length = malloc((size_t)n * sizeof(double));
    out->accuracy = malloc((size_t)n * sizeof(double));
    out->items_cap = out->items ? n * k : 0;
    out->n_problems = n;
    if (!reqs || !out->items || !out->mean_length || !out->accuracy) {
        free(reqs);
        return err_fmt(e, "out of memory for %d x %d samples", n, k);
    }
    Sampler *s = plan(md, prompts, problems, n, h, id_base, reqs, e);
    MemoryRun r = {md, ds, problems, h, out, e};
    SamplerCallbacks cb = {&r, NULL, on_sample, NULL};
    int rc = s ? sampler_run(s, reqs, n, &cb, e) : -1;
    sampler_free(s);
    free(reqs);
    if (rc) return -1;
    for (int i = 0; i < n; i++) {
        double sl = 0, sa = 0;
        for (int j = 0; j < k; j++) {
            sl += out->items[(size_t)i * k + j].length;
            sa += out->items[(size_t)i * k + j].correct;
        }
        out->mean_length[i] = sl / k;
        out->accuracy[i] = sa / k;
    }
    return 0;
}
