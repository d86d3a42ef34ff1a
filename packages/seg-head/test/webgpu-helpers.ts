import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { expectClose, type Fx } from './helpers.js';

/** `expectClose` with an async read (`dataSync` does not work on webgpu in Node). */
export async function expectCloseAsync(
  actual: tf.Tensor,
  expected: Fx | number[],
  rtol: number,
  atol = 0,
): Promise<void> {
  if (!Array.isArray(expected)) expect(actual.shape).toEqual(expected.shape);
  expectClose(Array.from(await actual.data()), expected, rtol, atol);
}

/** The scalar value of a tensor, read asynchronously. */
export async function scalarOf(t: tf.Tensor): Promise<number> {
  return (await t.data())[0]!;
}

/** Runs `fn` and checks that exactly `returned` new tensors survive it. */
export function expectNoLeak(fn: () => unknown, returned: number): void {
  const before = tf.memory().numTensors;
  const out = fn();
  expect(tf.memory().numTensors - before).toBe(returned);
  tf.dispose(out as tf.TensorContainer);
}
