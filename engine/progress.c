// engine/progress.c -- see progress.h.
#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

Progress progress_start(int quiet) {
    double t = wall_seconds();
    return (Progress){quiet, isatty(STDERR_FILENO), t, t};
}

int progress_due(Progress *p, int final) {
    if (p->quiet) return 0;
    double t = wall_seconds();
    if (!final && t - p->last < (p->tty ? 0.5 : 10)) return 0;
    p->last = t;
    return 1;
}

const char *progress_head(const Progress *p) { return p->tty ? "\r" : ""; }
const char *progress_tail(const Progress *p) { return p->tty ? "\033[K" : "\n"; }

void progress_end(const Progress *p) {
    if (!p->quiet && p->tty) fputc('\n', stderr);
}

void progress_clear(const Progress *p) {
    if (!p->quiet && p->tty) fputs("\r\033[K", stderr);
}

double progress_elapsed(const Progress *p) { return wall_seconds() - p->t0; }

void format_duration(char *buf, size_t cap, double s) {
    if (!(s >= 0) || s > 1e7) snprintf(buf, cap, "?");
    else if (s < 60) snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, cap, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

const char *format_bytes(char *buf, size_t cap, double b) {
    double scale = b >= 1e12 ? 1e12 : b >= 1e9 ? 1e9 : b >= 1e6 ? 1e6 : 1e3;
    snprintf(buf, cap, "%.3g %s", b / scale, b >= 1e12 ? "TB" : b >= 1e9 ? "GB" : b >= 1e6 ? "MB" : "kB");
    return buf;
}

void progress_eta(const Progress *p, double done, double total) {
    char eta[32];
    format_duration(eta, sizeof eta, done > 0 ? progress_elapsed(p) / done * (total - done) : -1);
    fprintf(stderr, "ETA %s%s", eta, progress_tail(p));
}
