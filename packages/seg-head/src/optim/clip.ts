import { assertNumber, HpError } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import type { GradMap } from '../params.js';

/**
 * `torch.nn.utils.clip_grad_norm_(params, maxNorm)` (torch 1.13, L2): the total norm is the norm
 * of all per-tensor norms; every gradient is multiplied by `min(maxNorm / (total + 1e-6), 1)`.
 * Returns NEW gradient tensors (the inputs are untouched; the caller disposes both) and the total
 * norm before clipping.
 */
export function clipGradNorm(grads: GradMap, maxNorm: number): { grads: GradMap; totalNorm: tf.Scalar } {
  const fn = 'clipGradNorm';
  assertNumber(fn, 'maxNorm', maxNorm, 0);
  const names = Object.keys(grads);
  if (names.length === 0) throw new HpError('E_ARG', `${fn}: no gradients: expected at least one, got none`);
  return tf.tidy(() => {
    const norms = names.map((n) => tf.norm(grads[n]!)); // per-tensor L2 norms
    const totalNorm = tf.norm(tf.stack(norms)) as tf.Scalar;
    const coef = tf.minimum(tf.div(tf.scalar(maxNorm), tf.add(totalNorm, 1e-6)), 1);
    const out: GradMap = {};
    for (const n of names) out[n] = tf.mul(grads[n]!, coef);
    return { grads: out, totalNorm };
  });
}
