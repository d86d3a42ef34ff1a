import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { computeMetrics, createConfusionMatrix } from '../src/index.js';

const golden = JSON.parse(
  readFileSync(new URL('./fixtures/confusion_update.json', import.meta.url), 'utf8'),
) as {
  numClasses: number;
  extraClusters: number;
  pred: number[];
  gt: number[];
  counts: number[];
  kept: number;
  unique: boolean;
  official: { mIoU: number; accuracy: number; iou: (number | null)[] };
};

describe('createConfusionMatrix', () => {
  it('has shape [numClasses + extraClusters, numClasses] and starts at zero', () => {
    const m = createConfusionMatrix({ numClasses: 3, extraClusters: 2 });
    expect(m.numClasses).toBe(3);
    expect(m.numClusters).toBe(5);
    expect(m.counts).toBeInstanceOf(Float64Array);
    expect(m.counts.length).toBe(15);
    expect(m.total).toBe(0);
  });

  it('counts rows = predicted cluster, columns = ground truth', () => {
    const m = createConfusionMatrix({ numClasses: 3 });
    // pred 2 / gt 0 twice, pred 0 / gt 1 once
    expect(m.update([2, 2, 0], [0, 0, 1])).toBe(3);
    expect(Array.from(m.counts)).toEqual([0, 1, 0, 0, 0, 0, 2, 0, 0]);
    expect(m.total).toBe(3);
  });

  it('matches the official bincount on labels with -1 / 255 and extra-cluster predictions (golden)', () => {
    const m = createConfusionMatrix({ numClasses: golden.numClasses, extraClusters: golden.extraClusters });
    const kept = m.update(Int32Array.from(golden.pred), Int16Array.from(golden.gt));
    expect(kept).toBe(golden.kept);
    expect(Array.from(m.counts)).toEqual(golden.counts);
    expect(m.total).toBe(golden.kept);
  });

  it('labels -> matrix -> metrics equals the official pipeline with 2 extra clusters (golden)', () => {
    const m = createConfusionMatrix({ numClasses: golden.numClasses, extraClusters: golden.extraClusters });
    m.update(golden.pred, golden.gt);
    expect(golden.unique).toBe(true);
    const r = computeMetrics(m, { matching: 'hungarian', extraClusterRule: 'official' });
    expect(Math.abs(r.mIoU - golden.official.mIoU)).toBeLessThanOrEqual(1e-9);
    expect(Math.abs(r.accuracy - golden.official.accuracy)).toBeLessThanOrEqual(1e-9);
    const iou = [...r.perClassIoU, r.officialExtraRowIoU];
    golden.official.iou.forEach((want, j) => {
      if (want === null) expect(iou[j]).toBeNaN();
      else expect(Math.abs(iou[j]! - want)).toBeLessThanOrEqual(1e-9);
    });
  });

  it('drops label 255 and -1 and predictions in extra clusters (official rule)', () => {
    const m = createConfusionMatrix({ numClasses: 2, extraClusters: 1 });
    const kept = m.update(Int32Array.from([0, 1, 2, 0, -1, 1]), Uint8Array.from([0, 1, 0, 255, 1, 1]));
    expect(kept).toBe(3); // (0,0), (1,1), (1,1); pred 2 is an extra cluster, gt 255 ignored, pred -1 dropped
    expect(Array.from(m.counts)).toEqual([1, 0, 0, 2, 0, 0]);
  });

  it('drops huge labels instead of wrapping them (2^32 + 1 is not class 1)', () => {
    const m = createConfusionMatrix({ numClasses: 2 });
    expect(m.update([1, 2 ** 32 + 1, 0], [2 ** 32 + 1, 1, 0])).toBe(1);
    expect(m.update(Uint32Array.from([2 ** 32 - 1, 1]), Uint32Array.from([1, 2 ** 32 - 1]))).toBe(0);
    expect(Array.from(m.counts)).toEqual([1, 0, 0, 0]);
  });

  it('gives the same counts for every accepted array type', () => {
    const pred = [0, 1, 1, 2, 2, 2, 0, 3];
    const gt = [0, 1, 2, 2, 2, 1, 0, 0];
    const want = createConfusionMatrix({ numClasses: 3 });
    want.update(pred, gt);
    const inputs = [
      Int32Array,
      Uint8Array,
      Int16Array,
      Uint16Array,
      Int8Array,
      Uint32Array,
      Float32Array,
      Float64Array,
    ];
    for (const T of inputs) {
      const m = createConfusionMatrix({ numClasses: 3 });
      m.update(T.from(pred), T.from(gt));
      expect(Array.from(m.counts), T.name).toEqual(Array.from(want.counts));
    }
  });

  it('accumulates over batches and stays exact past 2^31 pixels', () => {
    const m = createConfusionMatrix({ numClasses: 2 });
    const pred = new Uint8Array(1 << 20).fill(1);
    const gt = new Uint8Array(1 << 20).fill(1);
    for (let i = 0; i < 4; i++) m.update(pred, gt);
    // merge a matrix that already holds 2^31 + 5 pixels in one cell
    m.merge({ numClasses: 2, numClusters: 2, counts: [0, 0, 0, 2 ** 31 + 5] });
    expect(m.counts[3]).toBe(4 * 2 ** 20 + 2 ** 31 + 5);
    expect(m.total).toBe(4 * 2 ** 20 + 2 ** 31 + 5);
    m.merge({ numClasses: 2, numClusters: 2, counts: [2 ** 52, 0, 0, 0] });
    expect(m.counts[0]).toBe(2 ** 52);
    expect(m.counts[0]! + 1).toBe(2 ** 52 + 1); // still exact integer arithmetic below 2^53
  });

  it('merges two matrices like one pass over all pixels', () => {
    const a = createConfusionMatrix({ numClasses: 4 });
    const b = createConfusionMatrix({ numClasses: 4 });
    const all = createConfusionMatrix({ numClasses: 4 });
    const pred = Int32Array.from({ length: 200 }, (_, i) => (i * 7) % 5);
    const gt = Int32Array.from({ length: 200 }, (_, i) => (i * 3) % 4);
    a.update(pred.subarray(0, 120), gt.subarray(0, 120));
    b.update(pred.subarray(120), gt.subarray(120));
    all.update(pred, gt);
    a.merge(b);
    expect(Array.from(a.counts)).toEqual(Array.from(all.counts));
    expect(a.total).toBe(all.total);
  });

  it('reset() zeroes the counts and the total', () => {
    const m = createConfusionMatrix({ numClasses: 2 });
    m.update([0, 1], [0, 1]);
    m.reset();
    expect(Array.from(m.counts)).toEqual([0, 0, 0, 0]);
    expect(m.total).toBe(0);
  });

  it('feeds computeMetrics directly', () => {
    const m = createConfusionMatrix({ numClasses: 2 });
    m.update([1, 1, 0, 0], [0, 0, 1, 0]); // clusters swapped: 1 -> class 0, 0 -> class 1
    const r = computeMetrics(m);
    expect(r.assignment).toEqual([1, 0]);
    expect(r.accuracy).toBe(0.75);
    expect(r.perClassIoU).toEqual([2 / 3, 1 / 2]);
  });
});
