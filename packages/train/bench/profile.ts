/**
 * Where our training step's time goes (`npm run bench -w @hpseg/train -- --profile`).
 *
 * Runs a labelled copy of `stepGradients` (the same ops in the same order, with a part label set before
 * each piece) with every kernel of the active backend wrapped in a timer. Kernels of the backward pass are
 * attributed to the part whose forward recorded their tape node (the engine's `addTapeNode` is wrapped
 * to carry the label into the gradient function). The copy is checked against the real `stepGradients`:
 * same draws → the same five loss values, bit for bit. Then the update phase (`trainStep` minus the
 * tape) is timed through `trainStep` itself.
 */
import { l2Normalize } from '@hpseg/core';
import { consistencyLoss, hiddenPositiveLoss, mixLocalPositives } from '@hpseg/hidden-positives';
import { disposeMap, dropout2d, type GradMap, linearProbeLoss } from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';
// Benchmarks only: the fused engine's phase timer is not part of the package API.
import { setFusedLossProfiler } from '../../hidden-positives/src/fused/engine.js';
import {
  disposeStepDraws,
  disposeStepGradients,
  drawStepRandomness,
  OPTIMIZED_MODULES,
  patchTokens,
  type StepDraws,
  type StepInputs,
  stepGradients,
} from '../src/index.js';
import type { BenchSetup } from './setup.js';

type Direction = 'forward' | 'backward';
interface Cell {
  ms: number;
  calls: number;
}

/** Kernel timers, by part, direction and kernel name. */
class KernelProfile {
  label = 'other';
  /** Kernel time by `part|direction|kernel`. */
  readonly cells = new Map<string, Cell>();
  /** Wall time by `part|direction`: forward from one `enter` to the next, backward inside the part's gradient functions. */
  readonly wall = new Map<string, number>();
  #since = 0;
  readonly #restore: (() => void)[] = [];

  /** Starts forward part `label` (the time since the previous `enter` goes to the previous part). */
  enter(label: string): void {
    const now = performance.now();
    if (this.#since > 0) this.addWall(`${this.label}|forward`, now - this.#since);
    this.#since = label === '' ? 0 : now;
    this.label = label === '' ? 'other' : label;
  }

  addWall(key: string, ms: number): void {
    this.wall.set(key, (this.wall.get(key) ?? 0) + ms);
  }

  install(): void {
    const engine = tf.engine() as unknown as {
      state: {
        scopeStack: { name: string }[];
        activeTape: { gradient?: (dys: tf.Tensor[]) => Record<string, () => tf.Tensor> }[];
      };
      addTapeNode: (...args: unknown[]) => void;
    };
    const backendName = tf.getBackend();
    for (const config of tf.getKernelsForBackend(backendName)) {
      const inner = config.kernelFunc;
      const wrapped = ((args: Parameters<tf.KernelFunc>[0]) => {
        const t0 = performance.now();
        const out = inner(args);
        const ms = performance.now() - t0;
        const backward = engine.state.scopeStack.some((s) => s.name === 'backward');
        this.add(`${this.label}|${backward ? 'backward' : 'forward'}|${config.kernelName}`, ms);
        return out;
      }) as tf.KernelFunc;
      tf.unregisterKernel(config.kernelName, backendName);
      tf.registerKernel({ ...config, kernelFunc: wrapped });
      this.#restore.push(() => {
        tf.unregisterKernel(config.kernelName, backendName);
        tf.registerKernel(config);
      });
    }
    const addTapeNode = engine.addTapeNode;
    engine.addTapeNode = (...args: unknown[]) => {
      addTapeNode.apply(engine, args);
      const node = engine.state.activeTape[engine.state.activeTape.length - 1];
      const label = this.label;
      const gradient = node?.gradient;
      if (node && gradient) {
        // The engine calls the returned thunks later, outside `gradient`: label them too.
        const labelled = <T>(f: () => T): T => {
          const previous = this.label;
          this.label = label;
          const t0 = performance.now();
          try {
            return f();
          } finally {
            this.addWall(`${label}|backward`, performance.now() - t0);
            this.label = previous;
          }
        };
        node.gradient = (dys) => {
          const thunks = labelled(() => gradient(dys)) as Record<string, () => tf.Tensor>;
          return Object.fromEntries(Object.entries(thunks).map(([k, thunk]) => [k, () => labelled(thunk)]));
        };
      }
    };
    this.#restore.push(() => {
      engine.addTapeNode = addTapeNode;
    });
  }

  uninstall(): void {
    for (const r of this.#restore.splice(0).reverse()) r();
  }

  add(key: string, ms: number): void {
    const c = this.cells.get(key) ?? { ms: 0, calls: 0 };
    c.ms += ms;
    c.calls += 1;
    this.cells.set(key, c);
  }

  total(filter: (part: string, dir: Direction, kernel: string) => boolean): number {
    let ms = 0;
    for (const [key, c] of this.cells) {
      const [part, dir, kernel] = key.split('|') as [string, Direction, string];
      if (filter(part, dir, kernel)) ms += c.ms;
    }
    return ms;
  }
}

const detach: (x: tf.Tensor) => tf.Tensor = tf.customGrad(
  // biome-ignore lint/suspicious/noExplicitAny: tf.customGrad's typing is (...args: Tensor[]) => ...
  ((x: tf.Tensor, _save: any) => ({
    value: tf.clone(x),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  })) as never,
) as never;

/** `stepGradients` of src/train-step.ts, op for op, with `prof.label` set before each part. */
function labelledGradients(
  s: BenchSetup,
  inputs: StepInputs,
  draws: StepDraws,
  prof: KernelProfile,
): { values: tf.Tensor1D; grads: GradMap[] } {
  const { models, step: config } = s;
  const B = s.B;
  const [h, w] = [s.h, s.h];
  const N = B * h * w;
  const { C, D } = s;
  const masks = draws.dropout!;
  const rate = config.dropoutRate;
  const drop = (x: tf.Tensor4D, mask: tf.Tensor4D) => dropout2d(x, rate, mask);
  const train = (m1: tf.Tensor4D, m2: tf.Tensor4D) => ({
    training: true,
    masks: { cluster1: m1, cluster2: m2 },
  });
  const onTape = (m1: tf.Tensor4D, m2: tf.Tensor4D) => ({ ...train(m1, m2), inputGradient: false });
  prof.enter('selection (momentum head, Drop, normalise)');
  const selection = tf.tidy(() => {
    const fDrop = drop(inputs.feat, masks.features);
    const codeMomentum = models.momentumHead.forward(
      inputs.feat,
      train(masks.momentumCluster1, masks.momentumCluster2),
    );
    const momentumDrop = drop(codeMomentum, masks.momentumOutput);
    return {
      featHat: l2Normalize(tf.reshape(fDrop, [N, C])) as tf.Tensor2D,
      momentumHat: l2Normalize(tf.reshape(momentumDrop, [N, D])) as tf.Tensor2D,
    };
  });
  const params: Record<string, tf.Variable> = {};
  for (const m of OPTIMIZED_MODULES) {
    for (const [k, v] of Object.entries(models[m].params as Record<string, tf.Variable>))
      params[`${m}/${k}`] = v;
  }
  const names = Object.keys(params);
  const dy = tf.tensor1d([1, 0, 0, 0, 0]);
  try {
    const { value, grads } = tf.engine().gradients(
      () => {
        prof.enter('head (main view)');
        const code = models.head.forward(inputs.feat, onTape(masks.headCluster1, masks.headCluster2));
        prof.enter('LHP mix');
        const sMix = drop(mixLocalPositives(code, inputs.lhpWeights), masks.mix);
        prof.enter('projection + normalise (z, z̃, z_aug)');
        const z = l2Normalize(models.projectionHead.forward(tf.reshape(code, [N, D]))) as tf.Tensor2D;
        const zMix = l2Normalize(models.projectionHead.forward(tf.reshape(sMix, [N, D]))) as tf.Tensor2D;
        prof.enter('HP loss');
        const negatives = draws.negatives!;
        const hp = hiddenPositiveLoss({
          z,
          zMix,
          featBackbone: selection.featHat,
          codeMomentum: selection.momentumHat,
          poolAgnostic: inputs.poolAgnostic,
          poolSpecific: inputs.poolSpecific,
          lambda: inputs.lambda,
          temperature: config.temperature,
          gridSize: [h, w],
          engine: config.lossEngine ?? 'auto',
          ...('mask' in negatives
            ? { negativeMask: negatives.mask }
            : { negativeKeepRatio: config.negativeKeepRatio, seed: negatives.seed }),
        });
        prof.enter('head (augmented view)');
        const codeAug = models.head.forward(inputs.featAug!, onTape(masks.augCluster1, masks.augCluster2));
        prof.enter('projection + normalise (z, z̃, z_aug)');
        const zAug = l2Normalize(models.projectionHead.forward(tf.reshape(codeAug, [N, D]))) as tf.Tensor2D;
        prof.enter('consistency loss');
        const cons = consistencyLoss(z, zAug);
        prof.enter('linear probe (logits, upsample to 224², CE)');
        const detached = detach(code) as tf.Tensor4D;
        const linear = linearProbeLoss(models.linearProbe.forward(detached) as tf.Tensor4D, inputs.labels);
        prof.enter('cluster probe');
        const cluster = models.clusterProbe.clusterLoss(detached);
        prof.enter('loss sum');
        const total = tf.addN([hp, tf.mul(cons, config.consistencyWeight), linear, cluster]);
        const out = tf.stack([total, hp, cons, linear, cluster]) as tf.Tensor1D;
        prof.enter(ENGINE_PART); // the engine's own backward work: dy, gradient accumulation
        return out;
      },
      names.map((n) => params[n]!),
      dy,
      true,
    );
    prof.enter('');
    return { values: value as tf.Tensor1D, grads: [Object.fromEntries(names.map((n, i) => [n, grads[i]!]))] };
  } finally {
    dy.dispose();
    selection.featHat.dispose();
    selection.momentumHat.dispose();
  }
}

const pad = (x: string, n: number) => x.padStart(n);
const ENGINE_PART = 'engine (gradient accumulation, tape)';
/** `--top N`: how many kernels to list (default 12). */
const TOP = ((i) => (i >= 0 ? Number(process.argv[i + 1]) : 12))(process.argv.indexOf('--top'));

export async function profileStep(
  s: BenchSetup,
  inputsOf: (s: BenchSetup, featAug: tf.Tensor4D) => StepInputs,
  seed: number,
): Promise<void> {
  console.log(
    '\nprofile of our step (one step; every kernel timed; backward kernels charged to the part whose forward recorded them)',
  );
  const featAug = await patchTokens(s.backbone, s.augImages, [s.B, s.H, s.H, 3]);
  const inputs = inputsOf(s, featAug);
  const draws = drawStepRandomness(seed, 1000, { batch: s.B, inChannels: s.C, dim: s.D }, s.step);
  const prof = new KernelProfile();
  try {
    // The real tape, for the reference values and its wall time.
    const t0 = performance.now();
    const real = stepGradients(s.models, inputs, s.step, draws);
    await real.values.data();
    const realMs = performance.now() - t0;
    const want = Array.from(await real.values.data());
    disposeStepGradients(real);
    prof.install();
    const phases = new Map<string, number>();
    setFusedLossProfiler({
      phase: (name, ms) => phases.set(name, (phases.get(name) ?? 0) + ms),
      entries: () => {},
    });
    const t1 = performance.now();
    const mine = labelledGradients(s, inputs, draws, prof);
    const got = Array.from(await mine.values.data());
    const profiledMs = performance.now() - t1;
    setFusedLossProfiler(undefined);
    prof.uninstall();
    mine.values.dispose();
    for (const g of mine.grads) disposeMap(g);
    const same = want.every((v, i) => Object.is(v, got[i]));
    console.log(
      `  labelled copy of stepGradients: losses ${same ? 'identical to' : 'DIFFER from'} the real one (${got.map((v) => v.toFixed(6)).join(', ')}); ` +
        `wall ${(profiledMs / 1000).toFixed(1)} s profiled, ${(realMs / 1000).toFixed(1)} s unprofiled`,
    );
    // The engine part's "forward" wall is the whole backward pass: what the labelled gradient functions
    // did not take is the engine's own work (dy, accumulating gradients, bookkeeping).
    const labelledBackward = [...prof.wall.entries()]
      .filter(([k]) => k.endsWith('|backward'))
      .reduce((a, [, ms]) => a + ms, 0);
    const backwardWall = prof.wall.get(`${ENGINE_PART}|forward`) ?? 0;
    prof.wall.delete(`${ENGINE_PART}|forward`);
    prof.addWall(`${ENGINE_PART}|backward`, backwardWall - labelledBackward);
    const parts = [...new Set([...prof.wall.keys()].map((k) => k.split('|')[0]!))];
    const rows = parts
      .map((part) => ({
        part,
        fwd: prof.wall.get(`${part}|forward`) ?? 0,
        bwd: prof.wall.get(`${part}|backward`) ?? 0,
        kernels: prof.total((p) => p === part),
      }))
      .sort((a, b) => b.fwd + b.bwd - (a.fwd + a.bwd));
    const wallMs = rows.reduce((a, r) => a + r.fwd + r.bwd, 0);
    console.log(
      `  ${'part'.padEnd(46)}${pad('forward ms', 11)}${pad('backward ms', 12)}${pad('share', 7)}${pad('of which TF.js kernels ms', 27)}`,
    );
    for (const r of rows) {
      const share = (100 * (r.fwd + r.bwd)) / wallMs;
      console.log(
        `  ${r.part.padEnd(46)}${pad(r.fwd.toFixed(0), 11)}${pad(r.bwd.toFixed(0), 12)}${pad(`${share.toFixed(0)}%`, 7)}${pad(r.kernels.toFixed(0), 27)}`,
      );
    }
    const sum = (d: Direction) => rows.reduce((a, r) => a + (d === 'forward' ? r.fwd : r.bwd), 0);
    console.log(
      `  ${'total (wall)'.padEnd(46)}${pad(sum('forward').toFixed(0), 11)}${pad(sum('backward').toFixed(0), 12)}${pad('100%', 7)}${pad(prof.total(() => true).toFixed(0), 27)}`,
    );
    if (phases.size > 0) {
      console.log('  inside the HP loss (fused engine phases, ms):');
      console.log(`    ${[...phases].map(([name, ms]) => `${name} ${ms.toFixed(0)}`).join('; ')}`);
    }
    const top = [...prof.cells.entries()]
      .filter(([k]) => !k.startsWith('HP loss|'))
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, TOP);
    console.log('  heaviest kernels outside the HP loss:');
    for (const [key, c] of top) {
      const [part, dir, kernel] = key.split('|') as [string, string, string];
      console.log(
        `    ${kernel.padEnd(22)}${pad(c.ms.toFixed(0), 7)} ms ${pad(String(c.calls), 4)} calls  ${dir.padEnd(9)} ${part}`,
      );
    }
    // Update phase through trainStep itself (momentum update, clipping, the host read, optimiser steps).
    const { trainStep } = await import('../src/index.js');
    const r = await trainStep(s.models, s.optimizers, inputs, s.step, draws);
    console.log(
      `  update phase (trainStep timings.update): ${r.timings.update} ms; gradients ${r.timings.gradients} ms`,
    );
  } finally {
    prof.uninstall();
    featAug.dispose();
    disposeStepDraws(draws);
  }
}
