// tests/cuda/emu/emu.cpp -- the emulation's scheduler (see cuda_runtime.h): runs a
// block's threads as fibers until each parks at a barrier or ends, then releases the
// warps whose 32 threads all wait at a shuffle, else the block if every live thread
// waits at __syncthreads, else reports the divergence and aborts.
#include <setjmp.h>

#include "cuda_runtime.h"

EmuFiber *emu_cur;
uint3 emu_block_idx;
dim3 emu_block_dim, emu_grid_dim;
char *emu_dyn_smem;
std::vector<std::function<void()>> *emu_recording;
bool emu_recording_invalid;
long emu_host_waits;
double emu_shfl_slots[2][32][32];

// A fiber starts once, through ucontext, and then serves every block: its body loops,
// parking after each block as at a barrier, so a block start is one _longjmp like any
// other switch (_setjmp/_longjmp skip the signal-mask system calls of swapcontext, which
// would otherwise cost two per thread per block).
static ucontext_t scheduler;
static jmp_buf scheduler_jmp;
static EmuFiber fibers[1024];  // a block has at most 1024 threads
static void (*block_entry)(void *);
static void *block_arg;

void emu_wait(int state) {
    emu_cur->state = state;
    if (!_setjmp(emu_cur->jmp)) _longjmp(scheduler_jmp, 1);
}

static void fiber_main() {
    for (;;) {
        block_entry(block_arg);
        emu_wait(EMU_DONE);  // resumed here when the fiber starts its next block
    }
}

static void diverged(const char *what) {
    fprintf(stderr, "emu: %s in block (%u, %u, %u)\n", what, emu_block_idx.x, emu_block_idx.y,
            emu_block_idx.z);
    abort();
}

void emu_run_block(void (*entry)(void *), void *arg, const EmuCfg &c) {
    int nt = c.b.x * c.b.y * c.b.z;
    if (nt % 32 || nt > 1024) diverged("block size not a multiple of 32 up to 1024");
    emu_block_dim = c.b;
    emu_grid_dim = c.g;
    static std::vector<char> dyn;
    dyn.assign(c.smem + 16, (char)0xA5);  // uninitialised, as on the GPU
    emu_dyn_smem = dyn.data();
    block_entry = entry;
    block_arg = arg;
    for (int i = 0; i < nt; i++) {
        EmuFiber &f = fibers[i];
        f.lin = i;
        f.tid = {i % c.b.x, i / c.b.x % c.b.y, i / (c.b.x * c.b.y)};
        f.state = EMU_RUN;
        f.shuffles = 0;
        if (f.started) continue;  // parked at the end of its last block
        f.stack.resize(1 << 16);
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = f.stack.data();
        f.ctx.uc_stack.ss_size = f.stack.size();
        f.ctx.uc_link = NULL;  // fiber_main never returns
        makecontext(&f.ctx, fiber_main, 0);
    }
    for (;;) {
        bool ran = false;
        for (int i = 0; i < nt; i++)
            if (fibers[i].state == EMU_RUN) {
                emu_cur = &fibers[i];
                ran = true;
                if (_setjmp(scheduler_jmp)) continue;  // back from the fiber
                if (!emu_cur->started) {
                    emu_cur->started = true;
                    swapcontext(&scheduler, &emu_cur->ctx);
                }
                _longjmp(emu_cur->jmp, 1);
            }
        if (ran) continue;
        int done = 0, at_sync = 0;
        bool released = false;
        for (int w = 0; w < nt / 32; w++) {
            int at_shfl = 0;
            for (int i = w * 32; i < w * 32 + 32; i++) {
                at_shfl += fibers[i].state == EMU_WARP_WAIT;
                at_sync += fibers[i].state == EMU_BLOCK_WAIT;
                done += fibers[i].state == EMU_DONE;
            }
            if (at_shfl == 32) {
                for (int i = w * 32; i < w * 32 + 32; i++) fibers[i].state = EMU_RUN;
                released = true;
            } else if (at_shfl > 0) {
                diverged("a warp shuffle that not all 32 lanes reach");
            }
        }
        if (released) continue;
        if (done == nt) return;
        if (at_sync + done != nt) diverged("deadlock");
        for (int i = 0; i < nt; i++)
            if (fibers[i].state == EMU_BLOCK_WAIT) fibers[i].state = EMU_RUN;
    }
}
