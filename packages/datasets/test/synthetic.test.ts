import { describe, expect, it } from 'vitest';
import {
  type Batch,
  iterateBatches,
  stackImages,
  stackLabels,
  syntheticDataset,
  trainView,
} from '../src/index.js';

describe('syntheticDataset', () => {
  it('is deterministic per (seed, index) and differs across seeds', async () => {
    const a = syntheticDataset({ seed: 3, length: 4, size: 32 });
    const b = syntheticDataset({ seed: 3, length: 4, size: 32 });
    const c = syntheticDataset({ seed: 4, length: 4, size: 32 });
    const [a1, b1, c1] = await Promise.all([a.get(1), b.get(1), c.get(1)]);
    expect(a1.image).toEqual(b1.image);
    expect(a1.label).toEqual(b1.label);
    expect(a1.image).not.toEqual(c1.image);
    expect(a1.id).toBe('synthetic-1');
  });

  it('labels are valid classes and several classes appear; single pixel values are ambiguous', async () => {
    const ds = syntheticDataset({ seed: 0, length: 16, size: 48, numClasses: 4 });
    const counts = new Array(4).fill(0);
    // for each red value, which classes produced it
    const redToClasses = new Map<number, Set<number>>();
    for (let i = 0; i < ds.length; i++) {
      const it = await ds.get(i);
      expect(it.image.length).toBe(48 * 48 * 3);
      for (let p = 0; p < it.label.length; p++) {
        const k = it.label[p]!;
        expect(k >= 0 && k < 4).toBe(true);
        counts[k]++;
        const r = it.image[p * 3]!;
        if (!redToClasses.has(r)) redToClasses.set(r, new Set());
        redToClasses.get(r)!.add(k);
      }
    }
    expect(counts.every((n) => n > 0)).toBe(true);
    const ambiguous = [...redToClasses.values()].filter((s) => s.size > 1).length;
    expect(ambiguous).toBeGreaterThan(50);
  });

  it('class mean colours are separated (the classes are learnable)', async () => {
    const ds = syntheticDataset({ seed: 1, length: 8, size: 32, numClasses: 3 });
    const sum = Array.from({ length: 3 }, () => [0, 0, 0, 0]);
    for (let i = 0; i < ds.length; i++) {
      const it = await ds.get(i);
      for (let p = 0; p < it.label.length; p++) {
        const s = sum[it.label[p]!]!;
        for (let c = 0; c < 3; c++) s[c]! += it.image[p * 3 + c]!;
        s[3]!++;
      }
    }
    const means = sum.map((s) => [s[0]! / s[3]!, s[1]! / s[3]!, s[2]! / s[3]!]);
    const dist = (a: number[], b: number[]) => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);
    expect(dist(means[0]!, means[1]!)).toBeGreaterThan(30);
    expect(dist(means[1]!, means[2]!)).toBeGreaterThan(30);
  });

  it('rejects bad options with E_ARG', () => {
    expect(() => syntheticDataset({ numClasses: 1 })).toThrow(
      expect.objectContaining({ code: 'E_ARG', message: expect.stringContaining('numClasses out of range') }),
    );
    expect(() => syntheticDataset({ size: 3 })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => syntheticDataset({ length: 0 })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    const ds = syntheticDataset({ length: 2 });
    return expect(ds.get(2)).rejects.toMatchObject({
      code: 'E_ARG',
      message: expect.stringContaining('index out of range'),
    });
  });
});

describe('iterateBatches', () => {
  it('visits every index once, in seeded order, with dropLast', async () => {
    const ds = syntheticDataset({ seed: 0, length: 10, size: 16 });
    const collect = async (seed: number, dropLast: boolean) => {
      const out: number[][] = [];
      for await (const b of iterateBatches(ds, {
        batchSize: 3,
        shuffle: true,
        seed,
        dropLast,
        concurrency: 3,
      }))
        out.push(b.indices);
      return out;
    };
    const a = await collect(7, false);
    expect(a.map((b) => b.length)).toEqual([3, 3, 3, 1]);
    expect(a.flat().sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await collect(7, false)).toEqual(a);
    expect((await collect(8, false)).flat()).not.toEqual(a.flat());
    expect((await collect(7, true)).map((b) => b.length)).toEqual([3, 3, 3]);
  });

  it('keeps order when decoding finishes out of order, with bounded concurrency', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const base = syntheticDataset({ length: 12, size: 8 });
    const slow = {
      ...base,
      get: async (i: number) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, (12 - i) * 2));
        inFlight--;
        return base.get(i);
      },
    };
    const seen: number[] = [];
    for await (const b of iterateBatches(slow, { batchSize: 4, concurrency: 3 }))
      seen.push(...b.items.map((it) => Number(it.id.split('-')[1])));
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(maxInFlight).toBeLessThanOrEqual(3);
    expect(maxInFlight).toBeGreaterThan(1);
  });

  it('hands the transform an rng seeded by (seed, epoch, index), independent of concurrency', async () => {
    const ds = syntheticDataset({ length: 6, size: 8 });
    const draws = async (concurrency: number, epoch: number) => {
      const out = new Map<number, number>();
      const stream = iterateBatches(ds, {
        batchSize: 2,
        shuffle: true,
        seed: 3,
        epoch,
        concurrency,
        transform: (item, index, rng) => {
          out.set(index, rng.next());
          return item;
        },
      });
      for await (const _ of stream) {
        // consume
      }
      return [...out.entries()].sort((a, b) => a[0] - b[0]);
    };
    const a = await draws(1, 0);
    expect(await draws(4, 0)).toEqual(a);
    expect(await draws(1, 1)).not.toEqual(a);
    expect(new Set(a.map(([, v]) => v)).size).toBe(6);
  });

  it('applies the transform and stacks batches', async () => {
    const ds = syntheticDataset({ length: 3, size: 40 });
    const batches: Batch[] = [];
    for await (const b of iterateBatches(ds, { batchSize: 2, transform: (it) => trainView(it, 16) }))
      batches.push(b);
    const imgs = stackImages(batches[0]!.items);
    expect(imgs.shape).toEqual([2, 16, 16, 3]);
    expect(stackLabels(batches[0]!.items).shape).toEqual([2, 16, 16]);
    expect(() =>
      stackImages([batches[0]!.items[0]!, { ...batches[0]!.items[0]!, height: 8, width: 32 }]),
    ).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  });

  it("onCorrupt: 'skip' skips unreadable items with a warning and counts them; 'error' rethrows", async () => {
    const base = syntheticDataset({ length: 6, size: 8 });
    const { HpError } = await import('@hpseg/core');
    const broken = {
      ...base,
      get: async (i: number) => {
        if (i === 2 || i === 4)
          throw new HpError('E_FORMAT', `decodeImage: cannot decode image ${i}.jpg: corrupt`);
        return base.get(i);
      },
    };
    const warnings: string[] = [];
    const stream = iterateBatches(broken, {
      batchSize: 2,
      onCorrupt: 'skip',
      onWarning: (m) => warnings.push(m),
    });
    const got: number[][] = [];
    for await (const b of stream) got.push(b.indices);
    expect(got).toEqual([
      [0, 1],
      [3, 5],
    ]);
    expect(stream.skipped).toBe(2);
    expect(stream.skippedIndices).toEqual([2, 4]);
    expect(warnings[0]).toContain('skipped item 2');
    const failing = iterateBatches(broken, { batchSize: 2 });
    await expect(
      (async () => {
        for await (const _ of failing) {
          // consume
        }
      })(),
    ).rejects.toMatchObject({ code: 'E_FORMAT' });
    expect(() => iterateBatches(base, { batchSize: 0 })).toThrow(
      expect.objectContaining({ code: 'E_ARG', message: expect.stringContaining('batchSize') }),
    );
  });
});
