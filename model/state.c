// model/state.c -- the training-state file: what a resumed run needs beyond the weights.
//
// Layout (little-endian), 128-byte header, then the moments, then a checksum:
//   0   "O1PSTATE"            magic
//   8   u32 version (1)       12  u32 header bytes (128)
//   16  char stage[16]        NUL-terminated
//   32  u64 step              40  u64 rng_state
//   48  u64 data_pos          56  u64 n_params
//   64  f64 extra[8]
//   128 f32 m[n_params], f32 v[n_params]
//   end u64 checksum: FNV-1a over the 64-bit words of every byte before it
// The file is streamed both ways, with no second copy of the moments in memory (a slice
// of them on a ZeRO-1 rank), and written atomically.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../base/io.h"
#include "io.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "state.c writes little-endian data in place: port the loads and stores"
#endif

#define STATE_MAGIC "O1PSTATE"
#define STATE_VERSION 1
#define STATE_HEADER 128

// FNV-1a over 64-bit words instead of bytes: 8x faster on hundreds of MB. The
// multiplier P is odd, so h -> (h ^ w) * P is a bijection in w: changing any one word
// changes the sum. n is a multiple of 8.
static uint64_t fnv_words(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * UINT64_C(0x100000001b3);
    }
    return h;
}
#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)

static void header_pack(unsigned char *h, const TrainState *s) {
    uint32_t version = STATE_VERSION, hbytes = STATE_HEADER;
    memset(h, 0, STATE_HEADER);
    memcpy(h, STATE_MAGIC, 8);
    memcpy(h + 8, &version, 4);
    memcpy(h + 12, &hbytes, 4);
    memcpy(h + 16, s->stage, sizeof s->stage);
    h[31] = 0;
    memcpy(h + 32, &s->step, 8);
    memcpy(h + 40, &s->rng_state, 8);
    memcpy(h + 48, &s->data_pos, 8);
    memcpy(h + 56, &s->n_params, 8);
    memcpy(h + 64, s->extra, sizeof s->extra);
}

int train_state_save(const char *path, const TrainState *s, const float *m, const float *v,
                     Err *e) {
    StateWriter w;
    if (train_state_begin(&w, path, s, e)) return -1;
    train_state_put(&w, m, s->n_params);
    train_state_put(&w, v, s->n_params);
    return train_state_commit(&w, e);
}

int train_state_begin(StateWriter *w, const char *path, const TrainState *s, Err *e) {
    if (s->n_params > (SIZE_MAX - STATE_HEADER - 8) / 8)
        return err_fmt(e, "%s: n_params = %llu is too large", path,
                       (unsigned long long)s->n_params);
    unsigned char h[STATE_HEADER];
    header_pack(h, s);
    memset(w, 0, sizeof *w);
    w->sum = fnv_words(FNV_OFFSET, h, sizeof h);
    w->left = 2 * s->n_params;
    if (atomic_open(&w->a, path, e)) return -1;
    // atomic_commit catches short writes: ferror, fflush, fsync
    fwrite(h, 1, sizeof h, w->a.f);
    return 0;
}

// The checksum over n more bytes, in 64-bit words: a word split across calls waits in
// w->tail.
static void sum_bytes(StateWriter *w, const unsigned char *b, size_t n) {
    if (w->n_tail) {
        size_t c = 8 - (size_t)w->n_tail < n ? 8 - (size_t)w->n_tail : n;
        memcpy(w->tail + w->n_tail, b, c);
        w->n_tail += (int)c;
        b += c;
        n -= c;
        if (w->n_tail < 8) return;
        w->sum = fnv_words(w->sum, w->tail, 8);
        w->n_tail = 0;
    }
    size_t whole = n & ~(size_t)7;
    w->sum = fnv_words(w->sum, b, whole);
    memcpy(w->tail, b + whole, n - whole);
    w->n_tail = (int)(n - whole);
}

void train_state_put(StateWriter *w, const float *p, size_t n) {
    if (n > w->left) {  // too many: train_state_commit refuses the file
        w->left = UINT64_MAX;
        return;
    }
    if (!n) return;
    sum_bytes(w, (const unsigned char *)p, n * sizeof(float));
    fwrite(p, sizeof(float), n, w->a.f);
    w->left -= n;
}

int train_state_commit(StateWriter *w, Err *e) {
    if (w->left) {
        atomic_abort(&w->a);
        return err_fmt(e, "%s: the moments written do not add up to 2 n_params floats", w->a.path);
    }
    fwrite(&w->sum, 1, 8, w->a.f);  // 16 + 8 n_params bytes so far: no word left in tail
    return atomic_commit(&w->a, e);
}

static int read_exact(FILE *f, void *p, size_t n, const char *path, const char *what,
                      long long at, Err *e) {
    if (n && fread(p, 1, n, f) != n)
        return err_fmt(e, "%s: byte %lld: cannot read %s (file truncated?)", path, at, what);
    return 0;
}

static void header_unpack(const unsigned char *h, TrainState *s) {
    memcpy(s->stage, h + 16, sizeof s->stage);
    memcpy(&s->step, h + 32, 8);
    memcpy(&s->rng_state, h + 40, 8);
    memcpy(&s->data_pos, h + 48, 8);
    memcpy(&s->n_params, h + 56, 8);
    memcpy(s->extra, h + 64, sizeof s->extra);
}

// Reads the header into h and s, and checks it against the file's size.
static int header_read(FILE *f, const char *path, uint64_t size, unsigned char *h, TrainState *s,
                       Err *e) {
    if (size < 8 || fread(h, 1, 8, f) != 8 || memcmp(h, STATE_MAGIC, 8))
        return err_fmt(e, "%s: byte 0: not an o1p training state (expected the magic \"%s\")", path,
                       STATE_MAGIC);
    if (size < STATE_HEADER + 8)
        return err_fmt(e, "%s: %llu bytes: truncated (a training state has at least %d)", path,
                       (unsigned long long)size, STATE_HEADER + 8);
    if (read_exact(f, h + 8, STATE_HEADER - 8, path, "the header", 8, e)) return -1;
    uint32_t version, hbytes;
    memcpy(&version, h + 8, 4);
    memcpy(&hbytes, h + 12, 4);
    if (version != STATE_VERSION || hbytes != STATE_HEADER)
        return err_fmt(e, "%s: byte 8: version %u with a %u-byte header is not supported (expected "
                       "version %d, %d bytes)", path, version, hbytes, STATE_VERSION, STATE_HEADER);
    header_unpack(h, s);
    // the size n_params implies, checked before n_params sizes an allocation
    uint64_t n = s->n_params;
    if (n > (size - STATE_HEADER - 8) / 8)
        return err_fmt(e, "%s: %llu bytes: truncated or corrupt (too short for n_params = %llu)", path,
                       (unsigned long long)size, (unsigned long long)n);
    if (STATE_HEADER + 8 * n + 8 != size)
        return err_fmt(e, "%s: %llu bytes, but n_params = %llu needs %llu (trailing bytes or corrupt)",
                       path, (unsigned long long)size, (unsigned long long)n,
                       (unsigned long long)(STATE_HEADER + 8 * n + 8));
    if (s->stage[sizeof s->stage - 1])
        return err_fmt(e, "%s: byte 16: the stage name is not NUL-terminated", path);
    return 0;
}

// Floats from..from+n of a stream whose chunk at..at+c is buf, into out[0..n).
static void copy_slice(const float *buf, uint64_t at, size_t c, uint64_t from, size_t n, float *out) {
    uint64_t a = at > from ? at : from, b = at + c < from + n ? at + c : from + n;
    if (a < b) memcpy(out + (a - from), buf + (a - at), (size_t)(b - a) * sizeof(float));
}

// Streams the 2 N moment floats (m, then v) and the checksum, which must match them and
// the header h; keeps floats lo..lo+n of m and of v.
static int moments_read(FILE *f, const char *path, const unsigned char *h, uint64_t N, uint64_t lo,
                        size_t n, float *m, float *v, Err *e) {
    enum { CHUNK = 1 << 20 };  // floats: even, so every chunk is whole 64-bit words
    float *buf = malloc(CHUNK * sizeof(float));
    if (!buf) return err_fmt(e, "%s: out of memory for reading", path);
    uint64_t sum = fnv_words(FNV_OFFSET, h, STATE_HEADER), stored;
    int rc = 0;
    for (uint64_t at = 0; at < 2 * N && !rc; at += CHUNK) {
        size_t c = 2 * N - at < CHUNK ? (size_t)(2 * N - at) : CHUNK;
        rc = read_exact(f, buf, c * sizeof(float), path, at < N ? "m" : "v", (long long)(STATE_HEADER + 4 * at), e);
        if (rc) break;
        sum = fnv_words(sum, buf, c * sizeof(float));
        copy_slice(buf, at, c, lo, n, m);
        copy_slice(buf, at, c, N + lo, n, v);
    }
    free(buf);
    if (rc || read_exact(f, &stored, 8, path, "the checksum", (long long)(STATE_HEADER + 8 * N), e)) return -1;
    if (sum != stored) return err_fmt(e, "%s: checksum mismatch (the file is corrupt)", path);
    return 0;
}

// Floats lo..lo+n of m and of v only, without the checksum.
static int slices_read(FILE *f, const char *path, uint64_t N, uint64_t lo, size_t n, float *m, float *v,
                       Err *e) {
    long long at_m = (long long)(STATE_HEADER + 4 * lo), at_v = (long long)(STATE_HEADER + 4 * (N + lo));
    if (fseeko(f, at_m, SEEK_SET)) return err_fmt(e, "%s: byte %lld: cannot seek: %s", path, at_m, strerror(errno));
    if (read_exact(f, m, n * sizeof(float), path, "m", at_m, e)) return -1;
    if (fseeko(f, at_v, SEEK_SET)) return err_fmt(e, "%s: byte %lld: cannot seek: %s", path, at_v, strerror(errno));
    return read_exact(f, v, n * sizeof(float), path, "v", at_v, e);
}

// Opens a state file and reads and checks its header into h and s.
static FILE *state_open(const char *path, unsigned char *h, TrainState *s, Err *e) {
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_fmt(e, "%s: cannot open training state: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        err_fmt(e, "%s: not a regular file", path);
        fclose(f);
        return NULL;
    }
    if (header_read(f, path, (uint64_t)st.st_size, h, s, e)) {
        fclose(f);
        return NULL;
    }
    return f;
}

static int check_n_params(const char *path, const TrainState *s, uint64_t expect_n_params, Err *e) {
    if (expect_n_params && s->n_params != expect_n_params)
        return err_fmt(e, "%s: holds optimizer moments for %llu parameters, but the model has %llu", path,
                       (unsigned long long)s->n_params, (unsigned long long)expect_n_params);
    return 0;
}

int train_state_load(const char *path, TrainState *s, float **m, float **v,
                     uint64_t expect_n_params, Err *e) {
    *m = *v = NULL;
    unsigned char h[STATE_HEADER];
    FILE *f = state_open(path, h, s, e);
    if (!f) return -1;
    uint64_t n = s->n_params;
    size_t nb = (size_t)n * sizeof(float);
    *m = malloc(nb ? nb : 1);
    *v = malloc(nb ? nb : 1);
    int rc = !*m || !*v ? err_fmt(e, "%s: out of memory for %llu optimizer moments", path, (unsigned long long)n)
                        : moments_read(f, path, h, n, 0, (size_t)n, *m, *v, e);
    if (!rc) rc = check_n_params(path, s, expect_n_params, e);
    fclose(f);
    if (rc) {
        free(*m);
        free(*v);
        *m = *v = NULL;
    }
    return rc;
}

int train_state_header(const char *path, TrainState *s, Err *e) {
    unsigned char h[STATE_HEADER];
    FILE *f = state_open(path, h, s, e);
    if (!f) return -1;
    fclose(f);
    return 0;
}

int train_state_load_slice(const char *path, TrainState *s, uint64_t lo, size_t n, float *m, float *v,
                           uint64_t expect_n_params, int check, Err *e) {
    unsigned char h[STATE_HEADER];
    FILE *f = state_open(path, h, s, e);
    if (!f) return -1;
    int rc = check_n_params(path, s, expect_n_params, e);
    if (!rc && lo + n > s->n_params)
        rc = err_fmt(e, "%s: holds optimizer moments for %llu parameters, not the slice %llu..%llu", path,
                     (unsigned long long)s->n_params, (unsigned long long)lo, (unsigned long long)(lo + n));
    if (!rc) rc = check ? moments_read(f, path, h, s->n_params, lo, n, m, v, e)
                        : slices_read(f, path, s->n_params, lo, n, m, v, e);
    fclose(f);
    return rc;
}
