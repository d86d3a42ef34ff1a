/**
 * ViT-S/8 forward speed: onnx engine, tfjs engine (wasm backend, in-process and on worker threads), and
 * PyTorch (when /usr/bin/python3 has torch). Random weights with the official shapes.
 *
 * Each engine lives in its own long-running child process (so peak RSS is its own) that times one case per
 * command. The cases run in interleaved rounds (PyTorch, onnx, tfjs, ... on the same case, then the next
 * case), so every engine sees the same machine: on a shared virtual machine whose speed drifts by 2× over
 * minutes, timing the engines one after the other would compare different machines. The table gives the
 * median over rounds of each engine's ms / image and of its per-round ratios to PyTorch: with OpenBLAS's
 * AVX-512 kernels (tools/bench/torch-env.ts), and exactly as Debian installs it (generic SSE kernels here).
 *
 *   npm run bench -w @hpseg/backbone-vit                   (224 px batch 1 and 8, 320 px batch 1; 3 rounds)
 *   npm run bench -w @hpseg/backbone-vit -- --quick        (batch 1 only, 2 rounds)
 *   npm run bench -w @hpseg/backbone-vit -- --rounds 5
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { torchBenchEnv } from '../../../tools/bench/torch-env.js';

interface Case {
  size: number;
  batch: number;
}
interface Timing extends Case {
  msPerImage: number;
  peakRssMB: number;
}

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const roundsArg = argv.indexOf('--rounds');
const ROUNDS = roundsArg >= 0 ? Number(argv[roundsArg + 1]) : quick ? 2 : 3;
const CASES: Case[] = quick
  ? [
      { size: 224, batch: 1 },
      { size: 320, batch: 1 },
    ]
  : [
      { size: 224, batch: 1 },
      { size: 224, batch: 8 },
      { size: 320, batch: 1 },
    ];
const VITS8 = { embedDim: 384, depth: 12, numHeads: 6, patchSize: 8, trainedGrid: 28, mlpRatio: 4 };
const THREADS = availableParallelism();

type EngineName = 'onnx' | 'tfjs' | 'tfjs-workers';

/** Child mode: load one engine, then answer one JSON command line (a case) with one JSON timing line. */
async function child(engine: EngineName): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  const { selectBackend } = await import('@hpseg/core');
  const { loadBackbone, randomVitWeights } = await import('../src/index.js');
  await selectBackend(engine === 'onnx' ? 'cpu' : 'wasm');
  const backbone = await loadBackbone(randomVitWeights(VITS8, 0), {
    engine: engine === 'onnx' ? 'onnx' : 'tfjs',
    ...(engine === 'tfjs-workers' ? { workers: THREADS } : {}),
  });
  const warm = new Set<string>();
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === '') continue;
    const c = JSON.parse(line) as Case;
    const images = tf.randomNormal([c.batch, c.size, c.size, 3]) as import('@tensorflow/tfjs-core').Tensor4D;
    const run = async () => tf.dispose(Object.values(await backbone.forward(images)));
    const key = `${c.size}x${c.batch}`;
    if (!warm.has(key)) {
      await run(); // warm-up: session / kernels / positional embedding of this size
      warm.add(key);
    }
    const t0 = performance.now();
    await run();
    const msPerImage = (performance.now() - t0) / c.batch;
    images.dispose();
    const peakRssMB = process.resourceUsage().maxRSS / 1024;
    console.log(JSON.stringify({ ...c, msPerImage, peakRssMB } satisfies Timing));
  }
  await backbone.dispose();
}

const PYTORCH = `
import json, resource, sys, time, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(int(sys.argv[1]))
C, depth, heads, p = 384, 12, 6, 8
class Block(nn.Module):
    def __init__(s):
        super().__init__()
        s.norm1, s.norm2 = nn.LayerNorm(C, eps=1e-6), nn.LayerNorm(C, eps=1e-6)
        s.qkv, s.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        s.fc1, s.fc2 = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)
    def forward(s, x):
        B, T, _ = x.shape
        q, k, v = s.qkv(s.norm1(x)).reshape(B, T, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
        a = ((q @ k.transpose(-2, -1)) * (C // heads) ** -0.5).softmax(-1)
        x = x + s.proj((a @ v).transpose(1, 2).reshape(B, T, C))
        return x + s.fc2(F.gelu(s.fc1(s.norm2(x))))
class ViT(nn.Module):
    def __init__(s):
        super().__init__()
        s.patch = nn.Conv2d(3, C, p, p)
        s.cls = nn.Parameter(torch.zeros(1, 1, C)); s.pos = nn.Parameter(torch.zeros(1, 785, C))
        s.blocks = nn.ModuleList([Block() for _ in range(depth)]); s.norm = nn.LayerNorm(C, eps=1e-6)
    def forward(s, img):
        B, _, H, W = img.shape
        x = torch.cat((s.cls.expand(B, -1, -1), s.patch(img).flatten(2).transpose(1, 2)), 1)
        pos = s.pos
        if H != 224 or W != 224:
            g = 28
            pp = F.interpolate(s.pos[:, 1:].reshape(1, g, g, C).permute(0, 3, 1, 2),
                               scale_factor=((H // p + 0.1) / g, (W // p + 0.1) / g), mode="bicubic")
            pos = torch.cat((s.pos[:, :1], pp.permute(0, 2, 3, 1).reshape(1, -1, C)), 1)
        x = x + pos
        for b in s.blocks: x = b(x)
        return s.norm(x)
m = ViT().eval()
warm = set()
for line in sys.stdin:
    if not line.strip(): continue
    c = json.loads(line); size, batch = c["size"], c["batch"]
    x = torch.randn(batch, 3, size, size)
    with torch.no_grad():
        if (size, batch) not in warm:
            m(x); warm.add((size, batch))
        t0 = time.perf_counter()
        m(x)
        ms = (time.perf_counter() - t0) * 1000 / batch
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"size": size, "batch": batch, "msPerImage": ms, "peakRssMB": rss}), flush=True)
`;

/** A long-running child answering one JSON line per JSON command line. */
class Runner {
  private readonly lines: AsyncIterator<string>;
  constructor(
    readonly name: string,
    private readonly proc: ChildProcessWithoutNullStreams,
  ) {
    this.lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
    proc.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      if (!/npm warn|onnxruntime-node-install/.test(text)) process.stderr.write(`[${name}] ${text}`);
    });
  }
  async time(c: Case): Promise<Timing> {
    this.proc.stdin.write(`${JSON.stringify(c)}\n`);
    for (;;) {
      const next = await this.lines.next();
      if (next.done) throw new Error(`${this.name} exited before answering ${JSON.stringify(c)}`);
      if (next.value.startsWith('{')) return JSON.parse(next.value) as Timing;
    }
  }
  close(): void {
    this.proc.stdin.end();
  }
}

const PYTORCH_TUNED = 'pytorch';
const PYTORCH_DEFAULT = 'pytorch (Debian default)';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const runners: Runner[] = [];
  const torchProbe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (torchProbe.status === 0) {
    const torchEnv = torchBenchEnv();
    console.log(`PyTorch: ${torchEnv.note}`);
    const python = (env: NodeJS.ProcessEnv) =>
      spawn('/usr/bin/python3', ['-c', PYTORCH, String(Math.min(THREADS, 2))], { env });
    runners.push(new Runner(PYTORCH_TUNED, python(torchEnv.env)));
    // PyTorch exactly as Debian installs it (the reference setup), when that differs.
    if (torchEnv.env !== process.env) runners.push(new Runner(PYTORCH_DEFAULT, python(process.env)));
  } else {
    console.log('(no torch in /usr/bin/python3: PyTorch column skipped)');
  }
  const self = fileURLToPath(import.meta.url);
  for (const engine of ['onnx', 'tfjs', 'tfjs-workers'] as const) {
    const proc = spawn(process.execPath, [...process.execArgv, self, '--child', engine]);
    const label =
      engine === 'onnx' ? 'onnx' : engine === 'tfjs' ? 'tfjs (wasm)' : `tfjs (wasm, ${THREADS} workers)`;
    runners.push(new Runner(label, proc));
  }

  const timings = new Map<string, Timing[]>(); // `${engine}|${size}|${batch}` → one per round
  const ratios = new Map<string, number[]>(); // PyTorch (tuned) ms / engine ms, one per round
  const ratiosDefault = new Map<string, number[]>(); // PyTorch (Debian default) ms / engine ms
  const key = (engine: string, c: Case) => `${engine}|${c.size}|${c.batch}`;
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of CASES) {
      const msNow = new Map<string, number>();
      for (const runner of runners) {
        const t = await runner.time(c);
        const k = key(runner.name, c);
        timings.set(k, [...(timings.get(k) ?? []), t]);
        msNow.set(runner.name, t.msPerImage);
      }
      for (const [name, ms] of msNow) {
        const k = key(name, c);
        const tuned = msNow.get(PYTORCH_TUNED);
        const debian = msNow.get(PYTORCH_DEFAULT);
        if (tuned !== undefined) ratios.set(k, [...(ratios.get(k) ?? []), tuned / ms]);
        if (debian !== undefined) ratiosDefault.set(k, [...(ratiosDefault.get(k) ?? []), debian / ms]);
      }
      process.stderr.write(`round ${round + 1}/${ROUNDS} ${c.size}px batch ${c.batch} done\n`);
    }
  }
  for (const r of runners) r.close();

  console.log(
    `ViT-S/8 forward, random weights; ${cpus()[0]?.model ?? 'cpu'} x ${THREADS}; onnx threads = ${THREADS}; ${ROUNDS} interleaved rounds`,
  );
  console.log(
    '| engine | input | batch | ms / image (median) | ms / image (min–max) | PyTorch ms / engine ms | Debian-default PyTorch ms / engine ms | peak RSS (MB) |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const runner of runners) {
    for (const c of CASES) {
      const ts = timings.get(key(runner.name, c)) ?? [];
      if (ts.length === 0) continue;
      const ms = ts.map((t) => t.msPerImage);
      const ratio = (m: Map<string, number[]>) => {
        const rs = m.get(key(runner.name, c));
        return rs ? median(rs).toFixed(2) : 'n/a';
      };
      console.log(
        `| ${runner.name} | ${c.size}x${c.size} | ${c.batch} | ${median(ms).toFixed(0)} | ${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)} | ${ratio(ratios)} | ${ratio(ratiosDefault)} | ${Math.max(...ts.map((t) => t.peakRssMB)).toFixed(0)} |`,
      );
    }
  }
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) await child(process.argv[childIndex + 1] as EngineName);
else await main();
