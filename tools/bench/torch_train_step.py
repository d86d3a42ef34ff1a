"""PyTorch side of `npm run bench -w @hpseg/train`: one full official HP training step at the official
widths, in the official order (docs/official-behaviour.md §3.10), fp32 (no autocast), on the CPU.

Started by packages/train/bench/step.ts as a long-running child process (so the benchmark can interleave
rounds of our step and of this one):

    /usr/bin/python3 tools/bench/torch_train_step.py <bundle.json> [--threads 2]

<bundle.json> is written by the benchmark: the configuration, and in <bundle.bin> the tensors both sides
start from (the random ViT-S/8 weights in DINO's layout, the augmented images, the cached main-view
tokens and LHP weights, labels, both reference pools, every head/probe weight in our layout, and the
draws of the check step). After loading it prints one line `{"ready": ...}`, then answers one JSON
command per stdin line with one JSON line:

    {"cmd": "check"}  one step with the bundle's draws (Dropout2d keep masks, negative mask R): losses,
                      head-gradient norm, max |our aug tokens - these|, statistics of the positives
    {"cmd": "step"}   one step with fresh draws (as the official code: nn.Dropout2d, torch.rand < rho):
                      per-phase milliseconds and the losses
    {"cmd": "quit"}   peak RSS, then exit

Reuses the DINO ViT of tools/golden/backbone_make_vit.py. What is timed per step: the ViT forward of the
augmented images (torch.no_grad, the frozen backbone), the training forward (head with Dropout2d, momentum
head, LHP mix as the official dense bmm, momentum update, projection, L_HP per image block against all N
tokens exactly as the official loss, consistency, linear probe with the 224x224 upsample and CE, cluster
probe), one backward, clip_grad_norm_ on the head, the four optimiser steps. The main view's tokens and
LHP weights come from the cache (not timed), as on our side. The augmented view's momentum-head output,
which the official `net_model(img_aug)` also computes and then discards, is not computed (the same on
our side).
"""
import importlib.util
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def load_vit_module():
    spec = importlib.util.spec_from_file_location(
        'backbone_make_vit', os.path.join(HERE, '..', 'golden', 'backbone_make_vit.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # sets 1 thread at import; main() sets the benchmark's count after
    return mod


def read_bundle(path):
    with open(path) as fh:
        header = json.load(fh)
    raw = np.fromfile(os.path.join(os.path.dirname(path), header['data']), dtype=np.uint8)
    out = {}
    for name, t in header['tensors'].items():
        dtype = {'float32': np.float32, 'int32': np.int32}[t['dtype']]
        a = raw[t['offset']:t['offset'] + t['bytes']].view(dtype).reshape(t['shape'])
        out[name] = torch.from_numpy(a.copy())
    return header['config'], out


def conv1x1(w_in_out, b):
    """Our [in, out] kernel and bias -> nn.Conv2d(in, out, 1)."""
    c = nn.Conv2d(w_in_out.shape[0], w_in_out.shape[1], (1, 1))
    with torch.no_grad():
        c.weight.copy_(w_in_out.t()[:, :, None, None])
        c.bias.copy_(b)
    return c


def make_head(t, prefix):
    """cluster1 = Conv1x1(C->D); cluster2 = Conv1x1(C->C), ReLU, Conv1x1(C->D) (official-behaviour §2.1)."""
    c1 = nn.Sequential(conv1x1(t[prefix + 'cluster1.0.weight'], t[prefix + 'cluster1.0.bias']))
    c2 = nn.Sequential(conv1x1(t[prefix + 'cluster2.0.weight'], t[prefix + 'cluster2.0.bias']), nn.ReLU(),
                       conv1x1(t[prefix + 'cluster2.2.weight'], t[prefix + 'cluster2.2.bias']))
    return c1, c2


def head_params(c1, c2):
    return [c1[0].weight, c1[0].bias, c2[0].weight, c2[0].bias, c2[2].weight, c2[2].bias]


def flatten(x):  # official-behaviour §0: [B, ch, h, w] -> [N, ch], row = b*P + y*w + x
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])


def hp_loss(z, zmix, fhat, shat, qag, qsp, lam, tau, R, P, stats=None):
    """L_HP as the official SupConLoss (loss_version 1, reweighting 1; official-behaviour §3.3-3.7): per
    image block of P anchors against all N tokens; the [P, N] negative mask R reused for every block;
    the self-exclusion mask rolled by P columns after each block (loss.py:184-188, 298)."""
    N = z.shape[0]
    B = N // P
    c_ag = (fhat @ qag.T).max(dim=1).values  # "Rpoint"
    c_sp = (shat @ qsp.T).max(dim=1).values  # "Rpoint_ema"
    not_self = torch.ones(P, N)
    not_self[torch.arange(P), torch.arange(P)] = 0
    loss = torch.zeros(())
    for b in range(B):
        rows = slice(b * P, (b + 1) * P)
        sim = fhat[rows] @ fhat.T
        ag_raw = (c_ag[rows, None] < sim) | (c_ag[None, :] < sim)  # strict, symmetric
        m_ag = ag_raw.float() * not_self
        ssim = shat[rows] @ shat.T
        m_sp = ((c_sp[rows, None] < ssim) | (c_sp[None, :] < ssim)).float() * not_self
        contrast = not_self * (ag_raw | R).float()
        valid = m_ag.sum(1) != 0
        if stats is not None:
            stats['agPositives'] += float(m_ag.sum())
            stats['spPositives'] += float(m_sp.sum())
            stats['contrast'] += float(contrast.sum())
            stats['validAnchors'] += int(valid.sum())
        if bool(valid.any()):  # an image without a valid anchor adds nothing (our port; torch would NaN)
            w = (m_ag + lam * m_sp)[valid]
            pnm = w.sum(1)
            pnm = pnm / pnm.sum()
            pnm = pnm / pnm.mean()
            for x in (z, zmix):
                logits = (x[rows] @ x.T) / tau
                logits = logits - logits.max(dim=1, keepdim=True).values.detach()
                logp = logits - torch.log((torch.exp(logits) * contrast).sum(1, keepdim=True))
                mlp = (w * logp[valid]).sum(1) / w.sum(1)
                loss = loss - torch.mean((tau / 0.07) * mlp * pnm)
        not_self = torch.roll(not_self, P, dims=1)
    return loss / B / 2


class Step:
    def __init__(self, cfg, t):
        self.cfg = cfg
        B, h, C, D, K = cfg['B'], cfg['h'], cfg['C'], cfg['D'], cfg['K']
        self.B, self.h, self.P, self.C, self.D, self.K = B, h, h * h, C, D, K
        vit = load_vit_module()
        self.vit = vit.ViT(C, cfg['depth'], cfg['heads'], cfg['patch'], h).eval()
        sd = {k[len('vit.'):]: v for k, v in t.items() if k.startswith('vit.')}
        self.vit.load_state_dict(sd, strict=True)
        for p in self.vit.parameters():
            p.requires_grad_(False)
        self.images_aug = t['imagesAug'].permute(0, 3, 1, 2).contiguous()  # [B, 3, H, W]
        self.feat = t['feat'].permute(0, 3, 1, 2).contiguous()  # [B, C, h, w], the cached main view
        self.ours_feat_aug = t['featAug']  # our engine's aug tokens [B, h, w, C], for the check only
        # LHP weights [B, P, 9] (w_ij = Ā_ij / n_i, 3x3 window order) -> the official dense Ā ⊙ N and n
        wts = t['lhpWeights']
        P = self.P
        a_bar = torch.zeros(B, P, P)
        n = torch.zeros(P)
        for i in range(P):
            r, c = divmod(i, h)
            inside = [(r + k // 3 - 1, c + k % 3 - 1) for k in range(9)]
            n[i] = sum(1 for rr, cc in inside if 0 <= rr < h and 0 <= cc < h)
        for i in range(P):
            r, c = divmod(i, h)
            for k in range(9):
                rr, cc = r + k // 3 - 1, c + k % 3 - 1
                if 0 <= rr < h and 0 <= cc < h:
                    a_bar[:, i, rr * h + cc] = wts[:, i, k] * n[i]
        self.a_bar, self.n = a_bar, n
        self.labels = t['labels'].long()  # the loader's int64 labels, -1 = ignore
        self.qag, self.qsp = t['poolAgnostic'], t['poolSpecific']
        self.c1, self.c2 = make_head(t, 'head.')
        self.e1, self.e2 = make_head(t, 'momentumHead.')
        for p in head_params(self.e1, self.e2):
            p.requires_grad_(False)
        self.proj = nn.Linear(D, D)
        self.lin = conv1x1(t['linearProbe.weight'], t['linearProbe.bias'])
        self.clusters = nn.Parameter(t['clusterProbe.clusters'].clone())
        with torch.no_grad():
            self.proj.weight.copy_(t['projectionHead.weight'].t())
            self.proj.bias.copy_(t['projectionHead.bias'])
        lr = cfg['lr']
        self.opts = [  # run.py:69-90; official step order: net, linear, cluster, projection
            torch.optim.AdamW(head_params(self.c1, self.c2), lr=lr['net'], weight_decay=lr['weightDecay']),
            torch.optim.Adam(self.lin.parameters(), lr=lr['linear']),
            torch.optim.Adam([self.clusters], lr=lr['cluster']),
            torch.optim.Adam(self.proj.parameters(), lr=lr['net']),
        ]
        self.check_draws = {k[len('draw.'):]: v for k, v in t.items() if k.startswith('draw.')}

    def run(self, draws=None, stats=None):
        """One step; `draws` = injected keep masks [B, 1, 1, ch] and R [P, N], else fresh draws."""
        cfg, B, P, D, K = self.cfg, self.B, self.P, self.D, self.K
        p = cfg['dropout']
        if draws is None:
            def drop(x, _name):
                return F.dropout2d(x, p, training=True)  # nn.Dropout2d in training mode
        else:
            def drop(x, name):
                return x * (draws[name][:, 0, 0, :] / (1 - p))[:, :, None, None]
        c1, c2, e1, e2, proj, lin = self.c1, self.c2, self.e1, self.e2, self.proj, self.lin
        t0 = time.perf_counter()
        # ---- augmented view through the frozen backbone
        with torch.no_grad():
            tokens, _ = self.vit(self.images_aug)
            fa = tokens[:, 1:, :].reshape(B, self.h, self.h, self.C).permute(0, 3, 1, 2)  # [B, C, h, w]
        t1 = time.perf_counter()
        # ---- net(img, train=True) on the cached main view
        f = self.feat
        code = c1(drop(f, 'headCluster1')) + c2(drop(f, 'headCluster2'))  # [B, D, h, w]
        with torch.no_grad():
            code_ema = e1(drop(f, 'momentumCluster1')) + e2(drop(f, 'momentumCluster2'))
        s_mix = torch.bmm(code.reshape(B, D, P), self.a_bar.transpose(1, 2)) / self.n[None, None, :]
        s_mix = s_mix.reshape(B, D, self.h, self.h)
        with torch.no_grad():  # momentum update, in the forward, before any optimiser step (§2.2)
            m = cfg['momentum']
            for pe, pt in zip(head_params(e1, e2), head_params(c1, c2)):
                pe.copy_(pe * m + pt * (1.0 - m))
        out0 = drop(f, 'features')
        out2 = drop(code_ema, 'momentumOutput')
        out3 = drop(s_mix, 'mix')
        # ---- net(img_aug): the head in train mode (its two input masks); only code' is used
        code_aug = c1(drop(fa, 'augCluster1')) + c2(drop(fa, 'augCluster2'))
        # ---- losses
        fhat = F.normalize(flatten(out0.detach()), dim=1)
        z = F.normalize(proj(flatten(code)), dim=1)
        z_aug = F.normalize(proj(flatten(code_aug)), dim=1)
        cons = nn.PairwiseDistance(p=2, eps=1e-6)(z, z_aug).mean()
        zmix = F.normalize(proj(flatten(out3)), dim=1)
        shat = F.normalize(flatten(out2), dim=1)
        R = draws['negativeMask'].bool() if draws is not None else torch.rand(P, B * P) < cfg['rho']
        hp = hp_loss(z, zmix, fhat, shat, self.qag, self.qsp, cfg['lambda'], cfg['tau'], R, P, stats)
        detached = code.detach()
        logits = lin(detached)  # [B, K, h, w]
        up = F.interpolate(logits, self.labels.shape[-2:], mode='bilinear', align_corners=False)
        flat_logits = up.permute(0, 2, 3, 1).reshape(-1, K)
        flat_label = self.labels.reshape(-1)
        keep = (flat_label >= 0) & (flat_label < K)
        linear = F.cross_entropy(flat_logits[keep], flat_label[keep])
        inner = torch.einsum('bchw,kc->bkhw', F.normalize(detached, dim=1), F.normalize(self.clusters, dim=1))
        probs = F.one_hot(inner.argmax(dim=1), K).permute(0, 3, 1, 2).float()
        cluster = -(probs * inner).sum(1).mean()
        total = linear + cluster + hp + cfg['alpha'] * cons
        t2 = time.perf_counter()
        total.backward()
        t3 = time.perf_counter()
        norm = nn.utils.clip_grad_norm_(head_params(c1, c2), cfg['gradNorm'])
        for o in self.opts:
            o.step()
        for o in self.opts:
            o.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        ms = lambda a, b: (b - a) * 1000.0  # noqa: E731
        return {
            'ms': {'backbone': ms(t0, t1), 'forward': ms(t1, t2), 'backward': ms(t2, t3),
                   'optimizer': ms(t3, t4), 'total': ms(t0, t4)},
            'losses': {'total': float(total), 'hp': float(hp), 'consistency': float(cons),
                       'linear': float(linear), 'cluster': float(cluster), 'headGradNorm': float(norm)},
            'featAug': fa,
        }


def main():
    args = sys.argv[1:]
    threads = int(args[args.index('--threads') + 1]) if '--threads' in args else 2
    cfg, tensors = read_bundle(args[0])
    step = Step(cfg, tensors)
    torch.set_num_threads(threads)
    info = {'torch': torch.__version__, 'threads': torch.get_num_threads(),
            'openblasCoretype': os.environ.get('OPENBLAS_CORETYPE')}
    print(json.dumps({'ready': info}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)['cmd']
        if cmd == 'quit':
            break
        if cmd == 'check':
            stats = {'agPositives': 0.0, 'spPositives': 0.0, 'contrast': 0.0, 'validAnchors': 0}
            r = step.run(step.check_draws, stats)
            ours = step.ours_feat_aug
            mine = r['featAug'].permute(0, 2, 3, 1)
            r['featAugMaxAbsDiff'] = float((ours - mine).abs().max())
            r['featAugMaxAbs'] = float(mine.abs().max())
            r['stats'] = stats
        else:
            r = step.run()
        del r['featAug']
        print(json.dumps(r), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB
    print(json.dumps({'peakRssMiB': peak}), flush=True)


if __name__ == '__main__':
    main()
