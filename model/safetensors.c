// model/safetensors.c -- the safetensors format, read (F32, F16, BF16) and written (F32).
//
// A file is: an 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {"format": "pt"},
//    "NAME": {"dtype": "F32", "shape": [R, C], "data_offsets": [BEGIN, END]}, ...}
// then the data: a tensor's bytes are data[BEGIN, END), offsets from the end of the
// header, row-major, little-endian. The reader checks what the Rust safetensors crate
// checks: the header fits in the file and is a JSON object, every dtype is known,
// END - BEGIN = elements x dtype size, and the tensors tile the data exactly (no overlap,
// no gap, nothing past the end). Names are unique.
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/io.h"
#include "../base/json.h"
#include "io.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c reads and writes little-endian data in place: port the loads and stores"
#endif

static const struct {
    const char *name;
    StDtype dtype;
    int size;
} dtypes[] = {{"F32", ST_F32, 4}, {"F16", ST_F16, 2}, {"BF16", ST_BF16, 2}};

// The format's other dtypes: known, but not convertible to weights.
static const char *const other_dtypes[] = {"BOOL", "U8", "I8", "I16", "U16", "I32", "U32",
                                           "I64", "U64", "F64", "F8_E4M3", "F8_E5M2"};

static int dtype_size(StDtype d) { return d == ST_F32 ? 4 : 2; }

static void free_file(StFile *f) {
    if (f->mapped) munmap(f->buf, f->len);
    else free(f->buf);
    free(f->tensors);
    memset(f, 0, sizeof *f);
}

// A JSON number that is an exact integer in 0..2^53, as offsets and shapes must be.
static int as_size(const JsonValue *v, uint64_t *out) {
    if (v->type != JSON_NUMBER || !(v->num >= 0) || v->num > 9007199254740992.0 ||
        v->num != floor(v->num))
        return -1;
    *out = (uint64_t)v->num;
    return 0;
}

static int parse_tensor(StTensor *t, const char *key, const JsonValue *v, const char *name,
                        uint64_t *begin, uint64_t *end, Err *e) {
    if (strlen(key) >= sizeof t->name)
        return err_fmt(e, "%s: tensor name \"%.60s...\" is longer than %zu bytes", name, key,
                       sizeof t->name - 1);
    snprintf(t->name, sizeof t->name, "%s", key);
    if (v->type != JSON_OBJECT)
        return err_fmt(e, "%s: tensor \"%s\": expected an object with dtype, shape and "
                       "data_offsets, found %s", name, key, json_type_name(v->type));
    const JsonValue *dt = json_get(v, "dtype"), *sh = json_get(v, "shape"),
                    *off = json_get(v, "data_offsets");
    if (!dt || dt->type != JSON_STRING)
        return err_fmt(e, "%s: tensor \"%s\": expected a string for \"dtype\"", name, key);
    int found = 0;
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (!strcmp(dt->str, dtypes[i].name)) {
            t->dtype = dtypes[i].dtype;
            found = 1;
        }
    if (!found) {
        for (size_t i = 0; i < sizeof other_dtypes / sizeof other_dtypes[0]; i++)
            if (!strcmp(dt->str, other_dtypes[i]))
                return err_fmt(e, "%s: tensor \"%s\": dtype %s is not supported (expected F32, "
                               "F16 or BF16)", name, key, dt->str);
        return err_fmt(e, "%s: tensor \"%s\": unknown dtype \"%.40s\" (expected F32, F16 or BF16)",
                       name, key, dt->str);
    }
    if (!sh || sh->type != JSON_ARRAY)
        return err_fmt(e, "%s: tensor \"%s\": expected an array for \"shape\"", name, key);
    if (sh->len > 8)
        return err_fmt(e, "%s: tensor \"%s\": %zu dimensions (at most 8 supported)", name, key,
                       sh->len);
    t->ndim = (int)sh->len;
    // the element count; every dim and the product stay below 2^53: no overflow
    uint64_t count = 1;
    for (int d = 0; d < t->ndim; d++) {
        uint64_t dim;
        if (as_size(&sh->items[d], &dim))
            return err_fmt(e, "%s: tensor \"%s\": shape[%d] is not a non-negative integer", name,
                           key, d);
        t->shape[d] = (int64_t)dim;
        if (dim && count > (UINT64_C(1) << 53) / dim)
            return err_fmt(e, "%s: tensor \"%s\": shape too large", name, key);
        count *= dim;
    }
    if (!off || off->type != JSON_ARRAY || off->len != 2 || as_size(&off->items[0], begin) ||
        as_size(&off->items[1], end))
        return err_fmt(e, "%s: tensor \"%s\": expected \"data_offsets\": [BEGIN, END] with "
                       "non-negative integers", name, key);
    if (*begin > *end)
        return err_fmt(e, "%s: tensor \"%s\": data_offsets [%llu, %llu] end before they begin",
                       name, key, (unsigned long long)*begin, (unsigned long long)*end);
    uint64_t want = count * (uint64_t)dtype_size(t->dtype);
    if (*end - *begin != want)
        return err_fmt(e, "%s: tensor \"%s\": data_offsets [%llu, %llu] hold %llu bytes, but "
                       "shape and dtype %s need %llu", name, key, (unsigned long long)*begin,
                       (unsigned long long)*end, (unsigned long long)(*end - *begin), dt->str,
                       (unsigned long long)want);
    t->nbytes = (size_t)want;
    return 0;
}

// Offsets of one tensor, to check that they tile the data.
typedef struct {
    uint64_t begin, end;
    int index;
} Span;

static int span_cmp(const void *a, const void *b) {
    const Span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->index - y->index;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(((const StTensor *)a)->name, ((const StTensor *)b)->name);
}

// Reads the header's tensors into f->tensors, then checks what needs them all: unique
// names, and offsets that tile the data.
static int parse_header(StFile *f, const JsonValue *root, const unsigned char *data,
                        uint64_t data_len, Span *spans, const char *name, Err *e) {
    for (size_t i = 0; i < root->len; i++) {
        const char *key = root->keys[i];
        if (root->key_lens[i] != strlen(key))
            return err_fmt(e, "%s: a tensor name holds a NUL byte", name);
        if (!strcmp(key, "__metadata__")) {
            if (root->items[i].type != JSON_OBJECT)
                return err_fmt(e, "%s: \"__metadata__\" must be an object", name);
            continue;
        }
        StTensor *t = &f->tensors[f->n];
        uint64_t begin = 0, end = 0;
        if (parse_tensor(t, key, &root->items[i], name, &begin, &end, e)) return -1;
        if (end > data_len)
            return err_fmt(e, "%s: tensor \"%s\": data_offsets [%llu, %llu] outside the data "
                           "(%llu bytes after the header)", name, key, (unsigned long long)begin,
                           (unsigned long long)end, (unsigned long long)data_len);
        t->data = data + begin;
        spans[f->n] = (Span){begin, end, f->n};
        f->n++;
    }
    // unique names: the JSON reader keeps repeated keys, and the last would win silently
    StTensor *sorted = malloc((size_t)(f->n ? f->n : 1) * sizeof *sorted);
    if (!sorted) return err_fmt(e, "%s: out of memory", name);
    memcpy(sorted, f->tensors, (size_t)f->n * sizeof *sorted);
    qsort(sorted, (size_t)f->n, sizeof *sorted, name_cmp);
    for (int i = 1; i < f->n; i++)
        if (!strcmp(sorted[i].name, sorted[i - 1].name)) {
            err_fmt(e, "%s: tensor \"%s\" appears twice in the header", name, sorted[i].name);
            free(sorted);
            return -1;
        }
    free(sorted);
    qsort(spans, (size_t)f->n, sizeof *spans, span_cmp);
    uint64_t at = 0;
    for (int i = 0; i < f->n; i++) {
        const Span *s = &spans[i];
        if (s->begin < at)
            return err_fmt(e, "%s: tensor \"%s\": data_offsets [%llu, %llu] overlap another "
                           "tensor (which ends at %llu)", name, f->tensors[s->index].name,
                           (unsigned long long)s->begin, (unsigned long long)s->end,
                           (unsigned long long)at);
        if (s->begin > at)
            return err_fmt(e, "%s: bytes %llu..%llu of the data belong to no tensor (before "
                           "tensor \"%s\")", name, (unsigned long long)at,
                           (unsigned long long)s->begin, f->tensors[s->index].name);
        at = s->end;
    }
    if (at != data_len)
        return err_fmt(e, "%s: the tensors cover %llu bytes of data, but the file holds %llu "
                       "after the header", name, (unsigned long long)at,
                       (unsigned long long)data_len);
    return 0;
}

// Parses f->buf[0, f->len); frees it on failure.
static int parse_file(StFile *f, const char *name, Err *e) {
    const char *buf = f->buf;
    size_t len = f->len;
    if (len < 8) {
        err_fmt(e, "%s: %zu bytes: too short for a safetensors file (8-byte header length)",
                name, len);
        free_file(f);
        return -1;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | (unsigned char)buf[i];
    if (hlen > len - 8) {
        err_fmt(e, "%s: header length %llu (bytes 0..7) runs past the end of the file (%zu "
                "bytes)", name, (unsigned long long)hlen, len);
        free_file(f);
        return -1;
    }
    char msgname[1100];
    snprintf(msgname, sizeof msgname, "%s (safetensors header at byte 8)", name);
    Json *j = json_parse(buf + 8, (size_t)hlen, msgname, e);
    if (!j) {
        free_file(f);
        return -1;
    }
    const JsonValue *root = json_root(j);
    int rc = -1;
    Span *spans = NULL;
    if (root->type != JSON_OBJECT) {
        err_fmt(e, "%s: the header is %s, expected a JSON object", name,
                json_type_name(root->type));
        goto done;
    }
    size_t cap = root->len ? root->len : 1;
    f->tensors = calloc(cap, sizeof *f->tensors);
    spans = malloc(cap * sizeof *spans);
    if (!f->tensors || !spans) {
        err_fmt(e, "%s: out of memory for %zu tensors", name, root->len);
        goto done;
    }
    const unsigned char *data = (const unsigned char *)buf + 8 + hlen;
    rc = parse_header(f, root, data, (uint64_t)(len - 8 - hlen), spans, name, e);
done:
    free(spans);
    json_free(j);
    if (rc) free_file(f);
    return rc;
}

int st_parse(StFile *f, char *buf, size_t len, const char *name, Err *e) {
    memset(f, 0, sizeof *f);
    f->buf = buf;
    f->len = len;
    return parse_file(f, name, e);
}

int st_open(StFile *f, const char *path, Err *e) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return err_fmt(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_fmt(e, "%s: not a regular file", path);
    }
    f->len = (size_t)st.st_size;
    if (f->len >= 8) {  // shorter: parse_file names the fault without reading
        void *map = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            close(fd);
            return err_fmt(e, "%s: cannot map %zu bytes: %s", path, f->len, strerror(errno));
        }
        madvise(map, f->len, MADV_SEQUENTIAL);
        f->buf = map;
        f->mapped = 1;
    }
    close(fd);
    return parse_file(f, path, e);
}

void st_close(StFile *f) { free_file(f); }

const StTensor *st_find(const StFile *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

// IEEE half -> single, exact for every input. Normals rebias the exponent, 15 -> 127;
// subnormals are mant * 2^-24, exact in a float; Inf and NaN keep their payload.
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        float x = ldexpf((float)mant, -24);
        return sign ? -x : x;
    }
    if (exp == 31) bits = sign | 0x7f800000u | mant << 13;
    else bits = sign | (exp + 112) << 23 | mant << 13;
    float x;
    memcpy(&x, &bits, 4);
    return x;
}

// bfloat16 is the top half of a float32.
static float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float x;
    memcpy(&x, &bits, 4);
    return x;
}

void st_to_f32_part(const StTensor *t, size_t first, size_t n, float *out) {
    if (t->dtype == ST_F32) {
        memcpy(out, t->data + 4 * first, 4 * n);  // the data may be unaligned
        return;
    }
    const unsigned char *src = t->data + 2 * first;
    int f16 = t->dtype == ST_F16;
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        out[i] = f16 ? f16_to_f32(h) : bf16_to_f32(h);
    }
}

void st_to_f32(const StTensor *t, float *out) {
    st_to_f32_part(t, 0, t->nbytes / (size_t)dtype_size(t->dtype), out);
}

size_t st_elem_size(const StTensor *t) { return (size_t)dtype_size(t->dtype); }

void st_release(const StFile *f, const unsigned char *p, size_t n) {
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    uintptr_t hi = ((uintptr_t)p + n) / (uintptr_t)page * (uintptr_t)page;
    if (f->mapped && hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

int st_write_header(FILE *out, const char *path, int n, const char *const *names, const int *ndims,
                    const int64_t (*shapes)[8], Err *e) {
    // the header, built in memory to learn its length
    char *hdr = NULL;
    size_t hlen = 0;
    FILE *h = open_memstream(&hdr, &hlen);
    if (!h) return err_fmt(e, "%s: out of memory", path);
    fputs("{\"__metadata__\":{\"format\":\"pt\"}", h);
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (ndims[i] < 0 || ndims[i] > 8) {
            fclose(h);
            free(hdr);
            return err_fmt(e, "%s: tensor \"%s\": %d dimensions (0..8 allowed)", path, names[i],
                           ndims[i]);
        }
        uint64_t count = 1;
        for (int d = 0; d < ndims[i]; d++) {
            if (shapes[i][d] < 0) {
                fclose(h);
                free(hdr);
                return err_fmt(e, "%s: tensor \"%s\": negative shape[%d]", path, names[i], d);
            }
            count *= (uint64_t)shapes[i][d];
        }
        fputc(',', h);
        json_write_string(h, names[i], strlen(names[i]));
        fputs(":{\"dtype\":\"F32\",\"shape\":[", h);
        for (int d = 0; d < ndims[i]; d++)
            fprintf(h, "%s%lld", d ? "," : "", (long long)shapes[i][d]);
        fprintf(h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
                (unsigned long long)(at + 4 * count));
        at += 4 * count;
    }
    fputc('}', h);
    // spaces align the data to 8 bytes, as the reference writer does
    while ((8 + ftell(h)) % 8) fputc(' ', h);
    if (fclose(h) != 0) {
        free(hdr);
        return err_fmt(e, "%s: out of memory", path);
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < i; k++)
            if (!strcmp(names[i], names[k])) {
                free(hdr);
                return err_fmt(e, "%s: tensor \"%s\" given twice", path, names[i]);
            }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    fwrite(len8, 1, 8, out);
    fwrite(hdr, 1, hlen, out);
    free(hdr);
    return 0;
}

static int write_f32_stream(FILE *out, const char *path, int n, const char *const *names,
                            const int *ndims, const int64_t (*shapes)[8],
                            const float *const *data, Err *e) {
    if (st_write_header(out, path, n, names, ndims, shapes, e)) return -1;
    for (int i = 0; i < n; i++) {
        size_t count = 1;
        for (int d = 0; d < ndims[i]; d++) count *= (size_t)shapes[i][d];
        if (count) fwrite(data[i], sizeof(float), count, out);
    }
    return 0;
}

int st_write_f32(const char *path, int n, const char *const *names, const int *ndims,
                 const int64_t (*shapes)[8], const float *const *data, Err *e) {
    AtomicFile a;
    if (atomic_open(&a, path, e)) return -1;
    if (write_f32_stream(a.f, path, n, names, ndims, shapes, data, e)) {
        atomic_abort(&a);
        return -1;
    }
    return atomic_commit(&a, e);
}
