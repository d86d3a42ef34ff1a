import { bilateralFeatures, positionFeatures } from './features.js';
import { argmaxRows, meanField, unaryFromScores } from './mean-field.js';
import { buildLatticeKernel, jsMessagePasser, type LatticeKernel } from './message-passing.js';
import type { DenseCrfResult } from './types.js';
import type { ValidCrfInput } from './validate.js';
import { wasmMeanField } from './wasm-mean-field.js';

// No @hpseg/core import here or below: the worker loads this file without workspace resolution.

/** Where the mean-field loop runs: WebAssembly SIMD when available (default) or plain JavaScript. */
export type CrfEngine = 'auto' | 'js';

/** Lattice solver on an already validated input (used by the worker too). */
export function denseCrfValidated(v: ValidCrfInput, engine: CrfEngine = 'auto'): DenseCrfResult {
  const n = v.height * v.width;
  const k = v.numLabels;
  const { params } = v;
  const kernels: LatticeKernel[] = [];
  if (params.iterations > 0 && params.gaussian.weight !== 0) {
    const f = positionFeatures(v.height, v.width, params.gaussian);
    kernels.push(buildLatticeKernel(f, n, 2, params.gaussian.weight));
  }
  if (params.iterations > 0 && params.bilateral.weight !== 0) {
    const f = bilateralFeatures(v.image, v.height, v.width, params.bilateral);
    kernels.push(buildLatticeKernel(f, n, 5, params.bilateral.weight));
  }
  if (kernels.length > 0 && engine === 'auto') {
    const source =
      v.input === 'logits'
        ? { logits: v.scores, clip: params.clip }
        : { unary: unaryFromScores(v.scores, n, k, v.input, params.clip) };
    const q = wasmMeanField(source, n, k, kernels, params.iterations);
    if (q !== undefined) return { probabilities: q, labels: argmaxRows(q, n, k) };
  }
  // Plain JavaScript: no pairwise terms (Q = softmax(−U) with Math.exp), engine 'js', or no wasm.
  const unary = unaryFromScores(v.scores, n, k, v.input, params.clip);
  const pass = kernels.length > 0 ? jsMessagePasser(kernels, n, k) : undefined;
  const probabilities = meanField(unary, n, k, pass, params.iterations);
  return { probabilities, labels: argmaxRows(probabilities, n, k) };
}
