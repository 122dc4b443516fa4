// tests/cuda/emu/nccl.c -- a one-rank NCCL on host memory, for the emulated GPU (the
// emulation's device memory is host memory): the calls engine/dist_nccl.c makes. It
// checks dist_nccl.c's slices, offsets and in-order sum, not NCCL.
//
// A group's sends to self are queued; each receive takes the oldest (NCCL matches a
// pair's sends and receives in order).
#include <nccl.h>
#include <stdlib.h>
#include <string.h>

#define EMU_MAX_SENDS 1024

static struct {
    const void *buf;
    size_t bytes;
} sends[EMU_MAX_SENDS];
static int n_sends, next_send;

static size_t type_bytes(ncclDataType_t t) { return t == ncclFloat ? 4 : 0; }

ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
    memset(id, 0, sizeof *id);
    return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    (void)id;
    static int one_comm;
    *comm = (ncclComm_t)&one_comm;
    return nranks == 1 && rank == 0 ? ncclSuccess : ncclInvalidUsage;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    (void)comm;
    return ncclSuccess;
}

const char *ncclGetErrorString(ncclResult_t rc) { return rc == ncclSuccess ? "success" : "emulated NCCL error"; }

ncclResult_t ncclGroupStart(void) {
    n_sends = next_send = 0;
    return ncclSuccess;
}

// Every send was received, with the bytes it sent.
ncclResult_t ncclGroupEnd(void) { return next_send == n_sends ? ncclSuccess : ncclInvalidUsage; }

ncclResult_t ncclSend(const void *buf, size_t count, ncclDataType_t t, int peer, ncclComm_t comm,
                      cudaStream_t stream) {
    (void)comm, (void)stream;
    if (peer != 0 || n_sends == EMU_MAX_SENDS || !type_bytes(t)) return ncclInvalidUsage;
    sends[n_sends].buf = buf;
    sends[n_sends++].bytes = count * type_bytes(t);
    return ncclSuccess;
}

ncclResult_t ncclRecv(void *buf, size_t count, ncclDataType_t t, int peer, ncclComm_t comm, cudaStream_t stream) {
    (void)comm, (void)stream;
    if (peer != 0 || next_send == n_sends || sends[next_send].bytes != count * type_bytes(t)) return ncclInvalidUsage;
    memmove(buf, sends[next_send].buf, sends[next_send].bytes);
    next_send++;
    return ncclSuccess;
}

ncclResult_t ncclAllGather(const void *send, void *recv, size_t count, ncclDataType_t t, ncclComm_t comm,
                           cudaStream_t stream) {
    (void)comm, (void)stream;
    if (!type_bytes(t)) return ncclInvalidUsage;
    memmove(recv, send, count * type_bytes(t));
    return ncclSuccess;
}
