import { denseCrfValidated } from './solve.js';
import type { DenseCrfInput, DenseCrfResult } from './types.js';
import { validateCrfInput } from './validate.js';

/**
 * Fully connected CRF post-processing as in the official HP/STEGO evaluation (pydensecrf
 * `DenseCRF2D` with `addPairwiseGaussian(sxy=1, compat=3)`, `addPairwiseBilateral(sxy=67, srgb=3,
 * compat=4)`, `inference(10)`), with message passing through a permutohedral lattice.
 * Synchronous and deterministic; no global state.
 */
export function denseCrf(input: DenseCrfInput): DenseCrfResult {
  return denseCrfValidated(validateCrfInput('denseCrf', input));
}
