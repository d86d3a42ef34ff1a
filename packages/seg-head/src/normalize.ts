import * as tf from '@tensorflow/tfjs-core';

/** `F.normalize(x, dim=-1)`: `x / max(‖x‖₂, eps)` along the last axis, eps 1e-12. */
export function l2Normalize(x: tf.Tensor, eps = 1e-12): tf.Tensor {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.square(x), -1, true));
    return tf.div(x, tf.maximum(norm, eps));
  });
}
