// engine/progress.h -- the clock and the progress-line rule of every long-running command.
//
// On a terminal a progress line is refreshed in place (carriage return, then the line,
// then clear-to-end-of-line) at most twice a second; in a log (stderr not a terminal) a
// full line is written at most every 10 seconds, and the last one always, so that a log
// of a 15-minute run stays readable.
#ifndef O1P_PROGRESS_H
#define O1P_PROGRESS_H

#include <stddef.h>

// Seconds on a monotonic clock.
double wall_seconds(void);

typedef struct {
    int quiet;    // no progress output at all
    int tty;      // stderr is a terminal
    double t0;    // when the run started (wall_seconds)
    double last;  // when the last line was written
} Progress;

Progress progress_start(int quiet);
// 1 when a line is due now (final: the run's last line, always due unless quiet); marks it
// written.
int progress_due(Progress *p, int final);
// What a progress line begins and ends with: "\r" and "\033[K" on a terminal, "" and "\n"
// in a log.
const char *progress_head(const Progress *p);
const char *progress_tail(const Progress *p);
// Ends the refreshed line on a terminal (a newline); nothing in a log.
void progress_end(const Progress *p);
// Clears the refreshed line on a terminal, so that a permanent line can be written there.
void progress_clear(const Progress *p);
// Writes "ETA <duration>" and the line's tail, the duration extrapolated from the
// elapsed time and done of total units ("ETA ?" before the first one is done).
void progress_eta(const Progress *p, double done, double total);
// "42s", "3m05s", "2h10m"; "?" for a negative or absurd value.
void format_duration(char *buf, size_t cap, double seconds);
// "12.3 kB", "4.56 MB", "131 GB", "2.1 TB": three significant digits. Returns buf.
const char *format_bytes(char *buf, size_t cap, double bytes);
// Seconds since progress_start.
double progress_elapsed(const Progress *p);

#endif
