/**
 * ViT-S/8 forward speed: onnx engine, tfjs engine (wasm backend), PyTorch (when /usr/bin/python3 has torch).
 * Random weights with the official shapes. Each engine runs in its own child process so peak RSS is its own.
 *
 *   npm run bench -w @hpseg/backbone-vit            (full: 224 px batch 1 and 8, 320 px batch 1)
 *   npm run bench -w @hpseg/backbone-vit -- --quick  (batch 1 only)
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { torchBenchEnv } from '../../../tools/bench/torch-env.js';

interface Case {
  size: number;
  batch: number;
}
interface Row extends Case {
  engine: string;
  msPerImage: number;
  peakRssMB: number;
}

const quick = process.argv.includes('--quick');
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

/** Child mode: time one engine on every case and print one JSON line per case. */
async function child(engine: 'onnx' | 'tfjs'): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  const { selectBackend } = await import('@hpseg/core');
  const { loadBackbone, randomVitWeights } = await import('../src/index.js');
  await selectBackend(engine === 'tfjs' ? 'wasm' : 'cpu');
  const backbone = await loadBackbone(randomVitWeights(VITS8, 0), { engine });
  for (const c of CASES) {
    const images = tf.randomNormal([c.batch, c.size, c.size, 3]) as import('@tensorflow/tfjs-core').Tensor4D;
    const run = async () => tf.dispose(Object.values(await backbone.forward(images)));
    await run(); // warm-up (session / kernels / positional embedding)
    const reps = engine === 'tfjs' && c.batch > 1 ? 1 : 3;
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) await run();
    const msPerImage = (performance.now() - t0) / reps / c.batch;
    images.dispose();
    const peakRssMB = process.resourceUsage().maxRSS / 1024;
    console.log(
      JSON.stringify({ engine: engine === 'tfjs' ? 'tfjs (wasm)' : 'onnx', ...c, msPerImage, peakRssMB }),
    );
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
for size, batch in json.loads(sys.argv[2]):
    x = torch.randn(batch, 3, size, size)
    with torch.no_grad():
        m(x)
        reps = 3 if batch == 1 else 1
        t0 = time.perf_counter()
        for _ in range(reps): m(x)
        ms = (time.perf_counter() - t0) * 1000 / reps / batch
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"engine": "pytorch", "size": size, "batch": batch, "msPerImage": ms, "peakRssMB": rss}), flush=True)
`;

function parseRows(stdout: string): Row[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Row);
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const torchProbe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (torchProbe.status === 0) {
    const torchEnv = torchBenchEnv();
    console.log(`PyTorch: ${torchEnv.note}`);
    const r = spawnSync(
      '/usr/bin/python3',
      ['-c', PYTORCH, String(Math.min(THREADS, 2)), JSON.stringify(CASES.map((c) => [c.size, c.batch]))],
      { encoding: 'utf8', maxBuffer: 1 << 24, env: torchEnv.env },
    );
    if (r.status !== 0) console.error(`PyTorch run failed: ${r.stderr}`);
    rows.push(...parseRows(r.stdout));
  } else {
    console.log('(no torch in /usr/bin/python3: PyTorch column skipped)');
  }
  const self = fileURLToPath(import.meta.url);
  for (const engine of ['onnx', 'tfjs']) {
    const r = spawnSync(
      process.execPath,
      [...process.execArgv, self, '--child', engine, ...(quick ? ['--quick'] : [])],
      {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      },
    );
    if (r.status !== 0) console.error(`${engine} run failed: ${r.stderr}`);
    rows.push(...parseRows(r.stdout));
  }
  console.log(
    `ViT-S/8 forward, random weights; ${cpus()[0]?.model ?? 'cpu'} x ${THREADS}; onnx threads = ${THREADS}`,
  );
  console.log('| engine | input | batch | ms / image | PyTorch ms / engine ms | peak RSS (MB) |');
  console.log('|---|---|---|---|---|---|');
  for (const row of rows) {
    const ref = rows.find((r) => r.engine === 'pytorch' && r.size === row.size && r.batch === row.batch);
    const ratio = ref ? (ref.msPerImage / row.msPerImage).toFixed(2) : 'n/a';
    console.log(
      `| ${row.engine} | ${row.size}x${row.size} | ${row.batch} | ${row.msPerImage.toFixed(0)} | ${ratio} | ${row.peakRssMB.toFixed(0)} |`,
    );
  }
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) await child(process.argv[childIndex + 1] as 'onnx' | 'tfjs');
else await main();
