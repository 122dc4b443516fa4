// engine/dist_nccl.c -- the step's gradient sum on the GPUs with NCCL (see dist_nccl.h).
//
// Not ncclAllReduce: NCCL picks its algorithm (ring, tree, NVLS), protocol and chunks
// from the message size, the rank count and the topology, and with them the order in
// which each entry's K contributions are added, so its bits change with N and the
// machine. Here one rank adds each entry's K contributions, in micro-batch order, with
// the backend's add (IEEE fp32, as the host loop of dist.c): the bits of
// dist_sum_ordered, the MPI path, for any N. The price is about twice an all-reduce's
// traffic: an all-to-all of slices (grouped ncclSend/ncclRecv), then ncclAllGather.
#include "dist_nccl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"

#ifdef O1P_NCCL
#include <nccl.h>

// Rank s sums entries s c .. s c + c-1 (cut at n) of every vector: equal slices, as
// ncclAllGather needs; the last ones may be short or empty.
struct DistNccl {
    const Kernels *k;
    ncclComm_t comm;
    int K, rank, size;
    int klo, n_mine;  // this rank's vectors klo .. klo + n_mine - 1
    size_t n, c;      // floats per vector; per slice
    float *parts;     // [n_mine, n] this rank's vectors
    float *recv;      // [K, c] every vector's slice of this rank
    float *gath;      // [size, c] the summed slices in rank order
};

int dist_nccl_usable(const Kernels *k) {
    const char *env = getenv("O1P_NCCL");
    return !strncmp(k->name, "cuda", 4) && !(env && !strcmp(env, "0"));
}

// Entries in rank s's slice.
static size_t slice_len(const DistNccl *d, int s) {
    size_t lo = (size_t)s * d->c;
    return lo >= d->n ? 0 : d->n - lo < d->c ? d->n - lo : d->c;
}

DistNccl *dist_nccl_open(const Kernels *k, int K, size_t n, Err *e) {
    DistNccl *d = calloc(1, sizeof *d);
    if (!d) {
        err_fmt(e, "out of memory for the NCCL plan");
        return NULL;
    }
    int khi;
    d->k = k, d->K = K, d->n = n, d->rank = dist_rank(), d->size = dist_size();
    dist_share(K, d->rank, d->size, &d->klo, &khi);
    d->n_mine = khi - d->klo;
    d->c = (n + (size_t)d->size - 1) / (size_t)d->size;
    // rank 0's id to all; a rank that fails returns, and the command line's dist_abort
    // ends the others
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    ncclResult_t rc = d->rank == 0 ? ncclGetUniqueId(&id) : ncclSuccess;
    if (rc == ncclSuccess) {
        dist_bcast(&id, sizeof id, 0);
        rc = ncclCommInitRank(&d->comm, d->size, id, d->rank);
    }
    if (rc != ncclSuccess) {
        err_fmt(e, "NCCL: cannot create the communicator of %d ranks (rank %d): %s (NCCL_DEBUG=INFO says more)",
                d->size, d->rank, ncclGetErrorString(rc));
        d->comm = NULL;
        dist_nccl_free(d);
        return NULL;
    }
    d->parts = k->alloc((size_t)d->n_mine * n * sizeof(float));
    d->recv = k->alloc((size_t)K * d->c * sizeof(float));
    d->gath = k->alloc((size_t)d->size * d->c * sizeof(float));
    if (!d->parts || !d->recv || !d->gath) {
        err_fmt(e, "out of GPU memory for the sum of %d gradients of %zu floats", K, n);
        dist_nccl_free(d);
        return NULL;
    }
    return d;
}

float *dist_nccl_part(DistNccl *d, int j) { return d->parts + (size_t)j * d->n; }

// An NCCL error mid-step is a lost rank, link or GPU: the run cannot go on (as the CUDA
// backend's errors, kernels/cuda/common.cuh).
static void nccl_check(ncclResult_t rc, const char *what) {
    if (rc == ncclSuccess) return;
    fprintf(stderr, "o1p [rank %d of %d]: NCCL error in %s: %s\n", dist_rank(), dist_size(), what,
            ncclGetErrorString(rc));
    dist_abort(1);
}

void dist_nccl_sum(DistNccl *d, float *out) {
    const Kernels *k = d->k;
    size_t len = slice_len(d, d->rank);
    // pass 1: to rank s its slice of each of my vectors; from rank s s's vectors' slice of
    // mine, into recv at their kk (the ranks hold contiguous kk ranges in rank order).
    // Stream 0, the backend's: ordered after the backward passes and before the update.
    nccl_check(ncclGroupStart(), "ncclGroupStart");
    for (int s = 0; s < d->size; s++) {
        size_t ls = slice_len(d, s);
        int klo, khi;
        dist_share(d->K, s, d->size, &klo, &khi);
        for (int j = 0; j < d->n_mine && ls; j++)
            nccl_check(ncclSend(d->parts + (size_t)j * d->n + (size_t)s * d->c, ls, ncclFloat, s, d->comm, 0),
                       "ncclSend");
        for (int kk = klo; kk < khi && len; kk++)
            nccl_check(ncclRecv(d->recv + (size_t)kk * d->c, len, ncclFloat, s, d->comm, 0), "ncclRecv");
    }
    nccl_check(ncclGroupEnd(), "the all-to-all of the gradient slices");
    // pass 2: my slice summed from 0 in kk order (dist.c's sum_in_order: 0 + v0 + v1 ..),
    // then every slice to every rank (in place: mine is at gath + rank c)
    float *mine = d->gath + (size_t)d->rank * d->c;
    k->zero(mine, d->c * sizeof(float));
    for (int kk = 0; kk < d->K && len; kk++) k->add(mine, mine, d->recv + (size_t)kk * d->c, len);
    nccl_check(ncclAllGather(mine, d->gath, d->c, ncclFloat, d->comm, 0), "ncclAllGather of the summed slices");
    k->copy(out, d->gath, d->n * sizeof(float));
    k->synchronize();
}

void dist_nccl_free(DistNccl *d) {
    if (!d) return;
    if (d->comm) ncclCommDestroy(d->comm);
    d->k->free(d->parts);
    d->k->free(d->recv);
    d->k->free(d->gath);
    free(d);
}

#else  // a build without NCCL: the MPI path only

int dist_nccl_usable(const Kernels *k) {
    (void)k;
    return 0;
}

DistNccl *dist_nccl_open(const Kernels *k, int K, size_t n, Err *e) {
    (void)k, (void)K, (void)n;
    err_fmt(e, "this o1p was built without NCCL");
    return NULL;
}

float *dist_nccl_part(DistNccl *d, int j) {
    (void)d, (void)j;
    return NULL;
}

void dist_nccl_sum(DistNccl *d, float *out) { (void)d, (void)out; }

void dist_nccl_free(DistNccl *d) { (void)d; }

#endif
