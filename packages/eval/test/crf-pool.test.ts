import { describe, expect, it } from 'vitest';
import { createCrfPool, denseCrf, denseCrfBatch } from '../src/index.js';
import { randomCase } from './fixtures/crf-helpers.js';

const items = [0, 1, 2, 3, 4].map((seed) => randomCase(24 + seed, 20, 3 + (seed % 3), seed, { signal: 1 }));

describe('denseCrfBatch (worker threads)', () => {
  it('gives bit-identical results with 1 and 2 threads, equal to denseCrf, in input order', async () => {
    const progress: number[] = [];
    const one = await denseCrfBatch(items, { threads: 1 });
    const two = await denseCrfBatch(items, { threads: 2, onProgress: (done) => progress.push(done) });
    expect(progress).toEqual([1, 2, 3, 4, 5]);
    items.forEach((item, i) => {
      const direct = denseCrf(item);
      expect(one[i]!.probabilities).toEqual(direct.probabilities);
      expect(two[i]!.probabilities).toEqual(direct.probabilities);
      expect(two[i]!.labels).toEqual(direct.labels);
    });
  });

  it('rejects a bad item before starting, naming its index', async () => {
    const bad = { ...items[0]!, scores: new Float32Array(3) };
    await expect(denseCrfBatch([items[1]!, bad])).rejects.toMatchObject({
      name: 'HpError',
      code: 'E_SHAPE',
      details: { index: 1 },
    });
  });

  it('an empty batch resolves to an empty array', async () => {
    await expect(denseCrfBatch([])).resolves.toEqual([]);
  });

  it('rejects bad options', async () => {
    await expect(denseCrfBatch(items, { threads: 0 })).rejects.toMatchObject({ code: 'E_ARG' });
    expect(() => createCrfPool({ timeoutMs: -1 })).toThrow(/timeoutMs is invalid/);
  });
});

describe('createCrfPool', () => {
  it('times out one image with E_TIMEOUT, replaces its worker and stays usable', async () => {
    const pool = createCrfPool({ threads: 1 });
    try {
      // 1 ms cannot cover even the worker start-up, so this image must time out.
      await expect(pool.run(items[0]!, { timeoutMs: 1 })).rejects.toMatchObject({
        name: 'HpError',
        code: 'E_TIMEOUT',
      });
      const result = await pool.run(items[1]!);
      expect(result.labels).toEqual(denseCrf(items[1]!).labels);
    } finally {
      await pool.close();
    }
  });

  it('close() interrupts pending work and later runs are refused', async () => {
    const pool = createCrfPool({ threads: 1 });
    const pending = expect(pool.run(items[2]!)).rejects.toMatchObject({ code: 'E_INTERRUPTED' });
    const queued = expect(pool.run(items[3]!)).rejects.toMatchObject({ code: 'E_INTERRUPTED' });
    await pool.close();
    await pending;
    await queued;
    await expect(pool.run(items[0]!)).rejects.toMatchObject({ code: 'E_ARG' });
    await pool.close(); // idempotent
  });

  it('validation errors come back as HpError without using a worker', async () => {
    const pool = createCrfPool();
    try {
      await expect(
        pool.run({ ...items[0]!, scores: items[0]!.scores.slice().fill(Number.NaN, 0, 1) }),
      ).rejects.toMatchObject({ code: 'E_VALUE' });
    } finally {
      await pool.close();
    }
  });
});
