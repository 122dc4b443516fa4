// bench/bench_modelio.c -- one model-folder load or save on the CPU backend, timed, with
// the process's peak resident size. bench/bench_modelio.sh runs each in its own process
// beside cat and dd on the same file. Usage:
//   bench_modelio load DIR        model_load
//   bench_modelio save DIR OUT    model_load, then model_save to OUT (timed alone)
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "../model/io.h"
#include "bench.h"

static double peak_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;  // KB on Linux
}

// CPU seconds, user + system: on a shared machine, wall time is also the others' load.
static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

int main(int argc, char **argv) {
    int save = argc == 4 && !strcmp(argv[1], "save");
    if (!save && !(argc == 3 && !strcmp(argv[1], "load"))) {
        fprintf(stderr, "usage: bench_modelio load DIR | save DIR OUT\n");
        return 2;
    }
    Err e;
    Model m;
    double t0 = now(), c0 = cpu_s();
    if (model_load(&m, argv[2], &kernels_cpu, &e)) {
        fprintf(stderr, "bench_modelio: %s\n", e.msg);
        return 1;
    }
    double t1 = now(), c1 = cpu_s();
    if (!save) {
        printf("load  %6.2f s  cpu %5.2f s  peak RSS %5.0f MB  (%zu parameters, %.0f MB)\n", t1 - t0,
               c1 - c0, peak_mb(), m.n_params, m.n_params * 4e-6);
        model_free(&m);
        return 0;
    }
    int rc = model_save(&m, argv[3], &e);
    double t2 = now();
    if (rc) fprintf(stderr, "bench_modelio: %s\n", e.msg);
    else
        printf("save  %6.2f s  cpu %5.2f s  peak RSS %5.0f MB  (of load and save; fsync'ed)\n", t2 - t1,
               cpu_s() - c1, peak_mb());
    model_free(&m);
    return rc != 0;
}
