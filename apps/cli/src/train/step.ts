import { deriveSeed, l2Normalize } from '@hpseg/core';
import { consistencyLoss, hiddenPositiveLoss, mixLocalPositives } from '@hpseg/hidden-positives';
import {
  clipGradNorm,
  computeGradients,
  disposeMap,
  dropout2d,
  linearProbeLoss,
  updateMomentumHead,
} from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';
import type { HpModels, HpOptimizers } from './models.js';

/** Hyper-parameters one step needs (from the resolved config). */
export interface StepConfig {
  readonly dropoutRate: number;
  readonly momentum: number;
  readonly temperature: number;
  readonly negativeKeepRatio: number;
  readonly consistencyWeight: number;
  readonly gradNorm: number;
  readonly gridSize: number;
}

/** What a step consumes: backbone outputs of the main and augmented views, the labels. */
export interface StepInputs {
  /** `[B, h, w, C]` main-view patch tokens (no grad). */
  readonly feat: tf.Tensor4D;
  /** Sparse LHP weights of the main view (from the last block's attention). */
  readonly lhpWeights: tf.Tensor;
  /** `[B, h, w, C]` augmented-view patch tokens, or null when α = 0 (no consistency term). */
  readonly featAug: tf.Tensor4D | null;
  /** `[B, H, W]` int32 labels, −1 = ignore (linear probe only). */
  readonly labels: tf.Tensor3D;
  /** `[Q, C]` and `[Q, D]` L2-normalised reference pools. */
  readonly poolAgnostic: tf.Tensor2D;
  readonly poolSpecific: tf.Tensor2D;
  readonly lambda: number;
}

export interface StepLosses {
  readonly total: number;
  readonly hp: number;
  readonly consistency: number;
  readonly linear: number;
  readonly cluster: number;
  readonly headGradNorm: number;
  /** Milliseconds: selection features (EMA head), HP + consistency forward/backward, probes, updates. */
  readonly timings: { selection: number; hpGrad: number; probes: number; update: number };
}

/**
 * Seeds of the seven Dropout2d draws of the official training forward (spec §3.1) and of the
 * augmented forward, for iteration t. Keyed by (run seed, t), so a resumed run replays them.
 */
export function dropoutSeeds(seed: number, t: number) {
  const s = (k: string) => deriveSeed(seed, 'dropout', t, k);
  return {
    head: s('head'), // #1 cluster1 input (seed), #3 cluster2 input (seed + 1)
    ema: s('ema'), // #2, #4
    feat: s('feat'), // #5 Drop(f) for f̂
    emaOut: s('ema-out'), // #6 Drop(code_ema)
    mix: s('mix'), // #7 Drop(s_mix)
    augHead: s('aug-head'), // augmented forward: head inputs
    negatives: deriveSeed(seed, 'negatives', t), // ρ-sampling of the denominator
  };
}

/**
 * One training step in the official order (spec §3.10): Drop(f) and the EMA head (no grad), the
 * online head with its dropout, the LHP mix, the momentum update (after the forward, before the
 * optimiser steps), the augmented view through the head, projection, HP + consistency losses,
 * the probes on the detached code, gradients, head clipping to `gradNorm`, optimiser steps.
 */
export function trainStep(
  models: HpModels,
  optimizers: HpOptimizers,
  inputs: StepInputs,
  config: StepConfig,
  seeds: ReturnType<typeof dropoutSeeds>,
): StepLosses {
  const rate = config.dropoutRate;
  const t0 = performance.now();
  // Selection features, no gradient: f̂ = normalize(Drop f) and ŝ' = normalize(Drop(S'(Drop f))).
  const selection = tf.tidy(() => {
    const [B, h, w, C] = inputs.feat.shape;
    const fDrop = dropout2d(inputs.feat, rate, seeds.feat);
    const codeEma = models.ema.forward(inputs.feat, { training: true, seed: seeds.ema });
    const emaDrop = dropout2d(codeEma, rate, seeds.emaOut);
    const D = emaDrop.shape[3];
    return {
      featHat: l2Normalize(tf.reshape(fDrop, [B * h * w, C])) as tf.Tensor2D, // [N, C]
      emaHat: l2Normalize(tf.reshape(emaDrop, [B * h * w, D])) as tf.Tensor2D, // [N, D]
    };
  });
  const t1 = performance.now();
  let code: tf.Tensor4D | null = null;
  let hpValue = 0;
  let consValue = 0;
  try {
    // Online head, LHP mix, projection, HP loss and consistency: gradients for head + projection.
    const headParams = {
      ...prefixed('head', models.head.params),
      ...prefixed('projection', models.projection.params),
    };
    const { value, grads } = computeGradients(() => {
      const c = models.head.forward(inputs.feat, { training: true, seed: seeds.head });
      code = tf.keep(tf.clone(c)) as tf.Tensor4D;
      const [B, h, w, D] = c.shape;
      const N = B * h * w;
      const sMix = dropout2d(mixLocalPositives(c, inputs.lhpWeights) as tf.Tensor4D, rate, seeds.mix);
      const z = l2Normalize(models.projection.forward(tf.reshape(c, [N, D]))) as tf.Tensor2D; // [N, D]
      const zMix = l2Normalize(models.projection.forward(tf.reshape(sMix, [N, D]))) as tf.Tensor2D; // [N, D]
      const hp = hiddenPositiveLoss({
        z,
        zMix,
        featBackbone: selection.featHat,
        codeMomentum: selection.emaHat,
        poolAgnostic: inputs.poolAgnostic,
        poolSpecific: inputs.poolSpecific,
        lambda: inputs.lambda,
        temperature: config.temperature,
        negativeKeepRatio: config.negativeKeepRatio,
        seed: seeds.negatives,
        gridSize: config.gridSize,
      });
      hpValue = hp.dataSync()[0] as number;
      if (inputs.featAug === null || config.consistencyWeight === 0) return hp;
      const cAug = models.head.forward(inputs.featAug, { training: true, seed: seeds.augHead });
      const zAug = l2Normalize(models.projection.forward(tf.reshape(cAug, [N, D]))) as tf.Tensor2D;
      const cons = consistencyLoss(z, zAug);
      consValue = cons.dataSync()[0] as number;
      return tf.add(hp, tf.mul(cons, config.consistencyWeight)) as tf.Scalar;
    }, headParams);
    value.dispose();
    const t2 = performance.now();
    // Momentum update: after this iteration's forward, before any optimiser step (θ is still θ_{t−1}).
    updateMomentumHead(models.head, models.ema, config.momentum);
    // Probes on the detached code: their own gradients, never reaching the head.
    const detached = code as unknown as tf.Tensor4D;
    const lin = computeGradients(
      () => linearProbeLoss(models.linear.forward(detached) as tf.Tensor4D, inputs.labels),
      models.linear.params,
    );
    const clu = computeGradients(() => models.cluster.clusterLoss(detached), models.cluster.params);
    const t3 = performance.now();
    const headGrads = pick(grads, 'head');
    const projGrads = pick(grads, 'projection');
    const clipped = clipGradNorm(headGrads, config.gradNorm);
    const headGradNorm = clipped.totalNorm.dataSync()[0] as number;
    const linearValue = lin.value.dataSync()[0] as number;
    const clusterValue = clu.value.dataSync()[0] as number;
    const total = hpValue + config.consistencyWeight * consValue + linearValue + clusterValue;
    if (Number.isFinite(total)) {
      optimizers.head.step(clipped.grads);
      optimizers.linear.step(lin.grads);
      optimizers.cluster.step(clu.grads);
      optimizers.projection.step(projGrads);
    }
    const t4 = performance.now();
    disposeMap(grads);
    disposeMap(clipped.grads);
    clipped.totalNorm.dispose();
    lin.value.dispose();
    disposeMap(lin.grads);
    clu.value.dispose();
    disposeMap(clu.grads);
    return {
      total,
      hp: hpValue,
      consistency: consValue,
      linear: linearValue,
      cluster: clusterValue,
      headGradNorm,
      timings: {
        selection: Math.round(t1 - t0),
        hpGrad: Math.round(t2 - t1),
        probes: Math.round(t3 - t2),
        update: Math.round(t4 - t3),
      },
    };
  } finally {
    selection.featHat.dispose();
    selection.emaHat.dispose();
    (code as tf.Tensor | null)?.dispose();
  }
}

function prefixed(
  prefix: string,
  params: Readonly<Record<string, tf.Variable>>,
): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  for (const [k, v] of Object.entries(params)) out[`${prefix}/${k}`] = v;
  return out;
}

function pick(grads: Record<string, tf.Tensor>, prefix: string): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(grads))
    if (k.startsWith(`${prefix}/`)) out[k.slice(prefix.length + 1)] = v;
  return out;
}
