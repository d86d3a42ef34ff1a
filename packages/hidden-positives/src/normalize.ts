import * as tf from '@tensorflow/tfjs-core';

/**
 * Row-wise L2 normalisation along the last axis with PyTorch's `F.normalize` semantics:
 * `x / max(‖x‖₂, eps)`, eps = 1e-12. Carries its own gradient, `(dy − y·⟨y, dy⟩) / ‖x‖` where
 * ‖x‖ > eps and `dy / eps` elsewhere, so an all-zero row (e.g. a mixed token whose window weights are
 * all 0) gets a finite gradient, as in PyTorch, instead of the NaN of autodiff through `sqrt(0)`.
 */
export function l2Normalize<T extends tf.Tensor>(x: T, eps = 1e-12): T {
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
