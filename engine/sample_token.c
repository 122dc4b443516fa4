// engine/sample_token.c -- one token from a logits row (sample_token, the rules on the
// whole row) or from the candidates the backend found in it (sample_from_candidates, the
// sampler's draw). See sampler.h for the rules.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"

int sample_scratch_init(SampleScratch *sc, int V, Err *e) {
    sc->V = V;
    sc->cand = malloc((size_t)V * sizeof *sc->cand);
    if (!sc->cand) return err_fmt(e, "out of memory for sampling scratch (V = %d)", V);
    return 0;
}

void sample_scratch_free(SampleScratch *sc) {
    free(sc->cand);
    memset(sc, 0, sizeof *sc);
}

// The candidate order: more probable first, ties to the lower id (a total order, so
// qsort's result is unique).
static int cand_before(const SampleCand *a, const SampleCand *b) {
    return a->w > b->w || (a->w == b->w && a->id < b->id);
}

static int cand_cmp(const void *pa, const void *pb) {
    const SampleCand *a = pa, *b = pb;
    return cand_before(a, b) ? -1 : cand_before(b, a) ? 1 : 0;
}

// Min-heap (the worst candidate at the root) of the k best candidates seen so far.
static void heap_sift_down(SampleCand *h, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && cand_before(&h[w], &h[l])) w = l;
        if (r < n && cand_before(&h[w], &h[r])) w = r;
        if (w == i) return;
        SampleCand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

// The candidates at temperature T (inv_t = 1/T) among the m tokens of logits l (ids[i],
// or i where ids is NULL; they hold the top_k best of the vocabulary) into sc->cand,
// sorted when top-k or top-p needs an order: the top_k best, or all m. Returns their
// count; *z is their mass.
static int candidates(SampleScratch *sc, const int *ids, const float *l, int m, float mx, double inv_t, int top_k,
                      float top_p, double *z) {
    int n = 0;
    SampleCand *c = sc->cand;
    *z = 0;
    if (top_k > 0 && top_k < sc->V) {
        // The k best by a min-heap: O(m log k).
        for (int i = 0; i < m; i++) {
            SampleCand x = {exp(((double)l[i] - mx) * inv_t), ids ? ids[i] : i, l[i]};
            if (n < top_k) {
                c[n++] = x;
                if (n == top_k)
                    for (int j = n / 2 - 1; j >= 0; j--) heap_sift_down(c, n, j);
            } else if (cand_before(&x, &c[0])) {
                c[0] = x;
                heap_sift_down(c, n, 0);
            }
        }
        qsort(c, (size_t)n, sizeof *c, cand_cmp);
        for (int i = 0; i < n; i++) *z += c[i].w;
        return n;
    }
    for (int i = 0; i < m; i++) {
        c[i] = (SampleCand){exp(((double)l[i] - mx) * inv_t), ids ? ids[i] : i, l[i]};
        *z += c[i].w;
    }
    if (top_p < 1) qsort(c, (size_t)m, sizeof *c, cand_cmp);
    return m;
}

// Draws from candidates c[0..n) of mass z (with top-p < 1: sorted, and from the nucleus
// only). Returns the index of the candidate drawn.
static int draw(const SampleCand *c, int n, double z, float top_p, Rng *rng) {
    if (top_p < 1) {
        // Nucleus: the smallest sorted prefix with mass >= p of the candidates' mass
        // (the filtered-out tail is never part of it; z stays the full mass).
        double need = top_p * z, cum = 0;
        int keep = 0;
        while (keep < n && cum < need) cum += c[keep++].w;
        if (keep == 0) keep = 1;
        n = keep;
        z = cum;
    }
    // The first candidate whose cumulative mass exceeds u * z.
    double u = rng_double(rng) * z, cum = 0;
    for (int i = 0; i < n; i++) {
        cum += c[i].w;
        if (cum > u) return i;
    }
    return n - 1;
}

int32_t sample_token(SampleScratch *sc, const float *logits, float temperature, int top_k,
                     float top_p, Rng *rng, double *logprob) {
    int V = sc->V;
    float mx = logits[0];
    int argmax = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > mx) mx = logits[i], argmax = i;  // strict: ties keep the lower id
    // log softmax at temperature 1: l - max - log sum exp(l - max)
    double z1 = 0;
    for (int i = 0; i < V; i++) z1 += exp((double)logits[i] - mx);
    double lse1 = mx + log(z1);
    int32_t tok;
    if (temperature <= 0) {
        tok = argmax;
    } else {
        double z;
        int n = candidates(sc, NULL, logits, V, mx, 1.0 / temperature, top_k, top_p, &z);
        tok = sc->cand[draw(sc->cand, n, z, top_p, rng)].id;
    }
    if (logprob) *logprob = (double)logits[tok] - lse1;
    return tok;
}

int32_t sample_from_candidates(SampleScratch *sc, const int *ids, const float *cand, int m, double z,
                               double lse1, float temperature, int top_k, float top_p, Rng *rng,
                               double *logprob) {
    if (m == 0) {  // only NaN logits leave no candidate
        if (logprob) *logprob = NAN;
        return 0;
    }
    float mx = cand[0];  // the row's max: the most probable token is always a candidate
    for (int i = 1; i < m; i++)
        if (cand[i] > mx) mx = cand[i];
    double kept;  // with top-k, the mass of the k best; with top-p alone, z is the row's
    int n = candidates(sc, ids, cand, m, mx, 1.0 / temperature, top_k, top_p, &kept);
    const SampleCand *x = &sc->cand[draw(sc->cand, n, top_k > 0 ? kept : z, top_p, rng)];
    if (logprob) *logprob = (double)x->logit - lse1;
    return x->id;
}

