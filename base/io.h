// base/io.h -- files: whole-file reads, atomic writes, folders.
//
// Every file o1p writes that a user might lose goes through AtomicFile: the bytes go to
// "PATH.tmp.PID", are flushed and fsync'ed, then renamed over PATH, and the folder is
// fsync'ed. A crash, a full disk or Ctrl-C leaves the old file or the new one, never half.
// An existing PATH must be a regular file: a device, fifo, socket, folder or symlink
// given as an output is refused, never replaced (output_check).
//
// Fault injection (tests/test_faults.sh): O1P_FAULT=OP:N or OP:N:abort, OP one of
// write, fsync, rename. The Nth call of that kind in the process (counted from 1 by
// io_flush, io_fsync, io_rename, which every output path uses) fails with EIO, or with
// ":abort" the process kills itself there (SIGKILL, as a crash). Unset: one compare.
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

// Refuses an output path that exists and is not a regular file (lstat: a symlink is
// refused too), naming the path and what it is. Call it before any work starts.
int output_check(const char *path, Err *e);

// fflush, fsync(fd) and rename(2) with the fault hook; 0, or -1 with errno set.
int io_flush(FILE *f);
int io_fsync(int fd);
int io_rename(const char *from, const char *to);
// fsync of the folder that holds path: makes a rename there durable.
void fsync_parent(const char *path);

typedef struct {
    FILE *f;
    char path[4096];
    char tmp[4200];
} AtomicFile;

// Opens PATH.tmp.PID for writing; refuses a PATH that is not a regular file.
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

// Removes dir's temporary files "NAME.tmp.PID" left by processes that are gone.
void remove_stale_tmp(const char *dir);

// Copies file src to dir/name atomically.
int copy_into_folder(const char *src, const char *dir, const char *name, Err *e);

#endif
