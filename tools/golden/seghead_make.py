"""Golden fixtures for @hpseg/seg-head, written from official-behaviour §2, §3.1, §4.1, §4.5 (our own
PyTorch, not the official code). Run from the repo root:

    /usr/bin/python3 tools/golden/seghead_make.py

Writes packages/seg-head/test/fixtures/{head,probes,optim,ema}.json and the official-layout tiny
checkpoint hp_tiny_ckpt.pth (+ hp_tiny_expected.json). Tensors are stored as {"shape", "data"} with
data flattened row-major; every tensor a test feeds to TF.js is already in OUR layout (NHWC,
Linear/Conv 1x1 weights as [in, out]), except the .pth, which keeps PyTorch's layout on purpose.
"""
import json
import os
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'packages', 'seg-head', 'test', 'fixtures')
os.makedirs(OUT, exist_ok=True)


def t(x):
    x = x.detach()
    if x.dtype in (torch.int64, torch.int32):
        return {'shape': list(x.shape), 'data': [int(v) for v in x.reshape(-1).tolist()]}
    # 9 significant digits round-trip float32 exactly and keep the files small
    return {'shape': list(x.shape), 'data': [float(f'{v:.9g}') for v in x.float().reshape(-1).tolist()]}


def nhwc(x):  # NCHW -> NHWC
    return x.permute(0, 2, 3, 1).contiguous()


def conv_w(conv):  # Conv2d weight [out, in, 1, 1] -> our [in, out]
    return conv.weight.detach()[:, :, 0, 0].t().contiguous()


def dump(name, obj):
    with open(os.path.join(OUT, name), 'w') as f:
        json.dump(obj, f)
    print('wrote', name, os.path.getsize(os.path.join(OUT, name)), 'bytes')


def make_head(C, D):
    c1 = nn.Sequential(nn.Conv2d(C, D, (1, 1)))
    c2 = nn.Sequential(nn.Conv2d(C, C, (1, 1)), nn.ReLU(), nn.Conv2d(C, D, (1, 1)))
    return c1, c2


def head_weights(c1, c2):
    return OrderedDict([
        ('cluster1.0.weight', t(conv_w(c1[0]))), ('cluster1.0.bias', t(c1[0].bias)),
        ('cluster2.0.weight', t(conv_w(c2[0]))), ('cluster2.0.bias', t(c2[0].bias)),
        ('cluster2.2.weight', t(conv_w(c2[2]))), ('cluster2.2.bias', t(c2[2].bias)),
    ])


def dropout_mask(x, seed):
    """A Dropout2d draw of torch itself, returned as the 0/1 keep-mask [B,1,1,C] (NHWC)."""
    torch.manual_seed(seed)
    y = F.dropout2d(x, 0.1, training=True)
    B, C = x.shape[:2]
    keep = (y.reshape(B, C, -1) != 0).any(-1).float()  # [B, C]
    # the draw is exactly x * (mask / 0.9)
    assert torch.equal(y, x * (keep[:, :, None, None] / 0.9)), 'dropout2d is not x * mask / 0.9'
    return keep


# --------------------------------------------------------------------------- head
def gen_head():
    torch.manual_seed(0)
    B, C, D, H, W = 3, 8, 6, 3, 4
    c1, c2 = make_head(C, D)
    f = torch.randn(B, C, H, W, requires_grad=True)
    with torch.no_grad():
        k1 = dropout_mask(f, 11)
        k2 = dropout_mask(f, 12)
    assert not torch.equal(k1, k2)
    assert (k1 == 0).any() and (k2 == 0).any(), 'pick seeds that drop something'
    d1 = f * (k1[:, :, None, None] / 0.9)
    d2 = f * (k2[:, :, None, None] / 0.9)
    code = c1(d1)
    code = code + c2(d2)
    r = torch.randn_like(code)
    loss = (code * r).sum()
    params = [c1[0].weight, c1[0].bias, c2[0].weight, c2[0].bias, c2[2].weight, c2[2].bias]
    grads = torch.autograd.grad(loss, params + [f])
    names = ['cluster1.0.weight', 'cluster1.0.bias', 'cluster2.0.weight', 'cluster2.0.bias',
             'cluster2.2.weight', 'cluster2.2.bias']
    g = OrderedDict()
    for n, gr in zip(names, grads[:6]):
        g[n] = t(gr[:, :, 0, 0].t() if gr.dim() == 4 else gr)
    with torch.no_grad():
        code_eval = c1(f) + c2(f)
    dump('head.json', {
        'C': C, 'D': D,
        'weights': head_weights(c1, c2),
        'feat': t(nhwc(f)),
        'mask1': t(k1[:, None, None, :]), 'mask2': t(k2[:, None, None, :]),
        'codeTrain': t(nhwc(code)), 'codeEval': t(nhwc(code_eval)),
        'r': t(nhwc(r)), 'loss': float(loss), 'grads': g, 'gradFeat': t(nhwc(grads[6])),
    })


# --------------------------------------------------------------------------- probes
def gen_probes():
    torch.manual_seed(1)
    # cluster probe: B=2, D=5, 3x4 grid, K=3
    B, D, H, W, K = 2, 5, 3, 4, 3
    clusters = torch.randn(K, D, requires_grad=True)
    code = torch.randn(B, D, H, W, requires_grad=True)
    nc = F.normalize(clusters, dim=1)
    nf = F.normalize(code, dim=1)
    inner = torch.einsum('bchw,nc->bnhw', nf, nc)
    probs = F.one_hot(torch.argmax(inner, dim=1), K).permute(0, 3, 1, 2).to(torch.float32)
    closs = -(probs * inner).sum(1).mean()
    g_clusters, g_code = torch.autograd.grad(closs, [clusters, code])
    logp = F.log_softmax(inner * 2, dim=1)
    cluster = {
        'clusters': t(clusters), 'code': t(nhwc(code)), 'cos': t(nhwc(inner)), 'loss': float(closs),
        'gradClusters': t(g_clusters), 'gradCode': t(nhwc(g_code)), 'logProbs2': t(nhwc(logp)),
        'predict': t(torch.argmax(inner, dim=1)),
    }
    # linear probe: logits 5x7 -> labels 20x28 (x4), K=3, D=4, labels with -1, 3 and 255 ignored
    B, D, h, w, K, Hl, Wl = 2, 4, 5, 7, 3, 20, 28
    lin = nn.Conv2d(D, K, (1, 1))
    x = torch.randn(B, D, h, w)
    logits = lin(x)
    logits.retain_grad()
    up = F.interpolate(logits, (Hl, Wl), mode='bilinear', align_corners=False)
    label = torch.randint(-1, K + 1, (B, Hl, Wl))
    label[0, 0, :5] = 255
    flat_logits = up.permute(0, 2, 3, 1).reshape(-1, K)
    flat_label = label.reshape(-1)
    mask = (flat_label >= 0) & (flat_label < K)
    lloss = F.cross_entropy(flat_logits[mask], flat_label[mask], reduction='none').mean()
    lloss.backward()
    linear = {
        'weight': t(conv_w(lin)), 'bias': t(lin.bias), 'code': t(nhwc(x)), 'logits': t(nhwc(logits)),
        'upsampled': t(nhwc(up)), 'labels': t(label), 'loss': float(lloss),
        'gradLogits': t(nhwc(logits.grad)), 'gradWeight': t(lin.weight.grad[:, :, 0, 0].t()),
        'gradBias': t(lin.bias.grad), 'validCount': int(mask.sum()),
    }
    # bilinear resizes with non-integer scales (down and up), align_corners=False
    r = torch.randn(1, 2, 5, 7)
    resize = [
        {'input': t(nhwc(r)), 'size': [11, 13], 'output': t(nhwc(F.interpolate(r, (11, 13), mode='bilinear', align_corners=False)))},
        {'input': t(nhwc(r)), 'size': [3, 4], 'output': t(nhwc(F.interpolate(r, (3, 4), mode='bilinear', align_corners=False)))},
        {'input': t(nhwc(r)), 'size': [15, 21], 'output': t(nhwc(F.interpolate(r, (15, 21), mode='bilinear', align_corners=False)))},
    ]
    # projection head (Linear D->D): forward + grads
    proj = nn.Linear(6, 6)
    z_in = torch.randn(10, 6, requires_grad=True)
    z = proj(z_in)
    rz = torch.randn_like(z)
    gw, gb, gx = torch.autograd.grad((z * rz).sum(), [proj.weight, proj.bias, z_in])
    projection = {
        'weight': t(proj.weight.detach().t()), 'bias': t(proj.bias), 'x': t(z_in), 'y': t(z), 'r': t(rz),
        'gradWeight': t(gw.t()), 'gradBias': t(gb), 'gradX': t(gx),
    }
    dump('probes.json', {'cluster': cluster, 'linear': linear, 'resize': resize, 'projection': projection})


# --------------------------------------------------------------------------- optimisers
def gen_optim():
    torch.manual_seed(2)
    shapes = OrderedDict([('a', (3, 4)), ('b', (4,))])
    init = OrderedDict((k, torch.randn(*s)) for k, s in shapes.items())
    # grads for 3 steps; step 0 and 2 large (clipped), step 1 small (not clipped)
    scales = [5.0, 0.05, 3.0]
    grads = [OrderedDict((k, torch.randn(*s) * sc) for k, s in shapes.items()) for sc in scales]
    cases = []
    for name, make, clip in [
        ('adamw', lambda ps: torch.optim.AdamW(ps, lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1), 1.0),
        ('adam', lambda ps: torch.optim.Adam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-6), None),
        ('adamw-noclip-default-wd', lambda ps: torch.optim.AdamW(ps, lr=5e-4), None),
    ]:
        params = OrderedDict((k, v.clone().requires_grad_(True)) for k, v in init.items())
        opt = make(list(params.values()))
        steps = []
        for g in grads:
            for k, p in params.items():
                p.grad = g[k].clone()
            total = None
            if clip is not None:
                total = float(torch.nn.utils.clip_grad_norm_(list(params.values()), clip))
            clipped = OrderedDict((k, t(p.grad)) for k, p in params.items())
            opt.step()
            steps.append({
                'totalNorm': total, 'clippedGrads': clipped,
                'params': OrderedDict((k, t(p)) for k, p in params.items()),
                'expAvg': OrderedDict((k, t(opt.state[p]['exp_avg'])) for k, p in params.items()),
                'expAvgSq': OrderedDict((k, t(opt.state[p]['exp_avg_sq'])) for k, p in params.items()),
            })
        group = opt.param_groups[0]
        cases.append({'name': name, 'lr': group['lr'], 'betas': list(group['betas']), 'eps': group['eps'],
                      'weightDecay': group['weight_decay'], 'clip': clip, 'steps': steps})
    dump('optim.json', {
        'init': OrderedDict((k, t(v)) for k, v in init.items()),
        'grads': [OrderedDict((k, t(v)) for k, v in g.items()) for g in grads],
        'cases': cases,
    })


# --------------------------------------------------------------------------- EMA
def gen_ema():
    torch.manual_seed(3)
    C, D, m = 5, 4, 0.99
    c1, c2 = make_head(C, D)
    e1, e2 = make_head(C, D)
    before = head_weights(e1, e2)
    with torch.no_grad():
        for mod, ema in ((c1, e1), (c2, e2)):
            for pt, pe in zip(mod.parameters(), ema.parameters()):
                pe.copy_(pe * m + pt.detach() * (1 - m))
    dump('ema.json', {'m': m, 'online': head_weights(c1, c2), 'emaBefore': before, 'emaAfter': head_weights(e1, e2)})


# --------------------------------------------------------------------------- official-layout checkpoint
class TinyBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(dim, 3 * dim)
        self.attn.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, 4 * dim)
        self.mlp.fc2 = nn.Linear(4 * dim, dim)


class TinyViT(nn.Module):  # parameter names of DINO's VisionTransformer (dim 32, depth 1, patch 8, 16 patches)
    def __init__(self, dim=32, patch=8, n_patches=16):
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + n_patches, dim) * 0.02)
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, patch, patch)
        self.blocks = nn.ModuleList([TinyBlock(dim)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)


class TinyFeaturizer(nn.Module):  # attribute names of the official DinoFeaturizer
    def __init__(self, C, D):
        super().__init__()
        self.model = TinyViT(C)
        self.dropout = nn.Dropout2d(p=.1)
        self.cluster1, self.cluster2 = make_head(C, D)
        self.ema_model1, self.ema_model2 = make_head(C, D)


def gen_ckpt():
    torch.manual_seed(4)
    C, D, K = 32, 16, 3
    net = TinyFeaturizer(C, D)
    # make the EMA head differ from the online head, as after training
    with torch.no_grad():
        for p in list(net.ema_model1.parameters()) + list(net.ema_model2.parameters()):
            p.add_(0.01 * torch.randn_like(p))
    linear = nn.Conv2d(D, K, (1, 1))
    cluster = nn.Module()
    cluster.clusters = nn.Parameter(torch.randn(K, D))
    path = os.path.join(OUT, 'hp_tiny_ckpt.pth')
    torch.save({
        'epoch': 1, 'iter': 99, 'best_epoch': 1, 'best_iter': 99,
        'net_model_state_dict': net.state_dict(), 'net_optimizer_state_dict': None,
        'linear_model_state_dict': linear.state_dict(), 'linear_optimizer_state_dict': None,
        'cluster_model_state_dict': cluster.state_dict(), 'cluster_optimizer_state_dict': None,
        'best': 123.25,
    }, path)
    print('wrote hp_tiny_ckpt.pth', os.path.getsize(path), 'bytes')
    feat = torch.randn(2, C, 2, 3)
    with torch.no_grad():
        code = net.cluster1(feat) + net.cluster2(feat)
        code_ema = net.ema_model1(feat) + net.ema_model2(feat)
        inner = torch.einsum('bchw,nc->bnhw', F.normalize(code, dim=1), F.normalize(cluster.clusters, dim=1))
        logits = linear(code)
    backbone_keys = sorted(k for k in net.state_dict() if k.startswith('model.'))
    dump('hp_tiny_expected.json', {
        'C': C, 'D': D, 'K': K, 'feat': t(nhwc(feat)), 'code': t(nhwc(code)), 'codeEma': t(nhwc(code_ema)),
        'clusterPredict': t(torch.argmax(inner, dim=1)), 'linearPredict': t(torch.argmax(logits, dim=1)),
        'linearLogits': t(nhwc(logits)), 'cos': t(nhwc(inner)),
        'backboneKeys': backbone_keys,
        'backboneShapes': {k: list(net.state_dict()[k].shape) for k in backbone_keys},
        'posEmbedFirst': [float(v) for v in net.model.pos_embed.detach().reshape(-1)[:4].tolist()],
    })


if __name__ == '__main__':
    gen_head()
    gen_probes()
    gen_optim()
    gen_ema()
    gen_ckpt()
