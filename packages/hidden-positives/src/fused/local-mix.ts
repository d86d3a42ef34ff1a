/**
 * The host engine of `mixLocalPositives` (official-behaviour §3.7, step 6) and of its gradient: the
 * same float32 operations in the same order as the TF.js ops of local-positives.ts (`shiftSum`,
 * `shiftSumTransposed`), so the results are bit for bit those of the TF.js engine on the wasm and cpu
 * backends. Each product is rounded to float32, then added to the running float32 sum (a double sum of
 * two floats rounded once to float32 is the float32 sum: 53 ≥ 2·24 + 2), term k = 0 first, no zero
 * start. The TF.js engine makes 9 sliced copies of the padded `[B, h, w, D]` input per pass, and as many
 * products and sums; here each output row of D values is written once and read 8 times from cache.
 */
import { LOCAL_WINDOW_OFFSETS } from '../local-positives.js'; // read at call time only (the modules import each other)

const f = Math.fround;

/**
 * mixed[b, i, j] = Σ_k weights[b, i·w + j, k] · x[b, i + di_k, j + dj_k] (x = +0 outside the image, so an
 * outside term is +0 · weight, as the padded slice makes it). x, out: `[B, h, w, D]`; weights `[B, h·w, 9]`.
 */
export function mixLocalHost(
  x: Float32Array,
  weights: ArrayLike<number>,
  batch: number,
  h: number,
  w: number,
  d: number,
): Float32Array {
  const out = new Float32Array(batch * h * w * d);
  for (let b = 0; b < batch; b += 1) {
    for (let i = 0; i < h; i += 1) {
      for (let j = 0; j < w; j += 1) {
        const pos = (b * h + i) * w + j;
        const o = pos * d;
        for (let k = 0; k < 9; k += 1) {
          const [di, dj] = LOCAL_WINDOW_OFFSETS[k]!;
          const wk = weights[pos * 9 + k]!;
          const ii = i + di;
          const jj = j + dj;
          if (ii < 0 || ii >= h || jj < 0 || jj >= w) {
            const zero = f(0 * wk); // ±0: the padded slice's +0 times the weight
            if (k === 0) out.fill(zero, o, o + d);
            else for (let c = 0; c < d; c += 1) out[o + c] = out[o + c]! + zero;
            continue;
          }
          const src = ((b * h + ii) * w + jj) * d;
          if (k === 0) for (let c = 0; c < d; c += 1) out[o + c] = f(x[src + c]! * wk);
          else for (let c = 0; c < d; c += 1) out[o + c] = out[o + c]! + f(x[src + c]! * wk);
        }
      }
    }
  }
  return out;
}

/**
 * The adjoint: grad[b, i, j] = Σ_k (g ⊙ weights_k)[b, i − di_k, j − dj_k], +0 where that position is outside
 * the image (the padding of the TF.js engine), in k order, term k = 0 first. g, out: `[B, h, w, D]`.
 */
export function mixLocalHostTransposed(
  g: Float32Array,
  weights: ArrayLike<number>,
  batch: number,
  h: number,
  w: number,
  d: number,
): Float32Array {
  const out = new Float32Array(batch * h * w * d);
  for (let b = 0; b < batch; b += 1) {
    for (let i = 0; i < h; i += 1) {
      for (let j = 0; j < w; j += 1) {
        const o = ((b * h + i) * w + j) * d;
        for (let k = 0; k < 9; k += 1) {
          const [di, dj] = LOCAL_WINDOW_OFFSETS[k]!;
          const ii = i - di;
          const jj = j - dj;
          if (ii < 0 || ii >= h || jj < 0 || jj >= w) {
            // k = 0 starts from the padding's +0 (already there); a later +0 leaves the sum as it is
            // except −0 + +0 = +0.
            if (k !== 0) for (let c = 0; c < d; c += 1) out[o + c] = out[o + c]! + 0;
            continue;
          }
          const pos = (b * h + ii) * w + jj;
          const wk = weights[pos * 9 + k]!;
          const src = pos * d;
          if (k === 0) for (let c = 0; c < d; c += 1) out[o + c] = f(g[src + c]! * wk);
          else for (let c = 0; c < d; c += 1) out[o + c] = out[o + c]! + f(g[src + c]! * wk);
        }
      }
    }
  }
  return out;
}
