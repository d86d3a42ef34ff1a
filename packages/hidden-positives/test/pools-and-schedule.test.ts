import { roundToFloat16, selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createReferencePools,
  lambdaSchedule,
  ReferencePool,
  shouldRenewReferencePool,
} from '../src/index.js';
import { catchError } from './helpers.js';

describe('lambdaSchedule (official-behaviour §3.5)', () => {
  it('is 0 while t <= warmup, then (t − warmup) / (maxiter − warmup)', () => {
    expect(lambdaSchedule({ iteration: 0, warmup: 1000, maxIterations: 11631 })).toBe(0);
    expect(lambdaSchedule({ iteration: 1000, warmup: 1000, maxIterations: 11631 })).toBe(0);
    expect(lambdaSchedule({ iteration: 1001, warmup: 1000, maxIterations: 11631 })).toBe(1 / 10631);
    expect(lambdaSchedule({ iteration: 11630, warmup: 1000, maxIterations: 11631 })).toBeCloseTo(
      10630 / 10631,
      12,
    );
    expect(lambdaSchedule({ iteration: 60, warmup: 50, maxIterations: 6960 })).toBe(10 / 6910);
  });
  it('rejects bad arguments', () => {
    expect(catchError(() => lambdaSchedule({ iteration: -1, warmup: 0, maxIterations: 5 })).code).toBe(
      'E_ARG',
    );
    expect(catchError(() => lambdaSchedule({ iteration: 1.5, warmup: 0, maxIterations: 5 })).code).toBe(
      'E_ARG',
    );
    const e = catchError(() => lambdaSchedule({ iteration: 20, warmup: 10, maxIterations: 10 }));
    expect(e.message).toContain('maxIterations must exceed warmup');
  });
});

describe('reference pools (official-behaviour §3.2)', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('stores the chosen patch of every image and reads back L2-normalised rows', async () => {
    const pool = new ReferencePool({ size: 4, width: 3 });
    // [B=2, h=2, w=2, C=3]: value = 100·b + 10·patch + channel + 1
    const feats = tf.tensor4d(
      Array.from(
        { length: 24 },
        (_, k) => 100 * Math.floor(k / 12) + 10 * Math.floor((k % 12) / 3) + (k % 3) + 1,
      ),
      [2, 2, 2, 3],
    );
    const before0 = tf.memory().numTensors;
    expect(await pool.add(feats, [3, 1])).toEqual([3, 1]);
    expect(tf.memory().numTensors).toBe(before0); // add leaves no tensor behind
    expect(pool.filled).toBe(2);
    expect(pool.isFull).toBe(false);
    expect(catchError(() => pool.toTensor()).code).toBe('E_VALUE');
    await pool.add(feats, [0, 2]);
    expect(pool.isFull).toBe(true);
    // a full pool ignores further images
    expect(await pool.add(feats, [0, 0])).toEqual([]);
    const before = tf.memory().numTensors;
    const t = pool.toTensor();
    expect(tf.memory().numTensors).toBe(before + 1);
    const rows = t.arraySync();
    const norm = (v: number[]) => {
      const n = Math.hypot(...v);
      return v.map((x) => x / n);
    };
    const want = [norm([31, 32, 33]), norm([111, 112, 113]), norm([1, 2, 3]), norm([121, 122, 123])];
    for (const [i, r] of rows.entries()) {
      for (const [j, x] of r.entries()) expect(x).toBeCloseTo(want[i]![j]!, 6);
    }
    tf.dispose([t, feats]);
  });

  it('random choice is uniform-ish, reproducible with a seed, and reset empties the pool', async () => {
    const feats = tf.reshape(tf.range(0, 8 * 16, 1, 'float32'), [8, 16, 1]); // [B=8, P=16, C=1]
    const a = new ReferencePool({ size: 8, width: 1, seed: 42 });
    const b = new ReferencePool({ size: 8, width: 1, seed: 42 });
    const ia = await a.add(feats);
    expect(await b.add(feats)).toEqual(ia);
    expect(ia.every((i) => i >= 0 && i < 16)).toBe(true);
    a.reset(7);
    expect(a.filled).toBe(0);
    expect(await a.add(feats)).not.toEqual(ia);
    const counts = new Array(16).fill(0);
    const big = new ReferencePool({ size: 1, width: 1, seed: 1 });
    for (let k = 0; k < 1600; k += 1) {
      big.reset();
      const one = tf.slice(feats, [0, 0, 0], [1, 16, 1]);
      counts[(await big.add(one))[0]!] += 1;
      one.dispose();
    }
    expect(Math.min(...counts)).toBeGreaterThan(60);
    expect(Math.max(...counts)).toBeLessThan(140);
    feats.dispose();
  });

  it('createReferencePools: agnostic and specific pools of the configured sizes with independent draws', async () => {
    const pools = createReferencePools({ poolSize: 4, agnosticWidth: 3, specificWidth: 2, seed: 9 });
    expect([pools.agnostic.size, pools.agnostic.width, pools.specific.width]).toEqual([4, 3, 2]);
    const f = tf.randomNormal([4, 5, 5, 3], 0, 1, 'float32', 1);
    const s = tf.randomNormal([4, 5, 5, 2], 0, 1, 'float32', 2);
    const ia = await pools.agnostic.add(f);
    const is = await pools.specific.add(s);
    expect(ia).not.toEqual(is);
    tf.dispose([f, s]);
  });

  it('float16 storage rounds like numpy float16 (the official pools are fp16)', async () => {
    const pool = new ReferencePool({ size: 1, width: 2, storage: 'float16' });
    const f = tf.tensor3d([0.1, 0.2], [1, 1, 2]);
    await pool.add(f, [0]);
    const t = pool.toTensor();
    const v = t.dataSync();
    expect(v.every((x) => roundToFloat16(x) === x)).toBe(true);
    tf.dispose([t, f]);
  });

  it('renewal happens at batch indices k·interval, k ≥ 1, of each epoch', () => {
    const hits = Array.from({ length: 45 }, (_, i) => i).filter((i) => shouldRenewReferencePool(i, 20));
    expect(hits).toEqual([20, 40]);
    expect(catchError(() => shouldRenewReferencePool(3, 0)).code).toBe('E_ARG');
  });

  it('rejects bad shapes and indices', async () => {
    const pool = new ReferencePool({ size: 2, width: 3 });
    const f = tf.zeros([2, 4, 4]);
    await expect(pool.add(f)).rejects.toMatchObject({ name: 'HpError', code: 'E_SHAPE' });
    const g = tf.zeros([2, 4, 3]);
    await expect(pool.add(g, [0])).rejects.toThrow('indices is too short');
    await expect(pool.add(g, [0, 4])).rejects.toThrow('indices[1] is invalid');
    expect(pool.filled).toBe(0);
    expect(catchError(() => new ReferencePool({ size: 0, width: 3 })).code).toBe('E_ARG');
    expect(
      catchError(() => new ReferencePool({ size: 1, width: 3, storage: 'bf16' as 'float16' })).code,
    ).toBe('E_ARG');
    tf.dispose([f, g]);
  });

  it('getState / fromState: same rows, same fill level, and the patch choice goes on identically', async () => {
    const feats = tf.reshape(tf.range(0, 6 * 9 * 2, 1, 'float32'), [6, 9, 2]); // [B=6, P=9, C=2]
    const half = tf.slice(feats, [0, 0, 0], [3, 9, 2]);
    const rest = tf.slice(feats, [3, 0, 0], [3, 9, 2]);
    const a = new ReferencePool({ size: 6, width: 2, seed: 5, storage: 'float16' });
    await a.add(half);
    const state = a.getState();
    expect([state.filled, state.draws, state.seed, state.storage]).toEqual([3, 3, 5, 'float16']);
    expect(Array.from(state.rows.subarray(6))).toEqual([0, 0, 0, 0, 0, 0]);
    const b = ReferencePool.fromState(state);
    state.rows.fill(-1); // getState returns a copy: the pools do not share it
    expect(await b.add(rest)).toEqual(await a.add(rest));
    const ta = a.toTensor();
    const tb = b.toTensor();
    expect(Array.from(tb.dataSync())).toEqual(Array.from(ta.dataSync()));
    const wrong = { ...a.getState(), width: 3 };
    expect(catchError(() => ReferencePool.fromState(wrong)).code).toBe('E_CHECKPOINT');
    expect(catchError(() => b.setState({ ...a.getState(), filled: 7 })).message).toContain('filled 7');
    tf.dispose([feats, half, rest, ta, tb]);
  });
});
