// base/io.h -- files: whole-file reads, atomic writes, folders.
//
// Every file o1p writes that a user might lose goes through AtomicFile: the bytes go to
// "PATH.tmp.PID", are flushed and fsync'ed, then renamed over PATH, and the folder is
// fsync'ed. A crash, a full disk or Ctrl-C leaves the old file or the new one, never half.
#ifndef O1P_IO_H
#define O1P_IO_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"

// Reads the whole file into a malloc'ed buffer with a NUL after the end, so text can be
// parsed in place; *len excludes the NUL. Free with free().
int read_file(const char *path, char **data, size_t *len, Err *e);
// The same for an open stream read to its end (stdin); name is used in messages.
int read_stream(FILE *f, const char *name, char **data, size_t *len, Err *e);

typedef struct {
    FILE *f;
    char path[4096];
    char tmp[4200];
} AtomicFile;

int atomic_open(AtomicFile *a, const char *path, Err *e);
// Flushes, fsyncs, closes and renames into place. On failure the temporary file is
// removed and the old PATH (if any) is untouched.
int atomic_commit(AtomicFile *a, Err *e);
// Abandons the write: removes the temporary file.
void atomic_abort(AtomicFile *a);
// Convenience: writes len bytes atomically.
int write_file_atomic(const char *path, const void *data, size_t len, Err *e);

// mkdir -p. Succeeds if the folder exists already.
int make_dirs(const char *path, Err *e);
int file_exists(const char *path);
// out = dir + "/" + name (truncation is an error).
int path_join(char *out, size_t cap, const char *dir, const char *name, Err *e);

// Copies file src to dir/name atomically.
int copy_into_folder(const char *src, const char *dir, const char *name, Err *e);

#endif
