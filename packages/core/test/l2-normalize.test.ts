import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { l2Normalize, l2NormalizeRows, selectBackend } from '../src/index.js';

describe('l2Normalize (F.normalize, last axis)', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('divides by max(‖x‖, 1e-12) along the last axis (zero rows stay zero)', () => {
    const x = tf.tensor2d([3, 4, 0, 0], [2, 2]);
    const y = l2Normalize(x);
    expect(Array.from(y.dataSync())).toEqual([Math.fround(0.6), Math.fround(0.8), 0, 0]);
    tf.dispose([x, y]);
  });

  it('gradient is (dy − y⟨y, dy⟩)/‖x‖, and finite (dy/eps) on an all-zero row, as PyTorch', () => {
    const x = tf.tensor2d([3, 4, 0, 0], [2, 2]);
    const dy = tf.tensor2d([1, 0, 1e-12, 0], [2, 2]);
    const before = tf.memory().numTensors;
    const g = tf.grad((a: tf.Tensor) => l2Normalize(a))(x, dy);
    expect(tf.memory().numTensors).toBe(before + 1);
    const v = Array.from(g.dataSync());
    // row 0: y = (0.6, 0.8), dy = (1, 0): (dy − 0.6·y)/5 = (0.128, −0.096)
    expect(v[0]).toBeCloseTo(0.128, 6);
    expect(v[1]).toBeCloseTo(-0.096, 6);
    expect(v[2]).toBeCloseTo(1, 5);
    expect(v[3]).toBe(0);
    tf.dispose([x, dy, g]);
  });

  it('the host twin l2NormalizeRows agrees with it to an ulp (double-precision sum of squares), in place', () => {
    const values = [3, 4, 0, 0, 1, 2, 2, 0.5, -7, 1e-3, 5, 5];
    const host = Float32Array.from(values);
    expect(l2NormalizeRows(host, 4, 3)).toBe(host);
    const x = tf.tensor2d(values, [4, 3]);
    const y = l2Normalize(x);
    const t = y.dataSync();
    for (let i = 0; i < host.length; i++) expect(Math.abs(host[i]! - t[i]!)).toBeLessThanOrEqual(2 ** -23);
    expect(Array.from(host.subarray(0, 3))).toEqual([Math.fround(0.6), Math.fround(0.8), 0]);
    tf.dispose([x, y]);
  });
});
