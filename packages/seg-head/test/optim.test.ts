import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  clipGradNorm,
  createAdam,
  createAdamW,
  disposeMap,
  ensureGradients,
  type GradMap,
  type Optimizer,
} from '../src/index.js';
import { expectClose, expectHpError, expectNoLeak, type Fx, fixture, T } from './helpers.js';

const fx = fixture('optim.json');

function makeParams(): Record<string, tf.Variable> {
  return { a: tf.variable(T(fx.init.a)), b: tf.variable(T(fx.init.b)) };
}
function makeGrads(i: number): GradMap {
  return { a: T(fx.grads[i].a), b: T(fx.grads[i].b) };
}
// biome-ignore lint/suspicious/noExplicitAny: fixture JSON
function makeOpt(c: any, params: Record<string, tf.Variable>): Optimizer {
  const common = { lr: c.lr, betas: c.betas as [number, number], eps: c.eps };
  return c.name === 'adam'
    ? createAdam(params, common)
    : createAdamW(params, { ...common, weightDecay: c.weightDecay });
}

describe.each(['cpu', 'wasm'] as const)('optimisers vs torch.optim (%s)', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
    await ensureGradients();
  });

  for (const c of fx.cases) {
    it(`${c.name}: 3 steps${c.clip ? ` with clip_grad_norm_(${c.clip})` : ''}: params, moments, norms within 1e-6 relative`, async () => {
      const params = makeParams();
      const opt = makeOpt(c, params);
      const steps = c.steps as {
        totalNorm: number | null;
        clippedGrads: Record<string, Fx>;
        params: Record<string, Fx>;
        expAvg: Record<string, Fx>;
        expAvgSq: Record<string, Fx>;
      }[];
      for (const [i, s] of steps.entries()) {
        let grads = makeGrads(i);
        if (c.clip !== null) {
          const clipped = clipGradNorm(grads, c.clip);
          expectClose([clipped.totalNorm.dataSync()[0]!], [s.totalNorm!], 1e-6);
          disposeMap(grads);
          clipped.totalNorm.dispose();
          grads = clipped.grads;
        }
        for (const k of ['a', 'b']) expectClose(grads[k]!, s.clippedGrads[k]!, 1e-6, 1e-9);
        opt.step(grads);
        disposeMap(grads);
        const state = await opt.getState();
        for (const k of ['a', 'b']) {
          expectClose(params[k]!, s.params[k]!, 1e-6, 1e-9);
          expectClose(Array.from(state.get(`${k}.exp_avg`)!.data as Float32Array), s.expAvg[k]!, 1e-6, 1e-9);
          expectClose(
            Array.from(state.get(`${k}.exp_avg_sq`)!.data as Float32Array),
            s.expAvgSq[k]!,
            1e-6,
            1e-12,
          );
          expect(state.get(`${k}.step`)!.data[0]).toBe(i + 1);
        }
      }
      opt.dispose();
      disposeMap(params);
    });
  }
});

describe('optimiser behaviour', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
    await ensureGradients();
  });

  it('resume through getState/setState is bit-identical to an uninterrupted run', async () => {
    const c = fx.cases[0];
    const p1 = makeParams();
    const o1 = makeOpt(c, p1);
    for (let i = 0; i < 3; i++) {
      const g = makeGrads(i);
      o1.step(g);
      disposeMap(g);
    }
    const p2 = makeParams();
    const o2 = makeOpt(c, p2);
    const g0 = makeGrads(0);
    o2.step(g0);
    disposeMap(g0);
    const saved = await o2.getState();
    const savedParams = { a: tf.clone(p2.a!), b: tf.clone(p2.b!) };
    o2.dispose();
    disposeMap(p2);
    // a fresh process: new params from the saved values, new optimiser, restored state
    const p3 = { a: tf.variable(savedParams.a), b: tf.variable(savedParams.b) };
    const o3 = makeOpt(c, p3);
    o3.setState(saved);
    for (let i = 1; i < 3; i++) {
      const g = makeGrads(i);
      o3.step(g);
      disposeMap(g);
    }
    for (const k of ['a', 'b'])
      expect(Array.from(p3[k as 'a']!.dataSync())).toEqual(Array.from(p1[k as 'a']!.dataSync()));
    o1.dispose();
    o3.dispose();
    disposeMap(p1);
    disposeMap(p3);
    disposeMap(savedParams);
  });

  it('clipGradNorm leaves small gradients unchanged (multiplier 1) and scales large ones to maxNorm', () => {
    const small = { x: tf.tensor1d([0.3, 0.4]) };
    const r1 = clipGradNorm(small, 10);
    expect(Array.from(r1.grads.x!.dataSync())).toEqual(Array.from(small.x.dataSync()));
    expect(r1.totalNorm.dataSync()[0]).toBeCloseTo(0.5, 6);
    const big = { x: tf.tensor1d([30, 40]), y: tf.tensor1d([0]) };
    const r2 = clipGradNorm(big, 10);
    expect(r2.totalNorm.dataSync()[0]).toBeCloseTo(50, 4);
    const n = Math.hypot(...Array.from(r2.grads.x!.dataSync()));
    expect(n).toBeCloseTo(10, 4);
    disposeMap(small);
    disposeMap(big);
    disposeMap(r1.grads);
    disposeMap(r2.grads);
    tf.dispose([r1.totalNorm, r2.totalNorm]);
  });

  it('a parameter without a gradient is skipped (its step count does not advance), as torch skips grad None', async () => {
    const p = makeParams();
    const opt = createAdam(p, { lr: 0.1 });
    const before = Array.from(p.b!.dataSync());
    const g = { a: T(fx.grads[0].a) };
    opt.step(g);
    expect(Array.from(p.b!.dataSync())).toEqual(before);
    const st = await opt.getState();
    expect(st.get('a.step')!.data[0]).toBe(1);
    expect(st.get('b.step')!.data[0]).toBe(0);
    disposeMap(g);
    opt.dispose();
    disposeMap(p);
  });

  it('leak-free: createAdam, createAdamW, step, getState, setState, dispose, clipGradNorm', async () => {
    const p = makeParams();
    let o!: Optimizer;
    expectNoLeak(() => {
      o = createAdamW(p, { lr: 1e-3, weightDecay: 0.1 });
    }, 4); // m and v per parameter
    const g = makeGrads(0);
    expectNoLeak(() => o.step(g), 0);
    const tensorsBefore = tf.memory().numTensors;
    const st = await o.getState();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expectNoLeak(() => o.setState(st), 0);
    expectNoLeak(() => clipGradNorm(g, 1), 3);
    let a!: Optimizer;
    expectNoLeak(() => {
      a = createAdam(p, { lr: 1e-3 });
    }, 4);
    expectNoLeak(() => a.dispose(), -4);
    expectNoLeak(() => o.dispose(), -4);
    disposeMap(g);
    disposeMap(p);
  });

  it('errors: unknown or mis-shaped gradient, frozen parameter, bad hyper-parameters, strict setState', async () => {
    const p = makeParams();
    const o = createAdamW(p, { lr: 1e-3 });
    const g = { c: tf.zeros([1]) };
    expectHpError(() => o.step(g), 'E_ARG', 'createAdamW.step: unknown gradient c');
    const g2 = { a: tf.zeros([4, 3]) };
    expectHpError(() => o.step(g2), 'E_SHAPE', 'gradient a has the wrong shape: expected [3, 4], got [4, 3]');
    const frozen = { f: tf.variable(tf.zeros([2]), false) };
    expectHpError(() => createAdam(frozen, { lr: 1 }), 'E_ARG', 'parameter f is not trainable');
    expectHpError(() => createAdam(p, { lr: -1 }), 'E_ARG', 'lr is invalid');
    expectHpError(() => createAdam({}, { lr: 1 }), 'E_ARG', 'no parameters');
    const st = await o.getState();
    st.delete('a.exp_avg');
    st.set('zzz', { dtype: 'float32', storedDtype: 'float32', shape: [1], data: new Float32Array(1) });
    expectHpError(() => o.setState(st), 'E_CHECKPOINT', 'missing [a.exp_avg], unexpected [zzz]');
    expectHpError(() => clipGradNorm({}, 1), 'E_ARG', 'no gradients');
    disposeMap(g);
    disposeMap(g2);
    disposeMap(frozen);
    o.dispose();
    disposeMap(p);
  });
});
