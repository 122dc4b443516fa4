#!/usr/bin/env python3
# tests/cuda/emu/prepare.py SRC DST -- rewrites a kernels/cuda source for the CPU
# emulation (cuda_runtime.h here): a launch `k<<<grid, block[, smem]>>>(args)` becomes
# `emu_launch(emu_cfg(grid, block[, smem]), k, args)`, and the dynamic shared-memory
# declaration points at the emulator's per-block buffer. Nothing else changes.
import re
import sys

src, dst = sys.argv[1], sys.argv[2]
s = open(src).read()
s = re.sub(r'([A-Za-z_][A-Za-z_0-9]*(?:<[A-Za-z_0-9, ]+>)?)<<<(.*?)>>>\(',
           r'emu_launch(emu_cfg(\2), \1, ', s, flags=re.S)
s = s.replace('extern __shared__ float smem[];', 'float *smem = (float *)emu_dyn_smem;')
open(dst, 'w').write(s)
