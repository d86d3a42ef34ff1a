import { l2Normalize, selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { consistencyLoss, hiddenPositiveLoss } from '../src/index.js';
import { catchError, expectNoLeak } from './helpers.js';

function randomInputs(batch: number, grid: number, d: number, c: number, q: number, seed: number) {
  const n = batch * grid * grid;
  return {
    z: l2Normalize(tf.randomNormal([n, d], 0, 1, 'float32', seed)) as tf.Tensor2D,
    zMix: l2Normalize(tf.randomNormal([n, d], 0, 1, 'float32', seed + 1)) as tf.Tensor2D,
    featBackbone: tf.randomNormal([n, c], 0, 1, 'float32', seed + 2) as tf.Tensor2D,
    codeMomentum: tf.randomNormal([n, d], 0, 1, 'float32', seed + 3) as tf.Tensor2D,
    poolAgnostic: tf.randomNormal([q, c], 0, 1, 'float32', seed + 4) as tf.Tensor2D,
    poolSpecific: tf.randomNormal([q, d], 0, 1, 'float32', seed + 5) as tf.Tensor2D,
    lambda: 0.5,
    temperature: 0.8,
    gridSize: grid,
  };
}
type Inputs = ReturnType<typeof randomInputs>;
const tensorsOf = (x: Inputs) => Object.values(x).filter((v) => v instanceof tf.Tensor) as tf.Tensor[];
const value = (t: tf.Tensor) => {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
};

describe('hiddenPositiveLoss behaviour', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('ρ = 1 equals an all-ones injected mask; a seeded ρ < 1 draw is reproducible and differs', () => {
    const x = randomInputs(3, 4, 8, 6, 16, 1);
    const p = 16;
    const n = 48;
    const ones = tf.ones([p, n]) as tf.Tensor2D;
    const base = value(hiddenPositiveLoss(x));
    expect(value(hiddenPositiveLoss({ ...x, negativeKeepRatio: 1 }))).toBe(base);
    expect(value(hiddenPositiveLoss({ ...x, negativeMask: ones }))).toBeCloseTo(base, 5);
    const a = value(hiddenPositiveLoss({ ...x, negativeKeepRatio: 0.3, seed: 5 }));
    const b = value(hiddenPositiveLoss({ ...x, negativeKeepRatio: 0.3, seed: 5 }));
    const c = value(hiddenPositiveLoss({ ...x, negativeKeepRatio: 0.3, seed: 6 }));
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(Math.abs(a - base)).toBeGreaterThan(1e-3);
    tf.dispose([ones, ...tensorsOf(x)]);
  });

  it('selection inputs are normalised inside: scaling them does not change the loss', () => {
    const x = randomInputs(2, 3, 6, 5, 8, 2);
    const base = value(hiddenPositiveLoss(x));
    const scaled = {
      ...x,
      featBackbone: tf.mul(x.featBackbone, 3.7) as tf.Tensor2D,
      codeMomentum: tf.mul(x.codeMomentum, 0.2) as tf.Tensor2D,
      poolAgnostic: tf.mul(x.poolAgnostic, 11) as tf.Tensor2D,
    };
    expect(value(hiddenPositiveLoss(scaled))).toBeCloseTo(base, 4);
    tf.dispose([scaled.featBackbone, scaled.codeMomentum, scaled.poolAgnostic, ...tensorsOf(x)]);
  });

  it('λ scales only the task-specific positives: λ = 0 ignores codeMomentum entirely', () => {
    const x = randomInputs(2, 3, 6, 5, 8, 3);
    const other = tf.randomNormal(x.codeMomentum.shape, 0, 1, 'float32', 99) as tf.Tensor2D;
    const l0 = value(hiddenPositiveLoss({ ...x, lambda: 0 }));
    expect(value(hiddenPositiveLoss({ ...x, lambda: 0, codeMomentum: other }))).toBe(l0);
    expect(value(hiddenPositiveLoss({ ...x, lambda: 1, codeMomentum: other }))).not.toBe(
      value(hiddenPositiveLoss({ ...x, lambda: 1 })),
    );
    tf.dispose([other, ...tensorsOf(x)]);
  });

  it('leaks no tensors with and without a gradient tape', () => {
    const x = randomInputs(2, 3, 6, 5, 8, 4);
    expectNoLeak(
      () => hiddenPositiveLoss({ ...x, negativeKeepRatio: 0.5, seed: 1 }),
      (out) => [out],
    );
    expectNoLeak(
      () =>
        tf.valueAndGrads((z: tf.Tensor, m: tf.Tensor) =>
          hiddenPositiveLoss({ ...x, z: z as tf.Tensor2D, zMix: m as tf.Tensor2D }),
        )([x.z, x.zMix]),
      (out) => [out.value, ...out.grads],
    );
    expectNoLeak(
      () => consistencyLoss(x.z, x.zMix),
      (out) => [out],
    );
    expectNoLeak(
      () => tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => consistencyLoss(a, b))([x.z, x.zMix]),
      (out) => [out.value, ...out.grads],
    );
    expectNoLeak(
      () => l2Normalize(x.featBackbone),
      (out) => [out],
    );
    tf.dispose(tensorsOf(x));
  });

  it('TF.js engine, block-wise memory: peak stays below one [N, N] matrix (B = 16, grid 6, N = 576)', async () => {
    const x = { ...randomInputs(16, 6, 16, 8, 32, 5), engine: 'tfjs' as const };
    const n = 576;
    const info = await tf.profile(() => {
      const { value: v, grads } = tf.valueAndGrads((z: tf.Tensor, m: tf.Tensor) =>
        hiddenPositiveLoss({ ...x, z: z as tf.Tensor2D, zMix: m as tf.Tensor2D }),
      )([x.z, x.zMix]);
      tf.dispose([v, ...grads]);
    });
    const oneFull = n * n * 4;
    expect(info.peakBytes - info.newBytes).toBeLessThan(oneFull);
    expect(info.peakBytes).toBeGreaterThan((oneFull / 16) * 2); // at least a couple of [P, N] blocks were alive
    tf.dispose(tensorsOf(x));
  });

  it('TF.js engine: reads nothing back to the host (WebGPU cannot read synchronously), with and without a tape', () => {
    const x = { ...randomInputs(2, 3, 6, 5, 8, 7), engine: 'tfjs' as const };
    // Tensor.dataSync / arraySync go through the engine (kernels may read their own backend's memory).
    const engine = tf.engine() as unknown as Record<string, unknown>;
    const refuse = () => {
      throw new Error('host read');
    };
    engine.readSync = refuse;
    let out: { value: tf.Scalar; grads: tf.Tensor[] };
    let plain: tf.Scalar;
    try {
      out = tf.valueAndGrads((z: tf.Tensor, m: tf.Tensor) =>
        hiddenPositiveLoss({
          ...x,
          z: z as tf.Tensor2D,
          zMix: m as tf.Tensor2D,
          negativeKeepRatio: 0.5,
          seed: 3,
        }),
      )([x.z, x.zMix]);
      plain = hiddenPositiveLoss({ ...x, negativeKeepRatio: 0.5, seed: 3 });
    } finally {
      delete engine.readSync;
    }
    expect(out.value.dataSync()[0]).toBe(plain.dataSync()[0]);
    tf.dispose([out.value, ...out.grads, plain, ...tensorsOf(x)]);
  });

  it('anchors outside V with an empty contrast set (all-zero mask row) give finite values, not 0 · ∞', () => {
    // 3×3 grid, 2 images; a mask of zeros leaves A = M_ag, empty on every anchor without a positive.
    const x = randomInputs(2, 3, 6, 5, 8, 8);
    const mask = tf.zeros([9, 18]) as tf.Tensor2D;
    const { value: v, grads } = tf.valueAndGrads((z: tf.Tensor, m: tf.Tensor) =>
      hiddenPositiveLoss({ ...x, z: z as tf.Tensor2D, zMix: m as tf.Tensor2D, negativeMask: mask }),
    )([x.z, x.zMix]);
    expect(Number.isFinite(v.dataSync()[0])).toBe(true);
    for (const g of grads) expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
    tf.dispose([mask, v, ...grads, ...tensorsOf(x)]);
  });

  it('rejects bad inputs with stable codes and messages', () => {
    const x = randomInputs(2, 3, 6, 5, 8, 6);
    let e = catchError(() => hiddenPositiveLoss({ ...x, gridSize: 4 }));
    expect(e.code).toBe('E_SHAPE');
    expect(e.message).toContain(
      'hiddenPositiveLoss: N must be a whole number of images: expected a multiple of P = 4·4 = 16, got N = 18',
    );
    e = catchError(() => hiddenPositiveLoss({ ...x, zMix: tf.zeros([18, 5]) as tf.Tensor2D }));
    expect(e.code).toBe('E_SHAPE');
    expect(e.message).toContain('zMix has the wrong shape');
    e = catchError(() => hiddenPositiveLoss({ ...x, poolAgnostic: tf.zeros([8, 6]) as tf.Tensor2D }));
    expect(e.message).toContain('poolAgnostic has the wrong shape');
    e = catchError(() => hiddenPositiveLoss({ ...x, negativeKeepRatio: 0 }));
    expect(e.code).toBe('E_ARG');
    expect(e.message).toContain('expected ρ in (0, 1], got 0');
    e = catchError(() => hiddenPositiveLoss({ ...x, negativeMask: tf.ones([9, 9]) as tf.Tensor2D }));
    expect(e.message).toContain('negativeMask has the wrong shape: expected [9, 18]');
    e = catchError(() => hiddenPositiveLoss({ ...x, temperature: 0 }));
    expect(e.code).toBe('E_ARG');
    e = catchError(() => hiddenPositiveLoss({ ...x, lambda: -0.1 }));
    expect(e.message).toContain('lambda is invalid');
    e = catchError(() => consistencyLoss(x.z, tf.zeros([18, 5])));
    expect(e.code).toBe('E_SHAPE');
    tf.dispose(tensorsOf(x));
  });
});
