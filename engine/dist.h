// engine/dist.h -- the processes of a run: rank, size and the few collectives the stages
// need, on MPI (docs/distributed.md).
//
// Built with MPI (O1P_MPI: the Makefile defines it when it finds mpicc), a process that an
// MPI launcher started (mpirun, srun: it sets OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK)
// joins MPI_COMM_WORLD. Any other process is rank 0 of 1 and never calls MPI: a run
// without mpirun is the same program, bit for bit, as a build without MPI. A build
// without MPI launched as one of several ranks refuses to run (dist_init's error).
//
// Errors are fatal (MPI's default handler): a rank that dies ends the job through the
// launcher. A rank that fails in o1p's own code calls dist_abort, which ends all ranks.
// The collectives below are on MPI_COMM_WORLD and every rank must call them in the same
// order; with one rank they are copies or nothing.
#ifndef O1P_DIST_H
#define O1P_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

// Joins the launcher's job, if any (MPI_Init_thread, funneled). Call once, first thing.
int dist_init(int *argc, char ***argv, Err *e);
// MPI_Finalize when dist_init joined a job.
void dist_finalize(void);
int dist_rank(void);
int dist_size(void);
// This rank's place among the ranks on its host (0 with one process): its GPU.
int dist_local_rank(void);
// Ends every rank of the job with exit code code (a plain exit with one rank).
_Noreturn void dist_abort(int code);
void dist_barrier(void);

// root's n bytes at p to every rank's p.
void dist_bcast(void *p, size_t n, int root);
// The maximum of x over the ranks, on every rank.
int dist_max_int(int x);
// x[0..n) summed over the ranks in place, on every rank (MPI's order: exact for counters,
// and where one rank alone holds each non-zero entry).
void dist_sum_doubles(double *x, int n);
// The sum, in order kk = 0..K-1 from 0, of K vectors of n floats held by the ranks: rank
// r holds vectors dist_share(K, r, size) (contiguous, in rank order). Each rank sums a
// slice of the entries over all K (the same order whatever the number of ranks), then
// the slices are gathered on every rank: the result is bit-identical for any number of
// ranks. The plan holds the buffers, so that the sum itself cannot fail.
typedef struct {
    int K, n_mine;   // vectors in all; on this rank
    size_t n;        // floats per vector
    int *cnt;        // [4 size] MPI counts and displacements
    float *send;     // [n_mine n] this rank's slices for each rank
    float *recv;     // [K slice] every vector's slice of this rank
} DistSum;
int dist_sum_plan(DistSum *p, int K, size_t n, Err *e);
void dist_sum_free(DistSum *p);
// parts [n_mine, n] -> out [n] on every rank.
void dist_sum_ordered(DistSum *p, const float *parts, float *out);

// x [n] on every rank from the ranks' shares: rank r's x[lo..hi), dist_share(n, r, size),
// to every rank (MPI_Allgatherv in place; nothing with one rank). n < 2^31.
void dist_allgather_floats(float *x, size_t n);
// n floats to rank `to`, and from rank `from` (MPI_Send, MPI_Recv: blocking, and the
// messages of one sender arrive in the order sent).
void dist_send_floats(const float *p, size_t n, int to);
void dist_recv_floats(float *p, size_t n, int from);

// Every rank's n bytes at send, in rank order, into one malloc'ed buffer on rank 0
// (*out, *out_n); other ranks get *out = NULL. Returns -1 when rank 0 runs out of
// memory (on rank 0 only: the command line then ends the job).
int dist_gather_bytes(const void *send, size_t n, char **out, size_t *out_n, Err *e);

// Checks that every rank has the same fingerprint h of `what` (its options, data,
// model): rank 0's is broadcast and compared. On a mismatch every rank returns -1 with
// an error naming `what` and the ranks that differ.
int dist_check_same(uint64_t h, const char *what, Err *e);

// Problems lo..hi-1 of n that rank `rank` of `size` takes: contiguous, as equal as
// possible, the lower ranks taking one more.
void dist_share(int n, int rank, int size, int *lo, int *hi);
// The same split in size_t (a memory plan may count 2^31 items or more): lo, and count.
void dist_share_size(size_t n, int rank, int size, size_t *lo, size_t *count);

#endif
