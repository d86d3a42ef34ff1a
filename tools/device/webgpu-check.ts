/**
 * The WebGPU device check (run by tools/device/webgpu-check.sh, which documents the options):
 * 1. the machine and its GPU libraries, 2. the WebGPU adapter, 3. the webgpu golden tests,
 * 4. timings of the same work on webgpu, TF.js wasm and ONNX Runtime CPU.
 * Every stage runs even when an earlier one failed (except without an adapter); the exit code is
 * non-zero when any stage failed, and the summary lists which. It runs from the device bundle
 * (tools/device/build-bundle.mjs: plain Node, no node_modules; the golden tests are the bundled test
 * files) or from source through tsx (the golden tests through vitest); tools/device/README.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Backbone, loadBackbone, randomVitWeights } from '@hpseg/backbone-vit';
import {
  describeBackend,
  formatBackend,
  gpuLibraryReport,
  l2Normalize,
  selectBackend,
  type WebGpuAdapterDescription,
  webgpuAdapterAttempts,
} from '@hpseg/core';
import { hiddenPositiveLoss, initFusedLoss } from '@hpseg/hidden-positives';
import { ensureGradients } from '@hpseg/seg-head';
import {
  createHpModels,
  createHpOptimizers,
  disposeHpModels,
  disposeHpOptimizers,
  disposeStepDraws,
  drawStepRandomness,
  trainStep,
} from '@hpseg/train';
import * as tf from '@tensorflow/tfjs-core';

const HERE = fileURLToPath(new URL('.', import.meta.url));

/** The device bundle's manifest.json (tools/device/build-bundle.mjs) when this file runs from the bundle. */
interface BundleManifest {
  readonly kind: 'hpseg-device-bundle';
  readonly repoRoot: string;
  readonly commit: string | null;
  readonly builtAt: string;
  readonly golden: readonly { readonly file: string; readonly bundle: string }[];
}
const BUNDLE: BundleManifest | null = (() => {
  const path = join(HERE, 'manifest.json');
  if (!existsSync(path)) return null;
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as BundleManifest;
  return manifest.kind === 'hpseg-device-bundle' ? manifest : null;
})();
const ROOT = BUNDLE ? resolve(HERE, BUNDLE.repoRoot) : join(HERE, '..', '..');
const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
/** Timed runs per case after one warm-up (median reported). */
const RUNS = Math.max(1, Math.floor(option('--runs', 3)) || 1);
/**
 * Also the TF.js-op engine of the HP loss on wasm (2,025 s at B = 64 on a 2-vCPU machine:
 * packages/hidden-positives/README.md); by default the wasm rows use the fused engine on every core.
 */
const FULL = argv.includes('--full');
const SKIP_TESTS = argv.includes('--no-tests');

/** ViT-S/8 (DINO `dino_deitsmall8_300ep_pretrain` shapes), random weights. */
const VITS8 = { embedDim: 384, depth: 12, numHeads: 6, patchSize: 8, trainedGrid: 28, mlpRatio: 4 };
/** The HP loss at official widths (hidden-positives bench): 28×28 patches, D, C, Q, τ, ρ, λ. */
const HP = { grid: 28, D: 512, C: 384, Q: 2048, tau: 0.8, rho: 0.02, lambda: 0.5 };

const failures: string[] = [];
const rows: { work: string; engine: string; result: string }[] = [];

function section(title: string): void {
  console.log(`\n=== ${title} ===`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function errorText(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0]!;
}

/** On wasm, the size of TF.js's WebAssembly heap (wasm32 stops at 4 GiB: "memory access out of bounds"). */
function wasmHeapNote(): string {
  if (tf.getBackend() !== 'wasm') return '';
  const heap = (tf.backend() as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.length;
  return heap === undefined ? '' : ` (TF.js wasm heap ${(heap / 2 ** 30).toFixed(2)} GiB of at most 4)`;
}

async function timed(runs: number, once: () => Promise<void>): Promise<{ ms: number; all: number[] }> {
  await once(); // warm-up: shader / kernel compilation, ONNX Runtime session, positional embedding
  const all: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const t0 = performance.now();
    await once();
    all.push(performance.now() - t0);
  }
  return { ms: median(all), all };
}

function record(work: string, engine: string, result: string): void {
  rows.push({ work, engine, result });
  console.log(`${work} | ${engine} | ${result}`);
}

async function stage(work: string, engine: string, fn: () => Promise<string>): Promise<void> {
  try {
    record(work, engine, await fn());
  } catch (error) {
    const text = `${errorText(error)}${wasmHeapNote()}`;
    failures.push(`${work} on ${engine}: ${text}`);
    record(work, engine, `FAILED: ${text}`);
  }
}

function machine(): void {
  section('1. machine');
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `node ${process.version}, ${process.platform}-${process.arch}, ${availableParallelism()} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
  );
  const smi = spawnSync(
    'nvidia-smi',
    ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'],
    {
      encoding: 'utf8',
    },
  );
  console.log(smi.status === 0 ? `nvidia-smi: ${smi.stdout.trim()}` : 'nvidia-smi: not available');
  const libs = gpuLibraryReport();
  if (libs.platform === 'linux') {
    console.log(`libvulkan.so.1: ${libs.vulkanLoader ?? 'MISSING'}`);
    console.log(
      `Vulkan ICDs: ${libs.vulkanIcds.map((i) => `${i.manifest} → ${i.library ?? '?'}`).join(', ') || 'NONE'}`,
    );
    console.log(`libEGL.so: ${libs.egl ?? 'MISSING'}; libEGL.so.1: ${libs.eglRuntime ?? 'MISSING'}`);
    console.log(
      `EGL vendors: ${libs.eglVendors.join(', ') || 'none'}; Mesa EGL: ${libs.eglMesa ?? 'MISSING'}`,
    );
    console.log(`NVIDIA device nodes: ${libs.nvidiaDevices.join(' ') || 'none'}`);
    for (const line of libs.missing) console.log(`MISSING: ${line}`);
  }
}

async function adapter(): Promise<WebGpuAdapterDescription | null> {
  section('2. WebGPU adapter');
  try {
    await selectBackend('webgpu');
  } catch (error) {
    console.log(`no adapter: ${(error as Error).message}`);
    failures.push(`adapter: ${errorText(error)}`);
    return null;
  }
  for (const a of webgpuAdapterAttempts()) console.log(`tried ${a.source} (${a.request}): ${a.result}`);
  const d = describeBackend();
  console.log(`using: ${formatBackend(d)}`);
  console.log(`limits: ${JSON.stringify(d.webgpu!.limits)}`);
  if (d.webgpu!.software) {
    console.log(
      'NOTE: this is a SOFTWARE adapter (a CPU running the GPU code): results are checked, but its timings below mean nothing for a GPU.',
    );
  }
  await selectBackend('cpu');
  return d.webgpu;
}

/** Lines of the golden tests' output worth keeping in the log (vitest's or the bundle runner's). */
const GOLDEN_LINE =
  /(webgpu \w+ [\dx]+: |golden tests on: |Test Files|Tests {2}| FAIL |AssertionError|HpError|^\s*[×✓↓] |^\s{6}|^packages\/)/;

function goldenTests(): void {
  section('3. webgpu golden tests');
  if (SKIP_TESTS) {
    console.log('skipped (--no-tests)');
    return;
  }
  const env = { ...process.env, HPSEG_REQUIRE_WEBGPU: '1' }; // no adapter = failure here, not a skip
  if (BUNDLE !== null) {
    // The bundled test files, each in its own process (as vitest isolates files), run by
    // tools/device/golden-runner.ts: the same files, fixtures and tolerances as `npm test`.
    console.log(
      `the test files as bundled at ${BUNDLE.builtAt} from ${BUNDLE.commit ?? 'an unknown commit'}`,
    );
    let failedFiles = 0;
    for (const g of BUNDLE.golden) {
      const run = spawnSync(process.execPath, [join(HERE, g.bundle)], {
        cwd: ROOT,
        encoding: 'utf8',
        env,
        maxBuffer: 64 * 2 ** 20,
      });
      const out = `${run.stdout}${run.stderr}`;
      for (const line of out.split('\n')) if (GOLDEN_LINE.test(line)) console.log(line.trimEnd());
      if (run.status !== 0) {
        failedFiles += 1;
        if (!/^Tests {2}/m.test(run.stdout)) {
          // The file failed before its tests ran (import, adapter): show the end of what it printed.
          console.log(`${g.file}: exited with ${run.status ?? run.signal} before reporting:`);
          for (const line of out.trimEnd().split('\n').slice(-15)) console.log(`    ${line}`);
        }
      }
    }
    const n = BUNDLE.golden.length;
    console.log(
      `Test Files  ${failedFiles > 0 ? `${failedFiles} failed | ` : ''}${n - failedFiles} passed (${n})`,
    );
    if (failedFiles > 0) failures.push(`golden tests: ${failedFiles} of ${n} test files failed`);
    return;
  }
  const files = ['core', 'backbone-vit', 'seg-head', 'hidden-positives'].map(
    (p) => `packages/${p}/test/webgpu.test.ts`,
  );
  const vitest = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...files],
    { cwd: ROOT, encoding: 'utf8', env, maxBuffer: 64 * 2 ** 20 },
  );
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strip ANSI colours from vitest's output
  const out = `${vitest.stdout}${vitest.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
  for (const line of out.split('\n')) {
    if (
      /(webgpu \w+ [\dx]+: |golden tests on: |Test Files|Tests {2}| FAIL |AssertionError|HpError)/.test(line)
    ) {
      console.log(line.trim());
    }
  }
  if (vitest.status !== 0) failures.push(`golden tests: vitest exited with ${vitest.status}`);
}

async function vitForward(): Promise<void> {
  const work = 'ViT-S/8 forward, 224 px, batch 1 (random weights)';
  const weights = randomVitWeights(VITS8, 0);
  const engines: { engine: string; backend: string; options: Parameters<typeof loadBackbone>[1] }[] = [
    { engine: 'webgpu (tfjs engine)', backend: 'webgpu', options: { engine: 'tfjs' } },
    { engine: 'wasm (tfjs engine, 1 thread)', backend: 'wasm', options: { engine: 'tfjs' } },
    {
      engine: `ONNX Runtime CPU (${availableParallelism()} threads)`,
      backend: 'cpu',
      options: { engine: 'onnx' },
    },
  ];
  for (const e of engines) {
    await stage(work, e.engine, async () => {
      await selectBackend(e.backend);
      let backbone: Backbone | null = null;
      const images = tf.randomNormal([1, 224, 224, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
      try {
        backbone = await loadBackbone(weights, e.options);
        const b = backbone;
        const { ms, all } = await timed(RUNS, async () => {
          const out = await b.forward(images);
          await out.patchTokens.data(); // until the result is on the host (GPU work is asynchronous)
          tf.dispose(Object.values(out));
        });
        return `${ms.toFixed(0)} ms (runs ${all.map((x) => x.toFixed(0)).join(', ')})`;
      } finally {
        images.dispose();
        await backbone?.dispose();
      }
    });
  }
}

function hpInputs(batch: number) {
  const n = batch * HP.grid * HP.grid;
  return tf.tidy(() => ({
    z: l2Normalize(tf.randomNormal([n, HP.D], 0, 1, 'float32', 1)) as tf.Tensor2D,
    zMix: l2Normalize(tf.randomNormal([n, HP.D], 0, 1, 'float32', 2)) as tf.Tensor2D,
    featBackbone: tf.randomNormal([n, HP.C], 0, 1, 'float32', 3) as tf.Tensor2D,
    codeMomentum: tf.randomNormal([n, HP.D], 0, 1, 'float32', 4) as tf.Tensor2D,
    poolAgnostic: tf.randomNormal([HP.Q, HP.C], 0, 1, 'float32', 5) as tf.Tensor2D,
    poolSpecific: tf.randomNormal([HP.Q, HP.D], 0, 1, 'float32', 6) as tf.Tensor2D,
  }));
}

async function hpLossOnce(x: ReturnType<typeof hpInputs>, engine: 'tfjs' | 'fused'): Promise<void> {
  const { value, grads } = tf.valueAndGrads((z: tf.Tensor, zMix: tf.Tensor) =>
    hiddenPositiveLoss({
      ...x,
      z: z as tf.Tensor2D,
      zMix: zMix as tf.Tensor2D,
      lambda: HP.lambda,
      temperature: HP.tau,
      negativeKeepRatio: HP.rho,
      gridSize: HP.grid,
      seed: 0,
      engine,
    }),
  )([x.z, x.zMix]);
  try {
    await Promise.all([value.data(), grads[0]!.data(), grads[1]!.data()]);
  } finally {
    tf.dispose([value, ...grads]);
  }
}

async function hpLoss(gpu: WebGpuAdapterDescription): Promise<void> {
  for (const batch of [8, 64]) {
    const n = batch * HP.grid * HP.grid;
    const work = `HP loss forward + backward, B = ${batch} (N = ${n.toLocaleString('en')}, D ${HP.D}, C ${HP.C}, Q ${HP.Q}, ρ ${HP.rho})`;
    const blockBytes = HP.grid * HP.grid * n * 4; // one [P, N] float32 block
    const runs = batch === 64 ? 1 : RUNS;
    const engines = [
      { engine: 'webgpu', backend: 'webgpu', loss: 'tfjs' as const },
      { engine: 'wasm, fused engine (every core)', backend: 'wasm', loss: 'fused' as const },
      { engine: 'wasm, TF.js-op engine (1 thread)', backend: 'wasm', loss: 'tfjs' as const },
    ];
    for (const e of engines) {
      if (e.backend === 'webgpu' && blockBytes > gpu.limits.maxStorageBufferBindingSize) {
        record(
          work,
          e.engine,
          `not run: a [P, N] block is ${(blockBytes / 2 ** 20).toFixed(0)} MiB, over this adapter's maxStorageBufferBindingSize of ${(gpu.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB`,
        );
        continue;
      }
      if (e.backend === 'wasm' && e.loss === 'tfjs' && (batch === 64 || !FULL)) {
        record(
          work,
          e.engine,
          batch === 64
            ? 'not run: 2,025 s measured on a 2-vCPU machine (packages/hidden-positives/README.md)'
            : 'not run (--full runs it)',
        );
        continue;
      }
      await stage(work, e.engine, async () => {
        await selectBackend(e.backend);
        if (e.loss === 'fused') await initFusedLoss();
        const x = hpInputs(batch);
        try {
          const { ms, all } = await timed(runs, () => hpLossOnce(x, e.loss));
          return `${(ms / 1000).toFixed(2)} s (runs ${all.map((v) => (v / 1000).toFixed(2)).join(', ')}; warm-up excluded)`;
        } finally {
          tf.dispose(Object.values(x));
        }
      });
    }
    record(work, 'ONNX Runtime CPU', 'n/a: hpseg has no ONNX graph of the HP loss');
  }
}

/** The inputs of one official training step at B = 64 (features as from a cache), on the active backend. */
function stepInputs(batch: number) {
  const n = batch * HP.grid * HP.grid;
  return tf.tidy(() => {
    const r = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
    return {
      feat: r([batch, HP.grid, HP.grid, HP.C], 11) as tf.Tensor4D,
      featAug: r([batch, HP.grid, HP.grid, HP.C], 12) as tf.Tensor4D,
      lhpWeights: tf.div(tf.abs(r([batch, HP.grid * HP.grid, 9], 13)), 9) as tf.Tensor3D,
      labels: tf.cast(
        tf.floor(tf.mul(tf.randomUniform([batch, 224, 224], 0, 1, 'float32', 14), 28)),
        'int32',
      ) as tf.Tensor3D,
      poolAgnostic: l2Normalize(r([HP.Q, HP.C], 15)) as tf.Tensor2D,
      poolSpecific: l2Normalize(r([HP.Q, HP.D], 16)) as tf.Tensor2D,
      lambda: HP.lambda,
      n,
    };
  });
}

/** One official training step (features precomputed) on the active backend; returns the timing line. */
async function timeStep(batch: number, backend: string): Promise<string> {
  await selectBackend(backend);
  await ensureGradients();
  if (backend === 'wasm') await initFusedLoss();
  const { n: _n, ...inputs } = stepInputs(batch);
  const models = createHpModels({ inChannels: HP.C, dim: HP.D, nClasses: 27, dropoutRate: 0.1 }, 0);
  const optimizers = createHpOptimizers(models, { net: 5e-4, weightDecay: 0.1, linear: 1e-3, cluster: 5e-3 });
  const config = {
    dropoutRate: 0.1,
    momentum: 0.99,
    temperature: HP.tau,
    negativeKeepRatio: HP.rho,
    consistencyWeight: 0.05,
    gradNorm: 10,
  };
  let t = 0;
  try {
    const { ms, all } = await timed(1, async () => {
      const draws = drawStepRandomness(0, t++, { batch, inChannels: HP.C, dim: HP.D }, config);
      try {
        await trainStep(models, optimizers, inputs, config, draws); // ends with its one host read
      } finally {
        disposeStepDraws(draws);
      }
    });
    return `${(ms / 1000).toFixed(2)} s (runs ${all.map((v) => (v / 1000).toFixed(2)).join(', ')}; warm-up excluded)`;
  } finally {
    tf.dispose([
      inputs.feat,
      inputs.featAug,
      inputs.lhpWeights,
      inputs.labels,
      inputs.poolAgnostic,
      inputs.poolSpecific,
    ]);
    disposeHpOptimizers(optimizers);
    disposeHpModels(models);
  }
}

async function trainingStep(gpu: WebGpuAdapterDescription): Promise<void> {
  const work = (batch: number) => {
    const n = batch * HP.grid * HP.grid;
    return `training step, B = ${batch} (N = ${n.toLocaleString('en')}), official widths (C ${HP.C}, D ${HP.D}, K 27, Q ${HP.Q}, ρ ${HP.rho}); main and augmented features precomputed`;
  };
  const blockBytes = HP.grid * HP.grid * 64 * HP.grid * HP.grid * 4;
  if (blockBytes > gpu.limits.maxStorageBufferBindingSize) {
    record(
      work(64),
      'webgpu',
      `not run: a [P, N] block is ${(blockBytes / 2 ** 20).toFixed(0)} MiB, over maxStorageBufferBindingSize ${(gpu.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB`,
    );
  } else await stage(work(64), 'webgpu', () => timeStep(64, 'webgpu'));
  // TF.js wasm is wasm32: its heap stops at 4 GiB, and the tape of a B = 64 step at the official widths
  // (activations of N = 50,176 tokens, the linear probe's [64, 224, 224, 27] logits) does not fit.
  record(
    work(64),
    'wasm, fused HP loss (every core)',
    'not run: the step needs more than the 4 GiB heap of TF.js wasm (wasm32); the B = 8 row below is the CPU comparison',
  );
  await stage(work(8), 'webgpu', () => timeStep(8, 'webgpu'));
  await stage(work(8), 'wasm, fused HP loss (every core)', () => timeStep(8, 'wasm'));
  record(
    work(64),
    'ONNX Runtime CPU',
    'n/a: the step runs on TF.js; ONNX Runtime runs the backbone (timed above)',
  );
}

async function main(): Promise<void> {
  const started = performance.now();
  machine();
  const gpu = await adapter();
  if (gpu === null) {
    console.log(
      '\nNo WebGPU adapter: nothing more to check. The MISSING lines above say what this machine lacks.',
    );
    process.exitCode = 2;
    return;
  }
  goldenTests();
  section(
    `4. timings (median of ${RUNS} after one warm-up${gpu.software ? '; SOFTWARE adapter: the webgpu numbers mean nothing for a GPU' : ''})`,
  );
  await vitForward();
  await hpLoss(gpu);
  await trainingStep(gpu);

  section('summary');
  console.log(
    `adapter: ${gpu.device || gpu.description}${gpu.software ? ' (SOFTWARE: timings mean nothing)' : ''}`,
  );
  const width = Math.max(...rows.map((r) => r.work.length));
  for (const r of rows) console.log(`${r.work.padEnd(width)} | ${r.engine} | ${r.result}`);
  console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (failures.length > 0) {
    console.log(`\n${failures.length} stage(s) FAILED:`);
    for (const f of failures) console.log(`- ${f}`);
    process.exitCode = 1;
  }
}

await main();
