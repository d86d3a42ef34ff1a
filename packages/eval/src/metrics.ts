import { HpError } from '@hpseg/core';
import type { ConfusionCounts } from './confusion-matrix.js';
import { maximumAssignment } from './hungarian.js';

/**
 * How clusters become classes before scoring:
 * - `hungarian`: one-to-one matching maximising matched pixels (official cluster / unsupervised metrics);
 * - `identity`: cluster k is class k (official linear-probe metrics);
 * - `majority`: MANY-TO-ONE majority vote, each cluster → its most frequent class (for over-clustering;
 *   not the official protocol, and it scores higher than one-to-one matching).
 */
export type Matching = 'hungarian' | 'identity' | 'majority';

/**
 * What happens to the pixels of clusters that no class is matched to (only with extra clusters):
 * - `errors`: they count as wrong pixels (in the accuracy denominator and in the IoU of their
 *   ground-truth class); mIoU is over the `numClasses` classes.
 * - `official`: as `errors`, plus the official extra row and zero column (`seg_utils.py`
 *   `UnsupervisedMetrics.compute`): a pseudo-class whose IoU is 0 (NaN if it holds no pixels) enters
 *   the mIoU. The per-class IoUs and the accuracy are the same under both rules.
 * The default is `official` (the official code wins); `errors` is the documented deviation for users
 * who want mIoU over the real classes only.
 */
export type ExtraClusterRule = 'errors' | 'official';

export interface MetricsOptions {
  matching?: Matching;
  extraClusterRule?: ExtraClusterRule;
}

export interface SegmentationMetrics {
  matching: Matching;
  extraClusterRule: ExtraClusterRule;
  numClasses: number;
  numClusters: number;
  /** Pixel accuracy in [0, 1]: matched pixels / all counted pixels. NaN when nothing was counted. */
  accuracy: number;
  /** Mean of the non-NaN IoUs (plus the official pseudo-class under `extraClusterRule: 'official'`), in [0, 1]. */
  mIoU: number;
  /** IoU per ground-truth class in [0, 1]; NaN for a class absent from both ground truth and prediction. */
  perClassIoU: number[];
  /** `assignment[cluster] = class`, -1 if the cluster is unmatched. */
  assignment: number[];
  /** Pixels whose cluster is mapped to their ground-truth class (Σ tp). */
  matchedPixels: number;
  /** All counted pixels (Σ counts). */
  totalPixels: number;
  /** Pixels in clusters mapped to no class. */
  unmatchedPixels: number;
  /**
   * IoU of the official pseudo-class (0, or NaN if it holds no pixels) under `extraClusterRule: 'official'`
   * with Hungarian matching and extra clusters; NaN otherwise.
   */
  officialExtraRowIoU: number;
  /** Counts after mapping, row-major `[numClasses, numClasses]`: rows = predicted class, columns = ground truth. */
  histogram: Float64Array;
  /** Copy of the input counts, row-major `[numClusters, numClasses]`. */
  counts: Float64Array;
}

const FN = 'computeMetrics';

function readCounts(input: ConfusionCounts): { k: number; c: number; counts: Float64Array } {
  if (typeof input !== 'object' || input === null) {
    throw new HpError(
      'E_ARG',
      `${FN}: matrix is missing: expected { counts, numClasses, numClusters }, got ${String(input)}`,
    );
  }
  const { numClasses: k, numClusters: c, counts } = input;
  if (!Number.isInteger(k) || k < 1) {
    throw new HpError('E_ARG', `${FN}: numClasses is invalid: expected an integer >= 1, got ${String(k)}`);
  }
  if (!Number.isInteger(c) || c < 1) {
    throw new HpError('E_ARG', `${FN}: numClusters is invalid: expected an integer >= 1, got ${String(c)}`);
  }
  if (counts === null || typeof counts !== 'object' || typeof counts.length !== 'number') {
    throw new HpError(
      'E_ARG',
      `${FN}: counts are missing: expected a flat array [numClusters * numClasses], got ${String(counts)}`,
    );
  }
  if (counts.length !== c * k) {
    throw new HpError(
      'E_SHAPE',
      `${FN}: counts have the wrong length: expected ${c * k} (= ${c} clusters x ${k} classes), got ${counts.length}`,
    );
  }
  const copy = new Float64Array(c * k);
  for (let i = 0; i < copy.length; i++) {
    const v = counts[i]!;
    if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) {
      throw new HpError(
        'E_VALUE',
        `${FN}: a count is invalid: expected a finite number >= 0, got ${String(v)} at index ${i}`,
      );
    }
    copy[i] = v;
  }
  return { k, c, counts: copy };
}

/** cluster → class for each matching mode; -1 = unmatched. */
function assign(matching: Matching, counts: Float64Array, c: number, k: number): number[] {
  if (matching === 'hungarian') return Array.from(maximumAssignment(counts, c, k));
  if (matching === 'identity') return Array.from({ length: c }, (_, i) => (i < k ? i : -1));
  // majority: first most frequent class (numpy argmax tie rule); an empty cluster stays unmatched.
  const out: number[] = [];
  for (let r = 0; r < c; r++) {
    let best = -1;
    let bestCount = 0;
    for (let j = 0; j < k; j++) {
      const v = counts[r * k + j]!;
      if (v > bestCount) {
        bestCount = v;
        best = j;
      }
    }
    out.push(best);
  }
  return out;
}

/**
 * Accuracy, mIoU and per-class IoU from a `[numClusters, numClasses]` confusion matrix, with the
 * official formulas (`seg_utils.py` `UnsupervisedMetrics.compute`): `tp = diag(hist)`,
 * `IoU = tp / (tp + fp + fn)`, mIoU = mean of the non-NaN IoUs, accuracy = Σ tp / Σ hist.
 */
export function computeMetrics(matrix: ConfusionCounts, options: MetricsOptions = {}): SegmentationMetrics {
  const matching = options.matching ?? 'hungarian';
  const extraClusterRule = options.extraClusterRule ?? 'official';
  if (matching !== 'hungarian' && matching !== 'identity' && matching !== 'majority') {
    throw new HpError(
      'E_ARG',
      `${FN}: matching is invalid: expected 'hungarian', 'identity' or 'majority', got ${String(matching)}`,
    );
  }
  if (extraClusterRule !== 'errors' && extraClusterRule !== 'official') {
    throw new HpError(
      'E_ARG',
      `${FN}: extraClusterRule is invalid: expected 'errors' or 'official', got ${String(extraClusterRule)}`,
    );
  }
  const { k, c, counts } = readCounts(matrix);
  const assignment = assign(matching, counts, c, k);

  // hist[class, gt]: rows of the clusters mapped to each class; unmatched clusters go to `extra[gt]`.
  const histogram = new Float64Array(k * k); // [K, K]
  const extra = new Float64Array(k); // [K]
  for (let r = 0; r < c; r++) {
    const cls = assignment[r]!;
    const dst = cls >= 0 ? histogram.subarray(cls * k, cls * k + k) : extra;
    for (let j = 0; j < k; j++) dst[j]! += counts[r * k + j]!;
  }

  let totalPixels = 0;
  let matchedPixels = 0;
  let unmatchedPixels = 0;
  for (let j = 0; j < k; j++) unmatchedPixels += extra[j]!;
  const perClassIoU: number[] = [];
  for (let j = 0; j < k; j++) {
    let rowSum = 0; // pixels predicted as class j
    let colSum = extra[j]!; // ground-truth pixels of class j
    for (let i = 0; i < k; i++) {
      rowSum += histogram[j * k + i]!;
      colSum += histogram[i * k + j]!;
    }
    const tp = histogram[j * k + j]!;
    totalPixels += rowSum;
    matchedPixels += tp;
    perClassIoU.push(tp / (rowSum + colSum - tp)); // 0/0 = NaN for a class absent from both
  }
  totalPixels += unmatchedPixels;

  // The official extra row exists only for Hungarian matching with extra clusters (seg_utils.py).
  const officialRow = extraClusterRule === 'official' && matching === 'hungarian' && c > k;
  const officialExtraRowIoU = officialRow ? 0 / unmatchedPixels : Number.NaN;
  const scored = officialRow ? [...perClassIoU, officialExtraRowIoU] : perClassIoU;
  const present = scored.filter((v) => !Number.isNaN(v));
  const mIoU = present.length === 0 ? Number.NaN : present.reduce((a, b) => a + b, 0) / present.length;

  return {
    matching,
    extraClusterRule,
    numClasses: k,
    numClusters: c,
    accuracy: matchedPixels / totalPixels,
    mIoU,
    perClassIoU,
    assignment,
    matchedPixels,
    totalPixels,
    unmatchedPixels,
    officialExtraRowIoU,
    histogram,
    counts,
  };
}
