"""bench/torch_decode.py -- PyTorch baseline for bench/bench_sampler.c: a hand-written
Llama with a KV cache (the loop a careful user writes; no framework overhead), greedy
decoding of B sequences together after a prefill of P prompt tokens each.

usage: torch_decode.py L C H KV I V P NEW B THREADS
prints: prefill_tokens_per_s X
        decode_tokens_per_s Y       (B * NEW generated tokens / decode time)
Run with OMP_WAIT_POLICY=PASSIVE (bench_sampler.c does).
"""
import sys
import time

import torch


def main():
    L, C, H, KV, I, V, P, NEW, B, threads = map(int, sys.argv[1:11])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    D = C // H
    T = P + NEW
    g = lambda *s: torch.randn(*s) * 0.02
    emb = g(V, C)
    layers = [dict(wqkv=g((H + 2 * KV) * D, C), wo=g(C, H * D), wgu=g(2 * I, C), wd=g(C, I),
                   n1=torch.ones(C), n2=torch.ones(C)) for _ in range(L)]
    nf = torch.ones(C)
    inv = 1.0 / (10000.0 ** (torch.arange(0, D, 2).float() / D))
    ang = torch.arange(T).float()[:, None] * inv[None, :]
    cos, sin = torch.cos(ang), torch.sin(ang)  # [T, D/2]
    kc = [torch.zeros(B, KV, T, D) for _ in range(L)]
    vc = [torch.zeros(B, KV, T, D) for _ in range(L)]

    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w

    def rope(x, pos):  # x [B, n, S, D] (HF rotate_half convention)
        c, s = cos[pos], sin[pos]  # [S, D/2]
        x1, x2 = x[..., : D // 2], x[..., D // 2:]
        return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], -1)

    def step(tok, p0):  # tok [B, S] at positions p0..p0+S-1 -> logits of the last [B, V]
        S = tok.shape[1]
        pos = torch.arange(p0, p0 + S)
        x = emb[tok]
        for l, w in enumerate(layers):
            qkv = rms(x, w["n1"]) @ w["wqkv"].t()
            q, k, v = qkv.split([H * D, KV * D, KV * D], -1)
            q = rope(q.view(B, S, H, D).transpose(1, 2), pos)
            k = rope(k.view(B, S, KV, D).transpose(1, 2), pos)
            kc[l][:, :, p0:p0 + S] = k
            vc[l][:, :, p0:p0 + S] = v.view(B, S, KV, D).transpose(1, 2)
            K = kc[l][:, :, :p0 + S].repeat_interleave(H // KV, 1)
            Vv = vc[l][:, :, :p0 + S].repeat_interleave(H // KV, 1)
            att = (q @ K.transpose(-1, -2)) / D ** 0.5
            if S > 1:
                mask = torch.full((S, p0 + S), float("-inf")).triu(p0 + 1)
                att = att + mask
            o = (att.softmax(-1) @ Vv).transpose(1, 2).reshape(B, S, H * D)
            x = x + o @ w["wo"].t()
            gu = rms(x, w["n2"]) @ w["wgu"].t()
            gt, up = gu.split([I, I], -1)
            x = x + (torch.nn.functional.silu(gt) * up) @ w["wd"].t()
        return rms(x[:, -1], nf) @ emb.t()

    with torch.inference_mode():
        prompt = torch.randint(0, V, (B, P))
        step(prompt, 0)  # warm-up
        t0 = time.perf_counter()
        logits = step(prompt, 0)
        t_prefill = time.perf_counter() - t0
        tok = logits.argmax(-1, keepdim=True)
        t0 = time.perf_counter()
        for i in range(NEW - 1):
            logits = step(tok, P + i)
            tok = logits.argmax(-1, keepdim=True)
        t_decode = time.perf_counter() - t0
    print("prefill_tokens_per_s %.1f" % (B * P / t_prefill))
    print("decode_tokens_per_s %.1f" % (B * (NEW - 1) / t_decode))


if __name__ == "__main__":
    main()
