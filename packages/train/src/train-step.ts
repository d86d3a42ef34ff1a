import { assertShape, HpError, l2Normalize } from '@hpseg/core';
import {
  consistencyLoss,
  type HiddenPositiveLossEngine,
  hiddenPositiveLoss,
  mixLocalPositives,
} from '@hpseg/hidden-positives';
import {
  clipGradNorm,
  disposeMap,
  dropout2d,
  type GradMap,
  gradientsRegistered,
  linearProbeLoss,
  updateMomentumHead,
} from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';
import { type HpModels, type HpOptimizers, OPTIMIZED_MODULES, type OptimizedModule } from './models.js';
import type { StepDraws } from './step-draws.js';

/** Hyper-parameters of one step (from the resolved config; `stepConfigFrom`). */
export interface StepConfig {
  /** Dropout2d rate p of every draw (official 0.1 with `pretrained.dropout`, else 0). */
  readonly dropoutRate: number;
  /** m of the momentum update (`ema_m`). */
  readonly momentum: number;
  /** τ (`tau`). */
  readonly temperature: number;
  /** ρ (`rho`), used when the draws carry a seed for the negatives. */
  readonly negativeKeepRatio: number;
  /** α of the consistency term (`alpha`); 0 skips the augmented view. */
  readonly consistencyWeight: number;
  /** Max L2 norm of the head gradients (`train.grad_norm`, `clip_grad_norm_`). */
  readonly gradNorm: number;
  /**
   * Engine of `hiddenPositiveLoss`: `auto` (default) = the fused WebAssembly engine on the wasm and cpu
   * backends, TF.js ops elsewhere; both equal the official loss within float32 tolerances.
   */
  readonly lossEngine?: HiddenPositiveLossEngine;
}

/** What one step consumes. */
export interface StepInputs {
  /** `[B, h, w, C]` main-view patch tokens (frozen backbone: no gradient). */
  readonly feat: tf.Tensor4D;
  /** `[B, P, 9]` LHP weights of the main view (`localPositiveWeights` of the last block's attention). */
  readonly lhpWeights: tf.Tensor3D;
  /** `[B, h, w, C]` patch tokens of the photometrically augmented view, or null when α = 0. */
  readonly featAug: tf.Tensor4D | null;
  /** `[B, H, W]` int32 labels, −1 = ignore (linear probe only). */
  readonly labels: tf.Tensor3D;
  /** `[Q, C]` task-agnostic and `[Q, D]` task-specific reference pools (L2-normalised rows). */
  readonly poolAgnostic: tf.Tensor2D;
  readonly poolSpecific: tf.Tensor2D;
  /** λ(t) of the task-specific positives (`lambdaSchedule`). */
  readonly lambda: number;
}

/** What one step reports: its losses, the head's gradient norm, whether the optimisers stepped, timings. */
export interface StepResult {
  /** `L = L_HP + α·L_cons + L_linear + L_cluster` (run.py:204-210), summed in double from the terms. */
  readonly total: number;
  readonly hp: number;
  readonly consistency: number;
  readonly linear: number;
  readonly cluster: number;
  /** Total L2 norm of the head gradients before clipping (`clip_grad_norm_`'s return). */
  readonly headGradNorm: number;
  /** False when the loss was not finite: no optimiser stepped (the momentum update had happened). */
  readonly applied: boolean;
  /**
   * Milliseconds: `gradients` = selection features and the gradient tape (dispatch time on asynchronous
   * backends); `update` = momentum update, clipping, the one host read (which waits for the device) and
   * the optimiser steps.
   */
  readonly timings: { readonly gradients: number; readonly update: number };
}

/**
 * `x` in the forward, zero gradient in the backward: `tensor.detach()` (run.py:199, the probes train on
 * the detached code and never reach the head).
 */
const detach: (x: tf.Tensor) => tf.Tensor = tf.customGrad(
  // biome-ignore lint/suspicious/noExplicitAny: tf.customGrad's typing is (...args: Tensor[]) => ...
  ((x: tf.Tensor, _save: any) => ({
    value: tf.clone(x),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  })) as never,
) as never;

/**
 * The values of `terms()` (a vector whose entry 0 is the objective) and the gradient of entry 0 w.r.t.
 * `params`: one tape, one backward, the other entries only ride along for reporting (dy = e₀).
 */
function objectiveAndGradients(
  terms: () => tf.Tensor1D,
  params: Readonly<Record<string, tf.Variable>>,
  count: number,
): { values: tf.Tensor1D; grads: GradMap } {
  const names = Object.keys(params);
  const vars = names.map((n) => params[n]!);
  const dy = tf.tensor1d(
    Array.from({ length: count }, (_, i) => (i === 0 ? 1 : 0)),
    'float32',
  ); // e₀
  try {
    const { value, grads } = tf.engine().gradients(terms, vars, dy, true);
    const out: GradMap = {};
    names.forEach((n, i) => {
      out[n] = grads[i] ?? tf.zerosLike(vars[i]!);
    });
    return { values: value as tf.Tensor1D, grads: out };
  } finally {
    dy.dispose();
  }
}

function checkInputs(models: HpModels, inputs: StepInputs): { B: number; h: number; w: number } {
  const fn = 'trainStep';
  const C = models.head.inChannels;
  const D = models.head.dim;
  const d = assertShape(fn, 'feat', inputs.feat.shape, ['B', 'h', 'w', C]);
  const { B, h, w } = d as { B: number; h: number; w: number };
  assertShape(fn, 'lhpWeights', inputs.lhpWeights.shape, [B, h * w, 9]);
  if (inputs.featAug !== null) assertShape(fn, 'featAug', inputs.featAug.shape, [B, h, w, C]);
  assertShape(fn, 'labels', inputs.labels.shape, [B, 'H', 'W']);
  if (inputs.labels.dtype !== 'int32') {
    throw new HpError(
      'E_DTYPE',
      `${fn}: labels have the wrong dtype: expected int32, got ${inputs.labels.dtype}`,
    );
  }
  assertShape(fn, 'poolAgnostic', inputs.poolAgnostic.shape, ['Q', C]);
  assertShape(fn, 'poolSpecific', inputs.poolSpecific.shape, ['Q', D]);
  return { B, h, w };
}

/** The step's objective terms and gradients, per optimised module, before clipping. */
export interface StepGradients {
  /** `[L, L_HP, L_cons, L_linear, L_cluster]`. */
  readonly values: tf.Tensor1D;
  readonly grads: Readonly<Record<OptimizedModule, GradMap>>;
}

/** Disposes the tensors of `stepGradients`' result. */
export function disposeStepGradients(g: StepGradients): void {
  g.values.dispose();
  for (const m of OPTIMIZED_MODULES) disposeMap(g.grads[m]);
}

/**
 * Steps 1–2 of `trainStep`: the selection features without gradient, then one tape for the official
 * single backward of `L = L_HP + α·L_cons + L_linear + L_cluster` (run.py:204-221). Synchronous and
 * read-free; the caller owns the result (`disposeStepGradients`).
 */
export function stepGradients(
  models: HpModels,
  inputs: StepInputs,
  config: StepConfig,
  draws: StepDraws,
): StepGradients {
  if (!gradientsRegistered()) {
    throw new HpError(
      'E_BACKEND',
      'trainStep: TF.js gradient functions are not registered: expected `await ensureGradients()` (or `import "@hpseg/train/register-gradients"`) once before training, got none registered',
    );
  }
  const { B, h, w } = checkInputs(models, inputs);
  const N = B * h * w;
  const C = models.head.inChannels;
  const D = models.head.dim;
  const rate = config.dropoutRate;
  const masks = draws.dropout;
  const drop = (x: tf.Tensor4D, mask: tf.Tensor4D | undefined) =>
    mask === undefined ? x : dropout2d(x, rate, mask);
  const headTraining = (m1: tf.Tensor4D | undefined, m2: tf.Tensor4D | undefined) =>
    m1 && m2 ? { training: true, masks: { cluster1: m1, cluster2: m2 } } : {};
  // The backbone is frozen: its tokens are constants of the tape, so the head's backward skips their gradient.
  const headOnTape = (m1: tf.Tensor4D | undefined, m2: tf.Tensor4D | undefined) => ({
    ...headTraining(m1, m2),
    inputGradient: false,
  });
  const alpha = config.consistencyWeight;
  const useAug = inputs.featAug !== null && alpha > 0;
  // 1. Selection features (official out[0] and out[2], detached).
  const selection = tf.tidy(() => {
    const fDrop = drop(inputs.feat, masks?.features); // [B, h, w, C]
    const codeMomentum = models.momentumHead.forward(
      inputs.feat,
      headTraining(masks?.momentumCluster1, masks?.momentumCluster2),
    ); // [B, h, w, D]
    const momentumDrop = drop(codeMomentum, masks?.momentumOutput);
    return {
      featHat: l2Normalize(tf.reshape(fDrop, [N, C])) as tf.Tensor2D, // [N, C]
      momentumHat: l2Normalize(tf.reshape(momentumDrop, [N, D])) as tf.Tensor2D, // [N, D]
    };
  });
  const params: Record<string, tf.Variable> = {};
  for (const m of OPTIMIZED_MODULES) {
    for (const [k, v] of Object.entries(models[m].params as Record<string, tf.Variable>))
      params[`${m}/${k}`] = v;
  }
  try {
    // 2. The tape. Returns [L, L_HP, L_cons, L_linear, L_cluster].
    const { values, grads } = objectiveAndGradients(
      () => {
        const code = models.head.forward(inputs.feat, headOnTape(masks?.headCluster1, masks?.headCluster2)); // [B, h, w, D]
        const sMix = drop(mixLocalPositives(code, inputs.lhpWeights), masks?.mix); // [B, h, w, D]
        const z = l2Normalize(models.projectionHead.forward(tf.reshape(code, [N, D]))) as tf.Tensor2D; // [N, D]
        const zMix = l2Normalize(models.projectionHead.forward(tf.reshape(sMix, [N, D]))) as tf.Tensor2D; // [N, D]
        const negatives = draws.negatives;
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
          ...(negatives === null
            ? { negativeKeepRatio: 1 }
            : 'mask' in negatives
              ? { negativeMask: negatives.mask }
              : { negativeKeepRatio: config.negativeKeepRatio, seed: negatives.seed }),
        });
        let cons: tf.Scalar = tf.scalar(0);
        if (useAug) {
          const codeAug = models.head.forward(
            inputs.featAug as tf.Tensor4D,
            headOnTape(masks?.augCluster1, masks?.augCluster2),
          ); // [B, h, w, D]
          const zAug = l2Normalize(models.projectionHead.forward(tf.reshape(codeAug, [N, D]))) as tf.Tensor2D;
          cons = consistencyLoss(z, zAug);
        }
        const detached = detach(code) as tf.Tensor4D;
        const linear = linearProbeLoss(models.linearProbe.forward(detached) as tf.Tensor4D, inputs.labels);
        const cluster = models.clusterProbe.clusterLoss(detached);
        const total = tf.addN([hp, tf.mul(cons, alpha), linear, cluster]);
        return tf.stack([total, hp, cons, linear, cluster]) as tf.Tensor1D;
      },
      params,
      5,
    );
    const byModule = {} as Record<OptimizedModule, GradMap>;
    for (const m of OPTIMIZED_MODULES) {
      byModule[m] = {};
      for (const [k, g] of Object.entries(grads))
        if (k.startsWith(`${m}/`)) byModule[m][k.slice(m.length + 1)] = g;
    }
    return { values, grads: byModule };
  } finally {
    selection.featHat.dispose();
    selection.momentumHat.dispose();
  }
}

/**
 * One training step in the official order (official-behaviour §3.10, `run.py:160-232`):
 * 1. selection features, no gradient: f̂ = normalize(Drop₅ f), ŝ′ = normalize(Drop₆ S′(Drop₂,₄ f));
 * 2. one tape for the official single backward of `L = L_HP + α·L_cons + L_linear + L_cluster`: the head
 *    with Drop₁,₃, the LHP mix with Drop₇, the projection head, `hiddenPositiveLoss`, the augmented view
 *    through the head (its own two masks) for the consistency term, and the probes on the detached code
 *    (`stepGradients`);
 * 3. the momentum update `θ′ ← m·θ′ + (1−m)·θ` (after this step's forward, before any optimiser step, so θ
 *    is still θ_{t−1});
 * 4. `clip_grad_norm_` on the head gradients only; one host read of every scalar; the four optimiser
 *    steps, skipped when the loss is not finite.
 * All randomness is in `draws`. Nothing leaves the gradient closure but its return value.
 */
export async function trainStep(
  models: HpModels,
  optimizers: HpOptimizers,
  inputs: StepInputs,
  config: StepConfig,
  draws: StepDraws,
): Promise<StepResult> {
  const t0 = performance.now();
  const g = stepGradients(models, inputs, config, draws);
  let clipped: { grads: GradMap; totalNorm: tf.Scalar } | null = null;
  try {
    const t1 = performance.now();
    // 3. Momentum update: after this step's forward, before any optimiser step.
    updateMomentumHead(models.head, models.momentumHead, config.momentum);
    // 4. Clip the head's gradients, read every scalar once, step.
    clipped = clipGradNorm(g.grads.head, config.gradNorm);
    const norm = clipped.totalNorm;
    const scalars = tf.tidy(() => tf.concat([g.values, tf.reshape(norm, [1])])); // [6]
    const read = await scalars.data();
    scalars.dispose();
    const [, hp, consistency, linear, cluster, headGradNorm] = Array.from(read) as number[];
    const total = hp! + config.consistencyWeight * consistency! + linear! + cluster!;
    const applied = Number.isFinite(total);
    if (applied) {
      optimizers.head.step(clipped.grads);
      optimizers.projectionHead.step(g.grads.projectionHead);
      optimizers.linearProbe.step(g.grads.linearProbe);
      optimizers.clusterProbe.step(g.grads.clusterProbe);
    }
    const t2 = performance.now();
    return {
      total,
      hp: hp!,
      consistency: consistency!,
      linear: linear!,
      cluster: cluster!,
      headGradNorm: headGradNorm!,
      applied,
      timings: { gradients: Math.round(t1 - t0), update: Math.round(t2 - t1) },
    };
  } finally {
    disposeStepGradients(g);
    if (clipped) {
      disposeMap(clipped.grads);
      clipped.totalNorm.dispose();
    }
  }
}
