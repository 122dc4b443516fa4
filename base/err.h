// base/err.h -- how library code reports failure.
//
// Library functions never print and never exit. A function that can fail returns 0,
// or -1 after writing one message into the caller's Err: the file, the position and
// what was expected, e.g. "config.json: line 3, column 9: expected a number for
// \"hidden_size\"". Only the command line prints it.
#ifndef O1P_ERR_H
#define O1P_ERR_H

typedef struct {
    char msg[1024];
} Err;

// Formats the message into e (printf-style) and returns -1, so that error paths read
// `return err_fmt(e, "%s: ...", path);`. e may be NULL (the message is dropped).
int err_fmt(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Prepends "prefix: " to an existing message (to add the outer context) and returns -1.
int err_wrap(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
