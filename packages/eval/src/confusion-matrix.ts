import { assertInt, HpError } from '@hpseg/core';
import { assertIntegerLabels, type LabelInput, readLabels } from './labels.js';

export interface ConfusionMatrixOptions {
  /** Number of ground-truth classes K (27 for COCO-Stuff-27 and Cityscapes-27, 3 for Potsdam-3). */
  numClasses: number;
  /** Clusters beyond K (official `extra_clusters`, 0 in every HP config). Rows = K + extraClusters. */
  extraClusters?: number;
}

/** Plain confusion counts, as `computeMetrics` reads them. */
export interface ConfusionCounts {
  readonly numClasses: number;
  readonly numClusters: number;
  /** Row-major `[numClusters, numClasses]`: rows = predicted cluster, columns = ground-truth class. */
  readonly counts: ArrayLike<number>;
}

export interface ConfusionMatrix extends ConfusionCounts {
  /** Live counts (pixels), exact up to 2^53: row-major `[numClusters, numClasses]`, rows = predicted cluster. */
  readonly counts: Float64Array;
  /** Pixels counted so far (dropped pixels excluded). */
  readonly total: number;
  /**
   * Adds one batch: `pred` and `gt` of equal length (any shape, flattened). Keeps a pixel only if
   * `0 <= gt < numClasses` and `0 <= pred < numClasses`, as the official code: ignore labels (-1,
   * 255) are dropped, and so are predictions in the extra clusters. Returns the pixels kept.
   */
  update(pred: LabelInput, gt: LabelInput): number;
  /** Adds another matrix of the same shape (e.g. from another worker). */
  merge(other: ConfusionCounts): void;
  /** Sets every count to zero. */
  reset(): void;
}

const FN = 'createConfusionMatrix';
/** Pixels counted into the Uint32 scratch between flushes (< 2^32, so no overflow). */
const CHUNK = 2 ** 31;

/**
 * Counting loop over `[start, end)` into a `Uint32Array` scratch (integer increments measured faster
 * than Float64Array ones); the caller flushes at most every 2^31 pixels, so no cell can overflow.
 * For integer typed arrays (values within int32 / uint32) `(x >>> 0) < k` is `0 <= x < k`.
 */
function accumulateInt(
  scratch: Uint32Array,
  k: number,
  pred: ArrayLike<number>,
  gt: ArrayLike<number>,
  start: number,
  end: number,
): void {
  for (let i = start; i < end; i++) {
    const g = gt[i]!;
    const p = pred[i]!;
    if (g >>> 0 < k && p >>> 0 < k) scratch[p * k + g]!++;
  }
}

/** Same for number[] / float arrays (already checked to hold integers, of any magnitude). */
function accumulateAny(
  scratch: Uint32Array,
  k: number,
  pred: ArrayLike<number>,
  gt: ArrayLike<number>,
  start: number,
  end: number,
): void {
  for (let i = start; i < end; i++) {
    const g = gt[i]!;
    const p = pred[i]!;
    if (g >= 0 && g < k && p >= 0 && p < k) scratch[p * k + g]!++;
  }
}

/** Adds the scratch counts into the Float64 counts, zeroes the scratch, returns the pixels added. */
function flush(scratch: Uint32Array, counts: Float64Array): number {
  let kept = 0;
  for (let i = 0; i < scratch.length; i++) {
    const v = scratch[i]!;
    if (v !== 0) {
      counts[i]! += v;
      kept += v;
      scratch[i] = 0;
    }
  }
  return kept;
}

/**
 * A streaming, dataset-level confusion matrix `[numClusters, numClasses]` (rows = predicted cluster,
 * columns = ground truth), equal to the official `UnsupervisedMetrics.stats`.
 */
export function createConfusionMatrix(options: ConfusionMatrixOptions): ConfusionMatrix {
  if (typeof options !== 'object' || options === null) {
    throw new HpError('E_ARG', `${FN}: options are missing: expected { numClasses }, got ${String(options)}`);
  }
  const numClasses = assertInt(FN, 'numClasses', options.numClasses, 1);
  const extraClusters = assertInt(FN, 'extraClusters', options.extraClusters ?? 0, 0);
  const numClusters = numClasses + extraClusters;
  const counts = new Float64Array(numClusters * numClasses);
  // Rows >= numClasses (extra clusters) never receive pixels (official rule), so K x K scratch suffices.
  const scratch = new Uint32Array(numClasses * numClasses);
  let total = 0;

  const update = (pred: LabelInput, gt: LabelInput): number => {
    const fn = 'ConfusionMatrix.update';
    const p = readLabels(fn, 'pred', pred);
    const g = readLabels(fn, 'gt', gt);
    const n = p.values.length;
    if (g.values.length !== n) {
      throw new HpError(
        'E_SHAPE',
        `${fn}: pred and gt differ in length: expected ${n} ground-truth labels (one per predicted pixel), got ${g.values.length}`,
        { details: { pred: n, gt: g.values.length } },
      );
    }
    assertIntegerLabels(fn, 'pred', p);
    assertIntegerLabels(fn, 'gt', g);
    let kept = 0;
    for (let start = 0; start < n; start += CHUNK) {
      const end = Math.min(n, start + CHUNK);
      if (p.integral && g.integral) accumulateInt(scratch, numClasses, p.values, g.values, start, end);
      else accumulateAny(scratch, numClasses, p.values, g.values, start, end);
      kept += flush(scratch, counts);
    }
    total += kept;
    return kept;
  };

  const merge = (other: ConfusionCounts): void => {
    const fn = 'ConfusionMatrix.merge';
    if (other?.numClasses !== numClasses || other.numClusters !== numClusters) {
      throw new HpError(
        'E_SHAPE',
        `${fn}: matrices differ in shape: expected [${numClusters}, ${numClasses}], got [${other?.numClusters}, ${other?.numClasses}]`,
      );
    }
    const src = other.counts;
    if (src.length !== counts.length) {
      throw new HpError(
        'E_SHAPE',
        `${fn}: counts have the wrong length: expected ${counts.length}, got ${src.length}`,
      );
    }
    let added = 0;
    for (let i = 0; i < src.length; i++) {
      const v = src[i]!;
      if (!(v >= 0) || !Number.isFinite(v)) {
        throw new HpError(
          'E_VALUE',
          `${fn}: a count is invalid: expected a finite number >= 0, got ${v} at ${i}`,
        );
      }
      added += v;
    }
    for (let i = 0; i < src.length; i++) counts[i]! += src[i]!;
    total += added;
  };

  return {
    numClasses,
    numClusters,
    counts,
    get total() {
      return total;
    },
    update,
    merge,
    reset() {
      counts.fill(0);
      total = 0;
    },
  };
}
