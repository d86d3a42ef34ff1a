import { assertNumber, describeValue, HpError, hostValues } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { fusedPool, HOST_BACKENDS } from './fused/engine.js';
import { mixLocalFused } from './fused/local-mix.js';
import { localWeightsHost } from './fused/local-weights.js';
import { type GridSize, parseGrid } from './grid.js';

/**
 * Order of the 9 entries of a local-positive weight row: offsets `[di, dj]` of the 3×3 window,
 * row-major from (−1, −1) to (1, 1); entry 4 is the patch itself.
 */
export const LOCAL_WINDOW_OFFSETS: readonly (readonly [number, number])[] = [
  [-1, -1],
  [-1, 0],
  [-1, 1],
  [0, -1],
  [0, 0],
  [0, 1],
  [1, -1],
  [1, 0],
  [1, 1],
];

/** σ of the LHP softmax: official `self.sigma = 28` (`DinoFeaturizer.py`), the same for every backbone and resolution. */
export const LHP_SIGMA = 28;

/** Whether `engine` (`'auto'` by default) picks the fused engine here: `'fused'`, or `'auto'` on wasm / cpu. */
function useFusedEngine(fn: string, engine: unknown = 'auto'): boolean {
  if (engine !== 'auto' && engine !== 'tfjs' && engine !== 'fused') {
    throw new HpError(
      'E_ARG',
      `${fn}: engine is invalid: expected one of 'auto', 'tfjs', 'fused', got ${describeValue(engine)}`,
    );
  }
  return engine === 'fused' || (engine === 'auto' && HOST_BACKENDS.has(tf.getBackend()));
}

export interface LocalPositiveOptions {
  /** Patch grid of one image, `h = w = gridSize` or `[h, w]`; P = h·w. */
  readonly gridSize: GridSize;
  /** Multiplier σ of the softmax; default `LHP_SIGMA` (28). */
  readonly sigma?: number;
  /**
   * `'tfjs'`: TF.js ops on the active backend; `'fused'`: one pass per attention row on the host
   * (src/fused/local-weights.ts); `'auto'` (default): fused on the `wasm` and `cpu` backends.
   */
  readonly engine?: 'auto' | 'tfjs' | 'fused';
}

/**
 * For each patch i and window entry k: the flat index i·P + j of its neighbour j in a `[P, P]`
 * matrix, and `1 / n_i` (0 when the neighbour is outside the image). n_i = in-image window size.
 */
function windowTables(h: number, w: number): { index: Int32Array; scale: Float32Array } {
  const p = h * w;
  const index = new Int32Array(p * 9);
  const scale = new Float32Array(p * 9);
  for (let r = 0; r < h; r += 1) {
    for (let c = 0; c < w; c += 1) {
      const i = r * w + c;
      const inside = LOCAL_WINDOW_OFFSETS.map(([di, dj]) => {
        const rr = r + di;
        const cc = c + dj;
        return rr >= 0 && rr < h && cc >= 0 && cc < w ? rr * w + cc : -1;
      });
      const n = inside.filter((j) => j >= 0).length;
      inside.forEach((j, k) => {
        index[i * 9 + k] = i * p + (j >= 0 ? j : i);
        scale[i * 9 + k] = j >= 0 ? 1 / n : 0;
      });
    }
  }
  return { index, scale };
}

/** `torch.quantile(x, q, dim=1)` (linear interpolation) of every row, from rows sorted descending. */
function rowQuantile(sortedDesc: tf.Tensor2D, q: number): tf.Tensor2D {
  const n = sortedDesc.shape[1];
  const pos = q * (n - 1);
  const below = Math.floor(pos);
  const above = Math.ceil(pos);
  const frac = pos - below;
  const at = (ascending: number): tf.Tensor2D =>
    tf.slice(sortedDesc, [0, n - 1 - ascending], [-1, 1]) as tf.Tensor2D; // [P, 1]
  const lo = at(below);
  if (above === below) return lo;
  const hi = at(above);
  // torch.lerp: a + w·(b − a) for w < 0.5, b − (b − a)·(1 − w) otherwise.
  return frac < 0.5 ? tf.add(lo, tf.mul(tf.sub(hi, lo), frac)) : tf.sub(hi, tf.mul(tf.sub(hi, lo), 1 - frac));
}

/**
 * Local hidden-positive weights from the last ViT block's pre-softmax attention (official-behaviour §3.7 steps 1–5):
 * mean over heads of the patch-to-patch logits (CLS row and column dropped), per-row clamp to the
 * 10 % / 90 % quantiles (linear interpolation), σ·softmax over all P patches, zero where below the
 * row mean, keep the 3×3 window including the centre, divide by the in-image window size n_i
 * (9 inside, 6 on edges, 4 in corners).
 *
 * attentionLogits `[B, heads, 1+P, 1+P]` → weights `[B, P, 9]` in `LOCAL_WINDOW_OFFSETS` order,
 * 0 for neighbours outside the image. Images are processed one at a time (one `[P, P]` alive).
 */
export function localPositiveWeights(attentionLogits: tf.Tensor, options: LocalPositiveOptions): tf.Tensor3D {
  const fn = 'localPositiveWeights';
  const [h, w] = parseGrid(fn, options?.gridSize);
  const sigma = assertNumber(fn, 'sigma', options.sigma ?? LHP_SIGMA, Number.MIN_VALUE);
  const p = h * w;
  const shape = attentionLogits.shape;
  if (attentionLogits.rank !== 4 || shape[2] !== p + 1 || shape[3] !== p + 1) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: attentionLogits has the wrong shape: expected [B, heads, ${p + 1}, ${p + 1}] for a ${h}×${w} grid, got [${shape.join(', ')}]`,
    );
  }
  const [batch, heads] = shape as [number, number];
  const { index, scale } = windowTables(h, w);
  if (useFusedEngine(fn, options.engine)) {
    const values = localWeightsHost(
      attentionLogits.dataSync() as ArrayLike<number>,
      batch,
      heads,
      p,
      sigma,
      index,
      scale,
    );
    return tf.tensor3d(values, [batch, p, 9]);
  }
  const rows: tf.Tensor2D[] = [];
  try {
    for (let b = 0; b < batch; b += 1) {
      rows.push(
        tf.tidy(() => {
          const a = tf.slice(attentionLogits, [b, 0, 1, 1], [1, heads, p, p]); // [1, heads, P, P]
          const t = tf.reshape(tf.mean(tf.cast(a, 'float32'), 1), [p, p]) as tf.Tensor2D; // [P, P]
          const sorted = tf.topk(t, p, true).values as tf.Tensor2D; // [P, P], descending
          const q90 = rowQuantile(sorted, 0.9);
          const q10 = rowQuantile(sorted, 0.1);
          const clamped = tf.maximum(tf.minimum(t, q90), q10);
          const s = tf.mul(tf.softmax(clamped), sigma); // [P, P]
          const keep = tf.greaterEqual(s, tf.mean(s, 1, true));
          const kept = tf.where(keep, s, tf.zerosLike(s));
          const picked = tf.gather(tf.reshape(kept, [-1]), tf.tensor1d(index, 'int32')); // [P*9]
          return tf.reshape(tf.mul(picked, tf.tensor1d(scale, 'float32')), [p, 9]) as tf.Tensor2D;
        }),
      );
    }
    return tf.stack(rows) as tf.Tensor3D; // [B, P, 9]
  } finally {
    for (const r of rows) r.dispose();
  }
}

export interface MixLocalPositivesOptions {
  /**
   * `'tfjs'`: TF.js ops (9 shifted slices per pass); `'fused'`: one pass per direction on the fused
   * engine's threads (src/fused/local-mix.ts, `initFusedLoss`), bit for bit the same float32 results;
   * `'auto'` (default): fused on the `wasm` and `cpu` backends.
   */
  readonly engine?: 'auto' | 'tfjs' | 'fused';
  /** Needed only for token-major `code` `[N, D]` with a non-square grid. */
  readonly gridSize?: GridSize;
}

/**
 * LHP feature mixing (official-behaviour §3.7, `DinoFeaturizer.py:197-210`): `mixed[b, i] = Σ_k weights[b, i, k] ·
 * code[b, neighbour_k(i)]`, with the weights of `localPositiveWeights` (already divided by n_i).
 * Differentiable w.r.t. `code` (the loss on a mixed token reaches its neighbours); `weights` is
 * treated as a constant by the official code and should be passed without gradient.
 *
 * code `[B, h, w, D]` or token-major `[N, D]` (row = b·h·w + i·w + j), weights `[B, P, 9]`
 * → mixed `[B, h, w, D]`.
 */
export function mixLocalPositives(
  code: tf.Tensor,
  weights: tf.Tensor,
  options: MixLocalPositivesOptions = {},
): tf.Tensor4D {
  const fn = 'mixLocalPositives';
  if (weights.rank !== 3 || weights.shape[2] !== 9) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: weights has the wrong shape: expected [B, P, 9], got [${weights.shape.join(', ')}]`,
    );
  }
  const [batch, p] = weights.shape as [number, number];
  let h: number;
  let w: number;
  if (code.rank === 4) {
    [h, w] = [code.shape[1]!, code.shape[2]!];
  } else if (code.rank === 2 && options.gridSize !== undefined) {
    [h, w] = parseGrid(fn, options.gridSize);
  } else if (code.rank === 2 && Number.isInteger(Math.sqrt(p))) {
    h = w = Math.sqrt(p);
  } else {
    throw new HpError(
      'E_SHAPE',
      `${fn}: code has the wrong shape: expected [B, h, w, D], or [N, D] with a square grid or options.gridSize, got [${code.shape.join(', ')}] with gridSize ${describeValue(options.gridSize)}`,
    );
  }
  const d = code.shape[code.rank - 1]!;
  if (h * w !== p || code.size !== batch * p * d) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: code does not match weights: expected ${batch} images of ${p} patches (weights [${weights.shape.join(', ')}]), got code [${code.shape.join(', ')}]${code.rank === 2 ? ` with grid ${h}×${w}` : ''}`,
    );
  }
  const shape = code.shape;
  if (useFusedEngine(fn, options.engine)) {
    const hostMix = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [c, wts] = args as [tf.Tensor, tf.Tensor];
      const wv = wts.dataSync() as Float32Array; // a copy: the gradient uses it after other ops ran
      const grid = { batch, h, w, d };
      const value = tf.tensor4d(mixLocalFused(fusedPool(), hostValues(c), wv, grid, false), [batch, h, w, d]);
      return {
        value,
        gradFunc: (dy: tf.Tensor) => [
          tf.tensor(mixLocalFused(fusedPool(), hostValues(dy), wv, grid, true), shape),
          tf.zerosLike(wts),
        ],
      };
    });
    return hostMix(code, weights) as tf.Tensor4D;
  }
  // Explicit gradient, so the mix works without tfjs-core's registered gradients (which plain Node
  // ESM cannot import): d code[j] = Σ_k (weights_k ⊙ dy)[j − offset_k], the same window shifted back.
  const mix = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [c, wts] = args as [tf.Tensor, tf.Tensor];
    const w4 = tf.reshape(wts, [batch, h, w, 9]); // [B, h, w, 9]
    const value = shiftSum(tf.reshape(c, [batch, h, w, d]), w4, batch, h, w, d);
    return {
      value,
      gradFunc: (dy: tf.Tensor) => [
        tf.reshape(shiftSumTransposed(dy, w4, batch, h, w, d), shape),
        tf.zerosLike(wts),
      ],
    };
  });
  return mix(code, weights) as tf.Tensor4D;
}

/** Σ_k weights_k ⊙ x[i + offset_k] over the 3×3 window; zero outside the image. `[B, h, w, D]`. */
function shiftSum(x: tf.Tensor, w4: tf.Tensor, batch: number, h: number, w: number, d: number): tf.Tensor4D {
  return tf.tidy(() => {
    const padded = tf.pad(x, [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ]); // [B, h+2, w+2, D]
    let acc: tf.Tensor | null = null;
    LOCAL_WINDOW_OFFSETS.forEach(([di, dj], k) => {
      const shifted = tf.slice(padded, [0, 1 + di, 1 + dj, 0], [batch, h, w, d]); // [B, h, w, D]
      const term = tf.mul(shifted, tf.slice(w4, [0, 0, 0, k], [batch, h, w, 1]));
      acc = acc === null ? term : tf.add(acc, term);
    });
    return acc as unknown as tf.Tensor4D;
  });
}

/** Adjoint of `shiftSum`: grad[j] = Σ_k (weights_k ⊙ dy)[j − offset_k]. `[B, h, w, D]`. */
function shiftSumTransposed(
  dy: tf.Tensor,
  w4: tf.Tensor,
  batch: number,
  h: number,
  w: number,
  d: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const g = tf.reshape(dy, [batch, h, w, d]);
    let acc: tf.Tensor | null = null;
    LOCAL_WINDOW_OFFSETS.forEach(([di, dj], k) => {
      const term = tf.pad(tf.mul(g, tf.slice(w4, [0, 0, 0, k], [batch, h, w, 1])), [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ]); // [B, h+2, w+2, D]
      const shifted = tf.slice(term, [0, 1 - di, 1 - dj, 0], [batch, h, w, d]);
      acc = acc === null ? shifted : tf.add(acc, shifted);
    });
    return acc as unknown as tf.Tensor4D;
  });
}
