import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  disposeFusedLoss,
  initFusedLoss,
  LOCAL_WINDOW_OFFSETS,
  localPositiveWeights,
  mixLocalPositives,
} from '../src/index.js';
import type { LocalCase } from './fixture-types.js';
import { catchError, expectClose, expectNoLeak, fixture } from './helpers.js';

const golden = fixture<{ cases: LocalCase[] }>('hp_local.json');
/** Named tolerance (issue 4): weights and mixed outputs 1e-5. */
const TOL = 1e-5;

for (const [backend, engine] of [
  ['cpu', 'tfjs'],
  ['wasm', 'tfjs'],
  ['cpu', 'fused'],
  ['wasm', 'fused'],
] as const) {
  describe(`localPositiveWeights / mixLocalPositives equal the PyTorch reference (${backend}, engine ${engine})`, () => {
    beforeAll(async () => {
      await selectBackend(backend);
    });

    for (const c of golden.cases) {
      it(`grid ${c.gridSize}, σ = ${c.sigma}: weights and mixed outputs within ${TOL} (corners and edges included)`, () => {
        const attn = tf.tensor4d(c.attention, c.attentionShape);
        const code = tf.tensor4d(c.codeNHWC, c.codeShape);
        const before = tf.memory().numTensors;
        const weights = localPositiveWeights(attn, { gridSize: c.gridSize, sigma: c.sigma, engine });
        expect(tf.memory().numTensors).toBe(before + 1);
        expect(weights.shape).toEqual(c.weightsShape);
        const w = weights.dataSync();
        expectClose(w, c.weights, TOL, 'weights');
        const kept = Array.from(
          { length: c.weightsShape[0] },
          (_, b) =>
            Array.from(w.slice(b * c.weightsShape[1] * 9, (b + 1) * c.weightsShape[1] * 9)).filter(
              (v) => v > 0,
            ).length,
        );
        expect(kept).toEqual(c.keptPerImage);
        const mixed = mixLocalPositives(code, weights, { engine });
        expect(mixed.shape).toEqual(c.codeShape);
        expectClose(mixed.dataSync(), c.mixedNHWC, TOL, 'mixed');
        // token-major input gives the same result
        const d = c.codeShape[3];
        const mixed2 = mixLocalPositives(tf.reshape(code, [-1, d]), weights, {
          gridSize: c.gridSize,
          engine,
        });
        expectClose(mixed2.dataSync(), c.mixedNHWC, TOL, 'mixed token-major');
        tf.dispose([attn, code, weights, mixed, mixed2]);
      });
    }
  });
}

for (const [backend, threads] of [
  ['cpu', 1],
  ['wasm', 1],
  ['wasm', 2],
] as const) {
  describe(`mixLocalPositives: the fused engine is the TF.js engine bit for bit (${backend}, ${threads} thread${threads > 1 ? 's' : ''})`, () => {
    beforeAll(async () => {
      await selectBackend(backend);
      if (threads > 1) await initFusedLoss({ threads });
    });
    afterAll(async () => {
      await disposeFusedLoss();
    });

    it('the window order is the one the fused task assumes: k = 3·(di + 1) + (dj + 1)', () => {
      LOCAL_WINDOW_OFFSETS.forEach(([di, dj], k) => {
        expect(k).toBe(3 * (di + 1) + (dj + 1));
      });
    });

    /** Elementwise Object.is (so −0 and +0 differ): the index of the first difference, or −1. */
    const firstDifference = (a: tf.Tensor, b: tf.Tensor) => {
      const x = a.dataSync();
      const y = b.dataSync();
      expect(x.length).toBe(y.length);
      for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return i;
      return -1;
    };

    it('value and gradient on a 5×7 grid (corners, edges), D = 13, with zero and negative weights', () => {
      const [B, h, w, D] = [2, 5, 7, 13];
      const code = tf.randomNormal([B, h, w, D], 0, 1, 'float32', 7) as tf.Tensor4D;
      const raw = tf.randomUniform([B, h * w, 9], -0.3, 1, 'float32', 8);
      const weights = tf.tidy(() => tf.where(tf.less(raw, 0), tf.zerosLike(raw), raw)) as tf.Tensor3D;
      const negative = tf.neg(weights) as tf.Tensor3D; // every product −0 or negative: the zero signs must match too
      const dy = tf.randomNormal([B, h, w, D], 0, 1, 'float32', 9);
      for (const wts of [weights, negative, raw as tf.Tensor3D]) {
        const run = (engine: 'tfjs' | 'fused') =>
          tf.tidy(() => {
            const f = (c: tf.Tensor) => mixLocalPositives(c, wts, { engine });
            const value = f(code);
            const grad = tf.grad(f)(code, dy);
            const tokenMajor = mixLocalPositives(tf.reshape(code, [-1, D]), wts, {
              gridSize: [h, w],
              engine,
            });
            return [value, grad, tokenMajor];
          });
        const ref = run('tfjs');
        const before = tf.memory().numTensors;
        const got = run('fused');
        expect(tf.memory().numTensors, 'value, gradient and token-major value only').toBe(before + 3);
        for (const [i, t] of got.entries()) expect(firstDifference(t, ref[i]!), `output ${i}`).toBe(-1);
        expect(got[1]!.shape).toEqual([B, h, w, D]);
        expect(Array.from(got[0]!.dataSync()).some((v) => v !== 0)).toBe(true);
        tf.dispose([...ref, ...got]);
      }
      tf.dispose([code, raw, weights, negative, dy]);
    });

    it('leaves only its result behind; the weights get a zero gradient', () => {
      const code = tf.randomNormal([1, 3, 3, 4], 0, 1, 'float32', 1);
      const weights = tf.randomUniform([1, 9, 9], 0, 1, 'float32', 2);
      expectNoLeak(
        () => mixLocalPositives(code, weights, { engine: 'fused' }),
        (out) => [out],
      );
      const gw = tf.grad((wt: tf.Tensor) => mixLocalPositives(code, wt, { engine: 'fused' }))(weights);
      expect(Array.from(gw.dataSync()).every((v) => v === 0)).toBe(true);
      expect(catchError(() => mixLocalPositives(code, weights, { engine: 'simd' as never }))).toMatchObject({
        code: 'E_ARG',
        message: expect.stringContaining("expected one of 'auto', 'tfjs', 'fused', got \"simd\""),
      });
      tf.dispose([code, weights, gw]);
    });
  });
}

describe('local positives: structure', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('window order is row-major (−1,−1)…(1,1); outside-image entries are 0 at corners and edges', () => {
    expect(LOCAL_WINDOW_OFFSETS[0]).toEqual([-1, -1]);
    expect(LOCAL_WINDOW_OFFSETS[4]).toEqual([0, 0]);
    expect(LOCAL_WINDOW_OFFSETS[8]).toEqual([1, 1]);
    // Uniform logits: after the clamp every softmax entry is 1/P = the mean, so all are kept:
    // weight = σ/P / n_i inside the image, 0 outside.
    const g = 4;
    const p = g * g;
    const attn = tf.zeros([1, 2, p + 1, p + 1]);
    const w = localPositiveWeights(attn, { gridSize: g });
    const v = w.arraySync()[0]!;
    const s = 28 / p;
    expect(v[0]!.map((x) => x > 0)).toEqual([false, false, false, false, true, true, false, true, true]); // corner
    expect(v[0]![4]).toBeCloseTo(s / 4, 6);
    expect(v[1]![4]).toBeCloseTo(s / 6, 6); // top edge
    expect(v[5]!.every((x) => Math.abs(x - s / 9) < 1e-6)).toBe(true); // interior
    expect(v[15]!.map((x) => x > 0)).toEqual([true, true, false, true, true, false, false, false, false]);
    tf.dispose([attn, w]);
  });

  it('mixing is differentiable w.r.t. code and sends gradient to the neighbours only', () => {
    const g = 3;
    const weights = tf.tensor3d(
      Array.from({ length: g * g }, (_, i) =>
        i === 4 ? [1, 2, 3, 4, 5, 6, 7, 8, 9] : Array(9).fill(0),
      ).flat(),
      [1, 9, 9],
    );
    const code = tf.randomNormal([1, g, g, 2], 0, 1, 'float32', 1);
    // dy = 1 on the mixed centre token: d/dcode[j] = weight of j in the centre's window.
    const dy = tf.tensor4d(
      Array.from({ length: g * g * 2 }, (_, k) => (Math.floor(k / 2) === 4 ? 1 : 0)),
      [1, g, g, 2],
    );
    const grad = tf.grad((c: tf.Tensor) => mixLocalPositives(c, weights))(code, dy);
    expect(Array.from(tf.slice(grad, [0, 0, 0, 0], [1, 3, 3, 1]).dataSync())).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9,
    ]);
    dy.dispose();
    tf.dispose([weights, code, grad]);
  });

  it('leaks no tensors over a batch of 16 images (grid 12), on both engines', () => {
    const g = 12;
    const p = g * g;
    const b = 16;
    const attn = tf.randomNormal([b, 1, p + 1, p + 1], 0, 1, 'float32', 3);
    for (const engine of ['tfjs', 'fused'] as const) {
      const w = expectNoLeak(
        () => localPositiveWeights(attn, { gridSize: g, engine }),
        (out) => [out],
      );
      expect(w.shape).toEqual([b, p, 9]);
    }
    attn.dispose();
  });

  it("the fused engine equals the TF.js engine on random logits (B = 3, 4 heads, grid 11×9), and is 'auto' here", () => {
    const attn = tf.randomNormal([3, 4, 100, 100], 0, 2, 'float32', 8);
    const a = localPositiveWeights(attn, { gridSize: [11, 9], engine: 'tfjs' });
    const b = localPositiveWeights(attn, { gridSize: [11, 9], engine: 'fused' });
    const auto = localPositiveWeights(attn, { gridSize: [11, 9] });
    expectClose(b.dataSync(), a.dataSync(), 1e-6, 'weights');
    expect(Array.from(b.dataSync(), (v) => v > 0)).toEqual(Array.from(a.dataSync(), (v) => v > 0));
    expect(Array.from(auto.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([attn, a, b, auto]);
  });

  it('the gradient is the exact adjoint of the mix: <mix(c), dy> = <c, grad(dy)> (random, grid 5×4)', () => {
    const [b, h, w, d] = [2, 5, 4, 3];
    const weights = tf.randomUniform([b, h * w, 9], 0, 1, 'float32', 4);
    const code = tf.randomNormal([b * h * w, d], 0, 1, 'float32', 5);
    const dy = tf.randomNormal([b, h, w, d], 0, 1, 'float32', 6);
    const mixed = mixLocalPositives(code, weights, { gridSize: [h, w] });
    const grad = tf.grad((c: tf.Tensor) => mixLocalPositives(c, weights, { gridSize: [h, w] }))(code, dy);
    expect(grad.shape).toEqual([b * h * w, d]);
    const dot = (x: tf.Tensor, y: tf.Tensor) => {
      const a = Array.from(x.dataSync());
      const bb = y.dataSync();
      return a.reduce((s, v, i) => s + v * bb[i]!, 0);
    };
    expect(dot(mixed, dy)).toBeCloseTo(dot(code, grad), 4);
    tf.dispose([weights, code, dy, mixed, grad]);
  });

  it('leaks no tensors (mix)', () => {
    const code = tf.ones([2, 3, 3, 4]);
    const weights = tf.ones([2, 9, 9]);
    expectNoLeak(
      () => mixLocalPositives(code, weights),
      (out) => [out],
    );
    tf.dispose([code, weights]);
  });

  it('rejects wrong shapes with E_SHAPE and bad options with E_ARG', () => {
    const attn = tf.zeros([1, 2, 10, 10]);
    let e = catchError(() => localPositiveWeights(attn, { gridSize: 4 }));
    expect(e.code).toBe('E_SHAPE');
    expect(e.message).toContain(
      'localPositiveWeights: attentionLogits has the wrong shape: expected [B, heads, 17, 17]',
    );
    e = catchError(() => localPositiveWeights(attn, { gridSize: 0 }));
    expect(e.code).toBe('E_ARG');
    e = catchError(() => localPositiveWeights(attn, { gridSize: 3, sigma: -1 }));
    expect(e.code).toBe('E_ARG');
    e = catchError(() => localPositiveWeights(attn, { gridSize: 3, engine: 'gpu' as 'tfjs' }));
    expect(e.code).toBe('E_ARG');
    expect(e.message).toContain(
      "localPositiveWeights: engine is invalid: expected one of 'auto', 'tfjs', 'fused', got",
    );
    const code = tf.zeros([2, 3, 3, 4]);
    e = catchError(() => mixLocalPositives(code, tf.zeros([2, 9, 8])));
    expect(e.code).toBe('E_SHAPE');
    e = catchError(() => mixLocalPositives(code, tf.zeros([2, 16, 9])));
    expect(e.message).toContain('mixLocalPositives: code does not match weights');
    e = catchError(() => mixLocalPositives(tf.zeros([12, 4]), tf.zeros([1, 12, 9])));
    expect(e.message).toContain('or [N, D] with a square grid or options.gridSize');
    tf.dispose([attn, code]);
  });
});
