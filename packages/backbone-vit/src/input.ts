import { HpError } from '@hpseg/core';
import type * as tf from '@tensorflow/tfjs-core';
import type { VitConfig } from './config.js';

export interface InputGeometry {
  B: number;
  H: number;
  W: number;
  /** Patch grid rows and columns. */
  h: number;
  w: number;
  /** Tokens per image, `1 + h*w`. */
  T: number;
}

/** Validates normalised images `[B, H, W, 3]` float32 with H, W multiples of the patch size. */
export function checkImages(fn: string, images: tf.Tensor, config: VitConfig): InputGeometry {
  const s = images.shape;
  if (s.length !== 4 || s[3] !== 3 || s[0]! < 1 || s[1]! < 1 || s[2]! < 1) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: images have the wrong shape: expected [B, H, W, 3] (NHWC, ImageNet-normalised), got [${s.join(', ')}]`,
    );
  }
  if (images.dtype !== 'float32') {
    throw new HpError(
      'E_DTYPE',
      `${fn}: images have the wrong dtype: expected float32 normalised images, got ${images.dtype}. Use imagenetNormalize()`,
    );
  }
  const [B, H, W] = s as [number, number, number, number];
  const p = config.patchSize;
  if (H % p !== 0 || W % p !== 0) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: image size is not a multiple of the patch size: expected H and W multiples of ${p}, got ${H}x${W}. Resize or crop to ${Math.floor(H / p) * p}x${Math.floor(W / p) * p}`,
    );
  }
  const h = H / p;
  const w = W / p;
  return { B, H, W, h, w, T: 1 + h * w };
}

export function disposedError(): HpError {
  return new HpError(
    'E_ARG',
    'Backbone.forward: the backbone was disposed: expected a live backbone, got one after dispose(). Load it again',
  );
}
