// tests/test_reference.c -- the model against an independent float64 PyTorch
// implementation (tests/reference.py), in the manner of llm.c's test_gpt2.
//
// For a Qwen2-style (biases, GQA, untied), a Llama-style (MHA, tied) and a multi-query
// config (one KV head, explicit head_dim): loss, logits and every parameter gradient of
// the mean next-token cross-entropy, then the parameters after 5 AdamW steps with
// clipping. Also checks that `o1p dump --device` writes exactly what dump_run computes.
// All of it on the reference backend (kernels/ref), then on the CPU backend.
//
// Tolerance: max |ours - ref| / max |ref| per tensor (an infinity-norm relative error,
// robust to entries near zero): 1e-5 for loss and logits, 1e-5 for gradients (fp32
// accumulation over the batch), and 5e-3 * lr absolute on the updated parameters.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/io.h"
#include "../engine/dump.h"
#include "../engine/optim.h"
#include "test.h"

#define REF_DIR "build/ref"

static double rel_inf_error(const float *ours, const float *ref, size_t n) {
    double max_diff = 0, max_ref = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)ours[i] - ref[i]);
        if (!(d <= max_diff)) max_diff = d;  // NaN propagates as a failure
        if (fabs(ref[i]) > max_ref) max_ref = fabs(ref[i]);
    }
    return max_ref > 0 ? max_diff / max_ref : max_diff;
}

static const StTensor *expect(const StFile *f, const char *name) {
    const StTensor *t = st_find(f, name);
    CHECK(t != NULL, "expected.safetensors has no tensor %s", name);
    return t;
}

static float *to_f32(const StTensor *t) {
    float *out = malloc(t->nbytes);
    st_to_f32(t, out);
    return out;
}

// Reads build/ref/NAME/tokens.txt into a (B, T) grid.
static int read_lines(const char *path, int *tokens, int *lens, int *B, int *T) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    int b = 0, grid[8][64] = {{0}};
    *T = 0;
    while (fgets(line, sizeof line, f) && b < 8) {
        int t = 0, off = 0, id, used;
        while (sscanf(line + off, "%d%n", &id, &used) == 1) grid[b][t++] = id, off += used;
        lens[b] = t;
        if (t > *T) *T = t;
        b++;
    }
    fclose(f);
    *B = b;
    for (int i = 0; i < b; i++)
        for (int t = 0; t < *T; t++) tokens[i * *T + t] = grid[i][t];
    return 0;
}

// The loss and the logits of each row against the reference; returns the worst relative
// error of the logits.
static double check_logits(const char *label, const StFile *ref, const DumpTensors *d, const int *lens, int B,
                           int T, int V) {
    const StTensor *t = expect(ref, "loss");
    if (t) {
        float *r = to_f32(t);
        CHECK_NEAR(d->loss, r[0], 1e-5, 0, "loss");
        printf("%s: loss %.7f (reference %.7f)\n", label, d->loss, r[0]);
        free(r);
    }
    double worst_logits = 0;
    for (int b = 0; b < B; b++) {
        char key[64];
        snprintf(key, sizeof key, "logits.%d", b);
        if (!(t = expect(ref, key))) continue;
        float *r = to_f32(t);
        double err = rel_inf_error(d->logits + (size_t)b * T * V, r, (size_t)lens[b] * V);
        CHECK(err <= 1e-5, "%s %s: relative error %.3g", label, key, err);
        if (err > worst_logits) worst_logits = err;
        free(r);
    }
    return worst_logits;
}

// Every parameter gradient against the reference; returns the worst relative error.
static double check_grads(const char *label, const StFile *ref, const DumpTensors *d, const TensorInfo *ti,
                          int n_t) {
    const StTensor *t;
    double worst_grad = 0;
    for (int i = 0; i < n_t; i++) {
        char key[160];
        snprintf(key, sizeof key, "grad.%s", ti[i].name);
        if (!(t = expect(ref, key))) continue;
        float *r = to_f32(t);
        size_t n = t->nbytes / 4;
        double err = rel_inf_error(d->grads + ti[i].offset, r, n);
        CHECK(err <= 1e-5, "%s %s: relative error %.3g", label, key, err);
        if (err > worst_grad) worst_grad = err;
        free(r);
    }
    return worst_grad;
}

// `o1p dump` must write exactly what dump_run computed (d).
static void check_dump(const char *label, const char *dir, const Kernels *k, const DumpTensors *d, int B,
                       const TensorInfo *ti, int n_t) {
    char path[512];
    Err e;
    const char *o1p = getenv("O1P");
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s dump --model %s --tokens %s/tokens.txt --out %s/dump.safetensors --device %s "
             "> /dev/null", o1p ? o1p : "./o1p", dir, dir, dir, k->name);
    CHECK(system(cmd) == 0, "%s: o1p dump failed", label);
    StFile dumped;
    snprintf(path, sizeof path, "%s/dump.safetensors", dir);
    if (st_open(&dumped, path, &e) == 0) {
        CHECK(dumped.n == 1 + B + n_t, "%s: dump has %d tensors, expected %d", label, dumped.n, 1 + B + n_t);
        for (int i = 0; i < n_t; i++) {
            char key[160];
            snprintf(key, sizeof key, "grad.%s", ti[i].name);
            const StTensor *g = st_find(&dumped, key);
            CHECK(g && g->nbytes == (size_t)ti[i].shape[0] * (ti[i].ndim == 2 ? ti[i].shape[1] : 1) * 4 &&
                      !memcmp(g->data, d->grads + ti[i].offset, g->nbytes),
                  "%s: dump %s differs from dump_run", label, key);
        }
        st_close(&dumped);
    } else {
        CHECK(0, "%s", e.msg);
    }
}

// 5 AdamW steps (the reference's hyperparameters, constant learning rate) on the batch;
// the parameters against the reference's. Returns the worst absolute error.
static double check_steps(const char *label, Model *m, Acts *a, const int *tokens, const int *lens, int B, int T,
                          const StFile *ref, const TensorInfo *ti, int n_t) {
    Err e;
    const StTensor *t;
    double worst_step = 0;
    OptimConfig oc = optim_defaults();
    oc.lr = 1e-2f;
    oc.min_lr_ratio = 1.0f;
    oc.weight_decay = 0.1f;
    oc.grad_clip = 1.0f;
    oc.total_steps = 5;
    Optimizer opt;
    CHECK(optim_create(&opt, m, oc, &e) == 0, "%s", e.msg);
    for (int s = 0; s < 5; s++) {
        DumpTensors step;
        CHECK(dump_run(m, a, tokens, lens, B, T, &step, &e) == 0, "%s", e.msg);
        dump_free(&step);
        optim_step(&opt, m, NULL);  // from the gradients dump_run left in m->g
    }
    float *params = malloc(m->n_params * sizeof(float));
    m->k->download(params, m->params_mem, m->n_params * sizeof(float));
    for (int i = 0; i < n_t; i++) {
        char key[160];
        snprintf(key, sizeof key, "step5.%s", ti[i].name);
        if (!(t = expect(ref, key))) continue;
        float *r = to_f32(t);
        size_t n = t->nbytes / 4;
        double max_abs = 0;
        for (size_t j = 0; j < n; j++) {
            double diff = fabs((double)params[ti[i].offset + j] - r[j]);
            if (!(diff <= max_abs)) max_abs = diff;
        }
        CHECK(max_abs <= 5e-3 * oc.lr, "%s %s: max abs error %.3g after 5 steps", label, key, max_abs);
        if (max_abs > worst_step) worst_step = max_abs;
        free(r);
    }
    free(params);
    optim_free(&opt, m);
    return worst_step;
}

static void check_config(const char *name, const Kernels *k) {
    char dir[256], path[512];
    snprintf(dir, sizeof dir, REF_DIR "/%s", name);
    char label[64];  // "qwen2 on ref"
    snprintf(label, sizeof label, "%s on %s", name, k->name);
    Err e;
    Model m;
    StFile ref;
    if (model_load(&m, dir, k, &e)) {
        CHECK(0, "%s: model_load: %s", label, e.msg);
        return;
    }
    snprintf(path, sizeof path, "%s/expected.safetensors", dir);
    if (st_open(&ref, path, &e)) {
        CHECK(0, "%s", e.msg);
        model_free(&m);
        return;
    }
    int tokens[8 * 64], lens[8], B = 0, T = 0;
    snprintf(path, sizeof path, "%s/tokens.txt", dir);
    CHECK(read_lines(path, tokens, lens, &B, &T) == 0, "%s: cannot read %s", label, path);
    Acts a;
    DumpTensors d;
    CHECK(model_alloc_grads(&m, 0, &e) == 0 && acts_create(&a, &m, B, T, ACTS_BACKWARD, 0, &e) == 0, "%s", e.msg);
    CHECK(dump_run(&m, &a, tokens, lens, B, T, &d, &e) == 0, "%s", e.msg);
    double worst_logits = check_logits(label, &ref, &d, lens, B, T, m.cfg.vocab_size);
    int n_t = model_tensors(&m, NULL);
    TensorInfo *ti = malloc(n_t * sizeof *ti);
    model_tensors(&m, ti);
    double worst_grad = check_grads(label, &ref, &d, ti, n_t);
    check_dump(label, dir, k, &d, B, ti, n_t);
    double worst_step = check_steps(label, &m, &a, tokens, lens, B, T, &ref, ti, n_t);
    printf("%s: worst relative error logits %.2e, gradients %.2e; after 5 AdamW steps max abs %.2e\n",
           label, worst_logits, worst_grad, worst_step);
    free(ti);
    dump_free(&d);
    acts_free(&a, &m);
    st_close(&ref);
    model_free(&m);
}

int main(void) {
    int rc = system("/usr/bin/python3 tests/reference.py " REF_DIR);
    CHECK(rc == 0, "tests/reference.py failed (needs /usr/bin/python3 with python3-torch: make deps)");
    const Kernels *backends[2] = {&kernels_ref, &kernels_cpu};
    for (int i = 0; rc == 0 && i < 2; i++) {
        check_config("qwen2", backends[i]);
        check_config("llama", backends[i]);
        check_config("mqa", backends[i]);
    }
    return test_summary();
}
