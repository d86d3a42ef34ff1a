/**
 * Benchmark of the HP loss, forward + backward (w.r.t. z and z̃), on TF.js wasm, against the same
 * computation in PyTorch (`/usr/bin/python3`, 2 threads) when available.
 *
 *   npm run bench -w @hpseg/hidden-positives              B = 8 images × 28×28 (N = 6272), D = 512
 *   npm run bench -w @hpseg/hidden-positives -- --b64     also peak RSS at B = 64 (N = 50,176), slow
 *   options: --batch <B> --runs <k> --no-torch
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { l2Normalize, selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { torchBenchEnv } from '../../../tools/bench/torch-env.js';
import { hiddenPositiveLoss } from '../src/index.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};

const GRID = 28;
const D = 512;
const C = 384;
const Q = 2048;
const TAU = 0.8;
const RHO = 0.02;
const LAMBDA = 0.5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function inputs(batch: number) {
  const n = batch * GRID * GRID;
  return {
    z: l2Normalize(tf.randomNormal([n, D], 0, 1, 'float32', 1)) as tf.Tensor2D,
    zMix: l2Normalize(tf.randomNormal([n, D], 0, 1, 'float32', 2)) as tf.Tensor2D,
    featBackbone: tf.randomNormal([n, C], 0, 1, 'float32', 3) as tf.Tensor2D,
    codeMomentum: tf.randomNormal([n, D], 0, 1, 'float32', 4) as tf.Tensor2D,
    poolAgnostic: tf.randomNormal([Q, C], 0, 1, 'float32', 5) as tf.Tensor2D,
    poolSpecific: tf.randomNormal([Q, D], 0, 1, 'float32', 6) as tf.Tensor2D,
  };
}

function forwardBackward(x: ReturnType<typeof inputs>): number {
  const t0 = performance.now();
  const { value, grads } = tf.valueAndGrads((z: tf.Tensor, zMix: tf.Tensor) =>
    hiddenPositiveLoss({
      ...x,
      z: z as tf.Tensor2D,
      zMix: zMix as tf.Tensor2D,
      lambda: LAMBDA,
      temperature: TAU,
      negativeKeepRatio: RHO,
      gridSize: GRID,
      seed: 0,
    }),
  )([x.z, x.zMix]);
  grads[0]!.dataSync();
  grads[1]!.dataSync();
  value.dataSync();
  const ms = performance.now() - t0;
  tf.dispose([value, ...grads]);
  return ms;
}

const torchScript = (batch: number, runs: number) => `
import sys, time, torch, torch.nn.functional as F
torch.set_num_threads(2)
B, S, D, C, Q, tau, rho, lam, runs = ${batch}, ${GRID}, ${D}, ${C}, ${Q}, ${TAU}, ${RHO}, ${LAMBDA}, ${runs}
P = S * S; N = B * P
g = torch.Generator().manual_seed(0)
z0 = F.normalize(torch.randn(N, D, generator=g), dim=1); zm0 = F.normalize(torch.randn(N, D, generator=g), dim=1)
f = F.normalize(torch.randn(N, C, generator=g), dim=1); s = F.normalize(torch.randn(N, D, generator=g), dim=1)
qag = F.normalize(torch.randn(Q, C, generator=g), dim=1); qsp = F.normalize(torch.randn(Q, D, generator=g), dim=1)
def step():
    z = z0.clone().requires_grad_(True); zm = zm0.clone().requires_grad_(True)
    t0 = time.perf_counter()
    c_ag = (f @ qag.T).max(1).values; c_sp = (s @ qsp.T).max(1).values
    keep = torch.rand(P, N) < rho
    not_self = torch.ones(P, N); not_self[torch.arange(P), torch.arange(P)] = 0
    loss = torch.zeros(())
    for b in range(B):
        r = slice(b * P, (b + 1) * P)
        sim = f[r] @ f.T; raw = (c_ag[r, None] < sim) | (c_ag[None, :] < sim)
        m_ag = raw.float() * not_self; a = not_self * (raw | keep).float()
        ss = s[r] @ s.T; m_sp = ((c_sp[r, None] < ss) | (c_sp[None, :] < ss)).float() * not_self
        valid = m_ag.sum(1) != 0
        w = (m_ag + lam * m_sp)[valid]; pnm = w.sum(1); pnm = pnm / pnm.sum(); pnm = pnm / pnm.mean()
        for x in (z, zm):
            l = (x[r] @ x.T) / tau; l = l - l.max(1, keepdim=True).values.detach()
            lp = l - torch.log((torch.exp(l) * a).sum(1, keepdim=True))
            loss = loss - torch.mean((tau / 0.07) * (w * lp[valid]).sum(1) / w.sum(1) * pnm)
        not_self = torch.roll(not_self, P, dims=1)
    loss = loss / B / 2
    loss.backward()
    return (time.perf_counter() - t0) * 1000
step()
ts = sorted(step() for _ in range(runs))
print(ts[len(ts) // 2])
`;

function torchMs(batch: number, runs: number): number | null {
  if (!existsSync('/usr/bin/python3')) return null;
  const script = torchScript(batch, runs);
  const torchEnv = torchBenchEnv();
  console.log(`PyTorch: ${torchEnv.note}`);
  const out = spawnSync('/usr/bin/python3', ['-c', script], {
    encoding: 'utf8',
    timeout: 30 * 60_000,
    env: torchEnv.env,
  });
  if (out.status !== 0) {
    console.log(`PyTorch run failed: ${out.stderr.trim().split('\n').slice(-1)[0]}`);
    return null;
  }
  return Number(out.stdout.trim().split('\n').slice(-1)[0]);
}

async function main(): Promise<void> {
  await selectBackend('wasm');
  const batch = option('--batch', 8);
  const runs = option('--runs', 3);
  const n = batch * GRID * GRID;
  console.log(
    `HP loss forward+backward: B = ${batch}, grid ${GRID}×${GRID} (N = ${n}), D = ${D}, C = ${C}, Q = ${Q}, ρ = ${RHO}, λ = ${LAMBDA}`,
  );
  const x = inputs(batch);
  const base = tf.memory().numBytes;
  const prof = await tf.profile(() => {
    forwardBackward(x); // warm-up, also measures the peak of live tensor bytes
  });
  const block = GRID * GRID * n * 4;
  console.log(
    `peak tensor memory above the inputs: ${((prof.peakBytes - base) / 2 ** 20).toFixed(0)} MiB = ${((prof.peakBytes - base) / block).toFixed(1)} × one [P, N] float32 block (${(block / 2 ** 20).toFixed(1)} MiB)`,
  );
  const times = Array.from({ length: runs }, () => forwardBackward(x));
  const tfMs = median(times);
  console.log(
    `TF.js wasm : ${tfMs.toFixed(0)} ms (median of ${runs}: ${times.map((t) => t.toFixed(0)).join(', ')})`,
  );
  tf.dispose(Object.values(x));
  if (!flag('--no-torch')) {
    const pt = torchMs(batch, runs);
    if (pt === null) console.log('PyTorch    : not available');
    else {
      console.log(`PyTorch    : ${pt.toFixed(0)} ms (2 threads, median of ${runs})`);
      console.log(`ratio      : ${(tfMs / pt).toFixed(2)}× PyTorch`);
    }
  }
  if (flag('--b64')) {
    const big = option('--big-batch', 64); // --big-batch only to try the code path on a small batch
    const xb = inputs(big);
    const ms = forwardBackward(xb);
    tf.dispose(Object.values(xb));
    const rssMiB = process.resourceUsage().maxRSS / 1024;
    console.log(
      `B = ${big} (N = ${big * GRID * GRID}): forward+backward ${(ms / 1000).toFixed(1)} s, peak RSS of the process ${rssMiB.toFixed(0)} MiB`,
    );
  } else {
    console.log(
      `peak RSS so far: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (add --b64 for the B = 64 run)`,
    );
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
