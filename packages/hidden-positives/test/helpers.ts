import { readFileSync } from 'node:fs';
import type { HostMatMul, HostMatMulRequest } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

/** max |a − b| over all entries, and max |b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i += 1) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { diff, scale };
}

/** Asserts |a − b| <= tol · max(1, max |b|) entry-wise. */
export function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what = ''): void {
  const { diff, scale } = maxAbsDiff(a, b);
  expect(diff, `${what}: max abs diff ${diff} (scale ${scale})`).toBeLessThanOrEqual(
    tol * Math.max(1, scale),
  );
}

/** Runs `fn` and checks that it leaves exactly `returned` new tensors. */
export function expectNoLeak<T>(fn: () => T, returned: (out: T) => tf.Tensor[]): T {
  const before = tf.memory().numTensors;
  const out = fn();
  const mine = returned(out);
  expect(tf.memory().numTensors).toBe(before + mine.length);
  for (const t of mine) t.dispose();
  expect(tf.memory().numTensors).toBe(before);
  return out;
}

export function catchError(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('expected an error');
}

/**
 * A host matrix product for the tests (@hpseg/core `HostMatMul`): each output a float32 sum in increasing k
 * (one rounding per product and per sum), the order of a plain float32 loop; it counts its calls.
 */
export function referenceHostMatMul(): HostMatMul & { calls: number } {
  const f = Math.fround;
  const product = {
    name: 'reference float32 loop (test)',
    calls: 0,
    run(r: HostMatMulRequest): Float32Array {
      product.calls += 1;
      const [ar, ac] = r.aShape;
      const [br, bc] = r.bShape;
      const m = r.transA ? ac : ar;
      const k = r.transA ? ar : ac;
      const n = r.transB ? br : bc;
      const out = new Float32Array(m * n);
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = r.bias ? r.bias[j]! : 0;
          for (let p = 0; p < k; p++) {
            const a = r.transA ? r.a[p * ac + i]! : r.a[i * ac + p]!;
            const b = r.transB ? r.b[j * bc + p]! : r.b[p * bc + j]!;
            s = f(s + f(a * b));
          }
          out[i * n + j] = s;
        }
      return out;
    },
  };
  return product;
}
