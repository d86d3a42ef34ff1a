import * as tf from '@tensorflow/tfjs-core';

/** PyTorch's `F.normalize` eps: rows are divided by `max(‖x‖₂, eps)`. */
export const L2_NORMALIZE_EPS = 1e-12;

/**
 * Row-wise L2 normalisation along the last axis with PyTorch's `F.normalize` semantics:
 * `x / max(‖x‖₂, eps)`, eps = 1e-12. Carries its own gradient, `(dy − y·⟨y, dy⟩) / ‖x‖` where
 * ‖x‖ > eps and `dy / eps` elsewhere, so an all-zero row (e.g. a mixed token whose window weights are
 * all 0) gets a finite gradient, as in PyTorch, instead of the NaN of autodiff through `sqrt(0)`.
 * The one tensor normalisation of hpseg: the head, the probes, the HP loss and the training step use it.
 */
export function l2Normalize<T extends tf.Tensor>(x: T, eps = L2_NORMALIZE_EPS): T {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const norm = tf.sqrt(tf.sum(tf.square(input), -1, true));
    const denom = tf.maximum(norm, eps);
    const y = tf.div(input, denom);
    save([y, norm, denom]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sy, sn, sd] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const above = tf.cast(tf.greater(sn, eps), 'float32'); // [.., 1]
        const radial = tf.mul(sy, tf.mul(tf.sum(tf.mul(sy, dy), -1, true), above));
        return [tf.div(tf.sub(dy, radial), sd)];
      },
    };
  });
  return f(x) as T;
}

/**
 * The host twin of `l2Normalize` for row-major `[rows, cols]` float32 arrays, in place: each row
 * divided by `max(‖row‖₂, eps)`, the sum of squares accumulated in double precision.
 */
export function l2NormalizeRows(
  x: Float32Array,
  rows: number,
  cols: number,
  eps = L2_NORMALIZE_EPS,
): Float32Array {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += (x[r * cols + c] as number) ** 2;
    const inv = 1 / Math.max(Math.sqrt(s), eps);
    for (let c = 0; c < cols; c++) x[r * cols + c] = (x[r * cols + c] as number) * inv;
  }
  return x;
}
