import { assertNumber, assertShape, HpError } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * A seed for a fresh draw, or the draw itself: a keep-mask of 0/1 values, shape `[B, 1, 1, C]`
 * (1 = channel kept). Passing the mask lets tests replay a reference's draws.
 */
export type DropoutDraw = number | tf.Tensor | undefined;

/**
 * Draws a `Dropout2d` keep-mask `[B, 1, 1, C]`: each (sample, channel) is kept with probability
 * `1 − rate`. Seeded when `seed` is given.
 */
export function drawDropout2dMask(batch: number, channels: number, rate: number, seed?: number): tf.Tensor4D {
  return tf.tidy(() => {
    const u = tf.randomUniform([batch, 1, 1, channels], 0, 1, 'float32', seed);
    return tf.cast(tf.greaterEqual(u, rate), 'float32') as tf.Tensor4D;
  });
}

/**
 * PyTorch `nn.Dropout2d(rate)` in training mode on an NHWC tensor `x [B, H, W, C]`: whole
 * channels of each sample are zeroed with probability `rate`, kept ones are scaled by
 * `1/(1−rate)` (as torch: `x · (mask / (1−rate))`). `seedOrMask` is a seed or the keep-mask
 * `[B, 1, 1, C]` itself; `undefined` draws from the unseeded generator. `rate = 0` is the identity
 * (a copy). Every call is an independent draw, as every call of the official `self.dropout(·)`.
 */
export function dropout2d(x: tf.Tensor4D, rate: number, seedOrMask?: DropoutDraw): tf.Tensor4D {
  const fn = 'dropout2d';
  assertNumber(fn, 'rate', rate, 0, 0.999999);
  const dims = assertShape(fn, 'x', x.shape, ['B', 'H', 'W', 'C']);
  if (seedOrMask instanceof tf.Tensor) assertShape(fn, 'mask', seedOrMask.shape, [dims.B!, 1, 1, dims.C!]);
  else if (seedOrMask !== undefined && !Number.isInteger(seedOrMask)) {
    throw new HpError(
      'E_ARG',
      `${fn}: seed is invalid: expected an integer or a mask tensor, got ${String(seedOrMask)}`,
    );
  }
  return tf.tidy(() => {
    if (rate === 0 && !(seedOrMask instanceof tf.Tensor)) return tf.clone(x);
    const mask =
      seedOrMask instanceof tf.Tensor
        ? tf.cast(seedOrMask, 'float32')
        : drawDropout2dMask(dims.B!, dims.C!, rate, seedOrMask);
    const noise = tf.mul(mask, tf.scalar(1 / (1 - rate))); // [B, 1, 1, C], as torch's bernoulli_().div_()
    return tf.mul(x, noise) as tf.Tensor4D;
  });
}
