// export/gguf.c -- GGUF version 3, written from ggml's format specification:
//   header    "GGUF", u32 version 3, u64 tensor count, u64 key-value count
//   metadata  key (string), u32 value type, value; a string is a u64 length and its
//             bytes, an array a u32 element type, a u64 count and the elements
//   tensors   name, u32 n_dims, u64 ne[n_dims] (ne[0]: the row length), u32 ggml type,
//             u64 offset into the data section
//   data      from the next multiple of 32 bytes; each tensor starts at a multiple of 32
// Little-endian throughout, as the host is.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"
#include "../data/chat.h"
#include "gguf.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "GGUF is written in host byte order: a little-endian host is required"
#endif

enum { GV_UINT32 = 4, GV_INT32 = 5, GV_FLOAT32 = 6, GV_BOOL = 7, GV_STRING = 8, GV_ARRAY = 9 };
enum { GT_F32 = 0, GT_F16 = 1, GT_Q8_0 = 8 };                 // ggml_type
enum { TT_NORMAL = 1, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5 };  // llama.cpp token types
#define ALIGN 32
#define QK 32  // values per Q8_0 block: an F16 scale, then 32 int8

static const uint32_t file_type[] = {[GGUF_F32] = 0, [GGUF_F16] = 1, [GGUF_Q8_0] = 7};
// llama.cpp's names of o1p's split patterns (tokenizer.ggml.pre)
static const char *pre_name[] = {[TOK_PRE_GPT2] = "gpt-2", [TOK_PRE_LLAMA3] = "llama-bpe",
                                 [TOK_PRE_QWEN2] = "qwen2"};

int gguf_type_parse(const char *s, GgufType *out) {
    static const char *names[] = {[GGUF_F32] = "f32", [GGUF_F16] = "f16", [GGUF_Q8_0] = "q8_0"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, names[i])) return *out = (GgufType)i, 0;
    return -1;
}

// ---- values -------------------------------------------------------------------------
static void put_u32(FILE *f, uint32_t v) { fwrite(&v, 4, 1, f); }
static void put_u64(FILE *f, uint64_t v) { fwrite(&v, 8, 1, f); }
static void put_str(FILE *f, const char *s, size_t n) {
    put_u64(f, n);
    fwrite(s, 1, n, f);
}

// The metadata being written: keys starting with '.' get the architecture in front.
typedef struct {
    FILE *f;
    const char *arch;
    uint64_t n_kv;
} Meta;

static void kv_head(Meta *m, const char *key, uint32_t type) {
    char full[128];
    snprintf(full, sizeof full, "%s%s", key[0] == '.' ? m->arch : "", key);
    put_str(m->f, full, strlen(full));
    put_u32(m->f, type);
    m->n_kv++;
}
static void kv_u32(Meta *m, const char *key, uint32_t v) { kv_head(m, key, GV_UINT32), put_u32(m->f, v); }
static void kv_f32(Meta *m, const char *key, float v) { kv_head(m, key, GV_FLOAT32), fwrite(&v, 4, 1, m->f); }
static void kv_bool(Meta *m, const char *key, int v) { kv_head(m, key, GV_BOOL), fputc(v ? 1 : 0, m->f); }
static void kv_str(Meta *m, const char *key, const char *s) { kv_head(m, key, GV_STRING), put_str(m->f, s, strlen(s)); }
static void kv_array(Meta *m, const char *key, uint32_t type, uint64_t n) {
    kv_head(m, key, GV_ARRAY);
    put_u32(m->f, type);
    put_u64(m->f, n);
}

// IEEE single -> half, rounded to nearest even as F16C does; overflow gives Inf.
static uint16_t f32_to_f16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffff;
    if (a > 0x7f800000) return sign | 0x7e00;           // NaN
    if (a >= 0x477ff000) return sign | 0x7c00;          // >= 65520 rounds past 65504
    if (a < 0x38800000) {                               // below 2^-14: subnormal, k 2^-24
        float f;
        memcpy(&f, &a, 4);
        return sign | (uint16_t)nearbyintf(f * 16777216.0f);
    }
    uint32_t h = (a - 0x38000000) >> 13, rest = a & 0x1fff;  // rebias 127 -> 15
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return sign | (uint16_t)h;
}

// ---- the tokenizer --------------------------------------------------------------------
// V tokens: the tokenizer's, then "[PADi]" up to the model's vocab_size.
static int write_tokenizer(Meta *m, const ModelDir *md, const ChatTemplate *tmpl, const char *path, Err *e) {
    const Tokenizer *t = md->tok;
    int V = md->m.cfg.vocab_size, n_tok = tok_vocab_size(t);
    size_t cap = 4 * tok_max_len(t) + 32;
    char *buf = malloc(cap);
    if (!buf) return err_fmt(e, "%s: out of memory", path);
    kv_str(m, "tokenizer.ggml.model", "gpt2");
    kv_str(m, "tokenizer.ggml.pre", pre_name[tok_pretok(t)]);
    kv_array(m, "tokenizer.ggml.tokens", GV_STRING, (uint64_t)V);
    for (int id = 0; id < V; id++) {
        size_t n = id < n_tok ? tok_id_text(t, id, buf) : 0;
        if (!n) n = (size_t)snprintf(buf, cap, "[PAD%d]", id);
        put_str(m->f, buf, n);
    }
    static const int32_t type_of[] = {[TOK_KIND_UNUSED] = TT_UNUSED, [TOK_KIND_BPE] = TT_NORMAL,
                                      [TOK_KIND_ADDED] = TT_USER, [TOK_KIND_SPECIAL] = TT_CONTROL};
    kv_array(m, "tokenizer.ggml.token_type", GV_INT32, (uint64_t)V);
    for (int id = 0; id < V; id++) {
        int32_t tt = type_of[tok_id_kind(t, id)];
        fwrite(&tt, 4, 1, m->f);
    }
    kv_array(m, "tokenizer.ggml.merges", GV_STRING, (uint64_t)tok_n_merges(t));
    for (int32_t r = 0; r < tok_n_merges(t); r++) put_str(m->f, buf, tok_merge_text(t, r, buf));
    free(buf);
    // ChatML: an answer ends at <|im_end|>; nothing is added around a prompt
    int bos = md->m.cfg.bos_token_id >= 0 ? md->m.cfg.bos_token_id
              : md->chat.endoftext >= 0   ? md->chat.endoftext
                                          : md->chat.im_end;
    kv_u32(m, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
    kv_u32(m, "tokenizer.ggml.eos_token_id", (uint32_t)md->chat.im_end);
    kv_u32(m, "tokenizer.ggml.eot_token_id", (uint32_t)md->chat.im_end);
    if (md->chat.endoftext >= 0) kv_u32(m, "tokenizer.ggml.padding_token_id", (uint32_t)md->chat.endoftext);
    kv_bool(m, "tokenizer.ggml.add_bos_token", 0);
    kv_bool(m, "tokenizer.ggml.add_eos_token", 0);
    char *jinja = chat_jinja(tmpl);
    if (!jinja) return err_fmt(e, "%s: out of memory", path);
    kv_str(m, "tokenizer.chat_template", jinja);
    free(jinja);
    return 0;
}

// Every hyperparameter llama.cpp reads for llama and qwen2.
static void write_hparams(Meta *m, const Config *c, const char *name, GgufType type) {
    kv_str(m, "general.architecture", m->arch);
    kv_str(m, "general.name", name);
    kv_u32(m, "general.file_type", file_type[type]);
    kv_u32(m, "general.alignment", ALIGN);
    kv_u32(m, ".vocab_size", (uint32_t)c->vocab_size);
    kv_u32(m, ".context_length", (uint32_t)c->max_seq_len);
    kv_u32(m, ".embedding_length", (uint32_t)c->dim);
    kv_u32(m, ".block_count", (uint32_t)c->n_layers);
    kv_u32(m, ".feed_forward_length", (uint32_t)c->hidden_dim);
    kv_u32(m, ".attention.head_count", (uint32_t)c->n_heads);
    kv_u32(m, ".attention.head_count_kv", (uint32_t)c->n_kv_heads);
    kv_u32(m, ".attention.key_length", (uint32_t)c->head_dim);
    kv_u32(m, ".attention.value_length", (uint32_t)c->head_dim);
    kv_f32(m, ".attention.layer_norm_rms_epsilon", c->norm_eps);
    kv_u32(m, ".rope.dimension_count", (uint32_t)c->head_dim);
    kv_f32(m, ".rope.freq_base", c->rope_theta);
}

// ---- the tensors ------------------------------------------------------------------------
// One GGUF tensor: rows of cols floats of the parameters (a vector: cols = 1, ndim 1).
typedef struct {
    char name[48];
    const float *src;  // [rows, cols]
    int rows, cols, ndim;
    int head_dim;      // > 0: llama q or k, rows permuted per head of head_dim rows
    uint32_t type;
    uint64_t offset;   // in the data section
} GTensor;

static uint64_t tensor_bytes(const GTensor *t) {
    uint64_t n = (uint64_t)t->rows * (uint64_t)t->cols;
    return t->type == GT_F32 ? 4 * n : t->type == GT_F16 ? 2 * n : n / QK * (2 + QK);
}

static void add(GTensor *ts, int *n, GgufType type, const float *src, int rows, int cols, int ndim,
                int head_dim, const char *fmt, int layer) {
    GTensor *t = &ts[(*n)++];
    *t = (GTensor){.src = src, .rows = rows, .cols = cols, .ndim = ndim, .head_dim = head_dim,
                   .type = GT_F32};
    snprintf(t->name, sizeof t->name, fmt, layer);
    if (ndim == 2 && type == GGUF_F16) t->type = GT_F16;
    if (ndim == 2 && type == GGUF_Q8_0) t->type = cols % QK ? GT_F16 : GT_Q8_0;
}

// Lists the tensors under llama.cpp's names; returns their count (ts holds 3 + 12 L).
static int list_tensors(const Model *m, GgufType type, GTensor *ts) {
    const Config *c = &m->cfg;
    const Params *p = &m->p;
    int C = c->dim, I = c->hidden_dim, D = c->head_dim, HD = c->n_heads * D, KD = c->n_kv_heads * D;
    int QKV = HD + 2 * KD, n = 0;
    int perm = strcmp(c->model_type, "llama") ? 0 : D;  // llama.cpp: NORM rope for llama
    add(ts, &n, type, p->embed, c->vocab_size, C, 2, 0, "token_embd.weight", 0);
    add(ts, &n, type, p->norm_final, C, 1, 1, 0, "output_norm.weight", 0);
    if (!c->tie_embeddings) add(ts, &n, type, p->lm_head, c->vocab_size, C, 2, 0, "output.weight", 0);
    for (int l = 0; l < c->n_layers; l++) {
        const float *wqkv = p->wqkv + (size_t)l * QKV * C, *wgu = p->wgu + (size_t)l * 2 * I * C;
        add(ts, &n, type, p->norm_attn + (size_t)l * C, C, 1, 1, 0, "blk.%d.attn_norm.weight", l);
        add(ts, &n, type, wqkv, HD, C, 2, perm, "blk.%d.attn_q.weight", l);
        add(ts, &n, type, wqkv + (size_t)HD * C, KD, C, 2, perm, "blk.%d.attn_k.weight", l);
        add(ts, &n, type, wqkv + (size_t)(HD + KD) * C, KD, C, 2, 0, "blk.%d.attn_v.weight", l);
        if (p->bqkv) {
            const float *b = p->bqkv + (size_t)l * QKV;
            add(ts, &n, type, b, HD, 1, 1, perm, "blk.%d.attn_q.bias", l);
            add(ts, &n, type, b + HD, KD, 1, 1, perm, "blk.%d.attn_k.bias", l);
            add(ts, &n, type, b + HD + KD, KD, 1, 1, 0, "blk.%d.attn_v.bias", l);
        }
        add(ts, &n, type, p->wo + (size_t)l * C * HD, C, HD, 2, 0, "blk.%d.attn_output.weight", l);
        add(ts, &n, type, p->norm_mlp + (size_t)l * C, C, 1, 1, 0, "blk.%d.ffn_norm.weight", l);
        add(ts, &n, type, wgu, I, C, 2, 0, "blk.%d.ffn_gate.weight", l);
        add(ts, &n, type, wgu + (size_t)I * C, I, C, 2, 0, "blk.%d.ffn_up.weight", l);
        add(ts, &n, type, p->wdown + (size_t)l * C * I, C, I, 2, 0, "blk.%d.ffn_down.weight", l);
    }
    return n;
}

// Writes one row of cols floats in the tensor's type; out holds its bytes.
static void write_row(FILE *f, uint32_t type, const float *x, int cols, unsigned char *out) {
    size_t k = 0;
    if (type == GT_F32) {
        fwrite(x, 4, (size_t)cols, f);
        return;
    }
    for (int b = 0; b < (type == GT_F16 ? cols : cols / QK); b++) {
        if (type == GT_F16) {
            uint16_t h = f32_to_f16(x[b]);
            memcpy(out + k, &h, 2), k += 2;
            continue;
        }
        // Q8_0 as ggml's reference quantizer: d = max |x| / 127, q = round(x / d)
        const float *v = x + (size_t)b * QK;
        float amax = 0;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(v[j]));
        float d = amax / 127, id = d ? 1 / d : 0;
        uint16_t dh = f32_to_f16(d);
        memcpy(out + k, &dh, 2), k += 2;
        for (int j = 0; j < QK; j++) out[k++] = (unsigned char)(int8_t)roundf(v[j] * id);
    }
    fwrite(out, 1, k, f);
}

// The tensor's data; llama q and k rows go from HF's (h, j, i) to llama.cpp's (h, i, j),
// j < 2 the half of the head, i < D/2 the pair.
static void write_data(FILE *f, const GTensor *t, unsigned char *buf) {
    for (int r = 0; r < t->rows; r++) {
        int src = r, D = t->head_dim;
        if (D) src = r / D * D + (r % 2) * (D / 2) + (r % D) / 2;
        write_row(f, t->type, t->src + (size_t)src * t->cols, t->cols, buf);
    }
    static const unsigned char zero[ALIGN];
    uint64_t n = tensor_bytes(t);
    fwrite(zero, 1, (size_t)((ALIGN - n % ALIGN) % ALIGN), f);
}

// The tensor infos, then the padding to the data section and the data.
static void write_tensors(FILE *f, GTensor *ts, int n, unsigned char *buf) {
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        GTensor *t = &ts[i];
        put_str(f, t->name, strlen(t->name));
        put_u32(f, (uint32_t)t->ndim);
        put_u64(f, (uint64_t)(t->ndim == 2 ? t->cols : t->rows));
        if (t->ndim == 2) put_u64(f, (uint64_t)t->rows);
        put_u32(f, t->type);
        put_u64(f, t->offset = at);
        at += (tensor_bytes(t) + ALIGN - 1) / ALIGN * ALIGN;
    }
    static const unsigned char zero[ALIGN];
    long pos = ftell(f);
    fwrite(zero, 1, (size_t)((ALIGN - pos % ALIGN) % ALIGN), f);
    for (int i = 0; i < n; i++) write_data(f, &ts[i], buf);
}

int gguf_export(const ModelDir *md, const ChatTemplate *tmpl, const char *name, GgufType type, const char *path,
                Err *e) {
    const Config *c = &md->m.cfg;
    if (strcmp(c->model_type, "llama") && strcmp(c->model_type, "qwen2"))
        return err_fmt(e, "%s: model_type \"%s\": GGUF export knows llama and qwen2", path, c->model_type);
    int cols = c->dim > c->hidden_dim ? c->dim : c->hidden_dim;
    if (c->n_heads * c->head_dim > cols) cols = c->n_heads * c->head_dim;
    GTensor *ts = malloc((3 + 12 * (size_t)c->n_layers) * sizeof *ts);
    unsigned char *buf = malloc(4 * (size_t)cols);
    AtomicFile a;
    if (!ts || !buf) {
        free(ts), free(buf);
        return err_fmt(e, "%s: out of memory", path);
    }
    if (atomic_open(&a, path, e)) {
        free(ts), free(buf);
        return -1;
    }
    int n = list_tensors(&md->m, type, ts);
    // pass 1: the header with a placeholder key-value count, then the metadata
    Meta m = {a.f, c->model_type, 0};
    fwrite("GGUF", 1, 4, a.f);
    put_u32(a.f, 3);
    put_u64(a.f, (uint64_t)n);
    put_u64(a.f, 0);
    write_hparams(&m, c, name, type);
    int rc = write_tokenizer(&m, md, tmpl, path, e);
    // pass 2: the tensors; then the true key-value count over the placeholder
    if (!rc) {
        write_tensors(a.f, ts, n, buf);
        rc = fseek(a.f, 16, SEEK_SET) ? err_fmt(e, "%s: seek failed", path) : 0;
    }
    if (!rc) put_u64(a.f, m.n_kv);
    free(ts), free(buf);
    if (rc) {
        atomic_abort(&a);
        return -1;
    }
    return atomic_commit(&a, e);
}
