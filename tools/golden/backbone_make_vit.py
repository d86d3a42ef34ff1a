"""Golden fixtures for @hpseg/backbone-vit.

Our own PyTorch implementation of the DINO ViT (facebookresearch/dino `vision_transformer.py`
semantics, written from docs/official-behaviour.md §1.1): conv patch embedding,
CLS token, bicubic positional-embedding interpolation with the +0.1 scale rule, pre-norm blocks,
LayerNorm eps 1e-6, exact-erf GELU, final norm; attention logits taken pre-softmax.

Writes into packages/backbone-vit/test/fixtures/:
  vit_p8.pth, vit_p16.pth          torch.save(state_dict) of two tiny random models (official key names)
  vit_p8.json, vit_p16.json        header: config, cases (input size), array offsets into the .bin
  vit_p8.bin, vit_p16.bin          float32 little-endian: features, cls tokens, attention logits
  posembed.json                    F.interpolate(mode='bicubic', scale_factor=..., align_corners=False) cases

The input images are not stored: both sides compute them with `golden_image` (integer hash, exact
in float64), see test/golden.ts.

Run:  /usr/bin/python3 tools/golden/backbone_make_vit.py
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "backbone-vit", "test", "fixtures")


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact erf GELU


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, T, C = x.shape
        qkv = self.qkv(x).reshape(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        logits = (q @ k.transpose(-2, -1)) * self.scale  # pre-softmax, scaled
        attn = logits.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, T, C)
        return self.proj(x), logits


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def forward(self, x):
        y, logits = self.attn(self.norm1(x))
        x = x + y
        x = x + self.mlp(self.norm2(x))
        return x, logits


class PatchEmbed(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)


class ViT(nn.Module):
    def __init__(self, dim, depth, heads, patch, grid, mlp_ratio=4):
        super().__init__()
        self.patch = patch
        self.patch_embed = PatchEmbed(patch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, dim))
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def interpolate_pos_encoding(self, npatch, H, W):
        N = self.pos_embed.shape[1] - 1
        if npatch == N and H == W:
            return self.pos_embed
        cls_pos = self.pos_embed[:, 0]
        patch_pos = self.pos_embed[:, 1:]
        dim = self.pos_embed.shape[-1]
        h0, w0 = H // self.patch + 0.1, W // self.patch + 0.1  # +0.1: avoid floor errors (dino issue #8)
        s = int(math.sqrt(N))
        patch_pos = F.interpolate(
            patch_pos.reshape(1, s, s, dim).permute(0, 3, 1, 2),
            scale_factor=(h0 / math.sqrt(N), w0 / math.sqrt(N)),
            mode="bicubic",
        )
        assert patch_pos.shape[-2] == H // self.patch and patch_pos.shape[-1] == W // self.patch
        patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, -1, dim)
        return torch.cat((cls_pos.unsqueeze(0), patch_pos), dim=1)

    def forward(self, img):  # img: (B, 3, H, W)
        B, _, H, W = img.shape
        x = self.patch_embed.proj(img).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(B, -1, -1), x), dim=1)
        x = x + self.interpolate_pos_encoding(x.shape[1] - 1, H, W)
        logits = None
        for blk in self.blocks:
            x, logits = blk(x)
        return self.norm(x), logits


def golden_image(B, H, W, offset):
    """Values in [-2, 2): an integer hash of the NHWC flat index, exact in float64 (mirrored in TS)."""
    i = np.arange(B * H * W * 3, dtype=np.float64) + offset
    v = np.mod(i * 1103515245.0 + 12345.0, 2147483648.0) / 2147483648.0 * 4.0 - 2.0
    return v.astype(np.float32).reshape(B, H, W, 3)


def make_model(seed, dim, depth, heads, patch, grid):
    torch.manual_seed(seed)
    m = ViT(dim, depth, heads, patch, grid)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif name == "patch_embed.proj.weight":
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(0.1 * torch.randn_like(p))
    return m.eval()


def write_model(name, seed, dim, depth, heads, patch, grid, sizes, B=2):
    m = make_model(seed, dim, depth, heads, patch, grid)
    torch.save(m.state_dict(), os.path.join(OUT, name + ".pth"))
    chunks, arrays, offset = [], {}, 0

    def add(key, arr):
        nonlocal offset
        a = np.ascontiguousarray(arr, dtype="<f4")
        arrays[key] = {"offset": offset, "shape": list(a.shape)}
        chunks.append(a.tobytes())
        offset += a.nbytes

    cases = []
    for ci, (H, W) in enumerate(sizes):
        img_offset = 1000 * (ci + 1)
        img = golden_image(B, H, W, img_offset)
        with torch.no_grad():
            feat, logits = m(torch.from_numpy(img).permute(0, 3, 1, 2).contiguous())
        h, w = H // patch, W // patch
        tag = f"{H}x{W}"
        add(f"{tag}.patchTokens", feat[:, 1:, :].reshape(B, h, w, dim).numpy())
        add(f"{tag}.clsToken", feat[:, 0, :].numpy())
        add(f"{tag}.attentionLogits", logits.numpy())
        cases.append({"tag": tag, "B": B, "H": H, "W": W, "imageOffset": img_offset})
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(b"".join(chunks))
    header = {
        "script": "tools/golden/backbone_make_vit.py",
        "torch": torch.__version__,
        "config": {"embedDim": dim, "depth": depth, "numHeads": heads, "patchSize": patch,
                   "trainedGrid": grid, "mlpRatio": 4},
        "cases": cases,
        "arrays": arrays,
    }
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(header, f, indent=1)


def write_posembed():
    torch.manual_seed(7)
    cases = []
    for (s, C, out_h, out_w) in [(4, 3, 5, 7), (4, 3, 6, 6), (4, 2, 4, 6), (4, 2, 3, 2), (28, 2, 40, 40), (3, 2, 1, 9)]:
        grid = torch.randn(1, C, s, s)
        sf = ((out_h + 0.1) / s, (out_w + 0.1) / s)
        out = F.interpolate(grid, scale_factor=sf, mode="bicubic")
        assert out.shape[-2:] == (out_h, out_w), out.shape
        cases.append({
            "grid": s, "channels": C, "outH": out_h, "outW": out_w,
            # NHWC (token-major): [s, s, C] and [outH, outW, C]
            "input": grid[0].permute(1, 2, 0).reshape(-1).tolist(),
            "output": out[0].permute(1, 2, 0).reshape(-1).tolist(),
        })
    with open(os.path.join(OUT, "posembed.json"), "w") as f:
        json.dump({"script": "tools/golden/backbone_make_vit.py", "torch": torch.__version__, "cases": cases}, f)


def write_container_checkpoints():
    """A DINO training checkpoint and an HP checkpoint around one micro ViT, plus its features at 8x12."""
    import argparse
    m = make_model(3, 16, 1, 2, 4, 2)
    sd = m.state_dict()
    head = {"head.mlp.0.weight": torch.randn(8, 16), "head.last_layer.weight_g": torch.ones(4, 1)}
    dino = {
        "student": {**{"module.backbone." + k: v.clone() + 1.0 for k, v in sd.items()},
                    **{"module." + k: v for k, v in head.items()}},
        "teacher": {**{"backbone." + k: v for k, v in sd.items()}, **head},
        "epoch": 3,
        "args": argparse.Namespace(arch="vit_tiny", patch_size=4),
    }
    torch.save(dino, os.path.join(OUT, "dino_train_ckpt.pth"))
    hp = {
        "epoch": 0, "iter": 0, "best": 0.0,
        "net_model_state_dict": {**{"model." + k: v for k, v in sd.items()},
                                 "cluster1.0.weight": torch.randn(4, 16, 1, 1), "cluster1.0.bias": torch.zeros(4),
                                 "ema_model1.0.weight": torch.randn(4, 16, 1, 1)},
        "linear_model_state_dict": {"weight": torch.randn(3, 4, 1, 1), "bias": torch.zeros(3)},
        "cluster_model_state_dict": {"clusters": torch.randn(3, 4)},
        "net_optimizer_state_dict": None,
    }
    torch.save(hp, os.path.join(OUT, "hp_ckpt.pth"))
    img = golden_image(1, 8, 12, 77)
    with torch.no_grad():
        feat, logits = m(torch.from_numpy(img).permute(0, 3, 1, 2).contiguous())
    with open(os.path.join(OUT, "container_ckpt.json"), "w") as f:
        json.dump({"script": "tools/golden/backbone_make_vit.py", "H": 8, "W": 12, "imageOffset": 77,
                   "config": {"embedDim": 16, "depth": 1, "numHeads": 2, "patchSize": 4, "trainedGrid": 2, "mlpRatio": 4},
                   "patchTokens": feat[:, 1:, :].reshape(-1).tolist(), "clsToken": feat[:, 0, :].reshape(-1).tolist()}, f)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    write_model("vit_p8", 1, 32, 2, 4, 8, 4, [(32, 32), (48, 48), (40, 56)])
    write_model("vit_p16", 2, 24, 2, 3, 16, 3, [(48, 48), (64, 64), (48, 80)])
    write_posembed()
    write_container_checkpoints()
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)))
