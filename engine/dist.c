// engine/dist.c -- rank, size and collectives on MPI_COMM_WORLD; one rank without MPI
// (see dist.h).
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef O1P_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_local = 0, g_joined = 0;

// Whether an MPI launcher started this process, and the world size it announced (0: not
// said). OpenMPI sets OMPI_COMM_WORLD_SIZE; MPICH's hydra and srun --mpi=pmi2 PMI_SIZE;
// PMIx launchers PMIX_RANK.
static int launched(int *size) {
    const char *s = getenv("OMPI_COMM_WORLD_SIZE");
    if (!s) s = getenv("PMI_SIZE");
    *size = s ? atoi(s) : 0;
    return s || getenv("PMIX_RANK");
}

int dist_init(int *argc, char ***argv, Err *e) {
    int n;
    if (!launched(&n)) return 0;
#ifdef O1P_MPI
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return err_fmt(e, "MPI_Init_thread failed");
    g_joined = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    // the ranks that share this host's memory: this rank's place among them
    MPI_Comm host;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &host);
    MPI_Comm_rank(host, &g_local);
    MPI_Comm_free(&host);
    return 0;
#else
    (void)argc;
    (void)argv;
    if (n > 1)
        return err_fmt(e, "launched as one of %d ranks, but this o1p was built without MPI: -np > 1 needs an MPI "
                          "build (install libopenmpi-dev and rebuild: make deps && make)", n);
    return 0;
#endif
}

void dist_finalize(void) {
#ifdef O1P_MPI
    if (g_joined) MPI_Finalize();
#endif
    g_joined = 0;
}

int dist_rank(void) { return g_rank; }
int dist_size(void) { return g_size; }
int dist_local_rank(void) { return g_local; }

_Noreturn void dist_abort(int code) {
#ifdef O1P_MPI
    if (g_joined && g_size > 1) {
        fflush(NULL);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
#endif
    exit(code);
}

void dist_barrier(void) {
#ifdef O1P_MPI
    if (g_size > 1) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

// MPI counts are ints: a larger buffer goes in chunks of at most 1 GiB.
#define DIST_CHUNK ((size_t)1 << 30)

void dist_bcast(void *p, size_t n, int root) {
#ifdef O1P_MPI
    if (g_size > 1)
        for (size_t off = 0; off < n; off += DIST_CHUNK) {
            size_t c = n - off < DIST_CHUNK ? n - off : DIST_CHUNK;
            MPI_Bcast((char *)p + off, (int)c, MPI_BYTE, root, MPI_COMM_WORLD);
        }
#else
    (void)p, (void)n, (void)root;
#endif
}

int dist_max_int(int x) {
#ifdef O1P_MPI
    if (g_size > 1) {
        int y;
        MPI_Allreduce(&x, &y, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        return y;
    }
#endif
    return x;
}

void dist_sum_doubles(double *x, int n) {
#ifdef O1P_MPI
    if (g_size > 1) MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#else
    (void)x, (void)n;
#endif
}

int dist_sum_plan(DistSum *p, int K, size_t n, Err *e) {
    int S = g_size, klo, khi, lo, hi;
    dist_share(K, g_rank, S, &klo, &khi);
    dist_share((int)n, g_rank, S, &lo, &hi);
    *p = (DistSum){.K = K, .n_mine = khi - klo, .n = n};
    size_t n_send = (size_t)p->n_mine * n, n_recv = (size_t)K * (size_t)(hi - lo);
    p->cnt = malloc(4 * (size_t)S * sizeof(int));
    p->send = malloc(n_send * sizeof(float) + 1);
    p->recv = malloc(n_recv * sizeof(float) + 1);
    if (!p->cnt || !p->send || !p->recv || n > 0x7fffffff || n_send > 0x7fffffff || n_recv > 0x7fffffff) {
        dist_sum_free(p);
        return err_fmt(e, "cannot plan the sum of %d gradients of %zu floats on %d ranks (out of memory, or over "
                          "2^31 floats a message)", K, n, S);
    }
    return 0;
}

void dist_sum_free(DistSum *p) {
    free(p->cnt);
    free(p->send);
    free(p->recv);
    memset(p, 0, sizeof *p);
}

// slice[i] = sum over kk of parts[kk * len + i], in order from 0.
static void sum_in_order(const float *parts, int K, size_t len, float *slice) {
    for (size_t i = 0; i < len; i++) slice[i] = 0;
    for (int kk = 0; kk < K; kk++)
        for (size_t i = 0; i < len; i++) slice[i] += parts[(size_t)kk * len + i];
}

void dist_sum_ordered(DistSum *p, const float *parts, float *out) {
    if (g_size == 1) {
        sum_in_order(parts, p->K, p->n, out);
        return;
    }
#ifdef O1P_MPI
    // pass 1: to rank s its slice of each of my vectors; from rank q q's vectors' slice of
    // mine, which arrive in kk order (the ranks hold contiguous kk ranges in rank order)
    int S = g_size, *scnt = p->cnt, *sdisp = p->cnt + S, *rcnt = p->cnt + 2 * S, *rdisp = p->cnt + 3 * S;
    int lo, hi, slo, shi, klo, khi;
    dist_share((int)p->n, g_rank, S, &lo, &hi);
    size_t at = 0, rat = 0;
    for (int s = 0; s < S; s++) {
        dist_share((int)p->n, s, S, &slo, &shi);
        sdisp[s] = (int)at;
        for (int j = 0; j < p->n_mine; j++, at += (size_t)(shi - slo))
            memcpy(p->send + at, parts + (size_t)j * p->n + slo, (size_t)(shi - slo) * sizeof(float));
        scnt[s] = (int)at - sdisp[s];
        dist_share(p->K, s, S, &klo, &khi);
        rdisp[s] = (int)rat;
        rcnt[s] = (khi - klo) * (hi - lo);
        rat += (size_t)rcnt[s];
    }
    MPI_Alltoallv(p->send, scnt, sdisp, MPI_FLOAT, p->recv, rcnt, rdisp, MPI_FLOAT, MPI_COMM_WORLD);
    // pass 2: my slice summed in kk order, then every slice to every rank
    sum_in_order(p->recv, p->K, (size_t)(hi - lo), out + lo);
    dist_allgather_floats(out, p->n);
#endif
}

void dist_allgather_floats(float *x, size_t n) {
#ifdef O1P_MPI
    if (g_size == 1) return;
    int cnt[g_size], disp[g_size], lo, hi;
    for (int s = 0; s < g_size; s++) {
        dist_share((int)n, s, g_size, &lo, &hi);
        cnt[s] = hi - lo;
        disp[s] = lo;
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, x, cnt, disp, MPI_FLOAT, MPI_COMM_WORLD);
#else
    (void)x, (void)n;
#endif
}

// MPI counts are ints: chunks of at most 2^28 floats (1 GiB).
#define DIST_CHUNK_FLOATS (DIST_CHUNK / sizeof(float))

void dist_send_floats(const float *p, size_t n, int to) {
#ifdef O1P_MPI
    for (size_t off = 0; off < n; off += DIST_CHUNK_FLOATS) {
        size_t c = n - off < DIST_CHUNK_FLOATS ? n - off : DIST_CHUNK_FLOATS;
        MPI_Send(p + off, (int)c, MPI_FLOAT, to, 0, MPI_COMM_WORLD);
    }
#else
    (void)p, (void)n, (void)to;
#endif
}

void dist_recv_floats(float *p, size_t n, int from) {
#ifdef O1P_MPI
    for (size_t off = 0; off < n; off += DIST_CHUNK_FLOATS) {
        size_t c = n - off < DIST_CHUNK_FLOATS ? n - off : DIST_CHUNK_FLOATS;
        MPI_Recv(p + off, (int)c, MPI_FLOAT, from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
#else
    (void)p, (void)n, (void)from;
#endif
}

int dist_gather_bytes(const void *send, size_t n, char **out, size_t *out_n, Err *e) {
    *out = NULL;
    *out_n = 0;
    long long mine = (long long)n, *all = calloc((size_t)g_size, sizeof *all);
    int *cnt = calloc((size_t)g_size, sizeof *cnt), *disp = calloc((size_t)g_size, sizeof *disp);
    if (!all || !cnt || !disp) {
        free(all), free(cnt), free(disp);
        return err_fmt(e, "out of memory for the gather of %d ranks", g_size);
    }
    all[0] = mine;
#ifdef O1P_MPI
    if (g_size > 1) MPI_Gather(&mine, 1, MPI_LONG_LONG, all, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
#endif
    size_t total = 0;
    for (int r = 0; r < g_size && g_rank == 0; r++) {
        disp[r] = (int)total;
        cnt[r] = (int)all[r];
        total += (size_t)all[r];
    }
    char *buf = g_rank == 0 ? malloc(total ? total : 1) : NULL;
    if (g_rank == 0 && (!buf || total > (size_t)0x7fffffff)) {
        free(buf);
        free(all), free(cnt), free(disp);
        return err_fmt(e, "cannot gather %zu bytes from %d ranks (out of memory or over 2 GiB)", total, g_size);
    }
    if (g_size == 1) memcpy(buf, send, n);
#ifdef O1P_MPI
    else MPI_Gatherv(send, (int)n, MPI_BYTE, buf, cnt, disp, MPI_BYTE, 0, MPI_COMM_WORLD);
#endif
    free(all), free(cnt), free(disp);
    *out = buf;
    *out_n = total;
    return 0;
}

int dist_check_same(uint64_t h, const char *what, Err *e) {
    if (g_size == 1) return 0;
    uint64_t h0 = h;
    dist_bcast(&h0, sizeof h0, 0);
    int first_bad = h0 == h ? g_size : g_rank;
#ifdef O1P_MPI
    int y;
    MPI_Allreduce(&first_bad, &y, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    first_bad = y;
#endif
    if (first_bad == g_size) return 0;
    return err_fmt(e, "the ranks were launched with different %s (rank %d differs from rank 0): every rank "
                      "must see the same inputs", what, first_bad);
}

void dist_share_size(size_t n, int rank, int size, size_t *lo, size_t *count) {
    size_t q = n / (size_t)size, r = n % (size_t)size, k = (size_t)rank;
    *lo = k * q + (k < r ? k : r);
    *count = q + (k < r ? 1 : 0);
}

void dist_share(int n, int rank, int size, int *lo, int *hi) {
    size_t l, c;
    dist_share_size((size_t)n, rank, size, &l, &c);
    *lo = (int)l;
    *hi = (int)(l + c);
}
