// model/config.c -- Hugging Face config.json <-> Config.
//
// Reads the fields of LlamaConfig and Qwen2Config that the architecture depends on, with
// HF's defaults for those that may be left out: num_key_value_heads = heads, head_dim =
// hidden / heads, rope_theta 10000, rms_norm_eps 1e-6, tie_word_embeddings false.
// Features o1p lacks are refused with a message, not ignored: rope_scaling,
// sliding-window attention, an activation other than SiLU.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../base/json.h"
#include "io.h"

// An integer member that must fit in int; the JSON reader gives long long.
static int get_int_field(const JsonValue *root, const char *key, int required, int *out,
                         const char *name, Err *e) {
    long long v;
    int rc = required ? json_get_int(root, key, name, &v, e) : json_opt_int(root, key, name, &v, e);
    if (rc) return -1;
    if (!required && !json_get(root, key)) return 0;
    if (v < -2147483647LL || v > 2147483647LL)
        return err_fmt(e, "%s: \"%s\" = %lld is out of range", name, key, v);
    *out = (int)v;
    return 0;
}

// bos_token_id or eos_token_id: an int, a list of ints (the first counts) or null;
// -1 when absent.
static int get_token_id(const JsonValue *root, const char *key, int *out, const char *name,
                        Err *e) {
    *out = -1;
    const JsonValue *v = json_get(root, key);
    if (!v || v->type == JSON_NULL) return 0;
    if (v->type == JSON_ARRAY) {
        if (v->len == 0) return 0;
        v = &v->items[0];
    }
    if (v->type != JSON_NUMBER || v->num != floor(v->num) || v->num < 0 || v->num > 2147483647.0)
        return err_fmt(e, "%s: line %d, column %d: expected a token id (non-negative integer, list "
                       "of them, or null) for \"%s\"", name, v->line, v->col, key);
    *out = (int)v->num;
    return 0;
}

static int parse_root(const JsonValue *root, const char *name, Config *c, Err *e) {
    if (root->type != JSON_OBJECT)
        return err_fmt(e, "%s: expected a JSON object at the top level, found %s", name,
                       json_type_name(root->type));
    const char *type;
    if (json_get_string(root, "model_type", name, &type, e)) return -1;
    if (strcmp(type, "llama") && strcmp(type, "qwen2"))
        return err_fmt(e, "%s: model_type \"%s\" is not supported (expected \"llama\" or \"qwen2\")",
                       name, type);
    int qwen2 = !strcmp(type, "qwen2");
    memset(c, 0, sizeof *c);
    snprintf(c->model_type, sizeof c->model_type, "%s", type);
    // HF defaults that differ between the two families
    c->max_seq_len = qwen2 ? 32768 : 2048;
    if (get_int_field(root, "vocab_size", 1, &c->vocab_size, name, e) ||
        get_int_field(root, "hidden_size", 1, &c->dim, name, e) ||
        get_int_field(root, "intermediate_size", 1, &c->hidden_dim, name, e) ||
        get_int_field(root, "num_hidden_layers", 1, &c->n_layers, name, e) ||
        get_int_field(root, "num_attention_heads", 1, &c->n_heads, name, e) ||
        get_int_field(root, "max_position_embeddings", 0, &c->max_seq_len, name, e))
        return -1;
    c->n_kv_heads = c->n_heads;
    const JsonValue *kv = json_get(root, "num_key_value_heads");
    if (kv && kv->type != JSON_NULL &&
        get_int_field(root, "num_key_value_heads", 1, &c->n_kv_heads, name, e))
        return -1;
    c->head_dim = c->n_heads > 0 ? c->dim / c->n_heads : 0;
    const JsonValue *hd = json_get(root, "head_dim");
    if (hd && hd->type != JSON_NULL && get_int_field(root, "head_dim", 1, &c->head_dim, name, e))
        return -1;
    if (!hd && c->n_heads > 0 && c->dim % c->n_heads)
        return err_fmt(e, "%s: hidden_size = %d is not a multiple of num_attention_heads = %d "
                       "(give head_dim)", name, c->dim, c->n_heads);
    double theta = 10000.0, eps = 1e-6;
    if (json_opt_number(root, "rope_theta", name, &theta, e) ||
        json_opt_number(root, "rms_norm_eps", name, &eps, e))
        return -1;
    c->rope_theta = (float)theta;
    c->norm_eps = (float)eps;
    if (json_opt_bool(root, "tie_word_embeddings", name, &c->tie_embeddings, e)) return -1;
    int attention_bias = 0;
    if (json_opt_bool(root, "attention_bias", name, &attention_bias, e)) return -1;
    // Qwen2 always has q/k/v biases (and no attention_bias field)
    c->qkv_bias = qwen2 || attention_bias;
    if (get_token_id(root, "bos_token_id", &c->bos_token_id, name, e) ||
        get_token_id(root, "eos_token_id", &c->eos_token_id, name, e))
        return -1;

    // what o1p does not implement
    const JsonValue *v = json_get(root, "rope_scaling");
    if (v && v->type != JSON_NULL)
        return err_fmt(e, "%s: line %d, column %d: rope_scaling is not supported (expected null)",
                       name, v->line, v->col);
    int sliding = 0;
    if (json_opt_bool(root, "use_sliding_window", name, &sliding, e)) return -1;
    if (sliding)
        return err_fmt(e, "%s: use_sliding_window = true is not supported (o1p attends to the "
                       "whole sequence)", name);
    const char *act = "silu";
    if (json_opt_string(root, "hidden_act", name, &act, e)) return -1;
    if (strcmp(act, "silu"))
        return err_fmt(e, "%s: hidden_act \"%s\" is not supported (expected \"silu\")", name, act);
    int mlp_bias = 0;
    if (json_opt_bool(root, "mlp_bias", name, &mlp_bias, e)) return -1;
    if (mlp_bias) return err_fmt(e, "%s: mlp_bias = true is not supported", name);

    if (config_validate(c, name, e)) return -1;
    if (c->bos_token_id >= c->vocab_size || c->eos_token_id >= c->vocab_size)
        return err_fmt(e, "%s: bos_token_id %d / eos_token_id %d outside the vocabulary (vocab_size "
                       "%d)", name, c->bos_token_id, c->eos_token_id, c->vocab_size);
    return 0;
}

int config_parse(const char *text, size_t len, const char *name, Config *c, Err *e) {
    Json *j = json_parse(text, len, name, e);
    if (!j) return -1;
    int rc = parse_root(json_root(j), name, c, e);
    json_free(j);
    return rc;
}

int config_load(const char *path, Config *c, Err *e) {
    char *text;
    size_t len;
    if (read_file(path, &text, &len, e)) return -1;
    int rc = config_parse(text, len, path, c, e);
    free(text);
    return rc;
}

// Floats as Python prints them: integers with ".0" (10000.0), others as the shortest
// decimal that reads back as the same float (1e-06, not 9.99999997e-07).
static void write_float(FILE *f, float x) {
    if (x == floorf(x) && fabsf(x) < 1e16f) {
        fprintf(f, "%.1f", (double)x);
        return;
    }
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)x);
        if (strtof(buf, NULL) == x) break;
    }
    fputs(buf, f);
}

static void write_token_id(FILE *f, int id) {
    if (id < 0) fputs("null", f);
    else fprintf(f, "%d", id);
}

int config_write(FILE *f, const Config *c, const char *name, Err *e) {
    if (config_validate(c, name, e)) return -1;
    int qwen2 = !strcmp(c->model_type, "qwen2");
    if (qwen2 && !c->qkv_bias)
        return err_fmt(e, "%s: a qwen2 model always has q/k/v biases (qkv_bias = 0 given)", name);
    fprintf(f, "{\n  \"architectures\": [\"%s\"],\n", qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM");
    fprintf(f, "  \"model_type\": \"%s\",\n", qwen2 ? "qwen2" : "llama");
    fprintf(f, "  \"vocab_size\": %d,\n", c->vocab_size);
    fprintf(f, "  \"hidden_size\": %d,\n", c->dim);
    fprintf(f, "  \"intermediate_size\": %d,\n", c->hidden_dim);
    fprintf(f, "  \"num_hidden_layers\": %d,\n", c->n_layers);
    fprintf(f, "  \"num_attention_heads\": %d,\n", c->n_heads);
    fprintf(f, "  \"num_key_value_heads\": %d,\n", c->n_kv_heads);
    fprintf(f, "  \"head_dim\": %d,\n", c->head_dim);
    fprintf(f, "  \"max_position_embeddings\": %d,\n", c->max_seq_len);
    fputs("  \"rope_theta\": ", f);
    write_float(f, c->rope_theta);
    fputs(",\n  \"rms_norm_eps\": ", f);
    write_float(f, c->norm_eps);
    fprintf(f, ",\n  \"tie_word_embeddings\": %s,\n", c->tie_embeddings ? "true" : "false");
    if (qwen2) fputs("  \"use_sliding_window\": false,\n", f);
    else fprintf(f, "  \"attention_bias\": %s,\n  \"mlp_bias\": false,\n", c->qkv_bias ? "true" : "false");
    fputs("  \"hidden_act\": \"silu\",\n  \"rope_scaling\": null,\n  \"bos_token_id\": ", f);
    write_token_id(f, c->bos_token_id);
    fputs(",\n  \"eos_token_id\": ", f);
    write_token_id(f, c->eos_token_id);
    fputs(",\n  \"torch_dtype\": \"float32\"\n}\n", f);
    return 0;
}

int config_save(const char *path, const Config *c, Err *e) {
    AtomicFile a;
    if (atomic_open(&a, path, e)) return -1;
    if (config_write(a.f, c, path, e)) {
        atomic_abort(&a);
        return -1;
    }
    return atomic_commit(&a, e);
}
