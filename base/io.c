// base/io.c -- whole-file reads, atomic writes (temporary file, fsync, rename), folders.
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

// The fault hook's state: which kind of call fails, at which count, and how.
static struct {
    int parsed, abort;
    char op[8];
    long at, count;
} g_fault;

// 1 when this call of kind op must fail (errno = EIO); kills the process in abort mode.
static int io_fault(const char *op) {
    if (!g_fault.parsed) {
        g_fault.parsed = 1;
        const char *s = getenv("O1P_FAULT");
        char mode[8] = "";
        if (s && sscanf(s, "%7[a-z]:%ld:%7s", g_fault.op, &g_fault.at, mode) >= 2)
            g_fault.abort = !strcmp(mode, "abort");
        else
            g_fault.op[0] = 0;
    }
    if (!g_fault.op[0] || strcmp(op, g_fault.op) || ++g_fault.count != g_fault.at) return 0;
    if (g_fault.abort) raise(SIGKILL);
    errno = EIO;
    return 1;
}

int io_flush(FILE *f) { return io_fault("write") ? -1 : fflush(f); }
int io_fsync(int fd) { return io_fault("fsync") ? -1 : fsync(fd); }
int io_rename(const char *from, const char *to) { return io_fault("rename") ? -1 : rename(from, to); }

int output_check(const char *path, Err *e) {
    struct stat st;
    if (lstat(path, &st) != 0 || S_ISREG(st.st_mode)) return 0;
    const char *what = S_ISLNK(st.st_mode)    ? "a symbolic link"
                       : S_ISDIR(st.st_mode)  ? "a folder"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISFIFO(st.st_mode) ? "a fifo"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a regular file";
    return err_fmt(e, "%s: is %s; an output must be a regular file or a new name (not replaced)", path, what);
}

int atomic_open(AtomicFile *a, const char *path, Err *e) {
    memset(a, 0, sizeof *a);
    if (strlen(path) >= sizeof a->path) return err_fmt(e, "%s: path too long", path);
    if (output_check(path, e)) return -1;
    strcpy(a->path, path);
    snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%ld", path, (long)getpid());
    a->f = fopen(a->tmp, "wb");
    if (!a->f) return err_fmt(e, "%s: cannot write: %s", path, strerror(errno));
    return 0;
}

void fsync_parent(const char *path) {
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
    int ok = io_flush(a->f) == 0 && !ferror(a->f) && io_fsync(fileno(a->f)) == 0;
    int saved = errno;
    if (fclose(a->f) != 0) ok = 0;
    a->f = NULL;
    if (!ok) {
        unlink(a->tmp);
        return err_fmt(e, "%s: write failed: %s", a->path, strerror(saved));
    }
    if (io_rename(a->tmp, a->path) != 0) {
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

void remove_stale_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *t = strstr(de->d_name, ".tmp.");
        char *end;
        if (!t) continue;
        long pid = strtol(t + 5, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid() || !(kill((pid_t)pid, 0) != 0 && errno == ESRCH)) continue;
        char path[4200];
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < (int)sizeof path) unlink(path);
    }
    closedir(d);
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
