import { assertInt, assertShape } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * `F.interpolate(x, size, mode='bilinear', align_corners=False)` on NHWC `x [B, h, w, C]`:
 * half-pixel centres, `src = (dst + 0.5)·in/out − 0.5` clamped at 0 (TF.js
 * `resizeBilinear(alignCorners=false, halfPixelCenters=true)`; equality with torch is a golden test).
 */
export function upsampleBilinear(x: tf.Tensor4D, size: readonly [number, number]): tf.Tensor4D {
  const fn = 'upsampleBilinear';
  assertShape(fn, 'x', x.shape, ['B', 'h', 'w', 'C']);
  const H = assertInt(fn, 'size[0]', size[0], 1);
  const W = assertInt(fn, 'size[1]', size[1], 1);
  return tf.tidy(() => tf.image.resizeBilinear(x, [H, W], false, true));
}
