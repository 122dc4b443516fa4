// model/modelio.c -- model folders: config.json + model.safetensors (or shards).
//
// Loading maps each file read-only and converts its tensors, in file order, F32, F16 or
// BF16 straight into the slices of the parameters that model_tensors names, a stage
// window at a time (model.h: in place on a host backend, else staged and uploaded),
// releasing the file's pages as it goes: peak memory is the parameters plus 4 MB. Every parameter
// must be present once, with the shape the config implies and finite values. Anything
// else in the files is an error, but for what transformers ignores too: the
// "lm_head.weight" of a tied model and the rotary "inv_freq" buffers of old checkpoints.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../base/json.h"
#include "io.h"

typedef struct {
    const Model *m;
    TensorInfo *ti;
    int n;
    const char **from;  // [n] the file each tensor came from; NULL: not read yet
    ParamStage stage;
    const char *config_path;
} Loader;

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static size_t tensor_size(const TensorInfo *t) {
    return (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
}

static void shape_str(char *out, size_t cap, int ndim, const int64_t *shape) {
    int at = snprintf(out, cap, "[");
    for (int d = 0; d < ndim && at < (int)cap; d++)
        at += snprintf(out + at, cap - (size_t)at, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (at < (int)cap) snprintf(out + at, cap - (size_t)at, "]");
}

static int data_cmp(const void *a, const void *b) {
    const StTensor *x = a, *y = b;
    return x->data < y->data ? -1 : x->data > y->data;
}

// Converts tensor t of path into the parameters at ti, a stage window at a time; refuses
// NaN and Inf.
static int convert_tensor(Loader *L, const StFile *f, const StTensor *t, const TensorInfo *ti,
                          const char *path, Err *e) {
    size_t count = tensor_size(ti), esize = st_elem_size(t);
    for (size_t done = 0; done < count; done += MODEL_STAGE_FLOATS) {
        size_t c = count - done < MODEL_STAGE_FLOATS ? count - done : MODEL_STAGE_FLOATS;
        float *w = param_stage_window(&L->stage, ti->offset + done);
        st_to_f32_part(t, done, c, w);
        st_release(f, t->data + done * esize, c * esize);
        for (size_t k = 0; k < c; k++)
            if (!isfinite(w[k]))
                return err_fmt(e, "%s: tensor \"%s\" holds %s at element %zu", path, t->name,
                               isnan(w[k]) ? "NaN" : "Inf", done + k);
        param_stage_put(&L->stage, ti->offset + done, c);
    }
    return 0;
}

// Reads every tensor of one safetensors file into the parameters, in the order of the
// data (a sequential read). L->from keeps path for the messages about repeats, uncopied:
// it must outlive the loader.
static int load_file(Loader *L, const char *path, Err *e) {
    StFile f;
    if (st_open(&f, path, e)) return -1;
    qsort(f.tensors, (size_t)f.n, sizeof *f.tensors, data_cmp);
    int rc = -1;
    for (int i = 0; i < f.n; i++) {
        const StTensor *t = &f.tensors[i];
        int idx = -1;
        for (int j = 0; j < L->n && idx < 0; j++)
            if (!strcmp(L->ti[j].name, t->name)) idx = j;
        if (idx < 0) {
            if ((L->m->cfg.tie_embeddings && !strcmp(t->name, "lm_head.weight")) ||
                ends_with(t->name, ".rotary_emb.inv_freq"))
                continue;
            err_fmt(e, "%s: unexpected tensor \"%s\" (not a parameter of the model that %s "
                    "describes)", path, t->name, L->config_path);
            goto done;
        }
        const TensorInfo *ti = &L->ti[idx];
        if (L->from[idx]) {
            err_fmt(e, "%s: tensor \"%s\" appears again (already read from %s)", path, t->name,
                    L->from[idx]);
            goto done;
        }
        int64_t want[2] = {ti->shape[0], ti->shape[1]};
        int same = t->ndim == ti->ndim;
        for (int d = 0; same && d < ti->ndim; d++) same = t->shape[d] == want[d];
        if (!same) {
            char got[128], exp[64];
            shape_str(got, sizeof got, t->ndim, t->shape);
            shape_str(exp, sizeof exp, ti->ndim, want);
            err_fmt(e, "%s: tensor \"%s\" has shape %s, but %s implies %s", path, t->name, got,
                    L->config_path, exp);
            goto done;
        }
        if (convert_tensor(L, &f, t, ti, path, e)) goto done;
        L->from[idx] = path;
    }
    rc = 0;
done:
    st_close(&f);
    return rc;
}

// A shard's file name from the index: a plain name in the same folder.
static int check_shard_name(const char *s, size_t len, const char *index, Err *e) {
    if (!len || strlen(s) != len || strchr(s, '/') || strchr(s, '\\') || !strcmp(s, ".") ||
        !strcmp(s, ".."))
        return err_fmt(e, "%s: weight_map names the shard \"%.200s\": expected a file name in "
                       "the same folder", index, s);
    return 0;
}

// A sharded checkpoint, model.safetensors.index.json = {"weight_map": {tensor: shard}}.
// Each shard the map names is read once, in order of first mention.
static int load_sharded(Loader *L, const char *dir, const char *index, Err *e) {
    Json *j = json_parse_file(index, e);
    if (!j) return -1;
    int rc = -1;
    char **paths = NULL;
    int n_paths = 0;
    const JsonValue *root = json_root(j), *map = json_get(root, "weight_map");
    if (!map || map->type != JSON_OBJECT) {
        err_fmt(e, "%s: expected an object \"weight_map\" (tensor name -> shard file)", index);
        goto done;
    }
    paths = calloc(map->len ? map->len : 1, sizeof *paths);
    if (!paths) {
        err_fmt(e, "%s: out of memory", index);
        goto done;
    }
    for (size_t i = 0; i < map->len; i++) {
        const JsonValue *v = &map->items[i];
        if (v->type != JSON_STRING) {
            err_fmt(e, "%s: line %d, column %d: expected a shard file name for \"%s\"", index,
                    v->line, v->col, map->keys[i]);
            goto done;
        }
        if (check_shard_name(v->str, v->len, index, e)) goto done;
        char path[4096];
        if (path_join(path, sizeof path, dir, v->str, e)) goto done;
        int seen = 0;
        for (int k = 0; k < n_paths && !seen; k++) seen = !strcmp(paths[k], path);
        if (seen) continue;
        if (!(paths[n_paths] = strdup(path))) {
            err_fmt(e, "%s: out of memory", index);
            goto done;
        }
        n_paths++;
    }
    for (int k = 0; k < n_paths; k++)
        if (load_file(L, paths[k], e)) goto done;
    for (int i = 0; i < L->n; i++)
        if (!L->from[i]) {
            err_fmt(e, "%s: missing tensor \"%s\" (in none of its %d shards)", index,
                    L->ti[i].name, n_paths);
            goto done;
        }
    rc = 0;
done:
    // L->from points into paths: clear it before they go
    for (int i = 0; i < L->n; i++) L->from[i] = NULL;
    for (int k = 0; k < n_paths; k++) free(paths[k]);
    free(paths);
    json_free(j);
    return rc;
}

static int load(Model *m, const char *dir, const Kernels *k, int weights_only, Err *e) {
    memset(m, 0, sizeof *m);
    char cfg_path[4096], single[4096], index[4096];
    if (path_join(cfg_path, sizeof cfg_path, dir, "config.json", e) ||
        path_join(single, sizeof single, dir, "model.safetensors", e) ||
        path_join(index, sizeof index, dir, "model.safetensors.index.json", e))
        return -1;
    Config c;
    if (config_load(cfg_path, &c, e)) return -1;
    // the single file wins when both exist, as in transformers
    int sharded = !file_exists(single) && file_exists(index);
    if (!sharded && !file_exists(single))
        return err_fmt(e, "%s: no model.safetensors (nor model.safetensors.index.json) in the "
                       "folder", dir);
    if ((weights_only ? model_create_weights : model_create)(m, &c, k, e)) return err_wrap(e, "%s", cfg_path);
    Loader L = {.m = m, .n = model_tensors(m, NULL), .config_path = cfg_path};
    L.ti = calloc((size_t)L.n, sizeof *L.ti);
    L.from = calloc((size_t)L.n, sizeof *L.from);
    int rc = -1;
    if (!L.ti || !L.from) {
        err_fmt(e, "%s: out of memory for %d tensors", dir, L.n);
        goto done;
    }
    if (param_stage_open(&L.stage, m, e)) goto done;
    model_tensors(m, L.ti);
    if (sharded) {
        if (load_sharded(&L, dir, index, e)) goto done;
    } else {
        if (load_file(&L, single, e)) goto done;
        for (int i = 0; i < L.n; i++)
            if (!L.from[i]) {
                err_fmt(e, "%s: missing tensor \"%s\"", single, L.ti[i].name);
                goto done;
            }
    }
    rc = 0;
done:
    param_stage_close(&L.stage);
    free(L.ti);
    free(L.from);
    if (rc) model_free(m);
    return rc;
}

int model_load(Model *m, const char *dir, const Kernels *k, Err *e) { return load(m, dir, k, 0, e); }

int model_load_weights(Model *m, const char *dir, const Kernels *k, Err *e) { return load(m, dir, k, 1, e); }

// Streams the parameters after the header, tensor by tensor, a stage window at a time. A
// non-finite value stops the save: a diverged model must not overwrite a good checkpoint.
static int write_params(FILE *f, ParamStage *st, const TensorInfo *ti, int n, const char *dir,
                        Err *e) {
    for (int i = 0; i < n; i++) {
        size_t count = tensor_size(&ti[i]);
        for (size_t done = 0; done < count; done += MODEL_STAGE_FLOATS) {
            size_t c = count - done < MODEL_STAGE_FLOATS ? count - done : MODEL_STAGE_FLOATS;
            const float *w = param_stage_get(st, ti[i].offset + done, c);
            for (size_t j = 0; j < c; j++)
                if (!isfinite(w[j]))
                    return err_fmt(e, "%s: not saved: parameter \"%s\" holds %s at element %zu", dir,
                                   ti[i].name, isnan(w[j]) ? "NaN" : "Inf", done + j);
            fwrite(w, sizeof(float), c, f);
        }
    }
    return 0;
}

int model_save(const Model *m, const char *dir, Err *e) {
    if (!m->params_mem)
        return err_fmt(e, "%s: the model holds bf16 weights only (loaded for decoding): nothing to save", dir);
    char cfg_path[4096], st_path[4096];
    if (path_join(cfg_path, sizeof cfg_path, dir, "config.json", e) ||
        path_join(st_path, sizeof st_path, dir, "model.safetensors", e))
        return -1;
    int n = model_tensors(m, NULL);
    TensorInfo *ti = calloc((size_t)n, sizeof *ti);
    const char **names = calloc((size_t)n, sizeof *names);
    int *ndims = calloc((size_t)n, sizeof *ndims);
    int64_t(*shapes)[8] = calloc((size_t)n, sizeof *shapes);
    ParamStage stage = {0};
    AtomicFile st = {0}, cf = {0};
    int rc = -1;
    if (!ti || !names || !ndims || !shapes) {
        err_fmt(e, "%s: out of memory for %d tensors", dir, n);
        goto done;
    }
    if (param_stage_open(&stage, m, e)) goto done;
    model_tensors(m, ti);
    for (int i = 0; i < n; i++) {
        names[i] = ti[i].name;
        ndims[i] = ti[i].ndim;
        shapes[i][0] = ti[i].shape[0];
        shapes[i][1] = ti[i].shape[1];
    }
    // both files are written and flushed before either is renamed into place: a
    // failure leaves the old checkpoint as it was; the weights go first (model/io.h)
    if (make_dirs(dir, e) || atomic_open(&st, st_path, e) ||
        st_write_header(st.f, st_path, n, names, ndims, (const int64_t(*)[8])shapes, e) ||
        write_params(st.f, &stage, ti, n, dir, e) || atomic_open(&cf, cfg_path, e) ||
        config_write(cf.f, &m->cfg, cfg_path, e))
        goto done;
    if (atomic_commit(&st, e)) goto done;
    rc = atomic_commit(&cf, e);
done:
    if (rc) {
        atomic_abort(&st);
        atomic_abort(&cf);
    }
    param_stage_close(&stage);
    free(ti);
    free(names);
    free(ndims);
    free(shapes);
    return rc;
}
