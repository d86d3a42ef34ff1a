"""Golden fixtures for @hpseg/hidden-positives.

Our own PyTorch reference of the HP objective, written from docs/official-behaviour.md §3.3-3.8,
following the semantics of the official `loss.py` (SupConLoss, loss_version 1, reweighting 1) and
`DinoFeaturizer.py` (LHP weights and mixing), but in float32 (no autocast) and with autograd for
the gradients. Writes:

  packages/hidden-positives/test/fixtures/hp_loss.json   loss + d/dz + d/dzMix, named cases
  packages/hidden-positives/test/fixtures/hp_local.json  LHP weights [B, P, 9] and mixed outputs

Run:  /usr/bin/python3 tools/golden/hp_make_loss.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'packages', 'hidden-positives', 'test', 'fixtures')


def flat(t):
    return [float('%.9g' % v) for v in t.detach().reshape(-1).tolist()]


# ---------------------------------------------------------------- loss reference (§3.3-3.7)

def hp_loss_reference(z, zmix, f, s, qag, qsp, lam, tau, keep, P, empty='zero'):
    """keep: [P, N] bool Bernoulli draw or None (rho = 1). empty: 'zero' (our choice) or 'torch'."""
    N = z.shape[0]
    B = N // P
    f = F.normalize(f, dim=1)
    s = F.normalize(s, dim=1)
    qag = F.normalize(qag, dim=1)
    qsp = F.normalize(qsp, dim=1)
    c_ag = (f @ qag.T).max(dim=1).values  # "Rpoint"
    c_sp = (s @ qsp.T).max(dim=1).values  # "Rpoint_ema"
    loss = torch.zeros(())
    stats = []
    for b in range(B):
        rows = slice(b * P, (b + 1) * P)
        not_self = torch.ones(P, N)
        not_self[torch.arange(P), b * P + torch.arange(P)] = 0
        sim = f[rows] @ f.T
        ag_raw = (c_ag[rows, None] < sim) | (c_ag[None, :] < sim)  # strict, symmetric
        m_ag = ag_raw.float() * not_self
        ssim = s[rows] @ s.T
        m_sp = ((c_sp[rows, None] < ssim) | (c_sp[None, :] < ssim)).float() * not_self
        contrast = not_self * ((ag_raw | keep) if keep is not None else torch.ones(P, N, dtype=torch.bool)).float()
        valid = m_ag.sum(1) != 0
        stats.append({'validAnchors': int(valid.sum()),
                      'tiesAg': int(((sim == c_ag[rows, None]) | (sim == c_ag[None, :])).sum())})
        if int(valid.sum()) == 0 and empty == 'zero':
            continue
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
    return loss / B / 2, stats


def run_case(name, z, zmix, f, s, qag, qsp, lam, tau, P, grid, keep=None, note=''):
    z = z.clone().requires_grad_(True)
    zmix = zmix.clone().requires_grad_(True)
    loss, stats = hp_loss_reference(z, zmix, f, s, qag, qsp, lam, tau, keep, P)
    gz, gm = torch.autograd.grad(loss, [z, zmix])
    with torch.no_grad():
        torch_like, _ = hp_loss_reference(z, zmix, f, s, qag, qsp, lam, tau, keep, P, empty='torch')
    case = {
        'name': name, 'note': note, 'gridSize': grid, 'lambda': lam, 'temperature': tau,
        'shapes': {'z': list(z.shape), 'featBackbone': list(f.shape), 'codeMomentum': list(s.shape),
                   'poolAgnostic': list(qag.shape), 'poolSpecific': list(qsp.shape)},
        'z': flat(z), 'zMix': flat(zmix), 'featBackbone': flat(f), 'codeMomentum': flat(s),
        'poolAgnostic': flat(qag), 'poolSpecific': flat(qsp),
        'negativeMask': None if keep is None else [int(v) for v in keep.reshape(-1).tolist()],
        'loss': float(loss), 'gradZ': flat(gz), 'gradZMix': flat(gm),
        'validAnchorsPerImage': [st['validAnchors'] for st in stats],
        'tiesAtCriterion': sum(st['tiesAg'] for st in stats),
        'officialTorchLossIsNaN': bool(math.isnan(float(torch_like))),
    }
    return case


def clustered(n, dim, centers, noise, gen):
    k = centers.shape[0]
    assign = torch.randint(0, k, (n,), generator=gen)
    return centers[assign] + noise * torch.randn(n, dim, generator=gen)


def unit(n, dim, gen):
    return F.normalize(torch.randn(n, dim, generator=gen), dim=1)


def standard_inputs(gen, B, grid, D, C, Dm, Q, k=3):
    h, w = (grid, grid) if isinstance(grid, int) else grid
    P = h * w
    N = B * P
    cf = torch.randn(k, C, generator=gen)
    cs = torch.randn(k, Dm, generator=gen)
    f = clustered(N, C, cf, 0.6, gen)
    s = clustered(N, Dm, cs, 0.6, gen)
    qag = clustered(Q, C, cf, 0.6, gen)
    qsp = clustered(Q, Dm, cs, 0.6, gen)
    # z correlated with the clusters so that the loss is not trivially flat
    z = F.normalize(torch.randn(N, D, generator=gen) + 0.5 * torch.randn(1, D, generator=gen), dim=1)
    zmix = F.normalize(torch.randn(N, D, generator=gen), dim=1)
    return z, zmix, f, s, qag, qsp, P


def loss_cases():
    cases = []
    gen = torch.Generator().manual_seed(7)
    z, zmix, f, s, qag, qsp, P = standard_inputs(gen, 2, 3, 6, 5, 4, 8)
    for lam in (0.0, 0.3, 1.0):
        cases.append(run_case(f'B2 grid3 lambda{lam}', z, zmix, f, s, qag, qsp, lam, 0.8, P, 3))

    gen = torch.Generator().manual_seed(11)
    z, zmix, f, s, qag, qsp, P = standard_inputs(gen, 3, 4, 8, 6, 5, 12)
    keep = torch.rand(P, z.shape[0], generator=gen) < 0.5
    for lam in (0.0, 0.3, 1.0):
        cases.append(run_case(f'B3 grid4 rho0.5 injected mask lambda{lam}', z, zmix, f, s, qag, qsp, lam, 0.6, P, 4,
                              keep=keep, note='Bernoulli(0.5) [P, N] mask drawn by torch, reused for every block'))

    gen = torch.Generator().manual_seed(13)
    z, zmix, f, s, qag, qsp, P = standard_inputs(gen, 2, [3, 5], 4, 4, 4, 6)
    cases.append(run_case('B2 grid [3,5] lambda0.5', z, zmix, f, s, qag, qsp, 0.5, 0.4, P, [3, 5]))

    gen = torch.Generator().manual_seed(17)
    z, zmix, f, s, qag, qsp, P = standard_inputs(gen, 2, 3, 6, 5, 4, 40)
    case = run_case('pool larger than batch', z, zmix, f, s, qag, qsp, 0.3, 0.8, P, 3,
                    note='Q = 40 > N = 18')
    cases.append(case)

    # anchor with no positive: token 4 of image 0 is orthogonal to every other token and sits in the pool
    gen = torch.Generator().manual_seed(19)
    B, grid, C = 2, 3, 5
    P = grid * grid
    N = B * P
    centers = torch.zeros(2, C)
    centers[0, 0] = 1.0
    centers[1, 1] = 1.0
    f = clustered(N, C, centers, 0.3, gen).abs()
    f[:, C - 1] = 0.0
    f[4] = 0.0
    f[4, C - 1] = 1.0
    qag = torch.cat([centers, torch.eye(C)[C - 1:]], 0)
    s = unit(N, 4, gen)
    qsp = unit(6, 4, gen)
    z = unit(N, 6, gen)
    zmix = unit(N, 6, gen)
    case = run_case('anchor with no positive', z, zmix, f, s, qag, qsp, 0.3, 0.8, P, grid,
                    note='row 4 has no task-agnostic positive and is dropped from both terms')
    assert case['validAnchorsPerImage'][0] == P - 1, case['validAnchorsPerImage']
    cases.append(case)

    # all anchors dropped in one image: image 1 holds -e1 / -e3 tokens whose criterion is exactly 1
    gen = torch.Generator().manual_seed(23)
    f = clustered(N, C, centers, 0.3, gen).abs()
    f[:, 2] = 0.0
    for t in range(P, N):
        f[t] = 0.0
        f[t, 0 if t % 2 == 0 else 2] = -1.0
    neg = torch.zeros(2, C)
    neg[0, 0] = -1.0
    neg[1, 2] = -1.0
    qag = torch.cat([centers, neg], 0)
    s = unit(N, 4, gen)
    qsp = unit(6, 4, gen)
    z = unit(N, 6, gen)
    zmix = unit(N, 6, gen)
    case = run_case('all anchors dropped in one image', z, zmix, f, s, qag, qsp, 0.5, 0.8, P, grid,
                    note='image 1 has no valid anchor: contributes 0 here; the official code takes the mean of an empty tensor (NaN)')
    assert case['validAnchorsPerImage'][1] == 0 and case['validAnchorsPerImage'][0] > 0, case['validAnchorsPerImage']
    assert case['officialTorchLossIsNaN']
    cases.append(case)

    # ties at the criterion: exactly representable unit vectors, dot products exact in float32
    gen = torch.Generator().manual_seed(29)
    vocab = torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0],
                          [.5, .5, .5, .5], [.5, .5, -.5, -.5], [.5, -.5, .5, -.5]], dtype=torch.float32)
    f = vocab[torch.randint(0, 6, (N,), generator=gen)]
    s = vocab[torch.randint(0, 6, (N,), generator=gen)]
    qag = vocab[[3, 0]]
    qsp = vocab[[1, 4]]
    z = unit(N, 6, gen)
    zmix = unit(N, 6, gen)
    case = run_case('ties at the criterion', z, zmix, f, s, qag, qsp, 0.5, 0.8, P, grid,
                    note='many sim == c exactly; strict > keeps them out of the positive sets')
    assert case['tiesAtCriterion'] > 0
    cases.append(case)
    return cases


def consistency_case():
    gen = torch.Generator().manual_seed(31)
    z = unit(12, 5, gen).requires_grad_(True)
    za = unit(12, 5, gen).requires_grad_(True)
    loss = torch.nn.PairwiseDistance(p=2, eps=1e-6)(z, za).mean()
    gz, ga = torch.autograd.grad(loss, [z, za])
    return {'z': flat(z), 'zAug': flat(za), 'shape': [12, 5], 'loss': float(loss), 'gradZ': flat(gz), 'gradZAug': flat(ga)}


# ---------------------------------------------------------------- LHP weights (§3.7)

def official_window(sz):
    """index_mask and divide_num exactly as DinoFeaturizer.__init__ builds them (square grid)."""
    mask = torch.zeros(sz * sz, sz * sz)
    div = torch.zeros(sz * sz)
    for i in range(sz * sz):
        r, c = divmod(i, sz)
        idx = [(r + dr) * sz + (c + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)
               if 0 <= r + dr < sz and 0 <= c + dc < sz]
        mask[i, idx] = 1.0
        div[i] = len(idx)
    return mask, div


def local_case(sz, B, heads, D, sigma, gen):
    P = sz * sz
    for _ in range(20):
        attn = 2.0 * torch.randn(B, heads, P + 1, P + 1, generator=gen)
        a = attn[:, :, 1:, 1:].mean(dim=1).float()
        hi = torch.quantile(a, 0.9, dim=2, keepdim=True)
        lo = torch.quantile(a, 0.1, dim=2, keepdim=True)
        a = torch.max(torch.min(a, hi), lo)
        a = a.softmax(dim=-1) * sigma
        mean = a.mean(dim=2, keepdim=True)
        margin = ((a - mean).abs() / mean).min()
        if margin > 1e-4:
            break
    a = torch.where(a < mean, torch.zeros_like(a), a)
    mask, div = official_window(sz)
    a = a * mask.unsqueeze(0)
    weights = torch.zeros(B, P, 9)
    for i in range(P):
        r, c = divmod(i, sz)
        for k, (dr, dc) in enumerate([(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)]):
            if 0 <= r + dr < sz and 0 <= c + dc < sz:
                weights[:, i, k] = a[:, i, (r + dr) * sz + (c + dc)] / div[i]
    code = torch.randn(B, D, sz, sz, generator=gen)  # NCHW as the official head output
    tokens = code.reshape(B, D, P).permute(0, 2, 1)  # [B, P, D]
    mixed = torch.stack([(a[b] @ tokens[b]) / div.unsqueeze(1) for b in range(B)])  # [B, P, D]
    return {
        'gridSize': sz, 'sigma': sigma, 'attentionShape': [B, heads, P + 1, P + 1],
        'attention': flat(attn), 'weights': flat(weights), 'weightsShape': [B, P, 9],
        'codeNHWC': flat(code.permute(0, 2, 3, 1)), 'codeShape': [B, sz, sz, D],
        'mixedNHWC': flat(mixed.reshape(B, sz, sz, D)),
        'keptPerImage': [int((weights[b] > 0).sum()) for b in range(B)],
    }


def chain_case(gen):
    """code -> LHP mix (official dense way) -> normalize -> loss; gradient w.r.t. code through both terms."""
    B, sz, D, C, heads = 2, 4, 5, 6, 2
    P = sz * sz
    N = B * P
    attn = 2.0 * torch.randn(B, heads, P + 1, P + 1, generator=gen)
    a = attn[:, :, 1:, 1:].mean(dim=1)
    a = torch.max(torch.min(a, torch.quantile(a, 0.9, dim=2, keepdim=True)), torch.quantile(a, 0.1, dim=2, keepdim=True))
    a = a.softmax(dim=-1) * 28.0
    a = torch.where(a < a.mean(dim=2, keepdim=True), torch.zeros_like(a), a)
    mask, div = official_window(sz)
    a = a * mask.unsqueeze(0)
    code = torch.randn(B, D, sz, sz, generator=gen).requires_grad_(True)  # NCHW head output
    tokens = code.reshape(B, D, P).permute(0, 2, 1)  # [B, P, D]
    mixed = torch.stack([(a[b] @ tokens[b]) / div.unsqueeze(1) for b in range(B)])  # [B, P, D]
    z = F.normalize(tokens.reshape(N, D), dim=1)
    zmix = F.normalize(mixed.reshape(N, D), dim=1)
    centers = torch.randn(3, C, generator=gen)
    f = clustered(N, C, centers, 0.6, gen)
    s = clustered(N, D, torch.randn(3, D, generator=gen), 0.6, gen)
    qag = clustered(8, C, centers, 0.6, gen)
    qsp = unit(8, D, gen)
    loss, stats = hp_loss_reference(z, zmix, f, s, qag, qsp, 0.3, 0.8, None, P)
    (g,) = torch.autograd.grad(loss, [code])
    return {
        'gridSize': sz, 'attentionShape': [B, heads, P + 1, P + 1], 'attention': flat(attn),
        'codeShape': [B, sz, sz, D], 'codeNHWC': flat(code.permute(0, 2, 3, 1)),
        'featBackbone': flat(f), 'codeMomentum': flat(s), 'poolAgnostic': flat(qag), 'poolSpecific': flat(qsp),
        'C': C, 'Q': 8, 'lambda': 0.3, 'temperature': 0.8,
        'loss': float(loss), 'gradCodeNHWC': flat(g.permute(0, 2, 3, 1)),
        'validAnchorsPerImage': [st['validAnchors'] for st in stats],
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    loss = {'generator': 'tools/golden/hp_make_loss.py', 'torch': torch.__version__,
            'cases': loss_cases(), 'consistency': consistency_case(),
            'chain': chain_case(torch.Generator().manual_seed(37))}
    with open(os.path.join(OUT, 'hp_loss.json'), 'w') as fh:
        json.dump(loss, fh, separators=(',', ':'))
    gen = torch.Generator().manual_seed(3)
    local = {'generator': 'tools/golden/hp_make_loss.py', 'torch': torch.__version__,
             'cases': [local_case(4, 2, 2, 5, 28.0, gen), local_case(6, 2, 2, 3, 28.0, gen), local_case(5, 1, 3, 4, 7.5, gen)]}
    with open(os.path.join(OUT, 'hp_local.json'), 'w') as fh:
        json.dump(local, fh, separators=(',', ':'))
    for c in loss['cases']:
        print(f"{c['name']:45s} loss {c['loss']:.6f} valid {c['validAnchorsPerImage']} ties {c['tiesAtCriterion']} torchNaN {c['officialTorchLossIsNaN']}")
    for c in local['cases']:
        print(f"local grid {c['gridSize']} kept {c['keptPerImage']}")


if __name__ == '__main__':
    main()
