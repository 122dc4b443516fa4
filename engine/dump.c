// engine/dump.c -- one fp32 forward + backward, written as safetensors (o1p dump).
#include "dump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../model/io.h"

int dump_run(Model *m, Acts *a, const int *tokens, const int *lens, int B, int T, DumpTensors *out,
             Err *e) {
    memset(out, 0, sizeof *out);
    if (a->vocab_chunk) return err_fmt(e, "the dump needs the full logits, not chunks of %d", a->vocab_chunk);
    int N = B * T, V = m->cfg.vocab_size, predicted = 0;
    int *targets = malloc((size_t)N * sizeof(int));
    float *weights = malloc((size_t)N * sizeof(float));
    out->lens = malloc((size_t)B * sizeof(int));
    out->logits = malloc((size_t)N * V * sizeof(float));
    out->grads = malloc(m->n_params * sizeof(float));
    if (!targets || !weights || !out->lens || !out->logits || !out->grads) {
        free(targets);
        free(weights);
        dump_free(out);
        return err_fmt(e, "out of memory for the dump of %d x %d tokens", B, T);
    }
    for (int b = 0; b < B; b++) predicted += lens[b] - 1;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int n = b * T + t, has = t + 1 < lens[b];
            targets[n] = has ? tokens[n + 1] : -1;
            weights[n] = has && predicted ? 1.0f / predicted : 0.0f;
        }
    memcpy(out->lens, lens, (size_t)B * sizeof(int));
    out->B = B;
    out->T = T;
    m->k->zero(m->grads_mem, m->n_params * sizeof(float));
    model_forward(m, a, tokens, lens, B, T);
    m->k->download(out->logits, a->logits, (size_t)N * V * sizeof(float));
    out->loss = model_loss(m, a, targets, weights, NULL, B, T);
    model_backward(m, a, weights, B, T);
    m->k->download(out->grads, m->grads_mem, m->n_params * sizeof(float));
    free(targets);
    free(weights);
    return 0;
}

int dump_write(const Model *m, const DumpTensors *d, const char *path, Err *e) {
    int n_par = model_tensors(m, NULL), n = 1 + d->B + n_par, V = m->cfg.vocab_size;
    TensorInfo *ti = malloc((size_t)n_par * sizeof *ti);
    char (*names)[128] = malloc((size_t)n * sizeof *names);
    const char **name_ptrs = malloc((size_t)n * sizeof *name_ptrs);
    int *ndims = malloc((size_t)n * sizeof(int));
    int64_t (*shapes)[8] = calloc((size_t)n, sizeof *shapes);
    const float **data = malloc((size_t)n * sizeof *data);
    float loss = (float)d->loss;
    int rc = -1;
    if (!ti || !names || !name_ptrs || !ndims || !shapes || !data) {
        err_fmt(e, "%s: out of memory", path);
        goto done;
    }
    model_tensors(m, ti);
    snprintf(names[0], sizeof names[0], "loss");
    ndims[0] = 1;
    shapes[0][0] = 1;
    data[0] = &loss;
    for (int b = 0; b < d->B; b++) {
        snprintf(names[1 + b], sizeof names[0], "logits.%d", b);
        ndims[1 + b] = 2;
        shapes[1 + b][0] = d->lens[b];
        shapes[1 + b][1] = V;
        data[1 + b] = d->logits + (size_t)b * d->T * V;
    }
    for (int i = 0; i < n_par; i++) {
        int j = 1 + d->B + i;
        snprintf(names[j], sizeof names[0], "grad.%s", ti[i].name);
        ndims[j] = ti[i].ndim;
        shapes[j][0] = ti[i].shape[0];
        shapes[j][1] = ti[i].shape[1];
        data[j] = d->grads + ti[i].offset;
    }
    for (int i = 0; i < n; i++) name_ptrs[i] = names[i];
    rc = st_write_f32(path, n, name_ptrs, ndims, (const int64_t(*)[8])shapes, data, e);
done:
    free(ti);
    free(names);
    free(name_ptrs);
    free(ndims);
    free(shapes);
    free(data);
    return rc;
}

void dump_free(DumpTensors *d) {
    free(d->lens);
    free(d->logits);
    free(d->grads);
    memset(d, 0, sizeof *d);
}
