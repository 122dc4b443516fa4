// engine/dist_nccl.h -- the sum of a step's K micro-batch gradients on the GPUs (NCCL),
// in the order of dist_sum_ordered: the same bits as the MPI path for any number of ranks
// (docs/distributed.md).
//
// Built when the CUDA build finds NCCL (O1P_NCCL, `make cuda`). One GPU per rank: the
// backend takes GPU dist_local_rank() modulo the host's count (engine/backend.c). The
// communicator spans MPI_COMM_WORLD; its ncclUniqueId goes out over MPI (dist_bcast).
// Every rank must call open, sum and free in the same order.
#ifndef O1P_DIST_NCCL_H
#define O1P_DIST_NCCL_H

#include <stddef.h>

#include "../base/err.h"
#include "../kernels/kernels.h"

typedef struct DistNccl DistNccl;

// Whether the sum of backend k's gradients goes through NCCL: an NCCL build, a cuda
// backend, and O1P_NCCL not set to 0 in the environment (which keeps the MPI path).
int dist_nccl_usable(const Kernels *k);
// The communicator of all ranks and the buffers of the sum of K vectors of n floats, of
// which this rank holds dist_share(K, rank, size)'s. Collective. NULL on error.
DistNccl *dist_nccl_open(const Kernels *k, int K, size_t n, Err *e);
// This rank's j-th vector [n] on the GPU (j below its share's count): the caller fills it.
float *dist_nccl_part(DistNccl *d, int j);
// The sum of the K vectors in order 0..K-1 into out [n] (GPU) on every rank. Returns
// when out is ready. An NCCL failure here (a lost rank or link) ends the job.
void dist_nccl_sum(DistNccl *d, float *out);
// Collective; d may be NULL.
void dist_nccl_free(DistNccl *d);

#endif
