import { describe, expect, it } from 'vitest';
import { computeMetrics, createConfusionMatrix, formatReport, maximumAssignment } from '../src/index.js';

/** Runs `f` and returns the thrown error (the test fails if nothing is thrown). */
function thrown(f: () => unknown): { name: string; code: string; message: string } {
  try {
    f();
  } catch (e) {
    return e as { name: string; code: string; message: string };
  }
  throw new Error('expected an HpError, nothing was thrown');
}

function expectHpError(f: () => unknown, code: string, fragment: string): void {
  const e = thrown(f);
  expect(e.name).toBe('HpError');
  expect(e.code).toBe(code);
  expect(e.message).toContain(fragment);
}

describe('bad input gives HpError with a code', () => {
  it('numClasses <= 0 or not an integer: E_ARG', () => {
    expectHpError(() => createConfusionMatrix({ numClasses: 0 }), 'E_ARG', 'numClasses is invalid');
    expectHpError(
      () => createConfusionMatrix({ numClasses: -3 }),
      'E_ARG',
      'expected an integer >= 1, got -3',
    );
    expectHpError(() => createConfusionMatrix({ numClasses: 2.5 }), 'E_ARG', 'numClasses');
    expectHpError(() => createConfusionMatrix({ numClasses: Number.NaN }), 'E_ARG', 'numClasses');
    expectHpError(() => createConfusionMatrix(undefined as never), 'E_ARG', 'options are missing');
  });

  it('extraClusters < 0: E_ARG', () => {
    expectHpError(
      () => createConfusionMatrix({ numClasses: 3, extraClusters: -1 }),
      'E_ARG',
      'extraClusters is invalid: expected an integer >= 0, got -1',
    );
  });

  it('length mismatch: E_SHAPE', () => {
    const m = createConfusionMatrix({ numClasses: 3 });
    expectHpError(
      () => m.update(new Int32Array(4), new Int32Array(5)),
      'E_SHAPE',
      'expected 4 ground-truth labels',
    );
    expect(m.total).toBe(0);
  });

  it('NaN or non-integer labels in number[] / float arrays: E_VALUE, nothing counted', () => {
    const m = createConfusionMatrix({ numClasses: 3 });
    expectHpError(() => m.update([0, 1, Number.NaN], [0, 1, 2]), 'E_VALUE', 'pred holds a non-integer label');
    expectHpError(() => m.update([0, 1, 2], [0, 1.5, 2]), 'E_VALUE', 'got 1.5 at index 1');
    expectHpError(
      () => m.update(Float32Array.from([0, 0.25]), Float32Array.from([0, 0])),
      'E_VALUE',
      'at index 1',
    );
    expectHpError(() => m.update([0, 1], ['0', 1] as never), 'E_VALUE', 'gt holds a non-integer label');
    expect(m.total).toBe(0);
    expect(Array.from(m.counts).every((v) => v === 0)).toBe(true);
  });

  it('unsupported label containers: E_ARG', () => {
    const m = createConfusionMatrix({ numClasses: 3 });
    expectHpError(() => m.update('012' as never, [0, 1, 2]), 'E_ARG', 'pred has an unsupported type');
    expectHpError(
      () => m.update({ dtype: 'string', shape: [1], dataSync: () => ['a'] }, [0]),
      'E_ARG',
      'unsupported dtype',
    );
  });

  it('merge of a differently shaped matrix: E_SHAPE', () => {
    const m = createConfusionMatrix({ numClasses: 3 });
    expectHpError(
      () => m.merge(createConfusionMatrix({ numClasses: 2 })),
      'E_SHAPE',
      'expected [3, 3], got [2, 2]',
    );
    expectHpError(
      () => m.merge({ numClasses: 3, numClusters: 3, counts: [1] }),
      'E_SHAPE',
      'counts have the wrong length',
    );
    expectHpError(
      () => m.merge({ numClasses: 3, numClusters: 3, counts: [0, 0, 0, 0, -1, 0, 0, 0, 0] }),
      'E_VALUE',
      'got -1 at 4',
    );
  });

  it('computeMetrics: bad counts or options', () => {
    expectHpError(
      () => computeMetrics({ numClasses: 2, numClusters: 2, counts: [1, 2, 3] }),
      'E_SHAPE',
      'expected 4 (= 2 clusters x 2 classes), got 3',
    );
    expectHpError(
      () => computeMetrics({ numClasses: 2, numClusters: 2, counts: [1, Number.NaN, 3, 4] }),
      'E_VALUE',
      'a count is invalid',
    );
    expectHpError(() => computeMetrics({ numClasses: 0, numClusters: 2, counts: [] }), 'E_ARG', 'numClasses');
    expectHpError(
      () => computeMetrics({ numClasses: 1, numClusters: 1, counts: [1] }, { matching: 'greedy' as never }),
      'E_ARG',
      "expected 'hungarian', 'identity' or 'majority', got greedy",
    );
    expectHpError(
      () =>
        computeMetrics({ numClasses: 1, numClusters: 1, counts: [1] }, { extraClusterRule: 'x' as never }),
      'E_ARG',
      'extraClusterRule is invalid',
    );
    expectHpError(() => computeMetrics(null as never), 'E_ARG', 'matrix is missing');
  });

  it('maximumAssignment: bad sizes and non-finite weights', () => {
    expectHpError(() => maximumAssignment([1, 2, 3], 2, 2), 'E_SHAPE', 'expected 4 (= 2 x 2), got 3');
    expectHpError(() => maximumAssignment([1], 0, 1), 'E_ARG', 'expected rows, cols >= 1');
    expectHpError(() => maximumAssignment([1, Number.POSITIVE_INFINITY], 1, 2), 'E_VALUE', 'at [0, 1]');
  });

  it('formatReport: wrong number of class names', () => {
    const r = computeMetrics({ numClasses: 2, numClusters: 2, counts: [1, 0, 0, 1] });
    expectHpError(() => formatReport(r, { classNames: ['a'] }), 'E_SHAPE', 'expected 2 names, got 1');
  });
});
