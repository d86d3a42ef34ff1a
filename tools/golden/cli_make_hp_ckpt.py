"""Golden fixture for apps/cli: a tiny HP checkpoint in the OFFICIAL layout plus the predictions of
our PyTorch reference of the official evaluation pipeline (docs/official-behaviour.md §5).

Checkpoint (torch.save, the dict of HP's utils/common_utils.py save_checkpoint with model_only):
  epoch, iter, best_epoch, best_iter, best, *_optimizer_state_dict = None,
  net_model_state_dict: DinoFeaturizer keys: model.* (DINO ViT, official names), cluster1.0.*,
                        cluster2.0.*, cluster2.2.*, ema_model1.0.*, ema_model2.0.*, ema_model2.2.*
  linear_model_state_dict: weight (K, d, 1, 1), bias (K)
  cluster_model_state_dict: clusters (K, d)
Tiny sizes: ViT dim 32, depth 2, 4 heads, patch 8, trained at 32 px (grid 4); head d = 16; K = 5.

Reference eval pipeline on 2 fixture images of 48x48 (already at the evaluation size, so the
NEAREST resize + centre crop is the identity; the ViT interpolates its positional embedding
from 4x4 to 6x6 with DINO's bicubic +0.1 rule):
  ImageNet normalise -> ViT -> last-block tokens after the final norm (CLS dropped) -> head in eval
  mode (no dropout) -> code (B, d, 6, 6) -> bilinear upsample to 48x48 (align_corners=False) ->
  cluster probe argmax cos(code, centroid) / linear probe argmax logits.
Writes apps/cli/test/fixtures/hp_ckpt/: ckpt.pth, images/{img0,img1}.png, labels/{img0,img1}.png,
expected.json (predictions and the top-1/top-2 margin of every pixel).

Run:  /usr/bin/python3 tools/golden/cli_make_hp_ckpt.py
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "apps", "cli", "test", "fixtures", "hp_ckpt")
DIM, DEPTH, HEADS, PATCH, GRID, D, K, SIZE = 32, 2, 4, 8, 4, 16, 5, 48


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(DIM, eps=1e-6)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(DIM, 3 * DIM)
        self.attn.proj = nn.Linear(DIM, DIM)
        self.norm2 = nn.LayerNorm(DIM, eps=1e-6)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(DIM, 4 * DIM)
        self.mlp.fc2 = nn.Linear(4 * DIM, DIM)

    def forward(self, x):
        B, T, C = x.shape
        qkv = self.attn.qkv(self.norm1(x)).reshape(B, T, 3, HEADS, C // HEADS).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = ((q @ k.transpose(-2, -1)) * (C // HEADS) ** -0.5).softmax(-1)
        x = x + self.attn.proj((a @ v).transpose(1, 2).reshape(B, T, C))
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + GRID * GRID, DIM))
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, DIM, PATCH, PATCH)
        self.blocks = nn.ModuleList([Block() for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(DIM, eps=1e-6)

    def pos(self, H, W):
        n = self.pos_embed.shape[1] - 1
        if (H // PATCH) * (W // PATCH) == n and H == W:
            return self.pos_embed
        s = int(math.sqrt(n))
        grid = self.pos_embed[:, 1:].reshape(1, s, s, DIM).permute(0, 3, 1, 2)
        sf = ((H // PATCH + 0.1) / s, (W // PATCH + 0.1) / s)  # DINO's +0.1 rule
        grid = F.interpolate(grid, scale_factor=sf, mode="bicubic")
        grid = grid.permute(0, 2, 3, 1).reshape(1, -1, DIM)
        return torch.cat([self.pos_embed[:, :1], grid], 1)

    def forward(self, img):
        B, _, H, W = img.shape
        x = self.patch_embed.proj(img).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(B, -1, -1), x], 1) + self.pos(H, W)
        for b in self.blocks:
            x = b(x)
        return self.norm(x)


class Featurizer(nn.Module):  # the DinoFeaturizer parameter layout
    def __init__(self):
        super().__init__()
        self.model = ViT()
        self.cluster1 = nn.Sequential(nn.Conv2d(DIM, D, 1))
        self.cluster2 = nn.Sequential(nn.Conv2d(DIM, DIM, 1), nn.ReLU(), nn.Conv2d(DIM, D, 1))
        self.ema_model1 = nn.Sequential(nn.Conv2d(DIM, D, 1))
        self.ema_model2 = nn.Sequential(nn.Conv2d(DIM, DIM, 1), nn.ReLU(), nn.Conv2d(DIM, D, 1))

    def code(self, img):
        B, _, H, W = img.shape
        tok = self.model(img)[:, 1:, :]
        f = tok.reshape(B, H // PATCH, W // PATCH, DIM).permute(0, 3, 1, 2)
        return self.cluster1(f) + self.cluster2(f)  # eval mode: no dropout


def main():
    os.makedirs(os.path.join(OUT, "images"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "labels"), exist_ok=True)
    torch.manual_seed(3)
    net = Featurizer()
    with torch.no_grad():
        for name, p in net.model.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.1 * torch.randn_like(p))
        # the EMA head differs from the online head (as after training): eval must use the online one
        for (n1, p1), (n2, p2) in zip(net.cluster1.named_parameters(), net.ema_model1.named_parameters()):
            p2.copy_(p1 + 0.05)
        for (n1, p1), (n2, p2) in zip(net.cluster2.named_parameters(), net.ema_model2.named_parameters()):
            p2.copy_(p1 - 0.05)
    linear = nn.Conv2d(D, K, 1)
    clusters = nn.Parameter(torch.randn(K, D))
    net.eval()

    rng = np.random.RandomState(5)
    imgs, labels = [], []
    for i in range(2):
        # smooth colour blobs + noise, so neighbouring pixels differ but argmax margins are not all tiny
        yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
        base = np.stack([np.sin(xx / (5 + 3 * i) + c) * np.cos(yy / (7 - i) - c) for c in range(3)], -1)
        img = np.clip(127.5 + 100 * base + rng.randn(SIZE, SIZE, 3) * 12, 0, 255).astype(np.uint8)
        lab = rng.randint(0, K, size=(SIZE // 8, SIZE // 8)).repeat(8, 0).repeat(8, 1).astype(np.uint8)
        lab[0, 0] = 255  # an ignored pixel
        Image.fromarray(img).save(os.path.join(OUT, "images", f"img{i}.png"))
        Image.fromarray(lab).save(os.path.join(OUT, "labels", f"img{i}.png"))
        imgs.append(img)
        labels.append(lab)

    x = torch.from_numpy(np.stack(imgs)).float().div(255.0).permute(0, 3, 1, 2)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (x - mean) / std
    with torch.no_grad():
        code = net.code(x)  # (B, D, 6, 6)
        up = F.interpolate(code, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
        cos = torch.einsum("bchw,nc->bnhw", F.normalize(up, dim=1), F.normalize(clusters, dim=1))
        logits = linear(up)

    def pred_and_margin(scores):
        top = scores.topk(2, dim=1).values
        return scores.argmax(1), (top[:, 0] - top[:, 1])

    cp, cm = pred_and_margin(cos)
    lp, lm = pred_and_margin(logits)
    torch.save(
        {
            "epoch": 2, "iter": 1234, "best_epoch": 2, "best_iter": 1234,
            "net_model_state_dict": net.state_dict(),
            "net_optimizer_state_dict": None,
            "linear_model_state_dict": linear.state_dict(),
            "linear_optimizer_state_dict": None,
            "cluster_model_state_dict": {"clusters": clusters.data},
            "cluster_optimizer_state_dict": None,
            "best": 123.4,
        },
        os.path.join(OUT, "ckpt.pth"),
    )
    expected = {
        "script": "tools/golden/cli_make_hp_ckpt.py",
        "torch": torch.__version__,
        "config": {"embedDim": DIM, "depth": DEPTH, "heads": HEADS, "patch": PATCH, "trainedGrid": GRID,
                   "dim": D, "classes": K, "size": SIZE},
        "images": ["img0", "img1"],
        "clusterPred": cp.reshape(-1).tolist(),
        "clusterMargin": [round(v, 7) for v in cm.reshape(-1).tolist()],
        "linearPred": lp.reshape(-1).tolist(),
        "linearMargin": [round(v, 7) for v in lm.reshape(-1).tolist()],
        "code00": code[0, :, 0, 0].tolist(),
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f)
    print("min margins", float(cm.min()), float(lm.min()))


if __name__ == "__main__":
    main()
