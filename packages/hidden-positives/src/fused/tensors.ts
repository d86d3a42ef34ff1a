import { activeHostMatMul, l2Normalize, randomSeed } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import type { HiddenPositiveLossInputs } from '../hidden-positive-loss.js';
import { fusedLossProfiler, fusedPool } from './engine.js';
import { type FusedLossData, fusedHiddenPositiveLoss } from './fused-loss.js';

/** What the fused engine needs from `hiddenPositiveLoss`'s validated inputs. */
export type FusedTensorInputs = Pick<
  HiddenPositiveLossInputs,
  | 'featBackbone'
  | 'codeMomentum'
  | 'poolAgnostic'
  | 'poolSpecific'
  | 'lambda'
  | 'temperature'
  | 'negativeKeepRatio'
  | 'negativeMask'
  | 'seed'
>;

/** Reads a tensor computed in its own scope to the host and frees it. */
function hostValues(make: () => tf.Tensor): Float32Array {
  const t = tf.tidy(make);
  try {
    return t.dataSync() as Float32Array;
  } finally {
    t.dispose();
  }
}

/**
 * The fused engine on tensors: reads the inputs to the host (the selection inputs normalised with the
 * same `l2Normalize` as the TF.js engine, the ρ-mask drawn by the same `tf.randomUniform` call), runs
 * `fusedHiddenPositiveLoss` and returns the loss and, with `withGrad`, the gradients as new tensors.
 */
export function fusedLossOnTensors(
  inputs: FusedTensorInputs,
  z: tf.Tensor2D,
  zMix: tf.Tensor2D,
  shape: { batch: number; p: number; n: number; scale: number },
  withGrad: boolean,
): { loss: tf.Scalar; gradZ: tf.Tensor2D | null; gradMix: tf.Tensor2D | null } {
  const { batch, p, n } = shape;
  const profiler = fusedLossProfiler();
  const t0 = performance.now();
  const withSp = inputs.lambda !== 0;
  let keep: FusedLossData['keep'] = null;
  if (inputs.negativeMask !== undefined) {
    keep = { values: inputs.negativeMask.dataSync() as ArrayLike<number> };
  } else {
    const rho = inputs.negativeKeepRatio ?? 1;
    // The TF.js engine's draw, bit for bit, without building it: tf.randomUniform([P, N], 0, 1, 'float32',
    // seed) takes seedrandom's alea(String(seed)) values in order (test/fused-engine.test.ts compares).
    if (rho < 1) keep = { seed: inputs.seed ?? randomSeed(), below: Math.fround(rho) };
  }
  const d = z.shape[1];
  const product = activeHostMatMul();
  const values = {
    z: z.dataSync() as Float32Array,
    zMix: zMix.dataSync() as Float32Array,
    f: hostValues(() => l2Normalize(inputs.featBackbone)),
    poolAg: hostValues(() => l2Normalize(inputs.poolAgnostic)),
    s: withSp ? hostValues(() => l2Normalize(inputs.codeMomentum)) : null,
    poolSp: withSp ? hostValues(() => l2Normalize(inputs.poolSpecific)) : null,
  };
  profiler?.phase('read inputs', performance.now() - t0);
  const result = fusedHiddenPositiveLoss(fusedPool(), {
    batch,
    p,
    d,
    c: inputs.featBackbone.shape[1],
    dm: inputs.codeMomentum.shape[1],
    ...values,
    lambda: inputs.lambda,
    tau: inputs.temperature,
    scale: shape.scale,
    keep,
    withGrad,
    ...(profiler === undefined ? {} : { profiler }),
    ...(product === undefined ? {} : { product }),
  });
  return {
    loss: tf.scalar(result.loss),
    gradZ: result.gradZ === null ? null : tf.tensor2d(result.gradZ, [n, d]),
    gradMix: result.gradMix === null ? null : tf.tensor2d(result.gradMix, [n, d]),
  };
}
