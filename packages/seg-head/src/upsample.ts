import { assertInt, assertShape, hostMatMul2d } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Interpolation matrix `R [out, in]` of `F.interpolate(mode='bilinear', align_corners=False)` along
 * one axis, computed as torch's CPU kernel does (float32 arithmetic): `scale = in/out`,
 * `src = max(scale·(dst + 0.5) − 0.5, 0)`, taps `i0 = ⌊src⌋` and `i1 = min(i0 + 1, in − 1)` with
 * weights `1 − λ` and `λ = src − i0`.
 */
export function bilinearMatrix(inSize: number, outSize: number): Float32Array {
  const f = Math.fround;
  const scale = f(inSize / outSize);
  const r = new Float32Array(outSize * inSize);
  for (let dst = 0; dst < outSize; dst++) {
    let src = f(f(scale * f(dst + 0.5)) - 0.5);
    if (src < 0) src = 0;
    const i0 = Math.floor(src);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    const l1 = f(src - i0);
    const l0 = f(1 - l1);
    r[dst * inSize + i0]! += l0;
    r[dst * inSize + i1]! += l1;
  }
  return r;
}

/** `R @ x` for a constant `R [m, k]` and `x [k, n]`; gradient `Rᵀ @ dy` with an explicit transpose (XNNPACK path on wasm); both through `hostMatMul2d`. */
function constLeftMatmul(r: tf.Tensor2D, rT: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad(
    // biome-ignore lint/suspicious/noExplicitAny: tf.customGrad's typing is (...args: Tensor[]) => ...
    ((xx: tf.Tensor2D, save: any) => {
      save([rT]); // saved tensors outlive the caller's tidy; a closure over rT would not
      return {
        value: hostMatMul2d(r, xx),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
          hostMatMul2d(saved[0] as tf.Tensor2D, dy as tf.Tensor2D),
        ],
      };
    }) as never,
  ) as unknown as (x: tf.Tensor2D) => tf.Tensor2D;
  return op(x);
}

/**
 * `F.interpolate(x, size, mode='bilinear', align_corners=False)` on NHWC `x [B, h, w, C]`, with a
 * correct gradient. Written as two separable matmuls with torch's interpolation matrices, because
 * TF.js's `resizeBilinear` gradient ignores `halfPixelCenters` (and returns a transposed shape on
 * the cpu backend for non-square inputs). Works for down-sizing too (two taps, no antialiasing,
 * as torch).
 */
export function upsampleBilinear(x: tf.Tensor4D, size: readonly [number, number]): tf.Tensor4D {
  const fn = 'upsampleBilinear';
  const dims = assertShape(fn, 'x', x.shape, ['B', 'h', 'w', 'C']);
  const H = assertInt(fn, 'size[0]', size[0], 1);
  const W = assertInt(fn, 'size[1]', size[1], 1);
  const { B, h, w, C } = dims as { B: number; h: number; w: number; C: number };
  return tf.tidy(() => {
    if (H === h && W === w) return tf.clone(x);
    const rh = tf.tensor2d(bilinearMatrix(h, H), [H, h]);
    const rw = tf.tensor2d(bilinearMatrix(w, W), [W, w]);
    const cols = tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, B * w * C]) as tf.Tensor2D; // [h, B*w*C]
    const rows = constLeftMatmul(rh, tf.transpose(rh), cols); // [H, B*w*C]
    const byW = tf.reshape(tf.transpose(tf.reshape(rows, [H, B, w, C]), [2, 1, 0, 3]), [
      w,
      B * H * C,
    ]) as tf.Tensor2D; // [w, B*H*C]
    const out = constLeftMatmul(rw, tf.transpose(rw), byW); // [W, B*H*C]
    return tf.transpose(tf.reshape(out, [W, B, H, C]), [1, 2, 0, 3]) as tf.Tensor4D; // [B, H, W, C]
  });
}
