"""Writes a random state dict with the exact key names and shapes of dino_vitbase16_pretrain.pth
(ViT-B/16, 85.8 M parameters, ~343 MB) for the load benchmark. Usage: python3 make_vitb16.py OUT.pth"""
import collections
import sys

import torch

torch.set_num_threads(1)
D, P, N0 = 768, 16, 196
sd = collections.OrderedDict()
sd['cls_token'] = torch.randn(1, 1, D)
sd['pos_embed'] = torch.randn(1, 1 + N0, D)
sd['patch_embed.proj.weight'] = torch.randn(D, 3, P, P)
sd['patch_embed.proj.bias'] = torch.randn(D)
for i in range(12):
    b = f'blocks.{i}.'
    sd[b + 'norm1.weight'] = torch.randn(D)
    sd[b + 'norm1.bias'] = torch.randn(D)
    sd[b + 'attn.qkv.weight'] = torch.randn(3 * D, D)
    sd[b + 'attn.qkv.bias'] = torch.randn(3 * D)
    sd[b + 'attn.proj.weight'] = torch.randn(D, D)
    sd[b + 'attn.proj.bias'] = torch.randn(D)
    sd[b + 'norm2.weight'] = torch.randn(D)
    sd[b + 'norm2.bias'] = torch.randn(D)
    sd[b + 'mlp.fc1.weight'] = torch.randn(4 * D, D)
    sd[b + 'mlp.fc1.bias'] = torch.randn(4 * D)
    sd[b + 'mlp.fc2.weight'] = torch.randn(D, 4 * D)
    sd[b + 'mlp.fc2.bias'] = torch.randn(D)
sd['norm.weight'] = torch.randn(D)
sd['norm.bias'] = torch.randn(D)
torch.save(sd, sys.argv[1])
