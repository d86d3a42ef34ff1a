import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/** A tensor of a fixture: `{ shape, data }`, data flat row-major. */
export interface Fx {
  readonly shape: number[];
  readonly data: number[];
}

export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

export const T = (f: Fx): tf.Tensor => tf.tensor(f.data, f.shape, 'float32');
export const I = (f: Fx): tf.Tensor => tf.tensor(f.data, f.shape, 'int32');

/** Tensors of a `{ name: Fx }` record (caller disposes). */
export function tensors(record: Readonly<Record<string, Fx>>): Record<string, tf.Tensor> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, T(v)]));
}

/** |a − e| ≤ atol + rtol·|e| element-wise, with the shape checked; the message names the worst element. */
export function expectClose(
  actual: tf.Tensor | ArrayLike<number>,
  expected: Fx | ArrayLike<number>,
  rtol: number,
  atol: number,
  what: string,
): void {
  const a = actual instanceof tf.Tensor ? actual.dataSync() : actual;
  const e = 'data' in (expected as Fx) ? (expected as Fx).data : (expected as ArrayLike<number>);
  if (actual instanceof tf.Tensor && 'shape' in (expected as Fx))
    expect(actual.shape, what).toEqual((expected as Fx).shape);
  expect(a.length, what).toBe(e.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const excess = Math.abs(a[i]! - e[i]!) - (atol + rtol * Math.abs(e[i]!));
    if (!(excess <= worst)) {
      worst = Number.isNaN(excess) ? Number.POSITIVE_INFINITY : excess;
      at = i;
    }
  }
  if (at >= 0)
    expect.fail(`${what}: element ${at}: got ${a[at]}, expected ${e[at]} (rtol ${rtol}, atol ${atol})`);
}
