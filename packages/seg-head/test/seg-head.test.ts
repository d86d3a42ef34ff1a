import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  computeGradients,
  createMomentumHead,
  createSegHead,
  disposeMap,
  drawDropout2dMask,
  dropout2d,
  ensureGradients,
  SEG_HEAD_PARAM_NAMES,
  SegHead,
  updateMomentumHead,
} from '../src/index.js';
import { expectClose, expectHpError, expectNoLeak, fixture, T } from './helpers.js';

const head = fixture('head.json');
const ema = fixture('ema.json');

function loadHead(weights: Record<string, { shape: number[]; data: number[] }>, trainable = true): SegHead {
  const tensors = Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, T(v)]));
  const h = SegHead.fromWeights(tensors, { trainable });
  tf.dispose(Object.values(tensors));
  return h;
}

describe.each(['cpu', 'wasm'] as const)('SegHead golden (%s)', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
    await ensureGradients();
  });

  it('training forward with torch-drawn Dropout2d masks equals PyTorch (rtol 1e-5)', () => {
    const h = loadHead(head.weights);
    const feat = T(head.feat) as tf.Tensor4D;
    const masks = { cluster1: T(head.mask1), cluster2: T(head.mask2) };
    const code = h.forward(feat, { training: true, masks });
    expectClose(code, head.codeTrain, 1e-5, 1e-6);
    tf.dispose([code, feat, masks.cluster1, masks.cluster2]);
    h.dispose();
  });

  it('eval forward (no dropout) equals PyTorch (rtol 1e-5)', () => {
    const h = loadHead(head.weights);
    const feat = T(head.feat) as tf.Tensor4D;
    const code = h.forward(feat);
    expectClose(code, head.codeEval, 1e-5, 1e-6);
    tf.dispose([code, feat]);
    h.dispose();
  });

  it('gradients w.r.t. all six parameters and the input equal PyTorch (rtol 1e-5)', () => {
    const h = loadHead(head.weights);
    const feat = T(head.feat) as tf.Tensor4D;
    const r = T(head.r);
    const masks = { cluster1: T(head.mask1), cluster2: T(head.mask2) };
    const { value, grads } = computeGradients(
      () => tf.sum(tf.mul(h.forward(feat, { training: true, masks }), r)) as tf.Scalar,
      h.params,
    );
    expectClose([value.dataSync()[0]!], [head.loss], 1e-5);
    for (const name of SEG_HEAD_PARAM_NAMES) expectClose(grads[name]!, head.grads[name], 1e-5, 1e-6);
    const gFeat = tf.grad((x: tf.Tensor) =>
      tf.sum(tf.mul(h.forward(x as tf.Tensor4D, { training: true, masks }), r)),
    )(feat);
    expectClose(gFeat, head.gradFeat, 1e-5, 1e-6);
    disposeMap(grads);
    tf.dispose([value, gFeat, feat, r, masks.cluster1, masks.cluster2]);
    h.dispose();
  });

  it('inputGradient: false (frozen input): the same code, bit-identical parameter gradients equal to PyTorch, the input gradient refused', () => {
    const h = loadHead(head.weights);
    const feat = T(head.feat) as tf.Tensor4D;
    const r = T(head.r);
    const masks = { cluster1: T(head.mask1), cluster2: T(head.mask2) };
    const loss = (x: tf.Tensor4D, inputGradient?: boolean) =>
      tf.sum(tf.mul(h.forward(x, { training: true, masks, inputGradient }), r)) as tf.Scalar;
    const full = computeGradients(() => loss(feat), h.params);
    const frozen = computeGradients(() => loss(feat, false), h.params);
    expect(frozen.value.dataSync()[0]).toBe(full.value.dataSync()[0]);
    for (const name of SEG_HEAD_PARAM_NAMES) {
      expect(Array.from(frozen.grads[name]!.dataSync()), name).toEqual(
        Array.from(full.grads[name]!.dataSync()),
      );
      expectClose(frozen.grads[name]!, head.grads[name], 1e-5, 1e-6);
    }
    // A tape that needs the input's gradient fails loudly instead of getting zeros.
    expect(() => tf.grad((x: tf.Tensor) => loss(x as tf.Tensor4D, false))(feat)).toThrow(/shape/);
    expectNoLeak(() => h.forward(feat, { training: true, masks, inputGradient: false }), 1);
    disposeMap(full.grads);
    disposeMap(frozen.grads);
    tf.dispose([full.value, frozen.value, feat, r, masks.cluster1, masks.cluster2]);
    h.dispose();
  });

  it("EMA update θ' ← m·θ' + (1−m)·θ equals PyTorch (rtol 1e-6)", () => {
    const online = loadHead(ema.online);
    const momentum = loadHead(ema.emaBefore, false);
    updateMomentumHead(online, momentum, ema.m);
    for (const name of SEG_HEAD_PARAM_NAMES)
      expectClose(momentum.params[name], ema.emaAfter[name], 1e-6, 1e-8);
    online.dispose();
    momentum.dispose();
  });
});

describe('SegHead behaviour', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
    await ensureGradients();
  });

  it('PyTorch default init: every weight and bias in U(−1/√C, 1/√C), seeded, with the spread of a uniform', () => {
    const h = createSegHead({ inChannels: 64, dim: 32, seed: 5 });
    const h2 = createSegHead({ inChannels: 64, dim: 32, seed: 5 });
    const bound = 1 / 8;
    for (const name of SEG_HEAD_PARAM_NAMES) {
      const v = Array.from(h.params[name].dataSync());
      expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Array.from(h2.params[name].dataSync())).toEqual(v); // seeded
      if (v.length >= 1024) {
        const variance = v.reduce((s, x) => s + x * x, 0) / v.length;
        expect(variance).toBeCloseTo((bound * bound) / 3, 3); // U(−b, b) has variance b²/3
      }
    }
    expect(h.params['cluster2.0.weight'].shape).toEqual([64, 64]);
    expect(h.params['cluster2.2.weight'].shape).toEqual([64, 32]);
    expect(h.params['cluster1.0.weight'].trainable).toBe(true);
    h.dispose();
    h2.dispose();
  });

  it('training mode draws independent masks per branch; seeded draws repeat; eval is deterministic', () => {
    const h = createSegHead({ inChannels: 16, dim: 8, seed: 1 });
    const feat = tf.randomNormal([2, 3, 3, 16], 0, 1, 'float32', 3) as tf.Tensor4D;
    const a = h.forward(feat, { training: true, seed: 7 });
    const b = h.forward(feat, { training: true, seed: 7 });
    const c = h.forward(feat, { training: true, seed: 8 });
    const e1 = h.forward(feat);
    const e2 = h.forward(feat, { training: false });
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(c.dataSync()));
    expect(Array.from(e1.dataSync())).toEqual(Array.from(e2.dataSync()));
    // independent masks: the same mask on both branches gives a different output than seed 7's pair
    const m = drawDropout2dMask(2, 16, 0.1, 7);
    const same = h.forward(feat, { training: true, masks: { cluster1: m, cluster2: m } });
    expect(Array.from(same.dataSync())).not.toEqual(Array.from(a.dataSync()));
    tf.dispose([feat, a, b, c, e1, e2, m, same]);
    h.dispose();
  });

  it('dropout2d: zeroes whole channels per sample, scales kept ones by 1/0.9, drops ≈10%', () => {
    const x = tf.ones([64, 2, 2, 32]) as tf.Tensor4D;
    const y = dropout2d(x, 0.1, 123);
    const v = y.dataSync();
    let dropped = 0;
    for (let b = 0; b < 64; b++) {
      for (let c = 0; c < 32; c++) {
        const vals = [0, 1, 2, 3].map((p) => v[b * 128 + p * 32 + c]!);
        expect(new Set(vals).size).toBe(1); // same value over the whole channel
        if (vals[0] === 0) dropped++;
        else expect(vals[0]).toBeCloseTo(1 / 0.9, 6);
      }
    }
    expect(dropped / 2048).toBeGreaterThan(0.07);
    expect(dropped / 2048).toBeLessThan(0.13);
    const z = dropout2d(x, 0);
    expect(Array.from(z.dataSync())).toEqual(Array.from(x.dataSync()));
    tf.dispose([x, y, z]);
  });

  it('momentum head is a non-trainable exact copy, and computeGradients never touches it', () => {
    const h = createSegHead({ inChannels: 8, dim: 4, seed: 2 });
    const m = createMomentumHead(h);
    for (const name of SEG_HEAD_PARAM_NAMES) {
      expect(m.params[name].trainable).toBe(false);
      expect(Array.from(m.params[name].dataSync())).toEqual(Array.from(h.params[name].dataSync()));
    }
    // after an update with m = 0 the momentum head equals the online one; with m = 1 it stays
    const before = Array.from(m.params['cluster1.0.bias'].dataSync());
    h.params['cluster1.0.bias'].assign(tf.onesLike(h.params['cluster1.0.bias']));
    updateMomentumHead(h, m, 1);
    expect(Array.from(m.params['cluster1.0.bias'].dataSync())).toEqual(before);
    updateMomentumHead(h, m, 0);
    expect(Array.from(m.params['cluster1.0.bias'].dataSync())).toEqual([1, 1, 1, 1]);
    h.dispose();
    m.dispose();
  });

  it('leak-free: create, forward, fromWeights, getWeights, createMomentumHead, updateMomentumHead, dropout2d, computeGradients', () => {
    const feat = tf.randomNormal([1, 2, 2, 8]) as tf.Tensor4D;
    let h!: SegHead;
    expectNoLeak(() => {
      h = createSegHead({ inChannels: 8, dim: 4, seed: 1 });
    }, 6);
    expectNoLeak(() => h.forward(feat, { training: true, seed: 3 }), 1);
    expectNoLeak(() => h.forward(feat), 1);
    expectNoLeak(() => dropout2d(feat, 0.1, 4), 1);
    expectNoLeak(() => drawDropout2dMask(1, 8, 0.1, 4), 1);
    expectNoLeak(() => h.getWeights(), 6);
    let m!: SegHead;
    expectNoLeak(() => {
      m = createMomentumHead(h);
    }, 6);
    expectNoLeak(() => updateMomentumHead(h, m, 0.99), 0);
    expectNoLeak(() => computeGradients(() => tf.sum(h.forward(feat)) as tf.Scalar, h.params), 7);
    const w = h.getWeights();
    expectNoLeak(() => SegHead.fromWeights(w).dispose(), 0);
    disposeMap(w);
    const before = tf.memory().numTensors;
    h.dispose();
    m.dispose();
    expect(tf.memory().numTensors).toBe(before - 12);
    feat.dispose();
  });

  it('errors: wrong feature width, masks in eval mode, bad mask shape, bad widths, mismatched EMA heads', () => {
    const h = createSegHead({ inChannels: 8, dim: 4, seed: 1 });
    const bad = tf.zeros([1, 2, 2, 7]) as tf.Tensor4D;
    expectHpError(
      () => h.forward(bad),
      'E_SHAPE',
      'SegHead.forward: feat has the wrong shape: expected [B, h, w, 8]',
    );
    const feat = tf.zeros([1, 2, 2, 8]) as tf.Tensor4D;
    const mask = tf.ones([1, 1, 1, 8]);
    expectHpError(() => h.forward(feat, { masks: { cluster1: mask } }), 'E_ARG', 'masks given in eval mode');
    const badMask = tf.ones([1, 1, 1, 3]);
    expectHpError(
      () => h.forward(feat, { training: true, masks: { cluster1: badMask } }),
      'E_SHAPE',
      'dropout2d: mask has the wrong shape',
    );
    expectHpError(() => createSegHead({ inChannels: 0, dim: 4 }), 'E_ARG', 'inChannels is invalid');
    expectHpError(() => createSegHead({ inChannels: 4, dim: 2.5 }), 'E_ARG', 'dim is invalid');
    const other = createSegHead({ inChannels: 8, dim: 5 });
    expectHpError(() => updateMomentumHead(h, other, 0.99), 'E_SHAPE', 'heads differ in width');
    expectHpError(() => updateMomentumHead(h, h, 0.99), 'E_ARG', 'same object');
    expectHpError(() => updateMomentumHead(h, other, 1.5), 'E_ARG', 'm is invalid');
    const w = h.getWeights();
    const partial = { ...w } as Record<string, tf.Tensor>;
    delete partial['cluster2.2.bias'];
    expectHpError(() => SegHead.fromWeights(partial), 'E_CHECKPOINT', 'missing [cluster2.2.bias]');
    const wrongShape = { ...w, 'cluster2.0.bias': tf.zeros([3]) } as Record<string, tf.Tensor>;
    expectHpError(
      () => SegHead.fromWeights(wrongShape),
      'E_CHECKPOINT',
      'cluster2.0.bias [3] (expected [8])',
    );
    h.dispose();
    expectHpError(() => h.forward(feat), 'E_ARG', 'disposed');
    tf.dispose([bad, feat, mask, badMask, wrongShape['cluster2.0.bias']!]);
    disposeMap(w);
    other.dispose();
  });
});
