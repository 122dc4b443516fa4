// tests/cuda/emu/cuda_runtime.h -- a CPU emulation of the CUDA subset that kernels/cuda/
// uses, so its kernels' logic can be tested on a machine without a GPU
// (`make test-cuda-emu`). Not a product: correctness only, slowly.
//
// Blocks run one after another; a block's threads are cooperative fibers (ucontext) on
// one OS thread. __syncthreads() waits for every live thread of the block, a warp
// shuffle for the 32 threads of its warp (values exchanged through a per-warp slot
// array), so warp-synchronous code runs as on the GPU. A barrier that can never be
// released (a shuffle some lanes of a warp skip, a __syncthreads some threads skip)
// aborts with a message: the bugs a GPU would hang or corrupt on. __shared__ variables
// become statics (one block at a time), dynamic shared memory a per-block buffer filled
// with garbage. Kernel launches are rewritten by prepare.py into emu_launch calls.
// Streams are one queue that runs each call at once; a recording (stream capture) keeps
// the calls as closures, their arguments copied, for a graph launch to run again, and
// refuses what CUDA refuses in a recording (allocation, synchronous copies).
#pragma once
#include <math.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <functional>
#include <tuple>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};

static inline unsigned __float_as_uint(float x) {
    unsigned u;
    memcpy(&u, &x, 4);
    return u;
}
static inline float __uint_as_float(unsigned u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }

// ---- threads ----------------------------------------------------------------------------
enum { EMU_RUN, EMU_WARP_WAIT, EMU_BLOCK_WAIT, EMU_DONE };
struct EmuFiber {
    ucontext_t ctx;
    jmp_buf jmp;
    bool started;
    uint3 tid;
    int lin, state;
    int shuffles;  // shuffles done in this block (picks the slot buffer)
    std::vector<char> stack;
};
extern EmuFiber *emu_cur;  // the thread running now
extern uint3 emu_block_idx;
extern dim3 emu_block_dim, emu_grid_dim;
extern char *emu_dyn_smem;
extern double emu_shfl_slots[2][32][32];  // [parity][warp][lane]
#define threadIdx (emu_cur->tid)
#define blockIdx emu_block_idx
#define blockDim emu_block_dim
#define gridDim emu_grid_dim

void emu_wait(int state);  // parks the current thread at a barrier
static inline void __syncthreads() { emu_wait(EMU_BLOCK_WAIT); }

template <typename F>
F emu_shfl(F v, int src_lane) {
    // Consecutive shuffles of a warp alternate between two slot buffers: a lane can write
    // shuffle k + 2's value only after all 32 lanes reached shuffle k + 1, so after they
    // all read shuffle k's. One barrier per shuffle.
    int w = emu_cur->lin / 32, l = emu_cur->lin % 32, b = emu_cur->shuffles++ & 1;
    emu_shfl_slots[b][w][l] = (double)v;  // exact for float and double
    emu_wait(EMU_WARP_WAIT);
    return (F)emu_shfl_slots[b][w][src_lane & 31];
}
template <typename F>
F __shfl_sync(unsigned, F v, int lane) {
    return emu_shfl(v, lane);
}
template <typename F>
F __shfl_xor_sync(unsigned, F v, int mask) {
    return emu_shfl(v, (emu_cur->lin % 32) ^ mask);
}

// ---- recordings -------------------------------------------------------------------------
typedef void *cudaStream_t;
// The calls recorded since cudaStreamBeginCapture (NULL: not recording), and whether the
// recording met a call CUDA refuses in one.
extern std::vector<std::function<void()>> *emu_recording;
extern bool emu_recording_invalid;
// Runs f now, or records it.
template <typename F>
void emu_call(F f) {
    if (emu_recording)
        emu_recording->push_back(f);
    else
        f();
}

// ---- launches ---------------------------------------------------------------------------
struct EmuCfg {
    dim3 g, b;
    size_t smem;
};
static inline EmuCfg emu_cfg(dim3 g, dim3 b, size_t smem = 0, cudaStream_t = 0) {
    return {g, b, smem};
}
void emu_run_block(void (*entry)(void *), void *arg, const EmuCfg &c);

template <typename... P>
struct EmuCall {
    void (*k)(P...);
    std::tuple<P...> a;
    static void run(void *p) { std::apply(((EmuCall *)p)->k, ((EmuCall *)p)->a); }
};
template <typename... P, typename... A>
void emu_launch(EmuCfg c, void (*k)(P...), A... a) {
    EmuCall<P...> call{k, std::tuple<P...>((P)a...)};
    emu_call([c, call]() mutable {
        for (unsigned z = 0; z < c.g.z; z++)
            for (unsigned y = 0; y < c.g.y; y++)
                for (unsigned x = 0; x < c.g.x; x++) {
                    emu_block_idx = {x, y, z};
                    emu_run_block(EmuCall<P...>::run, &call, c);
                }
    });
}

// ---- runtime API: host memory stands in for device memory --------------------------------
typedef int cudaError_t;
#define cudaSuccess 0
#define cudaErrorStreamCaptureUnsupported 900
enum { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
enum { cudaFuncAttributeMaxDynamicSharedMemorySize };

// The host's waits for the device (synchronous copies, device synchronizations), counted
// for the tests (tests/cuda/test_model_cuda.c: waits per decoding step).
extern "C" long emu_host_waits;

// A call CUDA refuses while recording: fails, and so does the recording.
static inline bool emu_refused_in_recording() {
    if (emu_recording) emu_recording_invalid = true;
    return emu_recording != NULL;
}
static inline cudaError_t cudaMalloc(void *p, size_t n) {
    if (emu_refused_in_recording()) return cudaErrorStreamCaptureUnsupported;
    *(void **)p = malloc(n ? n : 1);
    return *(void **)p ? cudaSuccess : 2;
}
// The emulated device: as much free memory as it has in all (the host's is not asked).
static inline cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b) {
    *free_b = *total_b = (size_t)1 << 40;
    return cudaSuccess;
}
static inline cudaError_t cudaFree(void *p) {
    if (emu_refused_in_recording()) return cudaErrorStreamCaptureUnsupported;
    free(p);
    return cudaSuccess;
}
static inline cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t = 0) {
    emu_call([=] { memset(p, v, n); });
    return cudaSuccess;
}
static inline cudaError_t cudaMemcpy(void *d, const void *s, size_t n, int) {
    if (emu_refused_in_recording()) return cudaErrorStreamCaptureUnsupported;
    emu_host_waits++;
    memmove(d, s, n);
    return cudaSuccess;
}
static inline cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, int,
                                          cudaStream_t = 0) {
    emu_call([=] { memmove(d, s, n); });
    return cudaSuccess;
}
static inline cudaError_t cudaDeviceSynchronize() {
    if (emu_refused_in_recording()) return cudaErrorStreamCaptureUnsupported;
    emu_host_waits++;
    return cudaSuccess;
}
static inline cudaError_t cudaStreamCreate(cudaStream_t *s) {
    *s = (void *)1;
    return cudaSuccess;
}

// Graphs: a recording's calls, run in order by each launch.
struct EmuGraph {
    std::vector<std::function<void()>> calls;
};
typedef EmuGraph *cudaGraph_t;
typedef EmuGraph *cudaGraphExec_t;
enum { cudaStreamCaptureModeThreadLocal };
static inline cudaError_t cudaStreamBeginCapture(cudaStream_t, int) {
    emu_recording = new std::vector<std::function<void()>>;
    emu_recording_invalid = false;
    return cudaSuccess;
}
static inline cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t *g) {
    *g = emu_recording_invalid ? NULL : new EmuGraph{*emu_recording};
    delete emu_recording;
    emu_recording = NULL;
    return *g ? cudaSuccess : 901;  // cudaErrorStreamCaptureInvalidated
}
static inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t *e, cudaGraph_t g,
                                               unsigned long long) {
    *e = new EmuGraph(*g);
    return cudaSuccess;
}
static inline cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t) {
    for (auto &f : e->calls) f();
    return cudaSuccess;
}
static inline cudaError_t cudaGraphDestroy(cudaGraph_t g) {
    delete g;
    return cudaSuccess;
}
static inline cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) {
    delete e;
    return cudaSuccess;
}
static inline cudaError_t cudaGetLastError() { return cudaSuccess; }
static inline cudaError_t cudaGetDeviceCount(int *n) {
    *n = 1;
    return cudaSuccess;
}
static inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
static inline const char *cudaGetErrorString(cudaError_t) { return "emulated CUDA error"; }
template <typename K>
cudaError_t cudaFuncSetAttribute(K, int, int) {
    return cudaSuccess;
}
