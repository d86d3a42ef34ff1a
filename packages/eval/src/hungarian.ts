import { HpError } from '@hpseg/core';
import { munkres } from 'munkres';

/**
 * Maximum-weight one-to-one matching of the rows and columns of a `[rows, cols]` row-major matrix
 * (square or rectangular), the same problem as SciPy's `linear_sum_assignment(w, maximize=True)`:
 * `min(rows, cols)` pairs are matched. Returns `rowToCol[r] = c`, or -1 for unmatched rows.
 *
 * Solved by the `munkres` package (O(M²N), works on floats) on the negated matrix; the weights here
 * are pixel counts (integers < 2^53), so negation and the solver's sums are exact. With ties, the
 * matched total is optimal but the permutation may differ from SciPy's.
 */
export function maximumAssignment(weights: ArrayLike<number>, rows: number, cols: number): Int32Array {
  const fn = 'maximumAssignment';
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new HpError(
      'E_ARG',
      `${fn}: matrix size is invalid: expected rows, cols >= 1, got [${rows}, ${cols}]`,
    );
  }
  if (weights.length !== rows * cols) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: weights have the wrong length: expected ${rows * cols} (= ${rows} x ${cols}), got ${weights.length}`,
    );
  }
  const cost: Float64Array[] = [];
  for (let r = 0; r < rows; r++) {
    const row = new Float64Array(cols);
    for (let c = 0; c < cols; c++) {
      const w = weights[r * cols + c]!;
      if (!Number.isFinite(w)) {
        throw new HpError(
          'E_VALUE',
          `${fn}: a weight is not finite: expected a finite number, got ${w} at [${r}, ${c}]`,
        );
      }
      row[c] = w === 0 ? 0 : -w; // avoid -0
    }
    cost.push(row);
  }
  const rowToCol = new Int32Array(rows).fill(-1);
  for (const [r, c] of munkres(cost)) rowToCol[r] = c;
  return rowToCol;
}

/** Sum of the matched weights of an assignment from `maximumAssignment`. */
export function assignmentTotal(
  weights: ArrayLike<number>,
  cols: number,
  rowToCol: ArrayLike<number>,
): number {
  let sum = 0;
  for (let r = 0; r < rowToCol.length; r++) {
    const c = rowToCol[r]!;
    if (c >= 0) sum += weights[r * cols + c]!;
  }
  return sum;
}
