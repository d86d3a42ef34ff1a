import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bilinearMatrix,
  copyToVariable,
  dense,
  denseConstantInput,
  ensureGradients,
  matMul2d,
} from '../src/index.js';
import { expectClose, expectNoLeak } from './helpers.js';

describe.each(['cpu', 'wasm'] as const)('building blocks (%s)', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
    await ensureGradients();
  });

  it('dense: x @ w + b and its custom gradient equal the built-in ops', () => {
    const x = tf.randomNormal([7, 5], 0, 1, 'float32', 1) as tf.Tensor2D;
    const w = tf.randomNormal([5, 3], 0, 1, 'float32', 2) as tf.Tensor2D;
    const b = tf.randomNormal([3], 0, 1, 'float32', 3) as tf.Tensor1D;
    const r = tf.randomNormal([7, 3], 0, 1, 'float32', 4);
    const ours = dense(x, w, b);
    const ref = tf.add(tf.matMul(x, w), b);
    expectClose(ours, Array.from(ref.dataSync()), 1e-6, 1e-6);
    const f = (fn: typeof dense) => (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(tf.mul(fn(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D), r));
    const builtIn = (xx: tf.Tensor2D, ww: tf.Tensor2D, bb: tf.Tensor1D) =>
      tf.add(tf.matMul(xx, ww), bb) as tf.Tensor2D;
    const g1 = tf.grads(f(dense))([x, w, b]);
    const g2 = tf.grads(f(builtIn))([x, w, b]);
    g1.forEach((g, i) => {
      expectClose(g, Array.from(g2[i]!.dataSync()), 1e-5, 1e-6);
    });
    expectNoLeak(() => dense(x, w, b), 1);
    tf.dispose([x, w, b, r, ours, ref, ...g1, ...g2]);
  });
});

describe.each(['cpu', 'wasm'] as const)('explicit-transpose products (%s)', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
    await ensureGradients();
  });

  it('matMul2d: a @ b and both gradients equal the built-in matMul', () => {
    const a = tf.randomNormal([6, 4], 0, 1, 'float32', 11) as tf.Tensor2D;
    const b = tf.randomNormal([4, 3], 0, 1, 'float32', 12) as tf.Tensor2D;
    const r = tf.randomNormal([6, 3], 0, 1, 'float32', 13);
    const ref = tf.matMul(a, b);
    const ours = matMul2d(a, b);
    expect(Array.from(ours.dataSync())).toEqual(Array.from(ref.dataSync())); // the same forward op
    const f = (fn: (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor) => (x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(fn(x as tf.Tensor2D, y as tf.Tensor2D), r));
    const g1 = tf.grads(f(matMul2d))([a, b]);
    const g2 = tf.grads(f((x, y) => tf.matMul(x, y)))([a, b]);
    g1.forEach((g, i) => {
      expectClose(g, Array.from(g2[i]!.dataSync()), 1e-5, 1e-6);
    });
    expectNoLeak(() => matMul2d(a, b), 1);
    tf.dispose([a, b, r, ref, ours, ...g1, ...g2]);
  });

  it('denseConstantInput: the value and the dw, db of dense, bit for bit; a gradient for x is refused', () => {
    const x = tf.randomNormal([7, 5], 0, 1, 'float32', 1) as tf.Tensor2D;
    const w = tf.randomNormal([5, 3], 0, 1, 'float32', 2) as tf.Tensor2D;
    const b = tf.randomNormal([3], 0, 1, 'float32', 3) as tf.Tensor1D;
    const r = tf.randomNormal([7, 3], 0, 1, 'float32', 4);
    const loss = (fn: typeof dense) => (ww: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(tf.mul(fn(x, ww as tf.Tensor2D, bb as tf.Tensor1D), r));
    const [dw, db] = tf.grads(loss(denseConstantInput))([w, b]);
    const [dwRef, dbRef] = tf.grads(loss(dense))([w, b]);
    expect(Array.from(dw!.dataSync())).toEqual(Array.from(dwRef!.dataSync()));
    expect(Array.from(db!.dataSync())).toEqual(Array.from(dbRef!.dataSync()));
    const v = denseConstantInput(x, w, b);
    const vRef = dense(x, w, b);
    expect(Array.from(v.dataSync())).toEqual(Array.from(vRef.dataSync()));
    expect(() => tf.grad((xx: tf.Tensor) => tf.sum(denseConstantInput(xx as tf.Tensor2D, w, b)))(x)).toThrow(
      /shape/,
    );
    expectNoLeak(() => denseConstantInput(x, w, b), 1);
    tf.dispose([x, w, b, r, dw!, db!, dwRef!, dbRef!, v, vRef]);
  });
});

describe('bilinearMatrix and copyToVariable', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
    await ensureGradients();
  });

  it('torch align_corners=False taps: ×4 upsampling of 5 → 20, identity at equal size', () => {
    const r = bilinearMatrix(5, 20);
    for (let i = 0; i < 20; i++) {
      const row = Array.from(r.slice(i * 5, i * 5 + 5));
      expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
    }
    // dst 0: src = 0.25·0.5 − 0.5 < 0 → clamped to 0; dst 2: src = 0.125 → 0.875·x0 + 0.125·x1
    expect(Array.from(r.slice(0, 5))).toEqual([1, 0, 0, 0, 0]);
    expect(r[2 * 5]).toBeCloseTo(0.875, 6);
    expect(r[2 * 5 + 1]).toBeCloseTo(0.125, 6);
    // last row clamps to the last input
    expect(Array.from(r.slice(19 * 5))).toEqual([0, 0, 0, 0, 1]);
    const id = bilinearMatrix(3, 3);
    expect(Array.from(id)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });

  it('copyToVariable copies (later changes of the source do not leak in) and leaves no tensor behind', () => {
    const src = tf.variable(tf.tensor1d([1, 2]));
    let v!: tf.Variable;
    expectNoLeak(() => {
      v = copyToVariable(src, false);
    }, 1);
    src.assign(tf.tensor1d([5, 6]));
    expect(Array.from(v.dataSync())).toEqual([1, 2]);
    expect(v.trainable).toBe(false);
    tf.dispose([src, v]);
  });
});

describe('package hygiene', () => {
  it('no source file imports tfjs-core internals at load time (plain Node could not import the package)', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join, dirname } = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
    const files = readdirSync(src, { recursive: true }).filter((f) => String(f).endsWith('.ts'));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const text = readFileSync(join(src, String(f)), 'utf8');
      expect(text, String(f)).not.toMatch(/^import ['"]@tensorflow\/tfjs-core\/dist/m);
      expect(text, String(f)).not.toMatch(/from ['"]@tensorflow\/tfjs-core\/dist/);
    }
  });
});
