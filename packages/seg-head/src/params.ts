import { HpError } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { assertGradientsRegistered } from './gradients.js';

/** Trainable (or momentum) parameters of one module, keyed by their PyTorch-style names (`cluster1.0.weight`). */
export type ParamMap = Readonly<Record<string, tf.Variable>>;

/** Gradients (or any per-parameter tensors) keyed like a `ParamMap`. */
export type GradMap = Record<string, tf.Tensor>;

/**
 * Value and gradients of `lossFn` with respect to `params` (and only those: the `varList` is
 * always explicit, so frozen weights never receive gradients). Gradients come back keyed by the
 * parameter names of `params`, ready for an optimiser's `step`. A parameter that does not
 * influence the loss gets a zero gradient.
 *
 * const { value, grads } = computeGradients(() => loss(head.forward(x)), head.params);
 */
export function computeGradients(
  lossFn: () => tf.Scalar,
  params: ParamMap,
): { value: tf.Scalar; grads: GradMap } {
  assertGradientsRegistered('computeGradients');
  const entries = Object.entries(params);
  if (entries.length === 0) {
    throw new HpError(
      'E_ARG',
      'computeGradients: no parameters: expected at least one tf.Variable, got none',
    );
  }
  const byVarName = new Map<string, string>();
  for (const [key, v] of entries) byVarName.set(v.name, key);
  const { value, grads } = tf.variableGrads(
    lossFn,
    entries.map(([, v]) => v),
  );
  const out: GradMap = {};
  for (const [varName, g] of Object.entries(grads)) {
    const key = byVarName.get(varName);
    if (key === undefined) {
      g.dispose();
      continue;
    }
    out[key] = g;
  }
  for (const [key, v] of entries) {
    if (out[key] === undefined) out[key] = tf.zerosLike(v);
  }
  return { value, grads: out };
}

/** Disposes every tensor of a `GradMap` (or `ParamMap`). */
export function disposeMap(map: Readonly<Record<string, tf.Tensor>>): void {
  for (const t of Object.values(map)) t.dispose();
}

/** A new float32 variable holding a copy of `t` (no tensor left behind). */
export function copyToVariable(t: tf.Tensor, trainable = true): tf.Variable {
  return tf.tidy(() => tf.variable(tf.cast(t, 'float32'), trainable));
}
