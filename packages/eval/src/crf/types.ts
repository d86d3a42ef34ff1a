import type { CrfParamsInput } from './params.js';

/** One image for the dense CRF. Pixel order is row-major, channels last. */
export interface DenseCrfInput {
  /** uint8 RGB (any fixed channel order; the colour kernel is isotropic), [H, W, 3]. */
  image: Uint8Array;
  height: number;
  width: number;
  /** Per-pixel class scores at image resolution, [H, W, K]. */
  scores: Float32Array;
  /** K ≥ 2. */
  numLabels: number;
  /** `'logits'`: softmax is applied first (the probes' logits / 2·cos); `'probabilities'`: used as is. */
  input: 'logits' | 'probabilities';
  params?: CrfParamsInput;
}

export interface DenseCrfResult {
  /** Mean-field marginals Q, [H, W, K], each pixel sums to 1. */
  probabilities: Float32Array;
  /** argmax_k Q (first maximum on ties), [H, W]. */
  labels: Int32Array;
}
