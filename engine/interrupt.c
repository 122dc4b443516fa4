// engine/interrupt.c -- see interrupt.h.
#include "interrupt.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t g_requested;

static void on_signal(int sig) {
    (void)sig;
    g_requested = 1;
}

void interrupt_install(void) {
    g_requested = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_RESTART;  // a second signal kills at once
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void interrupt_restore(void) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

int interrupt_requested(void) { return g_requested != 0; }
