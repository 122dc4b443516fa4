// data/toklines.h -- token lines: one sequence of token ids per line, whitespace-separated
// (the input of `o1p dump`, the porting harness), read into a zero-padded (B, T) grid.
#ifndef O1P_TOKLINES_H
#define O1P_TOKLINES_H

#include <stddef.h>

#include "../base/err.h"

typedef struct {
    int *tokens;  // [B, T] row-major; row b holds lens[b] ids, then zeros
    int *lens;    // [B]
    int B, T;     // lines, and the longest line's length
} TokLines;

// Reads a token-lines file. Every id must be in 0..vocab-1, every line hold 1..max_len
// ids (max_len: the model's max_position_embeddings). Errors name the file, the line
// and, for a bad id, the column. On error *tl is left empty.
int toklines_load(const char *path, int vocab, int max_len, TokLines *tl, Err *e);
// The same from memory; name is used in messages.
int toklines_parse(const char *text, size_t len, const char *name, int vocab, int max_len, TokLines *tl,
                   Err *e);
void toklines_free(TokLines *tl);

#endif
