import { HpError } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Photometric consistency term (official-behaviour §3.8, `run.py:176-184`): `mean_i ‖z_i − zAug_i + 1e-6‖₂`, with
 * `nn.PairwiseDistance(p=2, eps=1e-6)` semantics (eps added to the difference). Gradients flow into
 * both inputs. z, zAug: `[N, D]` (or any shape whose last axis is D; rows are the leading axes).
 */
export function consistencyLoss(z: tf.Tensor, zAug: tf.Tensor): tf.Scalar {
  const fn = 'consistencyLoss';
  if (z.rank < 2 || z.shape.join() !== zAug.shape.join()) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: z and zAug must have the same shape [N, D]: expected equal shapes of rank ≥ 2, got [${z.shape.join(', ')}] and [${zAug.shape.join(', ')}]`,
    );
  }
  const d = z.shape[z.rank - 1]!;
  // Explicit gradient (d_i / ‖d_i‖ / N), so the term works without tfjs-core's registered gradients.
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const diff = tf.add(tf.sub(tf.reshape(a, [-1, d]), tf.reshape(b, [-1, d])), 1e-6); // [N, D]
    const dist = tf.sqrt(tf.sum(tf.square(diff), 1, true)); // [N, 1]
    save([diff, dist]);
    return {
      value: tf.mean(dist) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sd, sn] = saved as [tf.Tensor, tf.Tensor];
        const g = tf.reshape(tf.mul(tf.div(sd, sn), tf.div(dy, sn.shape[0]!)), a.shape); // [N, D] → input shape
        return [g, tf.neg(g)];
      },
    };
  });
  return f(z, zAug) as tf.Scalar;
}
