// base/io.c -- whole-file reads, atomic writes (temporary file, fsync, rename), folders.
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int read_file(const char *path, char **data, size_t *len, Err *e) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return err_fmt(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return err_fmt(e, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return err_fmt(e, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        free(buf);
        return err_fmt(e, "%s: read error", path);
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

int read_stream(FILE *f, const char *name, char **data, size_t *len, Err *e) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return err_fmt(e, "out of memory reading %s", name);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *p = realloc(buf, 2 * cap + 1);
            if (!p) {
                free(buf);
                return err_fmt(e, "out of memory reading %s", name);
            }
            buf = p, cap *= 2;
        }
    }
    if (ferror(f)) {
        free(buf);
        return err_fmt(e, "%s: read error", name);
    }
    buf[n] = 0;
    *data = buf, *len = n;
    return 0;
}

int atomic_open(AtomicFile *a, const char *path, Err *e) {
    memset(a, 0, sizeof *a);
    if (strlen(path) >= sizeof a->path) return err_fmt(e, "%s: path too long", path);
    strcpy(a->path, path);
    snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%ld", path, (long)getpid());
    a->f = fopen(a->tmp, "wb");
    if (!a->f) return err_fmt(e, "%s: cannot write: %s", path, strerror(errno));
    return 0;
}

// fsync of the containing folder makes the rename itself durable.
static void fsync_parent(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        if (slash == dir) slash[1] = 0;
        else *slash = 0;
    } else {
        strcpy(dir, ".");
    }
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int atomic_commit(AtomicFile *a, Err *e) {
    int ok = fflush(a->f) == 0 && !ferror(a->f) && fsync(fileno(a->f)) == 0;
    int saved = errno;
    if (fclose(a->f) != 0) ok = 0;
    a->f = NULL;
    if (!ok) {
        unlink(a->tmp);
        return err_fmt(e, "%s: write failed: %s", a->path, strerror(saved));
    }
    if (rename(a->tmp, a->path) != 0) {
        saved = errno;
        unlink(a->tmp);
        return err_fmt(e, "%s: cannot rename into place: %s", a->path, strerror(saved));
    }
    fsync_parent(a->path);
    return 0;
}

void atomic_abort(AtomicFile *a) {
    if (a->f) fclose(a->f);
    a->f = NULL;
    if (a->tmp[0]) unlink(a->tmp);
}

int write_file_atomic(const char *path, const void *data, size_t len, Err *e) {
    AtomicFile a;
    if (atomic_open(&a, path, e)) return -1;
    if (len && fwrite(data, 1, len, a.f) != len) {
        atomic_abort(&a);
        return err_fmt(e, "%s: write failed: %s", path, strerror(errno));
    }
    return atomic_commit(&a, e);
}

int make_dirs(const char *path, Err *e) {
    char buf[4096];
    if (strlen(path) >= sizeof buf) return err_fmt(e, "%s: path too long", path);
    strcpy(buf, path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return err_fmt(e, "%s: cannot create folder: %s", buf, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return err_fmt(e, "%s: not a folder", path);
    return 0;
}

int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int path_join(char *out, size_t cap, const char *dir, const char *name, Err *e) {
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) return err_fmt(e, "%s/%s: path too long", dir, name);
    return 0;
}

int copy_into_folder(const char *src, const char *dir, const char *name, Err *e) {
    char path[4096];
    char *data;
    size_t len;
    if (path_join(path, sizeof path, dir, name, e) || read_file(src, &data, &len, e)) return -1;
    int rc = write_file_atomic(path, data, len, e);
    free(data);
    return rc;
}
