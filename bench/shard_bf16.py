#!/usr/bin/env python3
# bench/shard_bf16.py -- a model folder's F32 model.safetensors rewritten as a BF16
# checkpoint in N shards with model.safetensors.index.json, the way transformers saves a
# large model: the input of bench_modelio.sh's sharded load. bf16 is the float's top 16
# bits rounded to nearest even. Usage: shard_bf16.py SRC_DIR OUT_DIR N
import json
import os
import shutil
import struct
import sys

import numpy as np


def main():
    src, out, n_shards = sys.argv[1], sys.argv[2], int(sys.argv[3])
    path = os.path.join(src, "model.safetensors")
    with open(path, "rb") as f:
        header_len = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(header_len))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)
    names = [k for k in header if k != "__metadata__"]
    assert all(header[k]["dtype"] == "F32" for k in names), "expected an F32 checkpoint"
    sizes = {k: (header[k]["data_offsets"][1] - header[k]["data_offsets"][0]) // 2 for k in names}
    # shards: runs of tensors in file order, each about total / N bytes
    target, shards, run, run_bytes = sum(sizes.values()) / n_shards, [], [], 0
    for k in names:
        run.append(k)
        run_bytes += sizes[k]
        if run_bytes >= target and len(shards) < n_shards - 1:
            shards.append(run)
            run, run_bytes = [], 0
    if run:
        shards.append(run)
    os.makedirs(out, exist_ok=True)
    shutil.copy(os.path.join(src, "config.json"), out)
    weight_map = {}
    for i, run in enumerate(shards):
        file = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        meta, at = {}, 0
        for k in run:
            meta[k] = {"dtype": "BF16", "shape": header[k]["shape"], "data_offsets": [at, at + sizes[k]]}
            at += sizes[k]
            weight_map[k] = file
        text = json.dumps(meta).encode()
        text += b" " * (-len(text) % 8)
        with open(os.path.join(out, file), "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text)
            for k in run:
                a, b = header[k]["data_offsets"]
                u = data[a:b].view(np.uint32)
                f.write(((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16).tobytes())
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": sum(sizes.values())}, "weight_map": weight_map}, f)


main()
