/**
 * Mean-field inference for a fully connected CRF with Potts compatibilities (Krähenbühl & Koltun
 * 2011, Algorithm 1), with pydensecrf's conventions:
 *   Q⁰ = softmax(−U);   Qᵗ⁺¹ = softmax(−U + Σ_m w_m · K̃_m Qᵗ)
 * where K̃_m is the symmetrically normalised kernel D^−½ K D^−½ (D = diag(K·1)) of kernel m, self
 * term included, and the Potts compatibility μ(l, l') = −w·[l = l'] turns the message into
 * "+w × filtered Q of the same label" (equivalent to the penalty w·[l ≠ l'] up to a per-pixel
 * constant, which the softmax removes). Nothing is subtracted for the self term, as in densecrf.
 */

/** `out = Σ_m w_m · K̃_m · q` for [N, K] point-major `q` (all pairwise kernels at once). */
export type PassMessages = (q: Float32Array, out: Float32Array) => void;

/** −log(clip(p, clip, 1)) from logits (softmax first) or probabilities; float32 like pydensecrf. */
export function unaryFromScores(
  scores: Float32Array,
  n: number,
  k: number,
  input: 'logits' | 'probabilities',
  clip: number,
): Float32Array {
  const unary = new Float32Array(n * k);
  const cap = -Math.log(clip);
  for (let i = 0; i < n; i++) {
    const base = i * k;
    if (input === 'logits') {
      // −log softmax(s)_l = logsumexp(s) − s_l, capped at −log(clip): one log per pixel.
      let max = Number.NEGATIVE_INFINITY;
      for (let l = 0; l < k; l++) max = Math.max(max, scores[base + l]!);
      let sum = 0;
      for (let l = 0; l < k; l++) sum += Math.exp(scores[base + l]! - max);
      const lse = max + Math.log(sum);
      for (let l = 0; l < k; l++) unary[base + l] = Math.min(cap, lse - scores[base + l]!);
    } else {
      for (let l = 0; l < k; l++) unary[base + l] = -Math.log(Math.min(1, Math.max(clip, scores[base + l]!)));
    }
  }
  return unary;
}

/** In place: each row of `x` ([N, K]) becomes its softmax. */
function softmaxRows(x: Float32Array, out: Float32Array, n: number, k: number): void {
  for (let i = 0; i < n; i++) {
    const base = i * k;
    let max = Number.NEGATIVE_INFINITY;
    for (let l = 0; l < k; l++) max = Math.max(max, x[base + l]!);
    let sum = 0;
    for (let l = 0; l < k; l++) {
      const e = Math.exp(x[base + l]! - max);
      out[base + l] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let l = 0; l < k; l++) out[base + l]! *= inv;
  }
}

/** Runs `iterations` mean-field updates; returns Q, [N, K]. `pass` undefined = no pairwise terms. */
export function meanField(
  unary: Float32Array,
  n: number,
  k: number,
  pass: PassMessages | undefined,
  iterations: number,
): Float32Array {
  const q = new Float32Array(n * k);
  const energy = new Float32Array(n * k);
  const message = new Float32Array(n * k);
  for (let i = 0; i < n * k; i++) energy[i] = -unary[i]!;
  softmaxRows(energy, q, n, k);
  if (pass === undefined) return q;
  for (let t = 0; t < iterations; t++) {
    pass(q, message);
    for (let i = 0; i < n * k; i++) energy[i] = message[i]! - unary[i]!;
    softmaxRows(energy, q, n, k);
  }
  return q;
}

/** argmax over the last axis, first maximum on ties (numpy's rule). */
export function argmaxRows(q: Float32Array, n: number, k: number): Int32Array {
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const base = i * k;
    let best = 0;
    let bestValue = q[base]!;
    for (let l = 1; l < k; l++) {
      const v = q[base + l]!;
      if (v > bestValue) {
        bestValue = v;
        best = l;
      }
    }
    labels[i] = best;
  }
  return labels;
}
