#!/usr/bin/python3
"""bench/torch_train.py -- the PyTorch baseline of bench/bench_train.c: the same Llama
model in plain PyTorch (float32, eager), one AdamW training step per iteration.

usage: OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_train.py L C H KV I V B T THREADS STEPS
prints: tokens_per_s <value> (of the median step)
"""
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F


class Block(torch.nn.Module):
    def __init__(self, C, H, KV, I):
        super().__init__()
        self.H, self.KV, self.D = H, KV, C // H
        self.n1 = torch.nn.Parameter(torch.ones(C))
        self.n2 = torch.nn.Parameter(torch.ones(C))
        self.qkv = torch.nn.Linear(C, (H + 2 * KV) * self.D, bias=False)
        self.o = torch.nn.Linear(H * self.D, C, bias=False)
        self.gu = torch.nn.Linear(C, 2 * I, bias=False)
        self.down = torch.nn.Linear(I, C, bias=False)

    @staticmethod
    def norm(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        H, KV, D = self.H, self.KV, self.D
        q, k, v = self.qkv(self.norm(x, self.n1)).split([H * D, KV * D, KV * D], -1)
        q = q.view(B, T, H, D).transpose(1, 2)
        k = k.view(B, T, KV, D).transpose(1, 2)
        v = v.view(B, T, KV, D).transpose(1, 2)

        def rope(t):
            h = D // 2
            return t * cos + torch.cat((-t[..., h:], t[..., :h]), -1) * sin

        q, k = rope(q), rope(k)
        if KV != H:
            k = k.repeat_interleave(H // KV, dim=1)
            v = v.repeat_interleave(H // KV, dim=1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + mask, -1)
        x = x + self.o((att @ v).transpose(1, 2).reshape(B, T, H * D))
        g, u = self.gu(self.norm(x, self.n2)).chunk(2, -1)
        return x + self.down(F.silu(g) * u)


def main():
    L, C, H, KV, I, V, B, T, threads, steps = map(int, sys.argv[1:11])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    emb = torch.nn.Embedding(V, C)
    blocks = torch.nn.ModuleList(Block(C, H, KV, I) for _ in range(L))
    nf = torch.nn.Parameter(torch.ones(C))
    params = list(emb.parameters()) + list(blocks.parameters()) + [nf]
    opt = torch.optim.AdamW(params, lr=1e-4)
    D = C // H
    inv = 1.0 / (10000 ** (torch.arange(0, D, 2).float() / D))
    ang = torch.outer(torch.arange(T).float(), inv)
    cos, sin = torch.cat((ang, ang), -1).cos(), torch.cat((ang, ang), -1).sin()
    mask = torch.full((T, T), float("-inf")).triu(1)
    x_ids = torch.randint(0, V, (B, T))
    y_ids = torch.randint(0, V, (B, T))

    def step():
        x = emb(x_ids)
        for blk in blocks:
            x = blk(x, cos, sin, mask)
        x = Block.norm(x, nf)
        loss = F.cross_entropy((x @ emb.weight.T).view(-1, V), y_ids.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    print(f"tokens_per_s {B * T / statistics.median(times):.1f}")


if __name__ == "__main__":
    main()
