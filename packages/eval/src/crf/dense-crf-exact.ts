import { HpError } from '@hpseg/core';
import { bilateralFeatures, positionFeatures } from './features.js';
import { argmaxRows, meanField, unaryFromScores } from './mean-field.js';
import type { DenseCrfInput, DenseCrfResult } from './types.js';
import { validateCrfInput } from './validate.js';

/** Largest H·W the O(N²) reference accepts (an N×N float64 matrix: 128 MiB at 4096). */
export const DENSE_CRF_EXACT_MAX_PIXELS = 4096;

/** Adds w · D^−½ K D^−½ to `matrix` ([N, N]), K_ij = exp(−½‖f_i − f_j‖²) including i = j. */
function addNormalisedGaussian(
  matrix: Float64Array,
  f: Float32Array,
  n: number,
  dim: number,
  w: number,
): void {
  const kernel = new Float64Array(n * n);
  const degree = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let d2 = 0;
      for (let c = 0; c < dim; c++) {
        const diff = f[i * dim + c]! - f[j * dim + c]!;
        d2 += diff * diff;
      }
      const value = Math.exp(-0.5 * d2);
      kernel[i * n + j] = value;
      kernel[j * n + i] = value;
    }
  }
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += kernel[i * n + j]!;
    degree[i] = 1 / Math.sqrt(s + 1e-20);
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) matrix[i * n + j]! += w * degree[i]! * kernel[i * n + j]! * degree[j]!;
  }
}

/**
 * The same CRF as `denseCrf` with exact message passing: explicit Gaussian sums over all pixel
 * pairs (self term included, symmetric normalisation with the exact degrees). O(N²) time and
 * memory; for tests and documentation on images up to 4096 pixels (e.g. 64×64).
 */
export function denseCrfExact(input: DenseCrfInput): DenseCrfResult {
  const v = validateCrfInput('denseCrfExact', input);
  const n = v.height * v.width;
  if (n > DENSE_CRF_EXACT_MAX_PIXELS) {
    throw new HpError(
      'E_ARG',
      `denseCrfExact: image is too large for the O(N²) reference: expected at most ${DENSE_CRF_EXACT_MAX_PIXELS} pixels, got ${v.height}×${v.width} = ${n}. Use denseCrf.`,
    );
  }
  const k = v.numLabels;
  const { params } = v;
  const unary = unaryFromScores(v.scores, n, k, v.input, params.clip);
  // Both kernels enter the update only through Σ_m w_m K̃_m Q, so one combined matrix suffices.
  const matrix = new Float64Array(n * n);
  if (params.gaussian.weight !== 0) {
    addNormalisedGaussian(
      matrix,
      positionFeatures(v.height, v.width, params.gaussian),
      n,
      2,
      params.gaussian.weight,
    );
  }
  if (params.bilateral.weight !== 0) {
    const f = bilateralFeatures(v.image, v.height, v.width, params.bilateral);
    addNormalisedGaussian(matrix, f, n, 5, params.bilateral.weight);
  }
  const pass =
    params.gaussian.weight === 0 && params.bilateral.weight === 0
      ? undefined
      : (q: Float32Array, out: Float32Array) => {
          const acc = new Float64Array(k);
          for (let i = 0; i < n; i++) {
            acc.fill(0);
            const row = i * n;
            for (let j = 0; j < n; j++) {
              const a = matrix[row + j]!;
              const qb = j * k;
              for (let l = 0; l < k; l++) acc[l]! += a * q[qb + l]!;
            }
            for (let l = 0; l < k; l++) out[i * k + l] = acc[l]!;
          }
        };
  const probabilities = meanField(unary, n, k, pass, params.iterations);
  return { probabilities, labels: argmaxRows(probabilities, n, k) };
}
