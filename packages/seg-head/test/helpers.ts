import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

export interface Fx {
  shape: number[];
  data: number[];
}

// biome-ignore lint/suspicious/noExplicitAny: fixtures are plain JSON
export function fixture(name: string): any {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));
}

export function T(f: Fx): tf.Tensor {
  return tf.tensor(f.data, f.shape, 'float32');
}

export function I(f: Fx): tf.Tensor {
  return tf.tensor(f.data, f.shape, 'int32');
}

/** max |a − b| ≤ atol + rtol·|b| elementwise; shapes must be equal. */
export function expectClose(
  actual: tf.Tensor | number[],
  expected: Fx | number[],
  rtol: number,
  atol = 0,
): void {
  const a = Array.isArray(actual) ? actual : Array.from(actual.dataSync());
  const e = Array.isArray(expected) ? expected : expected.data;
  if (!Array.isArray(actual) && !Array.isArray(expected)) expect(actual.shape).toEqual(expected.shape);
  expect(a.length).toBe(e.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const excess = Math.abs(a[i]! - e[i]!) - (atol + rtol * Math.abs(e[i]!));
    if (excess > worst) {
      worst = excess;
      at = i;
    }
  }
  if (at >= 0) expect.fail(`element ${at}: got ${a[at]}, expected ${e[at]} (rtol ${rtol}, atol ${atol})`);
}

/** Runs `fn` and checks that exactly `returned` new tensors survive it (the ones it returns). */
export function expectNoLeak(fn: () => unknown, returned: number): void {
  const before = tf.memory().numTensors;
  const out = fn();
  expect(tf.memory().numTensors - before).toBe(returned);
  tf.dispose(out as tf.TensorContainer);
}

export function expectHpError(fn: () => unknown, code: string, fragment: string): void {
  try {
    fn();
  } catch (error) {
    const e = error as { name?: string; code?: string; message?: string };
    expect(e.name).toBe('HpError');
    expect(e.code).toBe(code);
    expect(e.message).toContain(fragment);
    return;
  }
  expect.fail(`expected HpError ${code} (${fragment}), got no error`);
}

export async function expectHpErrorAsync(
  fn: () => Promise<unknown>,
  code: string,
  fragment: string,
): Promise<void> {
  try {
    await fn();
  } catch (error) {
    const e = error as { name?: string; code?: string; message?: string };
    expect(e.name).toBe('HpError');
    expect(e.code).toBe(code);
    expect(e.message).toContain(fragment);
    return;
  }
  expect.fail(`expected HpError ${code} (${fragment}), got no error`);
}
