/**
 * Benchmark of the HP loss, forward + backward (w.r.t. z and z̃): the TF.js engine (wasm), the fused
 * engine (on every core) and the same computation in PyTorch (`/usr/bin/python3`, 2 threads), side by
 * side in interleaved rounds (one run of each per round), medians over the rounds.
 *
 *   npm run bench -w @hpseg/hidden-positives              B = 8 images × 28×28 (N = 6272), D = 512
 *   npm run bench -w @hpseg/hidden-positives -- --b64     also the fused engine at B = 64 (N = 50,176):
 *                                                         time and peak RSS, in a fresh process
 *   options: --batch <B> --rounds <k> --rho <ρ> --threads <t> --no-torch --no-tfjs --no-onnx
 *
 * "fused engine + ONNX Runtime products" is the fused engine with ONNX Runtime's Gemm installed as the host
 * matrix product (`setHostMatMul`), as `@hpseg/train` runs it by default: criteria and positive pairs from it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type HostMatMul, l2Normalize, selectBackend, setHostMatMul } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { torchBenchEnv } from '../../../tools/bench/torch-env.js';
import { fusedLossProfiler as fusedLossProfilerNow, setFusedLossProfiler } from '../src/fused/engine.js';
import { type HiddenPositiveLossEngine, hiddenPositiveLoss, initFusedLoss } from '../src/index.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};

const GRID = 28;
const P = GRID * GRID;
const D = 512;
const C = 384;
const Q = 2048;
const TAU = 0.8;
const LAMBDA = 0.5;
const RHO = option('--rho', 0.02);
/** The 2-thread sgemm peak measured on our machines (OpenBLAS, AVX-512): the FLOP limit we compare against. */
const NOMINAL_PEAK = 430e9;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);

function inputs(batch: number) {
  const n = batch * P;
  return {
    z: l2Normalize(tf.randomNormal([n, D], 0, 1, 'float32', 1)) as tf.Tensor2D,
    zMix: l2Normalize(tf.randomNormal([n, D], 0, 1, 'float32', 2)) as tf.Tensor2D,
    featBackbone: tf.randomNormal([n, C], 0, 1, 'float32', 3) as tf.Tensor2D,
    codeMomentum: tf.randomNormal([n, D], 0, 1, 'float32', 4) as tf.Tensor2D,
    poolAgnostic: tf.randomNormal([Q, C], 0, 1, 'float32', 5) as tf.Tensor2D,
    poolSpecific: tf.randomNormal([Q, D], 0, 1, 'float32', 6) as tf.Tensor2D,
  };
}

function forwardBackward(x: ReturnType<typeof inputs>, engine: HiddenPositiveLossEngine): number {
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
      engine,
    }),
  )([x.z, x.zMix]);
  grads[0]!.dataSync();
  grads[1]!.dataSync();
  value.dataSync();
  const ms = performance.now() - t0;
  tf.dispose([value, ...grads]);
  return ms;
}

/** The PyTorch step as a long-lived process: one line "step" in, one time in ms out (same inputs as before). */
const torchScript = (batch: number) => `
import sys, time, torch, torch.nn.functional as F
torch.set_num_threads(2)
B, S, D, C, Q, tau, rho, lam = ${batch}, ${GRID}, ${D}, ${C}, ${Q}, ${TAU}, ${RHO}, ${LAMBDA}
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
def sgemm():
    a = torch.randn(2048, 2048); b = torch.randn(2048, 2048); a @ b
    t0 = time.perf_counter()
    for _ in range(5): a @ b
    return 5 * 2 * 2048 ** 3 / (time.perf_counter() - t0)
step()
print('ready', flush=True)
for line in sys.stdin:
    print(step() if line.strip() == 'step' else sgemm(), flush=True)
`;

interface Torch {
  ask(what: 'step' | 'sgemm'): Promise<number>;
  close(): void;
}

async function startTorch(batch: number): Promise<Torch | null> {
  if (flag('--no-torch') || !existsSync('/usr/bin/python3')) return null;
  const torchEnv = torchBenchEnv();
  console.log(`PyTorch: ${torchEnv.note}`);
  const child = spawn('/usr/bin/python3', ['-c', torchScript(batch)], {
    env: torchEnv.env,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const line = await lines.next();
    if (line.done) throw new Error('the PyTorch process ended');
    return line.value;
  };
  try {
    if ((await next()) !== 'ready') return null;
  } catch (error) {
    console.log(`PyTorch run failed: ${(error as Error).message}`);
    return null;
  }
  return {
    async ask(what) {
      child.stdin.write(`${what}\n`);
      return Number(await next());
    },
    close() {
      child.stdin.end();
    },
  };
}

function machine(): string {
  let model = os.cpus()[0]?.model ?? 'unknown CPU';
  try {
    const flags = readFileSync('/proc/cpuinfo', 'utf8');
    if (/\bavx512f\b/.test(flags)) model += ', AVX-512';
  } catch {
    // not Linux
  }
  const [l1] = os.loadavg();
  return `${model}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average ${l1!.toFixed(1)} at start`;
}

/**
 * Floating-point work, counted as 2 per multiply-add of the products each engine cannot avoid:
 * dense = the official algorithm (criteria, two [P, N] similarities, two [P, N] logits and four gradient
 * products per image, as PyTorch and the TF.js engine do); fused = criteria, each positive pair once,
 * and the three sampled products (logits, dL/dx_i, dL/dx_j) of both terms on the `entries` it computed.
 */
function flops(batch: number, entries: number): { dense: number; fused: number } {
  const n = batch * P;
  const criteria = 2 * n * Q * (C + D);
  return {
    dense: criteria + 2 * P * n * batch * (C + D) + 2 * P * n * batch * D * 2 * 3,
    fused: criteria + n * (n - 1) * (C + D) + 2 * 3 * 2 * entries * D,
  };
}

async function b64Child(): Promise<void> {
  // A fresh process so that its peak RSS is the B = 64 loss alone.
  const script = fileURLToPath(import.meta.url);
  const threads = option('--threads', os.availableParallelism());
  for (const extra of flag('--no-onnx') ? [[]] : [[], ['--onnx-products']]) {
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=@hpseg/source',
        script,
        '--only-b64',
        '--threads',
        String(threads),
        ...extra,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 60 * 60_000 },
    );
    process.stdout.write(run.stdout ?? '');
    if (run.status !== 0) console.log(`B = 64 run failed (status ${run.status})`);
  }
}

async function onlyB64(): Promise<void> {
  await selectBackend('wasm');
  await initFusedLoss({ threads: option('--threads', os.availableParallelism()) });
  const big = option('--big-batch', 64);
  const onnx = flag('--onnx-products')
    ? await (await import('../../backbone-vit/src/index.js')).createOnnxMatMul({
        threads: option('--threads', os.availableParallelism()),
      })
    : null;
  setHostMatMul(onnx ?? undefined);
  const x = inputs(big);
  const ms = forwardBackward(x, 'fused');
  tf.dispose(Object.values(x));
  setHostMatMul(undefined);
  onnx?.dispose();
  const rss = process.resourceUsage().maxRSS / 1024;
  console.log(
    `B = ${big} (N = ${big * P}), fused engine${onnx ? ' + ONNX Runtime products' : ''}: forward+backward ${fmt(ms)}, peak RSS of the process ${rss.toFixed(0)} MiB`,
  );
}

async function main(): Promise<void> {
  if (flag('--only-b64')) return onlyB64();
  await selectBackend('wasm');
  const batch = option('--batch', 8);
  const rounds = option('--rounds', 3);
  const threads = option('--threads', os.availableParallelism());
  await initFusedLoss({ threads });
  const n = batch * P;
  console.log(`machine: ${machine()}`);
  console.log(
    `HP loss forward+backward: B = ${batch}, grid ${GRID}×${GRID} (N = ${n}), D = ${D}, C = ${C}, Q = ${Q}, ρ = ${RHO}, λ = ${LAMBDA}`,
  );
  const x = inputs(batch);
  const torch = await startTorch(batch);
  const engines: { name: string; run: () => Promise<number> | number }[] = [];
  if (!flag('--no-tfjs'))
    engines.push({ name: 'TF.js engine (wasm, 1 thread)', run: () => forwardBackward(x, 'tfjs') });
  engines.push({ name: `fused engine (${threads} threads)`, run: () => forwardBackward(x, 'fused') });
  // Benchmark only: @hpseg/backbone-vit is not a dependency of this package.
  const onnx = flag('--no-onnx')
    ? null
    : await (await import('../../backbone-vit/src/index.js')).createOnnxMatMul({ threads });
  const withProduct = (product: HostMatMul, fn: () => number): number => {
    const profiler = fusedLossProfilerNow();
    setFusedLossProfiler(undefined); // the phases printed below are those of the plain fused engine
    setHostMatMul(product);
    try {
      return fn();
    } finally {
      setHostMatMul(undefined);
      setFusedLossProfiler(profiler);
    }
  };
  if (onnx !== null)
    engines.push({
      name: `fused + ONNX Runtime products`,
      run: () => withProduct(onnx, () => forwardBackward(x, 'fused')),
    });
  if (torch !== null) engines.push({ name: 'PyTorch 1.13 (2 threads)', run: () => torch.ask('step') });

  // warm-up (JIT, wasm tier-up, pool memory) with the fused engine's phase times and entries
  const phases = new Map<string, number[]>();
  let entries = 0;
  setFusedLossProfiler({
    phase: (name, ms) => phases.set(name, [...(phases.get(name) ?? []), ms]),
    entries: (tile, extra) => {
      entries = tile + extra;
    },
  });
  forwardBackward(x, 'fused');
  if (onnx !== null) withProduct(onnx, () => forwardBackward(x, 'fused'));
  phases.clear();
  const times = engines.map(() => [] as number[]);
  for (let r = 0; r < rounds; r += 1) {
    for (const [k, e] of engines.entries()) times[k]!.push(await e.run());
  }
  setFusedLossProfiler(undefined);
  const sgemm = torch === null ? null : await torch.ask('sgemm');
  torch?.close();
  tf.dispose(Object.values(x));

  console.log(`interleaved rounds: ${rounds}, load average ${os.loadavg()[0]!.toFixed(1)} at the end`);
  const med = times.map(median);
  const torchMs = torch === null ? null : med[engines.length - 1]!;
  for (const [k, e] of engines.entries()) {
    const ratio = torchMs === null ? '' : `  ${(med[k]! / torchMs).toFixed(2)}× PyTorch's time`;
    console.log(
      `  ${e.name.padEnd(31)} ${fmt(med[k]!).padStart(8)}  (${times[k]!.map(fmt).join(', ')})${ratio}`,
    );
  }
  const fusedMs = med[engines.findIndex((e) => e.name.startsWith('fused engine'))]!;
  const onnxIndex = engines.findIndex((e) => e.name.startsWith('fused + ONNX'));
  if (torchMs !== null) {
    console.log(`  fused engine speed-up over PyTorch: ${(torchMs / fusedMs).toFixed(2)}×`);
    if (onnxIndex >= 0)
      console.log(
        `  fused + ONNX Runtime products speed-up over PyTorch: ${(torchMs / med[onnxIndex]!).toFixed(2)}× (the training default)`,
      );
  }
  onnx?.dispose();
  const work = flops(batch, entries);
  const rate = work.fused / (fusedMs / 1000);
  console.log(
    `  work: fused ${(work.fused / 1e9).toFixed(1)} GFLOP (criteria + each positive pair once + ${(entries / 1e6).toFixed(2)} M sampled entries × 3 products × 2 terms), dense ${(work.dense / 1e9).toFixed(1)} GFLOP (the official algorithm)`,
  );
  console.log(
    `  fused engine: ${(rate / 1e9).toFixed(1)} GFLOP/s = ${((100 * rate) / NOMINAL_PEAK).toFixed(1)} % of the 430 GFLOP/s 2-thread sgemm peak` +
      (sgemm === null
        ? ''
        : ` (${((100 * rate) / sgemm).toFixed(1)} % of PyTorch's sgemm now: ${(sgemm / 1e9).toFixed(0)} GFLOP/s)`),
  );
  if (torchMs !== null) {
    const torchRate = work.dense / (torchMs / 1000);
    console.log(
      `  PyTorch: ${(torchRate / 1e9).toFixed(1)} GFLOP/s of dense work = ${((100 * torchRate) / NOMINAL_PEAK).toFixed(1)} % of the peak`,
    );
  }
  console.log('  fused engine phases (median ms):');
  for (const [name, ms] of phases) console.log(`    ${name.padEnd(28)} ${median(ms).toFixed(1)}`);
  if (flag('--b64')) await b64Child();
  else
    console.log(
      `peak RSS so far: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (add --b64 for the B = 64 run)`,
    );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
