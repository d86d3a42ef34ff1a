import { HpError, IMAGENET_MEAN, IMAGENET_STD } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';

/** ImageNet statistics used by DINO and HP (`dataset/data.py:44`), RGB order: the table of @hpseg/core. */
export { IMAGENET_MEAN, IMAGENET_STD };

/**
 * `ToTensor()` + `Normalize(IMAGENET_MEAN, IMAGENET_STD)` for NHWC RGB images: uint8 values in
 * [0, 255] (a `Uint8Array` with its shape, or an int32/float32 tensor of 0..255 values) → float32
 * `[B, H, W, 3]` normalised images.
 */
export function imagenetNormalize(
  images:
    | tf.Tensor4D
    | { data: Uint8Array | Uint8ClampedArray; shape: readonly [number, number, number, number] },
): tf.Tensor4D {
  const fn = 'imagenetNormalize';
  const shape = images.shape;
  if (shape.length !== 4 || shape[3] !== 3) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: images have the wrong shape: expected [B, H, W, 3], got [${shape.join(', ')}]`,
    );
  }
  if (!(images instanceof tf.Tensor)) {
    const n = shape[0] * shape[1] * shape[2] * shape[3];
    if (images.data.length !== n) {
      throw new HpError(
        'E_SHAPE',
        `${fn}: data length does not match the shape: expected ${n}, got ${images.data.length}`,
      );
    }
  }
  return tf.tidy(() => {
    const x =
      images instanceof tf.Tensor
        ? tf.cast(images, 'float32')
        : tf.tensor4d(Float32Array.from(images.data), [...images.shape]);
    const mean = tf.tensor1d(IMAGENET_MEAN.map((m) => m * 255));
    const scale = tf.tensor1d(IMAGENET_STD.map((s) => 1 / (s * 255)));
    return tf.mul(tf.sub(x, mean), scale) as tf.Tensor4D;
  });
}
