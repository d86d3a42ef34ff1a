import * as tf from '@tensorflow/tfjs-core';

/**
 * Row-wise L2 normalisation along the last axis with PyTorch's `F.normalize` semantics:
 * `x / max(‖x‖₂, eps)`, eps = 1e-12.
 */
export function l2Normalize<T extends tf.Tensor>(x: T, eps = 1e-12): T {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.square(x), -1, true));
    return tf.div(x, tf.maximum(norm, eps)) as T;
  });
}
