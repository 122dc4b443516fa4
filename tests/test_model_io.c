// tests/test_model_io.c -- config.json, safetensors, model folders, training states.
//
// Round trips are checked bit for bit; every bad input is checked to fail with a message
// that names the file and the problem. A tiny safetensors writer of its own (any dtype,
// any header) builds the F16/BF16, sharded and broken files.
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/io.h"
#include "../base/rng.h"
#include "../model/io.h"
#include "bf16.h"
#include "test.h"

// ---- a host-memory backend: model IO only moves memory --------------------------------
static void *h_alloc(size_t n) { return calloc(1, n ? n : 1); }
static void h_free(void *p) { free(p); }
static void h_zero(void *p, size_t n) { memset(p, 0, n); }
static void h_copy(void *d, const void *s, size_t n) { memcpy(d, s, n); }
static void h_sync(void) {}
static const Kernels host = {.name = "host", .alloc = h_alloc, .free = h_free, .zero = h_zero,
                             .upload = h_copy, .download = h_copy, .copy = h_copy,
                             .synchronize = h_sync};

static char tmp[256];

// IEEE half <-> float, the references for the F16 checks: the compiler's _Float16 where
// it has one, else these (GCC 12 has none on riscv64): a half is m 2^(e-25) exactly, and
// rounding to half is lrintf (nearest, ties to even) of the value in units of the last place.
static float half_to_float(uint16_t h) {
#ifdef __FLT16_MAX__
    _Float16 x;
    memcpy(&x, &h, 2);
    return (float)x;
#else
    int e = (h >> 10) & 31, m = h & 1023;
    float a = e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(e ? m + 1024 : m), (e ? e : 1) - 25);
    return h & 0x8000 ? -a : a;
#endif
}

static uint16_t float_to_half(float x) {
#ifdef __FLT16_MAX__
    _Float16 h = (_Float16)x;
    uint16_t b;
    memcpy(&b, &h, 2);
    return b;
#else
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    float a = fabsf(x);
    if (isnan(a)) return sign | 0x7e00;
    if (a == 0.0f || isinf(a)) return sign | (a == 0.0f ? 0 : 0x7c00);
    int e;
    frexpf(a, &e);  // a = f 2^e, f in [0.5, 1): the unit of the last place is 2^(e-11)
    if (e < -13) e = -13;  // subnormals: the unit is 2^-24
    if (e > 16) return sign | 0x7c00;
    // m in [1024, 2048] (below 1024: a subnormal); a carry into the exponent, and past
    // 65504 into infinity, is the addition's
    long m = lrintf(ldexpf(a, 11 - e));
    return (uint16_t)(sign | ((e + 13) * 1024 + m));
#endif
}

static const char *P(const char *a, const char *b) {  // tmp/a[/b], one of 8 rotating buffers
    static char bufs[8][600];
    static int k;
    char *out = bufs[k++ % 8];
    if (b) snprintf(out, 600, "%s/%s/%s", tmp, a, b);
    else snprintf(out, 600, "%s/%s", tmp, a);
    return out;
}

static void put(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}
static void put_text(const char *path, const char *s) { put(path, s, strlen(s)); }

// rc != 0 and the message holds every given piece (the file, the problem)
#define EXPECT_ERR(rc, e, ...)                                                       \
    do {                                                                             \
        const char *parts_[] = {__VA_ARGS__};                                        \
        int ok_ = (rc) != 0;                                                         \
        for (size_t i_ = 0; ok_ && i_ < sizeof parts_ / sizeof parts_[0]; i_++)      \
            ok_ = strstr((e).msg, parts_[i_]) != NULL;                               \
        CHECK(ok_, "expected an error naming %s...; got rc %d: %s", parts_[0], (rc), \
              (rc) ? (e).msg : "(success)");                                         \
    } while (0)

// ---- a hand-made safetensors writer ----------------------------------------------------
typedef struct {
    const char *name, *dtype;
    int ndim;
    int64_t shape[8];
    const void *data;
    size_t nbytes;
} Raw;

// header JSON + data laid out in order; returns a malloc'ed file image
static char *raw_image(const Raw *t, int n, size_t *len) {
    char hdr[1 << 16];
    int at = snprintf(hdr, sizeof hdr, "{\"__metadata__\":{\"format\":\"pt\"}");
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        at += snprintf(hdr + at, sizeof hdr - at, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t[i].name,
                       t[i].dtype);
        for (int d = 0; d < t[i].ndim; d++)
            at += snprintf(hdr + at, sizeof hdr - at, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
        at += snprintf(hdr + at, sizeof hdr - at, "],\"data_offsets\":[%zu,%zu]}", off, off + t[i].nbytes);
        off += t[i].nbytes;
    }
    at += snprintf(hdr + at, sizeof hdr - at, "}");
    *len = 8 + (size_t)at + off;
    char *buf = malloc(*len);
    for (int i = 0; i < 8; i++) buf[i] = (char)((uint64_t)at >> (8 * i));
    memcpy(buf + 8, hdr, (size_t)at);
    char *p = buf + 8 + at;
    for (int i = 0; i < n; i++) {
        memcpy(p, t[i].data, t[i].nbytes);
        p += t[i].nbytes;
    }
    return buf;
}

static void raw_write(const char *path, const Raw *t, int n) {
    size_t len;
    char *buf = raw_image(t, n, &len);
    put(path, buf, len);
    free(buf);
}

// A file image from an explicit header and data, for the broken cases.
static char *hdr_image(const char *header, uint64_t claimed_len, size_t data_len, size_t *len) {
    size_t h = strlen(header);
    *len = 8 + h + data_len;
    char *buf = calloc(1, *len);
    for (int i = 0; i < 8; i++) buf[i] = (char)(claimed_len >> (8 * i));
    memcpy(buf + 8, header, h);
    return buf;
}

// st_parse over a header + zero data; expects failure naming bad.safetensors and `what`
static void bad_st(const char *header, size_t data_len, const char *what, const char *what2) {
    size_t len;
    char *buf = hdr_image(header, strlen(header), data_len, &len);
    StFile f;
    Err e = {{0}};
    int rc = st_parse(&f, buf, len, "bad.safetensors", &e);
    EXPECT_ERR(rc, e, "bad.safetensors", what, what2);
    if (!rc) st_close(&f);
}

// ---- config ------------------------------------------------------------------------------
static const char *QWEN_CFG =
    "{\"architectures\": [\"Qwen2ForCausalLM\"], \"model_type\": \"qwen2\", \"vocab_size\": 37,"
    " \"hidden_size\": 16, \"intermediate_size\": 24, \"num_hidden_layers\": 2,"
    " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"max_position_embeddings\": 64,"
    " \"rope_theta\": 1000000.0, \"rms_norm_eps\": 1e-06, \"tie_word_embeddings\": false,"
    " \"use_sliding_window\": false, \"sliding_window\": 4096, \"rope_scaling\": null,"
    " \"bos_token_id\": null, \"eos_token_id\": [5, 6], \"torch_dtype\": \"bfloat16\"}";
static const char *LLAMA_CFG =
    "{\"model_type\": \"llama\", \"vocab_size\": 29, \"hidden_size\": 12,"
    " \"intermediate_size\": 20, \"num_hidden_layers\": 1, \"num_attention_heads\": 3,"
    " \"max_position_embeddings\": 32, \"tie_word_embeddings\": true, \"bos_token_id\": 1,"
    " \"eos_token_id\": 2, \"hidden_act\": \"silu\"}";

static int parse(const char *text, Config *c, Err *e) {
    return config_parse(text, strlen(text), "cfg.json", c, e);
}

// LLAMA_CFG with `from` replaced by `to`, parsed; expects failure naming cfg.json + what
static void bad_cfg(const char *base, const char *from, const char *to, const char *what) {
    char text[2048];
    const char *p = strstr(base, from);
    if (!p) {
        CHECK(0, "test bug: %s not in config", from);
        return;
    }
    snprintf(text, sizeof text, "%.*s%s%s", (int)(p - base), base, to, p + strlen(from));
    Config c;
    Err e = {{0}};
    int rc = parse(text, &c, &e);
    EXPECT_ERR(rc, e, "cfg.json", what);
}

static void test_config(void) {
    Config q, l;
    Err e = {{0}};
    CHECK(parse(QWEN_CFG, &q, &e) == 0, "qwen config: %s", e.msg);
    CHECK(!strcmp(q.model_type, "qwen2") && q.vocab_size == 37 && q.dim == 16 &&
              q.hidden_dim == 24 && q.n_layers == 2 && q.n_heads == 4 && q.n_kv_heads == 2 &&
              q.head_dim == 4 && q.max_seq_len == 64,
          "qwen sizes");
    CHECK(q.rope_theta == 1e6f && q.norm_eps == 1e-6f, "qwen rope_theta/eps");
    CHECK(q.qkv_bias == 1 && q.tie_embeddings == 0, "qwen has biases, untied");
    CHECK(q.bos_token_id == -1 && q.eos_token_id == 5, "bos null -> -1, eos list -> first");

    CHECK(parse(LLAMA_CFG, &l, &e) == 0, "llama config: %s", e.msg);
    CHECK(l.n_kv_heads == 3 && l.head_dim == 4, "defaults: kv = heads, head_dim = C / H");
    CHECK(l.rope_theta == 10000.0f && l.norm_eps == 1e-6f, "default rope_theta, eps");
    CHECK(l.qkv_bias == 0 && l.tie_embeddings == 1, "llama: no bias, tied");
    CHECK(l.bos_token_id == 1 && l.eos_token_id == 2, "llama bos/eos");

    // optional fields that change the layout
    Config c;
    char text[2048];
    snprintf(text, sizeof text, "%.*s, \"attention_bias\": true, \"head_dim\": 8}",
             (int)strlen(LLAMA_CFG) - 1, LLAMA_CFG);
    CHECK(parse(text, &c, &e) == 0 && c.qkv_bias == 1 && c.head_dim == 8,
          "attention_bias, explicit head_dim: %s", e.msg);
    snprintf(text, sizeof text, "%.*s, \"num_key_value_heads\": null}", (int)strlen(LLAMA_CFG) - 1,
             LLAMA_CFG);
    CHECK(parse(text, &c, &e) == 0 && c.n_kv_heads == 3, "num_key_value_heads null -> heads");

    // write and read back: the same Config, and a file transformers understands
    Config back;
    const char *path = P("config_rt.json", NULL);
    for (int which = 0; which < 2; which++) {
        const Config *src = which ? &l : &q;
        CHECK(config_save(path, src, &e) == 0, "config_save: %s", e.msg);
        CHECK(config_load(path, &back, &e) == 0, "config_load: %s", e.msg);
        CHECK(!memcmp(src, &back, sizeof back), "config round trip (%s)", src->model_type);
    }
    char *saved;
    size_t n;
    CHECK(read_file(path, &saved, &n, &e) == 0, "read config");
    CHECK(strstr(saved, "\"LlamaForCausalLM\"") && strstr(saved, "\"torch_dtype\": \"float32\"") &&
              strstr(saved, "\"rms_norm_eps\": 1e-06") && strstr(saved, "\"rope_theta\": 10000.0,") &&
              strstr(saved, "\"tie_word_embeddings\": true"),
          "config.json text:\n%s", saved);
    free(saved);
    Config bad = q;
    bad.qkv_bias = 0;
    EXPECT_ERR(config_save(path, &bad, &e), e, path, "biases");
    bad = q;
    bad.n_kv_heads = 3;
    EXPECT_ERR(config_save(path, &bad, &e), e, path, "num_key_value_heads");

    // bad configs
    Err e2 = {{0}};
    EXPECT_ERR(parse("{\"model_type\": \"llama\",", &c, &e2), e2, "cfg.json", "line 1");
    EXPECT_ERR(parse("[1, 2]", &c, &e2), e2, "cfg.json", "object");
    EXPECT_ERR(config_load(P("nonexistent.json", NULL), &c, &e2), e2, "nonexistent.json", "cannot open");
    bad_cfg(LLAMA_CFG, "\"hidden_size\": 12,", "", "hidden_size");
    bad_cfg(LLAMA_CFG, "\"vocab_size\": 29", "\"vocab_size\": \"29\"", "vocab_size");
    bad_cfg(LLAMA_CFG, "\"vocab_size\": 29", "\"vocab_size\": 2.5", "vocab_size");
    bad_cfg(LLAMA_CFG, "\"vocab_size\": 29", "\"vocab_size\": 0", "vocab_size");
    bad_cfg(LLAMA_CFG, "\"hidden_size\": 12", "\"hidden_size\": 99999999999", "hidden_size");
    bad_cfg(LLAMA_CFG, "\"llama\"", "\"gpt2\"", "gpt2");
    bad_cfg(LLAMA_CFG, "\"model_type\": \"llama\",", "", "model_type");
    bad_cfg(LLAMA_CFG, "\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "gelu");
    bad_cfg(LLAMA_CFG, "\"eos_token_id\": 2", "\"eos_token_id\": 29", "eos_token_id");
    bad_cfg(LLAMA_CFG, "\"eos_token_id\": 2", "\"eos_token_id\": \"x\"", "eos_token_id");
    bad_cfg(LLAMA_CFG, "\"num_attention_heads\": 3", "\"num_attention_heads\": 3, \"num_key_value_heads\": 2",
            "divide");
    bad_cfg(LLAMA_CFG, "\"hidden_size\": 12", "\"hidden_size\": 13", "multiple");
    bad_cfg(LLAMA_CFG, "\"num_attention_heads\": 3", "\"num_attention_heads\": 3, \"head_dim\": 5", "head_dim");
    bad_cfg(LLAMA_CFG, "\"eos_token_id\": 2", "\"eos_token_id\": 2, \"rope_scaling\": {\"type\": \"linear\"}",
            "rope_scaling");
    bad_cfg(QWEN_CFG, "\"use_sliding_window\": false", "\"use_sliding_window\": true", "use_sliding_window");
    bad_cfg(LLAMA_CFG, "\"tie_word_embeddings\": true", "\"tie_word_embeddings\": 1", "tie_word_embeddings");
    bad_cfg(LLAMA_CFG, "\"eos_token_id\": 2", "\"eos_token_id\": 2, \"mlp_bias\": true", "mlp_bias");
    bad_cfg(LLAMA_CFG, "\"eos_token_id\": 2", "\"eos_token_id\": 2, \"rms_norm_eps\": -1", "rms_norm_eps");
}

// ---- safetensors -------------------------------------------------------------------------
static void test_safetensors_f32(void) {
    const char *path = P("rt.safetensors", NULL);
    float a[6] = {1.5f, -2.0f, 0.0f, -0.0f, 1e-40f, 3.4e38f}, b[3] = {7, 8, 9}, s[1] = {42};
    const char *names[] = {"a.weight", "b \"quoted\"", "scalar"};
    int ndims[] = {2, 1, 0};
    const int64_t shapes[3][8] = {{2, 3}, {3}, {0}};
    const float *data[] = {a, b, s};
    Err e = {{0}};
    CHECK(st_write_f32(path, 3, names, ndims, shapes, data, &e) == 0, "st_write_f32: %s", e.msg);
    StFile f;
    CHECK(st_open(&f, path, &e) == 0, "st_open: %s", e.msg);
    if (f.n != 3) {
        CHECK(0, "3 tensors back, got %d", f.n);
        return;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | (unsigned char)f.buf[i];
    CHECK((8 + hlen) % 8 == 0, "data 8-byte aligned (header %llu bytes)", (unsigned long long)hlen);
    CHECK(f.buf[8 + hlen - 1] == '}' || f.buf[8 + hlen - 1] == ' ', "header padded with spaces");
    CHECK(strstr(f.buf + 8, "\"__metadata__\":{\"format\":\"pt\"}") != NULL, "format pt metadata");
    for (int i = 0; i < 3; i++) {
        const StTensor *t = st_find(&f, names[i]);
        CHECK(t && t->dtype == ST_F32 && t->ndim == ndims[i], "tensor %s found", names[i]);
        if (!t) continue;
        int64_t count = 1;
        for (int d = 0; d < t->ndim; d++) {
            CHECK(t->shape[d] == shapes[i][d], "%s shape", names[i]);
            count *= t->shape[d];
        }
        float out[6];
        st_to_f32(t, out);
        CHECK(t->nbytes == (size_t)count * 4 && !memcmp(out, data[i], t->nbytes), "%s bits", names[i]);
    }
    CHECK(st_find(&f, "missing") == NULL, "st_find of an absent name");
    st_close(&f);
    const char *dup[] = {"x", "x"};
    EXPECT_ERR(st_write_f32(path, 2, dup, ndims, shapes, data, &e), e, path, "twice");
    const int64_t negative[1][8] = {{-2, 3}};
    EXPECT_ERR(st_write_f32(path, 1, names, ndims, negative, data, &e), e, path, "negative shape[0]");
    CHECK(st_open(&f, path, &e) == 0 && f.n == 3, "a failed write leaves the old file: %s", e.msg);
    st_close(&f);
    EXPECT_ERR(st_write_f32(P("no_such_dir", "x.safetensors"), 1, names, ndims, shapes, data, &e), e,
               "no_such_dir/x.safetensors", "cannot write");
}

// F16 and BF16 are converted exactly: every F16 bit pattern against the compiler's own
// conversion, and the BF16 special cases.
static void test_safetensors_half(void) {
    static uint16_t h[65536];
    for (int i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    uint16_t bf[] = {0x3f80, 0xc000, 0x0001, 0x8001, 0x7f80, 0xff80, 0xffc1, 0x0000, 0x8000, 0x7f7f};
    uint32_t bf_bits[] = {0x3f800000, 0xc0000000, 0x00010000, 0x80010000, 0x7f800000,
                          0xff800000, 0xffc10000, 0, 0x80000000, 0x7f7f0000};
    // a 1-element F16 first, so that the F32 tensor after it is not 4-byte aligned
    uint16_t one = 0x3c00;
    float f32[2] = {0.25f, -3.0f};
    Raw t[] = {{"one", "F16", 1, {1}, &one, 2},
               {"f32", "F32", 2, {1, 2}, f32, 8},
               {"half", "F16", 2, {256, 256}, h, sizeof h},
               {"bf", "BF16", 1, {10}, bf, sizeof bf}};
    const char *path = P("half.safetensors", NULL);
    raw_write(path, t, 4);
    StFile f;
    Err e = {{0}};
    if (st_open(&f, path, &e)) {
        CHECK(0, "st_open half: %s", e.msg);
        return;
    }
    static float out[65536];
    st_to_f32(st_find(&f, "one"), out);
    CHECK(out[0] == 1.0f, "F16 1.0");
    st_to_f32(st_find(&f, "f32"), out);
    CHECK(out[0] == 0.25f && out[1] == -3.0f, "unaligned F32");
    st_to_f32(st_find(&f, "half"), out);
    int bad = 0;
    for (int i = 0; i < 65536; i++) {
        float want = half_to_float(h[i]);
        uint32_t wb, gb;
        memcpy(&wb, &want, 4);
        memcpy(&gb, &out[i], 4);
        if (isnan(want) ? !isnan(out[i]) || (wb & 0x80000000u) != (gb & 0x80000000u) : wb != gb) bad++;
    }
    CHECK(bad == 0, "F16 -> F32 exact for all 65536 patterns (%d differ)", bad);
    CHECK(out[1] == ldexpf(1, -24) && out[0x8001] == -ldexpf(1, -24) && out[0x03ff] == 1023 * ldexpf(1, -24),
          "F16 subnormals");
    CHECK(out[0x7bff] == 65504.0f && isinf(out[0x7c00]) && out[0xfc00] < 0 && isnan(out[0x7e00]) &&
              signbit(out[0x8000]),
          "F16 max, inf, nan, -0");
    st_to_f32(st_find(&f, "bf"), out);
    for (int i = 0; i < 10; i++) {
        uint32_t gb;
        memcpy(&gb, &out[i], 4);
        CHECK(gb == bf_bits[i], "BF16 %04x -> %08x (got %08x)", bf[i], bf_bits[i], gb);
    }
    st_close(&f);
}

static void test_safetensors_bad(void) {
    // too short, header length past the end
    {
        size_t len;
        char *buf = hdr_image("", 0, 0, &len);
        StFile f;
        Err e = {{0}};
        EXPECT_ERR(st_parse(&f, buf, 5, "bad.safetensors", &e), e, "bad.safetensors", "too short");
        buf = hdr_image("{}", 1000, 0, &len);
        EXPECT_ERR(st_parse(&f, buf, len, "bad.safetensors", &e), e, "bad.safetensors", "past the end");
        buf = hdr_image("{}", UINT64_MAX, 0, &len);
        EXPECT_ERR(st_parse(&f, buf, len, "bad.safetensors", &e), e, "bad.safetensors", "past the end");
        buf = hdr_image("{}", 2, 0, &len);
        CHECK(st_parse(&f, buf, len, "ok.safetensors", &e) == 0 && f.n == 0, "empty file: %s", e.msg);
        st_close(&f);
        EXPECT_ERR(st_open(&f, P("absent.safetensors", NULL), &e), e, "absent.safetensors", "cannot open");
    }
    const char *T = "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t len;
    StFile f;
    Err e = {{0}};
    char *buf = hdr_image(T, strlen(T), 8, &len);
    CHECK(st_parse(&f, buf, len, "ok.safetensors", &e) == 0 && f.n == 1, "well-formed: %s", e.msg);
    st_close(&f);

    bad_st("{\"t\": nope}", 0, "line 1", "header");
    bad_st("[1, 2]", 0, "JSON object", "");
    bad_st("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "\"t\"", "outside the data");
    bad_st("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 8, "\"t\"", "outside the data");
    bad_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
           12, "\"b\"", "overlap");
    bad_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
           12, "belong to no tensor", "\"b\"");
    bad_st("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "cover", "");
    bad_st("{\"t\":{\"dtype\":\"F17\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "\"t\"", "unknown dtype");
    bad_st("{\"t\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "\"t\"", "not supported");
    bad_st("{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "\"t\"", "need 12");
    bad_st("{\"t\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,4]}}", 4, "\"t\"", "need 8");
    bad_st("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
           8, "\"t\"", "twice");
    bad_st("{\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, "\"t\"", "end before");
    bad_st("{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, "\"t\"", "shape[0]");
    bad_st("{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,0]}}", 0, "\"t\"", "shape[0]");
    bad_st("{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0, "\"t\"",
           "too large");
    bad_st("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "\"t\"",
           "dimensions");
    bad_st("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "\"t\"", "data_offsets");
    bad_st("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "\"t\"", "data_offsets");
    bad_st("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "\"t\"", "dtype");
    bad_st("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "\"t\"", "shape");
    bad_st("{\"t\":[1]}", 0, "\"t\"", "expected an object");
    bad_st("{\"__metadata__\":[]}", 0, "__metadata__", "object");
    char longname[300];
    snprintf(longname, sizeof longname, "{\"%0200d\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 0);
    bad_st(longname, 4, "longer than", "");
}

// ---- model folders -----------------------------------------------------------------------
static int make_model(Model *m, const char *cfg, uint64_t seed) {
    Config c;
    Err e = {{0}};
    if (parse(cfg, &c, &e) || model_create(m, &c, &host, &e)) {
        CHECK(0, "make_model: %s", e.msg);
        return -1;
    }
    model_init_random(m, seed);
    return 0;
}

// bitwise equal parameters and config
static int same_model(const Model *a, const Model *b) {
    return a->n_params == b->n_params && !memcmp(&a->cfg, &b->cfg, sizeof a->cfg) &&
           !memcmp(a->params_mem, b->params_mem, a->n_params * sizeof(float));
}

// loads dir and compares with want (NULL: only expect success)
static void check_load(const char *dir, const Model *want, const char *what) {
    Model m;
    Err e = {{0}};
    int rc = model_load(&m, dir, &host, &e);
    CHECK(rc == 0, "%s: model_load: %s", what, e.msg);
    if (rc) return;
    if (want) CHECK(same_model(&m, want), "%s: loaded model is bit-identical", what);
    model_free(&m);
}

// The tensors of a saved model.safetensors, to be edited and written back by hand.
typedef struct {
    StFile f;
    Raw t[256];
    int n;
} Tensors;

// A copy in memory (st_parse), not a map (st_open): the tests overwrite the file.
static void tensors_read(Tensors *ts, const char *path) {
    Err e = {{0}};
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len, &e) || st_parse(&ts->f, buf, len, path, &e)) {
        fprintf(stderr, "tensors_read: %s\n", e.msg);
        exit(1);
    }
    ts->n = ts->f.n;
    for (int i = 0; i < ts->n; i++) {
        const StTensor *s = &ts->f.tensors[i];
        ts->t[i] = (Raw){s->name, "F32", s->ndim, {0}, s->data, s->nbytes};
        memcpy(ts->t[i].shape, s->shape, sizeof s->shape);
    }
}

static int tensor_index(const Tensors *ts, const char *name) {
    for (int i = 0; i < ts->n; i++)
        if (!strcmp(ts->t[i].name, name)) return i;
    return -1;
}

// loading dir must fail naming `file` (in dir) and every given piece
#define EXPECT_LOAD_ERR(dir, file, ...)                           \
    do {                                                          \
        Model m_;                                                 \
        Err e_ = {{0}};                                           \
        int rc_ = model_load(&m_, dir, &host, &e_);               \
        EXPECT_ERR(rc_, e_, file, __VA_ARGS__);                   \
        if (!rc_) model_free(&m_);                                \
    } while (0)

static void test_model_roundtrip(void) {
    Err e = {{0}};
    Model q, l;
    if (make_model(&q, QWEN_CFG, 7) || make_model(&l, LLAMA_CFG, 8)) return;
    CHECK(model_save(&q, P("qwen", NULL), &e) == 0, "save qwen: %s", e.msg);
    CHECK(model_save(&l, P("llama/nested", NULL), &e) == 0, "save llama (nested dir): %s", e.msg);
    check_load(P("qwen", NULL), &q, "qwen2 (biases, GQA, untied)");
    check_load(P("llama/nested", NULL), &l, "llama (tied)");

    // the file holds the HF names and shapes
    StFile f;
    if (st_open(&f, P("qwen", "model.safetensors"), &e) == 0) {
        CHECK(f.n == model_tensors(&q, NULL) && f.n == 1 + 2 * 12 + 2, "qwen tensor count %d", f.n);
        const StTensor *k = st_find(&f, "model.layers.1.self_attn.k_proj.bias");
        CHECK(k && k->ndim == 1 && k->shape[0] == 8, "k_proj.bias [KV*D]");
        const StTensor *o = st_find(&f, "model.layers.0.self_attn.o_proj.weight");
        CHECK(o && o->ndim == 2 && o->shape[0] == 16 && o->shape[1] == 16, "o_proj [C, H*D]");
        const StTensor *h = st_find(&f, "lm_head.weight");
        CHECK(h && h->shape[0] == 37 && h->shape[1] == 16, "untied lm_head [V, C]");
        st_close(&f);
    }
    if (st_open(&f, P("llama/nested", "model.safetensors"), &e) == 0) {
        CHECK(!st_find(&f, "lm_head.weight") && !st_find(&f, "model.layers.0.self_attn.q_proj.bias"),
              "tied llama: no lm_head, no biases");
        CHECK(st_find(&f, "model.embed_tokens.weight") != NULL, "llama embedding");
        st_close(&f);
    }

    // a tied model with a redundant lm_head.weight (as some exports have) loads; it is
    // ignored, as transformers ignores it
    Tensors *ts = calloc(1, sizeof *ts);
    tensors_read(ts, P("llama/nested", "model.safetensors"));
    int emb = tensor_index(ts, "model.embed_tokens.weight");
    ts->t[ts->n] = ts->t[emb];
    ts->t[ts->n++].name = "lm_head.weight";
    mkdir(P("tied_extra", NULL), 0777);
    raw_write(P("tied_extra", "model.safetensors"), ts->t, ts->n);
    config_save(P("tied_extra", "config.json"), &l.cfg, &e);
    check_load(P("tied_extra", NULL), &l, "tied + redundant lm_head.weight");
    st_close(&ts->f);

    // BF16 and F16 checkpoints: each weight read back as its half-precision value
    tensors_read(ts, P("qwen", "model.safetensors"));
    static uint16_t half[2][1 << 14];
    size_t at = 0;
    Model want;
    make_model(&want, QWEN_CFG, 7);
    TensorInfo *ti = calloc(256, sizeof *ti);
    model_tensors(&want, ti);
    for (int dt = 0; dt < 2; dt++) {
        at = 0;
        for (int i = 0; i < ts->n; i++) {
            size_t count = ts->f.tensors[i].nbytes / 4;
            const unsigned char *src = ts->f.tensors[i].data;
            float *dst = NULL;
            for (int k = 0; k < ts->n; k++)
                if (!strcmp(ti[k].name, ts->t[i].name)) dst = want.params_mem + ti[k].offset;
            for (size_t j = 0; j < count; j++) {
                float x;
                uint32_t b;
                memcpy(&x, src + 4 * j, 4);
                if (dt == 0) {  // BF16: truncate (round toward zero) -- exact back
                    memcpy(&b, &x, 4);
                    half[dt][at + j] = (uint16_t)(b >> 16);
                    b &= 0xffff0000u;
                    memcpy(&dst[j], &b, 4);
                } else {  // F16 by the compiler
                    half[dt][at + j] = float_to_half(x);
                    dst[j] = half_to_float(half[dt][at + j]);
                }
            }
            ts->t[i].dtype = dt == 0 ? "BF16" : "F16";
            ts->t[i].data = &half[dt][at];
            ts->t[i].nbytes = count * 2;
            at += count;
        }
        const char *dir = P(dt == 0 ? "bf16" : "f16", NULL);
        mkdir(dir, 0777);
        raw_write(P(dt == 0 ? "bf16" : "f16", "model.safetensors"), ts->t, ts->n);
        config_save(P(dt == 0 ? "bf16" : "f16", "config.json"), &q.cfg, &e);
        check_load(dir, &want, dt == 0 ? "BF16 checkpoint" : "F16 checkpoint");
    }
    CHECK(at < (1 << 14), "test buffer large enough");
    free(ti);
    model_free(&want);
    st_close(&ts->f);
    free(ts);
    model_free(&q);
    model_free(&l);
}

// Two shards and an index, as transformers writes them.
static void test_sharded(void) {
    Err e = {{0}};
    Model q;
    if (make_model(&q, QWEN_CFG, 11)) return;
    const char *dir = P("sharded", NULL);
    CHECK(model_save(&q, dir, &e) == 0, "save: %s", e.msg);
    Tensors *ts = calloc(1, sizeof *ts);
    tensors_read(ts, P("sharded", "model.safetensors"));
    int half = ts->n / 2;
    raw_write(P("sharded", "model-00001-of-00002.safetensors"), ts->t, half);
    raw_write(P("sharded", "model-00002-of-00002.safetensors"), ts->t + half, ts->n - half);
    static char index[1 << 15];
    int n = snprintf(index, sizeof index, "{\"metadata\": {\"total_size\": %zu}, \"weight_map\": {",
                     q.n_params * 4);
    for (int i = 0; i < ts->n; i++)
        n += snprintf(index + n, sizeof index - n, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"",
                      i ? ", " : "", ts->t[i].name, i < half ? 1 : 2);
    snprintf(index + n, sizeof index - n, "}}");
    const char *ipath = P("sharded", "model.safetensors.index.json");
    put_text(ipath, index);
    // the single file wins while it exists (as in transformers): break it to prove it is
    // the one read, then remove it
    put_text(P("sharded", "model.safetensors"), "garbage!");
    EXPECT_LOAD_ERR(dir, "sharded/model.safetensors", "header length");
    unlink(P("sharded", "model.safetensors"));
    check_load(dir, &q, "sharded checkpoint");

    // the index names a shard that is not there
    put_text(ipath, "{\"weight_map\": {\"model.norm.weight\": \"model-00003-of-00003.safetensors\"}}");
    EXPECT_LOAD_ERR(dir, "model-00003-of-00003.safetensors", "cannot open");
    // a tensor in no shard
    put_text(ipath, "{\"weight_map\": {\"model.norm.weight\": \"model-00002-of-00002.safetensors\"}}");
    EXPECT_LOAD_ERR(dir, "model.safetensors.index.json", "missing tensor", "model.embed_tokens.weight");
    // a tensor in two shards
    raw_write(P("sharded", "dup.safetensors"), ts->t + half, 1);
    snprintf(index + n, sizeof index - n, ", \"x\": \"dup.safetensors\"}}");
    put_text(ipath, index);
    EXPECT_LOAD_ERR(dir, "dup.safetensors", ts->t[half].name, "appears again");
    // malformed indexes
    put_text(ipath, "{\"weight_map\": [1]}");
    EXPECT_LOAD_ERR(dir, "model.safetensors.index.json", "weight_map");
    put_text(ipath, "{\"weight_map\": {\"model.norm.weight\": \"../qwen/model.safetensors\"}}");
    EXPECT_LOAD_ERR(dir, "model.safetensors.index.json", "../qwen/model.safetensors");
    put_text(ipath, "{\"weight_map\": {\"model.norm.weight\": 3}}");
    EXPECT_LOAD_ERR(dir, "model.safetensors.index.json", "shard file name");
    put_text(ipath, "{\"weight_map\": ");
    EXPECT_LOAD_ERR(dir, "model.safetensors.index.json", "line 1");
    st_close(&ts->f);
    free(ts);
    model_free(&q);
}

// Every broken model folder fails with the file and the problem in the message.
static void test_model_bad(void) {
    Err e = {{0}};
    Model q;
    if (make_model(&q, QWEN_CFG, 3)) return;
    const char *dir = P("bad", NULL), *st = P("bad", "model.safetensors"), *cfg = P("bad", "config.json");
    CHECK(model_save(&q, dir, &e) == 0, "save: %s", e.msg);
    char *good_st, *good_cfg;
    size_t st_len, cfg_len;
    read_file(st, &good_st, &st_len, &e);
    read_file(cfg, &good_cfg, &cfg_len, &e);
    Tensors *ts = calloc(1, sizeof *ts);
    tensors_read(ts, st);
    Raw saved[256];
    memcpy(saved, ts->t, sizeof saved);

    // config.json missing, corrupt, or describing another model
    unlink(cfg);
    EXPECT_LOAD_ERR(dir, "bad/config.json", "cannot open");
    put(cfg, good_cfg, cfg_len - 10);
    EXPECT_LOAD_ERR(dir, "bad/config.json", "line");
    char other[2048];
    snprintf(other, sizeof other, "%s", QWEN_CFG);
    memcpy(strstr(other, "\"vocab_size\": 37"), "\"vocab_size\": 38", 16);
    put_text(cfg, other);
    EXPECT_LOAD_ERR(dir, "bad/model.safetensors", "model.embed_tokens.weight", "has shape [37, 16]",
                    "implies [38, 16]", "bad/config.json");
    put(cfg, good_cfg, cfg_len);

    // the weights file missing, cut short, or with a header length past its end
    unlink(st);
    EXPECT_LOAD_ERR(dir, "bad", "no model.safetensors");
    put(st, good_st, st_len - 4);
    EXPECT_LOAD_ERR(dir, "bad/model.safetensors", "outside the data");
    put(st, good_st, 12);
    EXPECT_LOAD_ERR(dir, "bad/model.safetensors", "header length", "past the end");
    put(st, good_st, st_len);
    check_load(dir, &q, "restored");

    // a tensor of the wrong shape (same bytes, transposed), missing, extra, non-finite,
    // of a dtype o1p does not read
    int wo = tensor_index(ts, "model.layers.1.self_attn.o_proj.weight");
    int up = tensor_index(ts, "model.layers.0.mlp.up_proj.weight");
    ts->t[up].shape[0] = 16;
    ts->t[up].shape[1] = 24;
    raw_write(st, ts->t, ts->n);
    EXPECT_LOAD_ERR(dir, "bad/model.safetensors", "model.layers.0.mlp.up_proj.weight",
                    "has shape [16, 24]", "implies [24, 16]");
    memcpy(ts->t, saved, sizeof saved);
    ts->t[up].ndim = 1;
    ts->t[up].shape[0] = 24 * 16;
    raw_write(st, ts->t, ts->n);
    EXPECT_LOAD_ERR(dir, "bad/model.safetensors", "up_proj", "has shape [384]");
    memcpy(ts->t, saved, sizeof saved);

    ts->t[wo] = ts->t[--ts->n];
    raw_write(st, ts->t, ts->n);
    EXPECT_LOAD_ERR(dir, "bad/model.safetensors", "missing tensor", "model.layers.1.self_attn.o_proj.weight");
    memcpy(ts->t, saved, sizeof saved);
    ts->n = ts->f.n;

    ts->t[ts->n] = ts->t[wo];
    ts->t[ts->n++].name = "model.layers.2.self_attn.o_proj.weight";
    raw_write(st, ts->t, ts->n);
    EXPECT_LOAD_ERR(dir, "bad/model.safetensors", "unexpected tensor", "model.layers.2.self_attn.o_proj.weight");
    ts->n--;

    float *buf = malloc(ts->t[wo].nbytes);
    memcpy(buf, ts->t[wo].data, ts->t[wo].nbytes);
    ts->t[wo].data = buf;
    buf[37] = NAN;
    raw_write(st, ts->t, ts->n);
    EXPECT_LOAD_ERR(dir, "bad/model.safetensors", "model.layers.1.self_attn.o_proj.weight", "NaN", "element 37");
    buf[37] = -INFINITY;
    raw_write(st, ts->t, ts->n);
    EXPECT_LOAD_ERR(dir, "bad/model.safetensors", "o_proj", "Inf");
    uint16_t inf16[16] = {0, 0x7c00};
    int norm = tensor_index(ts, "model.norm.weight");
    memcpy(ts->t, saved, sizeof saved);
    ts->t[norm].dtype = "F16";
    ts->t[norm].data = inf16;
    ts->t[norm].nbytes = 32;
    raw_write(st, ts->t, ts->n);
    EXPECT_LOAD_ERR(dir, "bad/model.safetensors", "model.norm.weight", "Inf", "element 1");
    ts->t[norm].dtype = "I16";
    raw_write(st, ts->t, ts->n);
    EXPECT_LOAD_ERR(dir, "bad/model.safetensors", "model.norm.weight", "I16", "not supported");
    ts->t[norm].dtype = "Q4";
    raw_write(st, ts->t, ts->n);
    EXPECT_LOAD_ERR(dir, "bad/model.safetensors", "model.norm.weight", "unknown dtype");
    free(buf);
    free(good_st);
    free(good_cfg);
    st_close(&ts->f);
    free(ts);
    model_free(&q);
}

// Unwritable destinations fail cleanly; a failed save leaves the old checkpoint whole.
// Tensors larger than a stage window (MODEL_STAGE_FLOATS): the embedding is 4100 x 256
// = 1.05 M floats. Initialised, saved and loaded in place (cpu, a host backend) and
// staged (the test's host table, as a device backend), the bits agree with each other
// and with one sequential stream of normals; a BF16 embedding converts across windows.
static const char *BIG_CFG =
    "{\"model_type\": \"llama\", \"vocab_size\": 4100, \"hidden_size\": 256,"
    " \"intermediate_size\": 64, \"num_hidden_layers\": 1, \"num_attention_heads\": 4,"
    " \"max_position_embeddings\": 32, \"tie_word_embeddings\": true}";

// Init again on a model whose parameters were changed: the same bits as a fresh init, zero
// biases and unit norms included.
static void test_init_again(void) {
    Config c;
    Err e = {{0}};
    Model a, b;
    if (parse(QWEN_CFG, &c, &e) || model_create(&a, &c, &kernels_cpu, &e) || model_create(&b, &c, &kernels_cpu, &e)) {
        CHECK(0, "init again: %s", e.msg);
        return;
    }
    model_init_random(&a, 3);
    for (size_t i = 0; i < b.n_params; i++) b.params_mem[i] = 7.0f;
    model_init_random(&b, 3);
    CHECK(c.qkv_bias && !memcmp(a.params_mem, b.params_mem, a.n_params * sizeof(float)),
          "init on changed parameters: those of a fresh init (biases zero, norms one)");
    model_free(&a), model_free(&b);
}

static void test_model_large(void) {
    Err e = {{0}};
    Config c;
    Model a, b, l;
    if (parse(BIG_CFG, &c, &e) || model_create(&a, &c, &kernels_cpu, &e) ||
        model_create(&b, &c, &host, &e)) {
        CHECK(0, "big model: %s", e.msg);
        return;
    }
    CHECK(c.vocab_size * (size_t)c.dim > MODEL_STAGE_FLOATS, "the embedding spans two windows");
    model_init_random(&a, 11);
    model_init_random(&b, 11);
    CHECK(!memcmp(a.params_mem, b.params_mem, a.n_params * sizeof(float)),
          "init: in place and staged agree");
    // the reference: one stream, element by element, the matrices in layout order
    Rng r = rng_seed(11);
    int bad = 0;
    for (size_t j = 0; j < a.n_decay; j++) {
        float std = a.p.wo <= a.params_mem + j && a.params_mem + j < a.p.wgu ? 0.02f / sqrtf(2.0f) : 0.02f;
        if (a.p.wdown <= a.params_mem + j) std = 0.02f / sqrtf(2.0f);
        bad += a.params_mem[j] != (float)(rng_normal(&r) * std);
    }
    for (size_t j = a.n_decay; j < a.n_params; j++) bad += a.params_mem[j] != 1.0f;
    CHECK(!bad, "init: the bits of one sequential stream (%d differ)", bad);

    CHECK(model_save(&a, P("big_cpu", NULL), &e) == 0, "save in place: %s", e.msg);
    CHECK(model_save(&b, P("big_host", NULL), &e) == 0, "save staged: %s", e.msg);
    char *fa = NULL, *fb = NULL;
    size_t la = 0, lb = 0;
    if (read_file(P("big_cpu", "model.safetensors"), &fa, &la, &e) == 0 &&
        read_file(P("big_host", "model.safetensors"), &fb, &lb, &e) == 0)
        CHECK(la == lb && !memcmp(fa, fb, la), "save: in place and staged write the same bytes");
    free(fa);
    free(fb);
    check_load(P("big_cpu", NULL), &a, "big, staged load");
    CHECK(model_load(&l, P("big_host", NULL), &kernels_cpu, &e) == 0, "load in place: %s", e.msg);
    if (!e.msg[0]) {
        CHECK(same_model(&l, &a), "big, in-place load is bit-identical");
        model_free(&l);
    }

    // the embedding as BF16 (truncated: exact back), the rest F32
    Tensors *ts = malloc(sizeof *ts);
    tensors_read(ts, P("big_cpu", "model.safetensors"));
    int emb = tensor_index(ts, "model.embed_tokens.weight");
    size_t n = (size_t)c.vocab_size * c.dim;
    uint16_t *half = malloc(n * 2);
    for (size_t j = 0; j < n; j++) {
        uint32_t u;
        memcpy(&u, (const char *)ts->t[emb].data + 4 * j, 4);
        half[j] = (uint16_t)(u >> 16);
        u &= 0xffff0000u;
        memcpy(a.p.embed + j, &u, 4);
    }
    ts->t[emb] = (Raw){ts->t[emb].name, "BF16", 2, {c.vocab_size, c.dim}, half, n * 2};
    raw_write(P("big_cpu", "model.safetensors"), ts->t, ts->n);
    check_load(P("big_cpu", NULL), &a, "big, BF16 embedding staged");
    CHECK(model_load(&l, P("big_cpu", NULL), &kernels_cpu, &e) == 0, "load BF16 in place: %s", e.msg);
    if (!e.msg[0]) {
        CHECK(same_model(&l, &a), "big, BF16 embedding in place");
        model_free(&l);
    }
    free(half);
    st_close(&ts->f);
    free(ts);
    model_free(&a);
    model_free(&b);
}

// A host backend of bf16 weights (weights_from_params: bf16 bits, nearest even) whose
// memory model IO moves by upload and download, as on a GPU.
static void h_bf16_weights(void *w, const float *p, size_t n) {
    for (size_t i = 0; i < n; i++) ((uint16_t *)w)[i] = bf16_bits(p[i]);
}
static const Kernels host_bf16 = {.name = "host-bf16", .alloc = h_alloc, .free = h_free, .zero = h_zero,
                                  .upload = h_copy, .download = h_copy, .copy = h_copy, .synchronize = h_sync,
                                  .weights_from_params = h_bf16_weights, .weight_elem_bytes = 2,
                                  .act_elem_bytes = 2};

// model_load on bf16 weights keeps the parameters and writes their rounding beside them;
// model_load_weights writes the rounding alone, window by window (the embedding of
// BIG_CFG spans two stage windows); a model of weights only neither saves nor trains.
// On fp32 weights model_load_weights is model_load.
static void test_weights_only(void) {
    Err e = {{0}};
    Model q, a, b, c;
    if (make_model(&q, BIG_CFG, 21)) return;
    const char *dir = P("bf16_weights", NULL);
    CHECK(model_save(&q, dir, &e) == 0, "save: %s", e.msg);
    uint16_t *want = malloc(q.n_params * 2);
    h_bf16_weights(want, q.params_mem, q.n_params);
    int rc = model_load(&a, dir, &host_bf16, &e);
    CHECK(rc == 0 && same_model(&a, &q) && a.weights_mem != a.params_mem &&
              !memcmp(a.weights_mem, want, q.n_params * 2),
          "model_load on bf16 weights: the parameters, and their rounding beside them: %s", rc ? e.msg : "");
    if (!rc) model_free(&a);
    rc = model_load_weights(&b, dir, &host_bf16, &e);
    CHECK(rc == 0 && !b.params_mem && b.n_params == q.n_params && !memcmp(b.weights_mem, want, q.n_params * 2),
          "model_load_weights on bf16 weights: their rounding alone: %s", rc ? e.msg : "");
    if (!rc) {
        EXPECT_ERR(model_save(&b, P("weights_only_save", NULL), &e), e, "weights_only_save", "bf16 weights only");
        EXPECT_ERR(model_alloc_grads(&b, 0, &e), e, "bf16 weights only", "cannot train");
        model_free(&b);
    }
    rc = model_load_weights(&c, dir, &host, &e);
    CHECK(rc == 0 && same_model(&c, &q) && c.weights_mem == c.params_mem,
          "model_load_weights on fp32 weights: the parameters: %s", rc ? e.msg : "");
    if (!rc) model_free(&c);
    model_free(&q);
    free(want);
}

static void test_model_save_errors(void) {
    Err e = {{0}};
    Model a, b;
    if (make_model(&a, QWEN_CFG, 21) || make_model(&b, QWEN_CFG, 22)) return;
    put_text(P("plainfile", NULL), "x");
    EXPECT_ERR(model_save(&a, P("plainfile", "model"), &e), e, "plainfile", "folder");

    const char *dir = P("keep", NULL);
    CHECK(model_save(&a, dir, &e) == 0, "save a: %s", e.msg);
    // make each temporary file impossible to create in turn
    const char *files[] = {"model.safetensors", "config.json"};
    for (int i = 0; i < 2; i++) {
        char blocker[700];
        snprintf(blocker, sizeof blocker, "%s/%s.tmp.%ld", dir, files[i], (long)getpid());
        mkdir(blocker, 0777);
        EXPECT_ERR(model_save(&b, dir, &e), e, files[i], "cannot write");
        check_load(dir, &a, files[i]);
        rmdir(blocker);
    }
    // a model holding NaN is refused instead of overwriting the checkpoint
    b.p.norm_final[3] = NAN;
    EXPECT_ERR(model_save(&b, dir, &e), e, "keep", "model.norm.weight", "NaN");
    check_load(dir, &a, "after refusing NaN");
    b.p.norm_final[3] = 1;
    CHECK(model_save(&b, dir, &e) == 0, "save b: %s", e.msg);
    check_load(dir, &b, "b replaced a");
    // nothing but the two files is left behind
    DIR *d = opendir(dir);
    int others = 0;
    for (struct dirent *de; d && (de = readdir(d));)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "config.json") &&
            strcmp(de->d_name, "model.safetensors"))
            others++;
    if (d) closedir(d);
    CHECK(others == 0, "no temporary files left (%d others)", others);
    model_free(&a);
    model_free(&b);
}

// ---- training state ----------------------------------------------------------------------
static void test_state(void) {
    enum { N = 1000 };
    float *m = malloc(N * sizeof(float)), *v = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) {
        m[i] = sinf((float)i) * 1e-3f;
        v[i] = (float)i * 1e-7f;
    }
    TrainState s = {.stage = "prune", .step = 123456789012ULL, .rng_state = 0xdeadbeefcafef00dULL,
                    .data_pos = 77, .n_params = N, .extra = {1.5, -2.25, 1e300}};
    const char *path = P("state.bin", NULL);
    Err e = {{0}};
    CHECK(train_state_save(path, &s, m, v, &e) == 0, "train_state_save: %s", e.msg);
    TrainState t;
    float *m2, *v2;
    int rc = train_state_load(path, &t, &m2, &v2, N, &e);
    CHECK(rc == 0, "train_state_load: %s", e.msg);
    if (!rc) {
        CHECK(!memcmp(&s, &t, sizeof s), "state fields round trip");
        CHECK(!memcmp(m, m2, N * 4) && !memcmp(v, v2, N * 4), "moments round trip");
        free(m2);
        free(v2);
    }
    rc = train_state_load(path, &t, &m2, &v2, 0, &e);
    CHECK(rc == 0 && t.n_params == N, "expect_n_params 0 accepts any size");
    if (!rc) {
        free(m2);
        free(v2);
    }
    char *good;
    size_t len;
    read_file(path, &good, &len, &e);
    CHECK(len == 128 + 8 * N + 8, "state size %zu", len);
    const char *bad = P("state_bad.bin", NULL);
    // in pieces of odd sizes (three ranks' slices): the bytes of one save; too few refused
    StateWriter w;
    const char *pieces = P("state_pieces.bin", NULL);
    CHECK(train_state_begin(&w, pieces, &s, &e) == 0, "train_state_begin: %s", e.msg);
    size_t cut[] = {0, 333, 667, N};
    for (int which = 0; which < 2; which++)
        for (int r = 0; r < 3; r++) train_state_put(&w, (which ? v : m) + cut[r], cut[r + 1] - cut[r]);
    CHECK(train_state_commit(&w, &e) == 0, "train_state_commit: %s", e.msg);
    char *streamed;
    size_t slen;
    CHECK(read_file(pieces, &streamed, &slen, &e) == 0 && slen == len && !memcmp(streamed, good, len),
          "pieces: the bytes of train_state_save");
    free(streamed);
    CHECK(train_state_begin(&w, pieces, &s, &e) == 0, "train_state_begin: %s", e.msg);
    train_state_put(&w, m, N);
    EXPECT_ERR(train_state_commit(&w, &e), e, "state_pieces.bin", "do not add up");
    CHECK(read_file(pieces, &streamed, &slen, &e) == 0 && slen == len, "a refused commit leaves the old file");
    free(streamed);
    // a slice, read through the checksum or alone; a corrupt file refused when checked
    float ms[334], vs[334];
    for (int check = 0; check < 2; check++) {
        memset(ms, 0, sizeof ms);
        CHECK(train_state_load_slice(path, &t, 333, 334, ms, vs, N, check, &e) == 0 && t.step == s.step &&
                  !memcmp(ms, m + 333, sizeof ms) && !memcmp(vs, v + 333, sizeof vs),
              "slice 333..667 (check %d): %s", check, e.msg);
    }
    good[128 + 4 * 10] ^= 0x10;
    put(bad, good, len);
    good[128 + 4 * 10] ^= 0x10;
    EXPECT_ERR(train_state_load_slice(bad, &t, 333, 334, ms, vs, N, 1, &e), e, "state_bad.bin", "checksum");
    EXPECT_ERR(train_state_load_slice(path, &t, 900, 334, ms, vs, 0, 0, &e), e, "state.bin", "slice 900..1234");
    EXPECT_ERR(train_state_load_slice(path, &t, 0, 10, ms, vs, N + 1, 0, &e), e, "state.bin", "1001");
    CHECK(train_state_header(path, &t, &e) == 0 && !memcmp(&s, &t, sizeof s), "train_state_header: %s", e.msg);
    size_t flips[] = {40, 128 + 4 * 500 + 1, 128 + 8 * N - 1, len - 1};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        good[flips[i]] ^= 0x10;
        put(bad, good, len);
        good[flips[i]] ^= 0x10;
        EXPECT_ERR(train_state_load(bad, &t, &m2, &v2, N, &e), e, "state_bad.bin", "checksum");
        CHECK(m2 == NULL && v2 == NULL, "nothing returned on failure");
    }
    put(bad, good, len - 3);
    EXPECT_ERR(train_state_load(bad, &t, &m2, &v2, N, &e), e, "state_bad.bin", "truncated");
    char *longer = calloc(1, len + 8);
    memcpy(longer, good, len);
    put(bad, longer, len + 8);
    free(longer);
    EXPECT_ERR(train_state_load(bad, &t, &m2, &v2, N, &e), e, "state_bad.bin", "trailing bytes");
    put(bad, good, 60);
    EXPECT_ERR(train_state_load(bad, &t, &m2, &v2, N, &e), e, "state_bad.bin", "truncated");
    // n_params claiming more than the file holds: refused before any allocation
    memcpy(good + 56, &(uint64_t){UINT64_MAX / 2}, 8);
    put(bad, good, len);
    EXPECT_ERR(train_state_load(bad, &t, &m2, &v2, N, &e), e, "state_bad.bin", "n_params");
    memcpy(good + 56, &(uint64_t){N}, 8);
    good[0] = 'X';
    put(bad, good, len);
    EXPECT_ERR(train_state_load(bad, &t, &m2, &v2, N, &e), e, "state_bad.bin", "not an o1p training state");
    good[0] = 'O';
    good[8] = 2;
    put(bad, good, len);
    EXPECT_ERR(train_state_load(bad, &t, &m2, &v2, N, &e), e, "state_bad.bin", "version 2");
    EXPECT_ERR(train_state_load(path, &t, &m2, &v2, N - 1, &e), e, "state.bin", "999");
    EXPECT_ERR(train_state_load(P("none.bin", NULL), &t, &m2, &v2, N, &e), e, "none.bin", "cannot open");
    EXPECT_ERR(train_state_save(P("plainfile", "state.bin"), &s, m, v, &e), e, "plainfile/state.bin",
               "cannot write");
    // an empty model's state is still a valid file
    TrainState z = {.stage = "sft"};
    CHECK(train_state_save(bad, &z, NULL, NULL, &e) == 0 && train_state_load(bad, &t, &m2, &v2, 0, &e) == 0 &&
              !strcmp(t.stage, "sft"),
          "n_params 0: %s", e.msg);
    free(m2);
    free(v2);
    free(good);
    free(m);
    free(v);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/o1p_test_model_io.XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_config();
    test_safetensors_f32();
    test_safetensors_half();
    test_safetensors_bad();
    test_model_roundtrip();
    test_sharded();
    test_model_bad();
    test_init_again();
    test_model_large();
    test_weights_only();
    test_model_save_errors();
    test_state();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return test_summary();
}
