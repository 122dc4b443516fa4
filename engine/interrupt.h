// engine/interrupt.h -- Ctrl-C and SIGTERM as a request to stop cleanly.
//
// A long-running stage (training, sampling) installs the handlers, polls
// interrupt_requested() between steps, saves what it has and returns; the command line
// then exits 130. A second signal kills at once (the handler is reset after the first):
// every output protocol is crash-safe, so that loses at most the step in flight.
#ifndef O1P_INTERRUPT_H
#define O1P_INTERRUPT_H

// SIGINT and SIGTERM set the flag (cleared here). Restore with interrupt_restore().
void interrupt_install(void);
void interrupt_restore(void);
// 1 after a signal since interrupt_install().
int interrupt_requested(void);

#endif
