// data/batch.c -- (B, T) batches of (prompt, completion) examples.
#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "../base/rng.h"

long batch_fill(const TokExample *ex, const int *idx, int nrows, int B, int T, int pad_id, int *tokens,
                int *targets, float *weights, int *lens) {
    long cut = 0;
    for (int b = 0; b < B; b++) {
        int *tok = tokens + (size_t)b * T, *tgt = targets + (size_t)b * T;
        float *w = weights + (size_t)b * T;
        int P = 0, C = 0;
        const TokExample *x = NULL;
        if (b < nrows) {
            x = &ex[idx[b]];
            P = x->prompt_len < T ? x->prompt_len : T;
            C = x->completion_len < T - P ? x->completion_len : T - P;
            cut += x->completion_len - C;
        }
        int n = P + C;  // seq = prompt[0..P) ++ completion[0..C)
        if (P) memcpy(tok, x->prompt, (size_t)P * sizeof *tok);
        if (C) memcpy(tok + P, x->completion, (size_t)C * sizeof *tok);
        for (int t = n; t < T; t++) tok[t] = pad_id;
        // position t predicts seq[t+1]; it is trained when seq[t+1] is a completion token
        for (int t = 0; t < T; t++) {
            int has = t + 1 < n;
            tgt[t] = has ? tok[t + 1] : -1;
            w[t] = has && t + 1 >= P ? 1.0f : 0.0f;
        }
        lens[b] = n;
    }
    return cut;
}

int batch_cutoff(TokExample *ex, int n, int cutoff) {
    int cut = 0;
    for (int i = 0; i < n && cutoff > 0; i++) {
        int p = ex[i].prompt_len, c = ex[i].completion_len, max_c;
        if (2 * (long)c < cutoff) max_c = cutoff;
        else if (2 * (long)p < cutoff) max_c = cutoff - p;
        else max_c = (int)(cutoff * ((double)c / ((double)p + c)));
        int C = c < max_c ? c : max_c, P = p < cutoff - C ? p : cutoff - C;
        cut += P < p || C < c;
        ex[i].prompt_len = P;
        ex[i].completion_len = C;
    }
    return cut;
}

static void shuffle_epoch(Batcher *b) {
    memcpy(b->order, b->keep, (size_t)b->stats.kept * sizeof *b->order);
    Rng r = rng_derive(b->seed, (uint64_t)b->at.epoch, 0);
    rng_shuffle_ints(&r, b->order, b->stats.kept);
}

int batcher_init(Batcher *b, const TokExample *ex, int n, int B, int T, BatchPolicy policy, uint64_t seed,
                 Err *e) {
    memset(b, 0, sizeof *b);
    if (B < 1 || T < 2) return err_fmt(e, "batch: need B >= 1 and T >= 2 (got B=%d, T=%d)", B, T);
    b->ex = ex;
    b->B = B;
    b->T = T;
    b->policy = policy;
    b->seed = seed;
    b->keep = malloc((size_t)(n > 0 ? n : 1) * sizeof *b->keep);
    b->order = malloc((size_t)(n > 0 ? n : 1) * sizeof *b->order);
    if (!b->keep || !b->order) {
        batcher_free(b);
        return err_fmt(e, "batch: out of memory for %d examples", n);
    }
    b->stats.total = n;
    for (int i = 0; i < n; i++) {
        const TokExample *x = &ex[i];
        int over = x->prompt_len + x->completion_len > T;
        // dropped: an empty completion, over-long under DROP, or no room after the prompt
        if (x->completion_len < 1 || (over && policy == BATCH_DROP) || x->prompt_len >= T) {
            b->stats.dropped++;
            continue;
        }
        if (over) {
            b->stats.truncated++;
            b->stats.truncated_tokens += x->prompt_len + x->completion_len - T;
        }
        b->keep[b->stats.kept++] = i;
    }
    if (b->stats.kept == 0) {
        int total = b->stats.total;
        batcher_free(b);
        return err_fmt(e, "batch: none of the %d examples fits T=%d with a completion token", total, T);
    }
    shuffle_epoch(b);
    return 0;
}

void batcher_free(Batcher *b) {
    free(b->keep);
    free(b->order);
    b->keep = b->order = NULL;
}

void batcher_next(Batcher *b, int *tokens, int *targets, float *weights, int *lens) {
    for (int r = 0; r < b->B; r++) {
        if (b->at.pos == b->stats.kept) {
            b->at.epoch++;
            b->at.pos = 0;
            shuffle_epoch(b);
        }
        int i = b->order[b->at.pos++];
        batch_fill(b->ex, &i, 1, 1, b->T, b->pad_id, tokens + (size_t)r * b->T, targets + (size_t)r * b->T,
                   weights + (size_t)r * b->T, lens + r);
    }
}

int batcher_seek(Batcher *b, BatchPos at, Err *e) {
    if (at.epoch < 0 || at.pos < 0 || at.pos > b->stats.kept)
        return err_fmt(e, "batch: position (epoch %lld, %lld) out of range for %d examples", (long long)at.epoch,
                       (long long)at.pos, b->stats.kept);
    b->at = at;
    shuffle_epoch(b);
    return 0;
}
