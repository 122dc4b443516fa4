// tests/cuda/test_nccl.c -- the gradient sum on the GPUs (engine/dist_nccl.c) against
// the MPI path's (dist_sum_ordered, host): the same bits, on as many ranks as the test
// was launched with: alone a one-rank communicator, under `mpirun -np N` N ranks with one
// GPU each (NCCL refuses two ranks on one GPU). Sums of K vectors of n floats of mixed
// magnitudes, so that another order of the sum shows in the bits; shapes with empty
// slices (n < ranks) and ranks without vectors (K < ranks); a second sum on the same
// buffers. Without a GPU, or a build without NCCL: SKIP.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/dist.h"
#include "../../engine/dist_nccl.h"
#include "../test.h"

// Entry i of vector kk of sum `round`: in [-0.5, 0.5) times 2^-10 .. 2^9.
static float value(int round, int kk, size_t i) {
    uint32_t h = (uint32_t)(i * 2654435761u) ^ (uint32_t)(kk * 40503u + round * 9973u);
    h ^= h >> 15, h *= 2246822519u, h ^= h >> 13;
    return ((float)(h & 0xffff) / 65536.0f - 0.5f) * ldexpf(1.0f, (int)(h >> 16) % 20 - 10);
}

// Sum `round` of K vectors of n floats on both paths; the GPU's out buffer reused.
static void check_sum(const Kernels *k, DistNccl *d, DistSum *plan, float *out, int round) {
    int K = plan->K, lo, hi;
    size_t n = plan->n;
    dist_share(K, dist_rank(), dist_size(), &lo, &hi);
    float *parts = malloc((size_t)(hi - lo) * n * sizeof(float) + 1), *want = malloc(n * sizeof(float)),
          *got = malloc(n * sizeof(float)), *reversed = calloc(n, sizeof(float));
    for (int j = 0; j < hi - lo; j++)
        for (size_t i = 0; i < n; i++) parts[(size_t)j * n + i] = value(round, lo + j, i);
    dist_sum_ordered(plan, parts, want);
    for (int j = 0; j < hi - lo; j++) k->upload(dist_nccl_part(d, j), parts + (size_t)j * n, n * sizeof(float));
    dist_nccl_sum(d, out);
    k->download(got, out, n * sizeof(float));
    size_t bad = 0;
    while (bad < n && !memcmp(&got[bad], &want[bad], sizeof(float))) bad++;
    CHECK(bad == n, "K %d, n %zu, sum %d on %d ranks: entry %zu is %.9g, the MPI path's %.9g", K, n, round,
          dist_size(), bad, bad < n ? got[bad] : 0, bad < n ? want[bad] : 0);
    // the data tell the orders apart: kk = K-1..0 gives other bits somewhere
    for (int kk = K - 1; kk >= 0; kk--)
        for (size_t i = 0; i < n; i++) reversed[i] += value(round, kk, i);
    if (K > 2 && n > 100) CHECK(memcmp(reversed, want, n * sizeof(float)), "K %d, n %zu: order-blind data", K, n);
    free(parts), free(want), free(got), free(reversed);
}

static void check_shape(const Kernels *k, int K, size_t n) {
    Err e = {{0}};
    DistSum plan;
    CHECK(dist_sum_plan(&plan, K, n, &e) == 0, "%s", e.msg);
    DistNccl *d = dist_nccl_open(k, K, n, &e);
    float *out = k->alloc(n * sizeof(float));
    CHECK(d && out, "K %d, n %zu: %s", K, n, e.msg);
    if (d && out)
        for (int round = 0; round < 2; round++) check_sum(k, d, &plan, out, round);
    k->free(out);
    dist_nccl_free(d);
    dist_sum_free(&plan);
}

int main(int argc, char **argv) {
    Err e = {{0}};
    if (dist_init(&argc, &argv, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    kernels_use_device(dist_local_rank());
    const Kernels *k = kernels_by_name("cuda");
    if (!k || !dist_nccl_usable(k)) {
        if (dist_rank() == 0) printf(!k ? "SKIP: no CUDA device\n" : "SKIP: built without NCCL, or O1P_NCCL=0\n");
        dist_finalize();
        return 0;
    }
    static const struct {
        int K;
        size_t n;
    } shapes[] = {{1, 1}, {2, 5}, {3, 1000}, {5, 7}, {6, 100003}, {8, 300001}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) check_shape(k, shapes[s].K, shapes[s].n);
    // every rank checked; rank 0 reports, failing when any rank failed
    int failed = dist_max_int(test_failed);
    int rc = 0;
    if (dist_rank() == 0) {
        printf("NCCL sum = MPI path, bit for bit, on %d rank(s)\n", dist_size());
        test_failed = failed;
        rc = test_summary();
    }
    dist_finalize();
    return rc || failed;
}
