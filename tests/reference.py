#!/usr/bin/python3
"""tests/reference.py -- an independent float64 implementation of the HF Llama/Qwen2
architecture in plain PyTorch (no transformers package), in the manner of llm.c's
test_gpt2: it writes model folders with random weights plus the expected loss, logits,
gradients and the parameters after 5 AdamW steps, which tests/test_reference.c matches.

usage: /usr/bin/python3 tests/reference.py OUT_DIR
writes OUT_DIR/NAME/{config.json, model.safetensors, tokens.txt, expected.safetensors}
for NAME in qwen2 (biases, GQA, untied), llama (no biases, MHA, tied), mqa (one KV head,
explicit head_dim).
"""
import json
import math
import os
import struct
import sys

import torch

torch.set_default_dtype(torch.float64)

CONFIGS = {
    "qwen2": dict(model_type="qwen2", architectures=["Qwen2ForCausalLM"], vocab_size=97,
                  hidden_size=48, intermediate_size=80, num_hidden_layers=2,
                  num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=64,
                  rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=False),
    "llama": dict(model_type="llama", architectures=["LlamaForCausalLM"], vocab_size=101,
                  hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64,
                  rope_theta=500000.0, rms_norm_eps=1e-5, tie_word_embeddings=True,
                  attention_bias=False),
    "mqa": dict(model_type="llama", architectures=["LlamaForCausalLM"], vocab_size=61,
                hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                num_attention_heads=4, num_key_value_heads=1, head_dim=12,
                max_position_embeddings=64, rope_theta=10000.0, rms_norm_eps=1e-6,
                tie_word_embeddings=False, attention_bias=False),
}
LINES = [7, 12, 3]  # token line lengths
ADAMW = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
CLIP = 1.0
STEPS = 5


def param_shapes(c):
    C, I, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    H, KV = c["num_attention_heads"], c["num_key_value_heads"]
    D = c.get("head_dim", C // H)
    bias = c["model_type"] == "qwen2" or c.get("attention_bias", False)
    shapes = {"model.embed_tokens.weight": (V, C)}
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        shapes[p + "input_layernorm.weight"] = (C,)
        for name, rows in (("q", H * D), ("k", KV * D), ("v", KV * D)):
            shapes[p + f"self_attn.{name}_proj.weight"] = (rows, C)
            if bias:
                shapes[p + f"self_attn.{name}_proj.bias"] = (rows,)
        shapes[p + "self_attn.o_proj.weight"] = (C, H * D)
        shapes[p + "post_attention_layernorm.weight"] = (C,)
        shapes[p + "mlp.gate_proj.weight"] = (I, C)
        shapes[p + "mlp.up_proj.weight"] = (I, C)
        shapes[p + "mlp.down_proj.weight"] = (C, I)
    shapes["model.norm.weight"] = (C,)
    if not c["tie_word_embeddings"]:
        shapes["lm_head.weight"] = (V, C)
    return shapes


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(P, c, ids):
    """Logits [T, V] of one sequence (list of ids)."""
    C, H, KV = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    D = c.get("head_dim", C // H)
    eps, T = c["rms_norm_eps"], len(ids)
    x = P["model.embed_tokens.weight"][torch.tensor(ids)]
    inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, D, 2) / D))
    ang = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)
    cos, sin = torch.cat((ang, ang), -1).cos(), torch.cat((ang, ang), -1).sin()
    mask = torch.full((T, T), float("-inf")).triu(1)
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, P[p + "input_layernorm.weight"], eps)

        def proj(name):
            y = h @ P[p + f"self_attn.{name}_proj.weight"].T
            b = P.get(p + f"self_attn.{name}_proj.bias")
            return y + b if b is not None else y

        q = proj("q").view(T, H, D).transpose(0, 1)   # [H, T, D]
        k = proj("k").view(T, KV, D).transpose(0, 1)  # [KV, T, D]
        v = proj("v").view(T, KV, D).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=0)
        v = v.repeat_interleave(H // KV, dim=0)
        att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(D) + mask, dim=-1)
        o = (att @ v).transpose(0, 1).reshape(T, H * D)
        x = x + o @ P[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, P[p + "post_attention_layernorm.weight"], eps)
        g = h @ P[p + "mlp.gate_proj.weight"].T
        u = h @ P[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ P[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, P["model.norm.weight"], eps)
    head = P["model.embed_tokens.weight"] if c["tie_word_embeddings"] else P["lm_head.weight"]
    return x @ head.T


def mean_loss(P, c, lines):
    """Mean next-token cross-entropy over every predicted position of every line."""
    total, count, all_logits = 0.0, 0, []
    for ids in lines:
        logits = forward(P, c, ids)
        all_logits.append(logits)
        if len(ids) > 1:
            lp = torch.log_softmax(logits[:-1], -1)
            total = total - lp.gather(1, torch.tensor(ids[1:]).view(-1, 1)).sum()
            count += len(ids) - 1
    return total / count, all_logits


def write_safetensors(path, tensors):
    """F32 safetensors written by hand (the format: 8-byte header length, JSON, data)."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def make(out, name, c, seed):
    gen = torch.Generator().manual_seed(seed)
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    P = {}
    for k, shape in param_shapes(c).items():
        if k.endswith("norm.weight") or "layernorm" in k:
            P[k] = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif k.endswith(".bias"):
            P[k] = 0.1 * torch.randn(shape, generator=gen)
        else:
            P[k] = 0.1 * torch.randn(shape, generator=gen)
        # Weights are rounded to float32 first, so that both sides start from the same values.
        P[k] = P[k].to(torch.float32).to(torch.float64).requires_grad_(True)
    lines = [torch.randint(0, c["vocab_size"], (n,), generator=gen).tolist() for n in LINES]
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    write_safetensors(os.path.join(folder, "model.safetensors"), P)
    with open(os.path.join(folder, "tokens.txt"), "w") as f:
        f.write("\n".join(" ".join(map(str, ids)) for ids in lines) + "\n")

    loss, logits = mean_loss(P, c, lines)
    loss.backward()
    expected = {"loss": loss.detach().view(1)}
    for i, lg in enumerate(logits):
        expected[f"logits.{i}"] = lg.detach()
    for k, p in P.items():
        expected["grad." + k] = p.grad.detach().clone()

    # 5 AdamW steps on the same batch: weight decay on matrices only, global-norm clipping.
    decay = [p for k, p in P.items() if p.dim() == 2]
    no_decay = [p for k, p in P.items() if p.dim() == 1]
    opt = torch.optim.AdamW([{"params": decay}, {"params": no_decay, "weight_decay": 0.0}], **ADAMW)
    for _ in range(STEPS):
        opt.zero_grad()
        loss, _ = mean_loss(P, c, lines)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(P.values(), CLIP)
        opt.step()
    for k, p in P.items():
        expected[f"step{STEPS}.{k}"] = p.detach()
    write_safetensors(os.path.join(folder, "expected.safetensors"), expected)


def main():
    out = sys.argv[1]
    for i, (name, c) in enumerate(CONFIGS.items()):
        make(out, name, c, 1000 + i)
    print(f"wrote {len(CONFIGS)} reference models to {out}")


if __name__ == "__main__":
    main()
