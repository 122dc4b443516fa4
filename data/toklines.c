// data/toklines.c -- token lines into a (B, T) grid, in two passes over the text:
// pass 1 checks every line and finds B and T, pass 2 fills the grid.
#include "toklines.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../base/io.h"

// The ids of one line [p, eol) into row (NULL: count only); returns their count, or -1.
static int parse_line(const char *p, const char *eol, const char *name, int line, int vocab, int *row,
                      Err *e) {
    int count = 0;
    for (const char *q = p; q < eol;) {
        while (q < eol && isspace((unsigned char)*q)) q++;
        if (q >= eol) break;
        char *end;
        errno = 0;
        long id = strtol(q, &end, 10);
        int col = (int)(q - p) + 1;
        if (end == q || (end < eol && !isspace((unsigned char)*end)))
            return err_fmt(e, "%s: line %d, column %d: expected a token id (a non-negative integer)", name, line,
                           col);
        if (errno || id < 0 || id >= vocab)
            return err_fmt(e, "%s: line %d, column %d: token id %.*s is out of range (vocab_size = %d)", name,
                           line, col, (int)(end - q), q, vocab);
        if (row) row[count] = (int)id;
        count++;
        q = end;
    }
    return count;
}

// One pass over the lines: checks them and sets tl->B and tl->T; fill: also writes the
// grid (allocated for the B and T of the first pass).
static int scan_lines(const char *text, size_t len, const char *name, int vocab, int max_len, int fill,
                      TokLines *tl, Err *e) {
    int line = 0, longest = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        line++;
        int *row = fill ? tl->tokens + (size_t)(line - 1) * tl->T : NULL;
        int count = parse_line(p, eol, name, line, vocab, row, e);
        if (count < 0) return -1;
        if (count == 0) return err_fmt(e, "%s: line %d: empty line (expected at least one token id)", name, line);
        if (count > max_len)
            return err_fmt(e, "%s: line %d: %d tokens exceed max_position_embeddings = %d", name, line, count,
                           max_len);
        if (fill) tl->lens[line - 1] = count;
        if (count > longest) longest = count;
        p = eol + 1;
    }
    tl->B = line;
    tl->T = longest;
    return 0;
}

int toklines_parse(const char *text, size_t len, const char *name, int vocab, int max_len, TokLines *tl,
                   Err *e) {
    memset(tl, 0, sizeof *tl);
    if (scan_lines(text, len, name, vocab, max_len, 0, tl, e)) return -1;
    if (!tl->B) return err_fmt(e, "%s: no token lines", name);
    tl->tokens = calloc((size_t)tl->B * tl->T, sizeof *tl->tokens);
    tl->lens = calloc((size_t)tl->B, sizeof *tl->lens);
    if (!tl->tokens || !tl->lens) {
        toklines_free(tl);
        return err_fmt(e, "%s: out of memory", name);
    }
    if (scan_lines(text, len, name, vocab, max_len, 1, tl, e)) {
        toklines_free(tl);
        return -1;
    }
    return 0;
}

int toklines_load(const char *path, int vocab, int max_len, TokLines *tl, Err *e) {
    memset(tl, 0, sizeof *tl);
    char *text;
    size_t len;
    if (read_file(path, &text, &len, e)) return -1;
    int rc = toklines_parse(text, len, path, vocab, max_len, tl, e);
    free(text);
    return rc;
}

void toklines_free(TokLines *tl) {
    free(tl->tokens);
    free(tl->lens);
    memset(tl, 0, sizeof *tl);
}
