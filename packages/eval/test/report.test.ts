import { describe, expect, it } from 'vitest';
import { computeMetrics, formatReport, toReportJson } from '../src/index.js';

// 4 clusters x 3 classes; class 2 absent from ground truth and prediction after matching.
const matrix = { numClasses: 3, numClusters: 4, counts: [0, 6, 0, 8, 1, 0, 0, 0, 0, 2, 3, 0] };

describe('formatReport', () => {
  it('prints names, IoU x100 with 2 decimals, n/a for absent classes, accuracy and mIoU', () => {
    const r = computeMetrics(matrix, { extraClusterRule: 'errors' });
    expect(r.assignment).toEqual([1, 0, 2, -1]);
    const text = formatReport(r, { classNames: ['road', 'sky', 'tree'], title: 'T' });
    const lines = text.split('\n');
    expect(lines[0]).toBe('T');
    // road: tp 8, pred 9, gt 10 -> 8/11; sky: tp 6, pred 6, gt 10 -> 6/10; tree: 0/0
    expect(text).toContain(`0  road     ${(800 / 11).toFixed(2)}         1`);
    expect(text).toContain('1  sky      60.00         0');
    expect(text).toContain('2  tree       n/a         2');
    expect(text).toContain(`Accuracy  ${((100 * 14) / 20).toFixed(2)}`);
    expect(text).toContain(`mIoU      ${((100 * (8 / 11 + 0.6)) / 2).toFixed(2)}`);
    expect(text).toContain('4 clusters -> 3 classes');
    expect(text).toContain('extra clusters: errors: pixels of unmatched clusters count as wrong');
    expect(text).toContain('outside [0, 3) are dropped');
    expect(text).toContain('pixels:   20 counted, 14 matched');
    expect(text).not.toContain('confusion matrix');
  });

  it('labels majority vote as many-to-one and not official', () => {
    const text = formatReport(computeMetrics(matrix, { matching: 'majority' }));
    expect(text).toContain('MAJORITY VOTE, many-to-one');
    expect(text).toContain('not the official protocol');
    expect(text).toContain('0  0      '); // default names are the indices
  });

  it('shows the official pseudo-class row and the matched confusion matrix on request', () => {
    const r = computeMetrics(matrix, { extraClusterRule: 'official' });
    expect(r.officialExtraRowIoU).toBe(0);
    const text = formatReport(r, {
      confusionMatrix: true,
      protocol: { dataset: 'X', resolution: 320, crf: false },
    });
    expect(text).toContain('   (unmatched)     0.00');
    expect(text).toContain('0  0              72.73');
    expect(text).toContain('data:     X, 320x320, no CRF');
    expect(text).toContain(
      'confusion matrix after matching (rows = predicted class, columns = ground truth):',
    );
    expect(text).toContain('0 8 1 0');
    expect(text).toContain('1 0 6 0');
  });
});

describe('toReportJson', () => {
  it('carries protocol metadata and maps NaN to null', () => {
    const r = computeMetrics(matrix, { extraClusterRule: 'errors' });
    const j = toReportJson(r, {
      classNames: ['road', 'sky', 'tree'],
      protocol: { dataset: 'toy', split: 'val', resolution: [320, 640], source: 'cluster probe', crf: true },
    });
    const roundTrip = JSON.parse(JSON.stringify(j));
    expect(roundTrip).toEqual(j);
    expect(j.protocol).toMatchObject({
      matching: 'hungarian',
      numClusters: 4,
      numClasses: 3,
      extraClusters: 1,
      extraClusterRule: 'errors',
      resolution: [320, 640],
      dataset: 'toy',
      crf: true,
    });
    expect(j.protocol.matchingScope).toContain('dataset-level');
    expect(j.protocol.ignoreRule).toContain('[0, 3)');
    expect(j.protocol.confusionLayout).toBe('rows = predicted cluster, columns = ground-truth class');
    expect(j.perClass[2]).toEqual({ index: 2, name: 'tree', iou: null });
    expect(j.metrics.accuracy).toBe(0.7);
    expect(j.metrics.accuracyPercent).toBe(70);
    expect(j.counts).toEqual([
      [0, 6, 0],
      [8, 1, 0],
      [0, 0, 0],
      [2, 3, 0],
    ]);
    expect(j.histogram[0]).toEqual([8, 1, 0]);
    expect(j.assignment).toEqual([1, 0, 2, -1]);
  });
});
