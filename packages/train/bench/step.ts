/**
 * One full official HP training step at B = 8 and the official widths (ViT-S/8 at 224 px: 28×28 grid,
 * P = 784, N = 6272, C = 384, D = 512, K = 27, Q = 2048, τ = 0.8, ρ = 0.02, α = 0.05, λ = 0.5), ours against
 * a PyTorch run of the same step on the same machine (tools/bench/torch_train_step.py, 2 threads).
 *
 * Timed per step (issue 12): the augmented view's backbone forward (8 images, ONNX Runtime, the CLI
 * default), then `trainStep`: head with Dropout2d masks, LHP mix, projection, HP + consistency loss, the
 * probes, one backward, clipping, the momentum update and the four optimiser steps (plus drawing the
 * step's Dropout2d masks). The main view's tokens and LHP weights come from a cache, computed once.
 * Rounds are interleaved (ours, PyTorch, ours, …); warm-up steps are excluded.
 *
 *   npm run bench -w @hpseg/train                     3 rounds
 *   npm run bench -w @hpseg/train -- --rounds 5
 *   npm run bench -w @hpseg/train -- --profile        also where our step's time goes (by part and by kernel)
 *   npm run bench -w @hpseg/train -- --no-torch       ours only
 *   npm run bench -w @hpseg/train -- --loss-engine tfjs   the HP loss on its TF.js-op path (default auto: fused)
 *   npm run bench -w @hpseg/train -- --matmul-engine tfjs the heads' products on tf.matMul (default auto: onnx)
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend, setHostMatMul } from '@hpseg/core';
import { type HiddenPositiveLossEngine, initFusedLoss, resolveLossEngine } from '@hpseg/hidden-positives';
import { ensureGradients } from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';
import {
  disposeStepDraws,
  drawStepRandomness,
  MATMUL_ENGINES,
  type MatMulEngine,
  openMatMulEngine,
  patchTokens,
  type StepDraws,
  type StepInputs,
  type StepResult,
  trainStep,
} from '../src/index.js';
import { Bundle } from './bundle.js';
import { type BenchSetup, createBenchSetup, VITS8 } from './setup.js';
import { type TorchCheck, TorchChild, type TorchStep } from './torch-child.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const ROUNDS = option('--rounds', 3);
const BATCH = option('--batch', 8);
const PROFILE = argv.includes('--profile');
const PYTHON = '/usr/bin/python3';
const TORCH = !argv.includes('--no-torch') && existsSync(PYTHON);
const TARGET = 1.5;
const SEED = 0;

interface OurStep {
  ms: { draws: number; backbone: number; gradients: number; update: number; total: number };
  result: StepResult;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f0 = (x: number) => x.toFixed(0);
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

/** `--loss-engine auto|fused|tfjs` (default auto: the fused engine on wasm, on every core). */
const LOSS_ENGINE = ((): HiddenPositiveLossEngine => {
  const i = argv.indexOf('--loss-engine');
  const v = i >= 0 ? argv[i + 1] : 'auto';
  if (v !== 'auto' && v !== 'fused' && v !== 'tfjs')
    throw new Error(`--loss-engine: expected auto, fused or tfjs, got ${v}`);
  return v;
})();

/** `--matmul-engine auto|onnx|tfjs` (default auto: ONNX Runtime's Gemm on wasm when installed). */
const MATMUL_ENGINE = ((): MatMulEngine => {
  const i = argv.indexOf('--matmul-engine');
  const v = (i >= 0 ? argv[i + 1] : 'auto') as MatMulEngine;
  if (!MATMUL_ENGINES.includes(v)) throw new Error(`--matmul-engine: expected auto, onnx or tfjs, got ${v}`);
  return v;
})();

/** Starts the fused engine's workers when the step will use it (as `createTrainer` does). */
async function lossEngine(): Promise<string> {
  const engine = resolveLossEngine(LOSS_ENGINE);
  if (engine === 'fused') {
    const { threads } = await initFusedLoss();
    return `fused (${threads} threads)${LOSS_ENGINE === 'auto' ? ', the default' : ''}`;
  }
  return `tfjs${LOSS_ENGINE === 'auto' ? ', the default on this backend' : ''}`;
}

function machine(): string[] {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  let flags = '';
  try {
    flags = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: the vector extensions are not printed
  }
  const simd = /\bavx512f\b/.test(flags) ? ', AVX-512' : /\bavx2\b/.test(flags) ? ', AVX2' : '';
  const [l1, l5, l15] = loadavg().map((x) => x.toFixed(2));
  return [
    `machine: ${cpu}, ${availableParallelism()} cores${simd}, load average at start ${l1} / ${l5} / ${l15} (1 / 5 / 15 min)`,
    `Node ${process.version}, TF.js ${tf.version_core} (${tf.getBackend()} backend), ONNX Runtime backbone`,
  ];
}

function inputsOf(s: BenchSetup, featAug: tf.Tensor4D): StepInputs {
  return {
    feat: s.feat,
    lhpWeights: s.lhpWeights,
    featAug,
    labels: s.labels,
    poolAgnostic: s.poolAgnostic,
    poolSpecific: s.poolSpecific,
    lambda: s.lambda,
  };
}

/** One timed step of ours, as the trainer runs it on a cached main view (iteration `t`). */
async function ourStep(s: BenchSetup, t: number): Promise<OurStep> {
  const t0 = performance.now();
  const draws = drawStepRandomness(SEED, t, { batch: s.B, inChannels: s.C, dim: s.D }, s.step);
  const t1 = performance.now();
  const featAug = await patchTokens(s.backbone, s.augImages, [s.B, s.H, s.H, 3]);
  const t2 = performance.now();
  try {
    const result = await trainStep(s.models, s.optimizers, inputsOf(s, featAug), s.step, draws);
    const t3 = performance.now();
    return {
      ms: {
        draws: t1 - t0,
        backbone: t2 - t1,
        gradients: result.timings.gradients,
        update: result.timings.update,
        total: t3 - t0,
      },
      result,
    };
  } finally {
    featAug.dispose();
    disposeStepDraws(draws);
  }
}

/** The check step's draws: the trainer's Dropout2d masks of iteration 0 and an explicit ρ-mask R `[P, N]`. */
function checkDraws(s: BenchSetup): StepDraws {
  const P = s.h * s.h;
  const base = drawStepRandomness(SEED, 0, { batch: s.B, inChannels: s.C, dim: s.D }, s.step);
  const mask = tf.tidy(() =>
    tf.cast(
      tf.less(tf.randomUniform([P, s.B * P], 0, 1, 'float32', 12345), s.step.negativeKeepRatio),
      'float32',
    ),
  ) as tf.Tensor2D;
  return { dropout: base.dropout, negatives: { mask } };
}

async function writeBundle(
  s: BenchSetup,
  draws: StepDraws,
  featAug: tf.Tensor4D,
  dir: string,
): Promise<string> {
  const b = new Bundle();
  b.addStateDict('vit.', s.vitWeights);
  b.addHost('imagesAug', [s.B, s.H, s.H, 3], s.augImages);
  await b.add('feat', s.feat);
  await b.add('featAug', featAug);
  await b.add('lhpWeights', s.lhpWeights);
  await b.add('labels', s.labels);
  await b.add('poolAgnostic', s.poolAgnostic);
  await b.add('poolSpecific', s.poolSpecific);
  for (const m of ['head', 'momentumHead', 'projectionHead', 'linearProbe', 'clusterProbe'] as const) {
    for (const [k, v] of Object.entries(s.models[m].params as Record<string, tf.Variable>))
      await b.add(`${m}.${k}`, v);
  }
  for (const [k, v] of Object.entries(draws.dropout ?? {})) await b.add(`draw.${k}`, v as tf.Tensor);
  if (draws.negatives && 'mask' in draws.negatives) await b.add('draw.negativeMask', draws.negatives.mask);
  return b.write(dir, {
    B: s.B,
    h: s.h,
    C: s.C,
    D: s.D,
    K: s.K,
    depth: VITS8.depth,
    heads: VITS8.numHeads,
    patch: VITS8.patchSize,
    dropout: s.step.dropoutRate,
    momentum: s.step.momentum,
    tau: s.step.temperature,
    rho: s.step.negativeKeepRatio,
    alpha: s.step.consistencyWeight,
    gradNorm: s.step.gradNorm,
    lambda: s.lambda,
    lr: s.rates,
  });
}

function printCheck(ours: StepResult, torch: TorchCheck, s: BenchSetup): void {
  const N = s.B * s.h * s.h;
  console.log(
    '\ncheck: the first step on both sides from the same weights, inputs and draws (Dropout2d masks, R)',
  );
  console.log(
    `  augmented-view tokens: max |ours − PyTorch| = ${torch.featAugMaxAbsDiff.toExponential(1)} (max |token| ${torch.featAugMaxAbs.toFixed(2)})`,
  );
  const rows: [string, number, number][] = [
    ['L (total)', ours.total, torch.losses.total],
    ['L_HP', ours.hp, torch.losses.hp],
    ['L_cons', ours.consistency, torch.losses.consistency],
    ['L_linear', ours.linear, torch.losses.linear],
    ['L_cluster', ours.cluster, torch.losses.cluster],
    ['head-gradient norm', ours.headGradNorm, torch.losses.headGradNorm],
  ];
  console.log(
    `  ${'value'.padEnd(20)}${'ours'.padStart(14)}${'PyTorch'.padStart(14)}${'rel. diff'.padStart(12)}`,
  );
  for (const [name, a, b] of rows) {
    console.log(
      `  ${name.padEnd(20)}${a.toFixed(6).padStart(14)}${b.toFixed(6).padStart(14)}${rel(a, b).toExponential(1).padStart(12)}`,
    );
  }
  const st = torch.stats;
  console.log(
    `  positives (PyTorch's count): ${(st.agPositives / N).toFixed(1)} task-agnostic and ${(st.spPositives / N).toFixed(1)} task-specific per anchor, ` +
      `contrast set ${(st.contrast / N).toFixed(0)} of N = ${N} tokens, ${st.validAnchors} / ${N} valid anchors`,
  );
}

interface Round {
  ours: OurStep['ms'];
  torch: TorchStep['ms'] | null;
}

function printRounds(rounds: readonly Round[]): void {
  const torchOn = rounds.every((r) => r.torch !== null);
  console.log(`\n${rounds.length} interleaved rounds (ms; warm-up excluded)`);
  const head =
    'round  ours total  aug backbone  gradients  update  draws' +
    (torchOn ? '   PyTorch total  backbone  forward  backward  optimiser   PyTorch / ours' : '');
  console.log(head);
  const line = (label: string, o: OurStep['ms'], t: TorchStep['ms'] | null, ratio: number | null) => {
    let s = `${label.padEnd(5)}${f0(o.total).padStart(12)}${f0(o.backbone).padStart(14)}${f0(o.gradients).padStart(11)}${f0(o.update).padStart(8)}${f0(o.draws).padStart(7)}`;
    if (t) {
      s += `${f0(t.total).padStart(16)}${f0(t.backbone).padStart(10)}${f0(t.forward).padStart(9)}${f0(t.backward).padStart(10)}${f0(t.optimizer).padStart(11)}`;
      s += `${ratio === null ? '' : `${ratio.toFixed(2)}×`.padStart(17)}`;
    }
    console.log(s);
  };
  rounds.forEach((r, i) => {
    line(String(i + 1), r.ours, r.torch, r.torch ? r.torch.total / r.ours.total : null);
  });
  const med = <T extends Record<string, number>>(xs: readonly T[]): T => {
    const out = {} as Record<string, number>;
    for (const k of Object.keys(xs[0]!)) out[k] = median(xs.map((x) => x[k]!));
    return out as T;
  };
  const ours = med(rounds.map((r) => r.ours));
  const torch = torchOn ? med(rounds.map((r) => r.torch!)) : null;
  const ratios = torchOn ? rounds.map((r) => r.torch!.total / r.ours.total) : [];
  line('med.', ours, torch, torchOn ? median(ratios) : null);
  if (torch) {
    const ratio = median(ratios);
    const verdict = (r: number) =>
      r >= 1 ? `ours ${r.toFixed(2)}× faster` : `ours ${(1 / r).toFixed(2)}× slower`;
    // PyTorch runs on 2 threads and ours mostly on one, so other jobs on the machine slow PyTorch more:
    // the fastest round of each side is the least disturbed comparison.
    const best =
      Math.min(...rounds.map((r) => r.torch!.total)) / Math.min(...rounds.map((r) => r.ours.total));
    console.log(
      `\nPyTorch / ours: ${ratio.toFixed(2)}× (median of the per-round ratios; ratio of the medians ${(torch.total / ours.total).toFixed(2)}×): ${verdict(ratio)} than PyTorch`,
    );
    console.log(
      `fastest round of each side (the least disturbed; a loaded machine slows 2-thread PyTorch more than our mostly 1-thread step): PyTorch / ours ${best.toFixed(2)}×, ${verdict(best)}`,
    );
    const met = ratio >= TARGET && best >= TARGET;
    console.log(
      `target ≥ ${TARGET}× faster (median ratio and fastest rounds): ${met ? 'MET' : 'NOT met'}${BATCH === 8 ? '' : ' (the target is defined at B = 8)'}`,
    );
  }
}

async function main(): Promise<void> {
  await selectBackend('wasm');
  await ensureGradients();
  const engine = await lossEngine();
  // As `Trainer.run` does: the heads' products on the opened engine for the whole benchmark.
  const matmul = await openMatMulEngine(MATMUL_ENGINE);
  const previousMatMul = setHostMatMul(matmul.host);
  for (const l of machine()) console.log(l);
  console.log(
    'NOTE: timings on a shared 2-core virtual machine are noisy (other jobs run beside this one): read the medians of interleaved rounds, not single numbers.',
  );
  const s = await createBenchSetup(BATCH, SEED, LOSS_ENGINE);
  const N = s.B * s.h * s.h;
  console.log(
    `step: B = ${s.B}, ${s.H} px, ViT-S/8 random weights (embed ${VITS8.embedDim}, depth ${VITS8.depth}, heads ${VITS8.numHeads}, patch ${VITS8.patchSize}) → grid ${s.h}×${s.h}, P = ${s.h * s.h}, N = ${N}, ` +
      `C = ${s.C}, D = ${s.D}, K = ${s.K}, Q = ${s.Q}, τ = ${s.step.temperature}, ρ = ${s.step.negativeKeepRatio}, α = ${s.step.consistencyWeight}, λ = ${s.lambda}, dropout ${s.step.dropoutRate}, AdamW + 3 Adam, clip ${s.step.gradNorm}`,
  );
  console.log(
    `ours: ONNX Runtime backbone + TF.js wasm step; HP loss engine: ${engine}; heads' matrix products: ${matmul.label}${MATMUL_ENGINE === 'auto' ? ', the default' : ''}`,
  );

  const draws0 = checkDraws(s);
  const featAug0 = await patchTokens(s.backbone, s.augImages, [s.B, s.H, s.H, 3]);
  let torch: TorchChild | null = null;
  let dir: string | null = null;
  try {
    if (TORCH) {
      dir = await mkdtemp(join(tmpdir(), 'hpseg-step-bench-'));
      const bundle = await writeBundle(s, draws0, featAug0, dir);
      const started = await TorchChild.start(PYTHON, bundle, 2);
      torch = started.child;
      const r = started.ready;
      console.log(
        `PyTorch ${r.torch}, ${r.threads} threads, fp32 (no autocast), ${torch.note}; script tools/bench/torch_train_step.py`,
      );
      await rm(dir, { recursive: true, force: true });
      dir = null;
    }
    // Check step (also the first warm-up): same weights, inputs and draws on both sides.
    const ours0 = await trainStep(s.models, s.optimizers, inputsOf(s, featAug0), s.step, draws0);
    if (torch) printCheck(ours0, await torch.check(), s);
    else console.log(`\nfirst step: L = ${ours0.total.toFixed(6)} (HP ${ours0.hp.toFixed(6)})`);
    // Warm-up of the timed path (ONNX session at batch 8 without attention, kernels), not recorded.
    await ourStep(s, 1);
    if (torch) await torch.step();
    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const ours = await ourStep(s, 2 + i);
      const t = torch ? await torch.step() : null;
      rounds.push({ ours: ours.ms, torch: t ? t.ms : null });
    }
    if (rounds.length > 0) printRounds(rounds);
    const torchRss = torch ? await torch.quit() : null;
    torch = null;
    console.log(
      `peak RSS: ours ${f0(process.resourceUsage().maxRSS / 1024)} MiB (this Node process: wasm heap, ONNX Runtime, inputs)` +
        (torchRss === null ? '' : `, PyTorch ${f0(torchRss)} MiB`),
    );
    if (PROFILE) {
      const { profileStep } = await import('./profile.js');
      await profileStep(s, inputsOf, SEED);
    }
  } finally {
    torch?.kill();
    if (dir) await rm(dir, { recursive: true, force: true });
    featAug0.dispose();
    disposeStepDraws(draws0);
    await s.dispose();
    setHostMatMul(previousMatMul);
    matmul.dispose();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
