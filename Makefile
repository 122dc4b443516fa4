# o1p -- build, test, benchmark, demo.
#
#   make            ./o1p (CPU backend: OpenBLAS + OpenMP)
#   make test       every test; prints "N passed, N failed" last
#   make test-asan  the same under AddressSanitizer + UBSan
#   make cuda       ./o1p-cuda, the same program with the CUDA backend as well
#   make bench      benchmarks (ratios against baselines measured in the same run)
#   make demo       the whole O1-Pruner pipeline on the embedded default
#   make deps       installs the Debian packages (as root)

CC      ?= gcc
NVCC    ?= /usr/local/cuda/bin/nvcc
BUILD   ?= build
OPT     ?= -O3 -march=native
SAN     ?=
BLAS_INC := /usr/include/x86_64-linux-gnu/openblas-openmp
BLAS_LIB := /usr/lib/x86_64-linux-gnu/openblas-openmp
CFLAGS  += -std=c11 $(OPT) -g -fopenmp -Wall -Wextra -D_GNU_SOURCE -I$(BLAS_INC) $(SAN)
LDFLAGS += -fopenmp $(SAN) -L$(BLAS_LIB) -Wl,-rpath,$(BLAS_LIB)
LDLIBS  += -lopenblas -lm

DEB_PACKAGES := gcc make libopenblas-openmp-dev libstb-dev clang libclang-rt-14-dev \
                python3-torch python3-numpy nodejs npm

LIB_SRC  := $(wildcard base/*.c kernels/*.c kernels/cpu/*.c model/*.c tokenizer/*.c data/*.c) \
            $(filter-out train/main.c, $(wildcard train/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test test-asan check-deps deps bench demo demo-quick cuda test-cuda bench-cuda fuzz clean

all: check-deps o1p

check-deps:
	@test -f $(BLAS_INC)/cblas.h || { echo "missing OpenBLAS (OpenMP build): run 'make deps' or apt-get install libopenblas-openmp-dev"; exit 1; }
	@test -f /usr/include/stb/stb_image_write.h || test -f /usr/include/stb_image_write.h || { echo "missing stb: run 'make deps' or apt-get install libstb-dev"; exit 1; }

deps:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PACKAGES)

o1p: $(BUILD)/o1p
	cp $< $@

$(BUILD)/o1p: $(BUILD)/train/main.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJ) $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJ) $(LDFLAGS) $(LDLIBS)

test: check-deps $(BUILD)/o1p $(TEST_BIN)
	O1P=$(BUILD)/o1p tests/run.sh $(BUILD)

test-asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" test

bench: check-deps o1p $(BENCH_BIN)
	bash bench/run.sh $(BUILD)

clean:
	rm -rf build build-asan build-cuda o1p o1p-cuda

-include $(LIB_OBJ:.o=.d) $(BUILD)/train/main.d
