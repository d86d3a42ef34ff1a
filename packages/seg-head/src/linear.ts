import { hostColumnSums, hostMatMul2d } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * `x @ w + b` for `x [N, in]`, `w [in, out]`, `b [out]`: a 1×1 convolution or a `Linear` written
 * as one 2-D matmul. Its gradient is a custom one whose two products use explicitly transposed
 * operands, because TF.js wasm only sends un-flagged 2-D matmuls to XNNPACK (the built-in
 * gradient uses transpose flags and runs a naive loop), and `Conv2DBackpropFilter` has no wasm
 * kernel at all. All three products go through `hostMatMul2d` (@hpseg/core): with a host matrix
 * product installed (`setHostMatMul`, e.g. @hpseg/backbone-vit's `createOnnxMatMul`) they run there on
 * the wasm and cpu backends, otherwise on `tf.matMul`.
 */
export const dense: (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D = tf.customGrad(
  // biome-ignore lint/suspicious/noExplicitAny: tf.customGrad's typing is (...args: Tensor[]) => ...
  ((x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, save: any) => {
    save([x, w]);
    const value = hostMatMul2d(x, w, false, false, b); // [N, out]
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const dx = hostMatMul2d(dy as tf.Tensor2D, ws, false, true); // [N, in]
      const dw = hostMatMul2d(xs, dy as tf.Tensor2D, true, false); // [in, out]
      const db = hostColumnSums(dy as tf.Tensor2D); // [out]
      return [dx, dw, db];
    };
    return { value, gradFunc };
  }) as never,
) as never;

/**
 * `dense` for an input that is a constant of the tape (the frozen backbone's tokens): the same value,
 * but the backward computes only `dw` and `db`, not `dx = dy @ wᵀ` (a custom gradient cannot tell which
 * of its inputs the tape needs, so `dense` always pays for `dx`: here a third of a head's backward). The
 * input's "gradient" is a scalar 0, so a tape that does need it fails loudly (a shape mismatch error
 * from TF.js) instead of receiving a silent zero.
 */
export const denseConstantInput: (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D =
  tf.customGrad(
    // biome-ignore lint/suspicious/noExplicitAny: tf.customGrad's typing is (...args: Tensor[]) => ...
    ((x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, save: any) => {
      save([x]);
      const value = hostMatMul2d(x, w, false, false, b); // [N, out]
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs] = saved as [tf.Tensor2D];
        const dw = hostMatMul2d(xs, dy as tf.Tensor2D, true, false); // [in, out]
        const db = hostColumnSums(dy as tf.Tensor2D); // [out]
        return [tf.scalar(0), dw, db];
      };
      return { value, gradFunc };
    }) as never,
  ) as never;

/**
 * `a @ b` for 2-D `a [m, k]`, `b [k, n]` with a custom gradient of explicitly transposed products
 * (`dy @ bᵀ`, `aᵀ @ dy`), so that the backward stays on XNNPACK on wasm like `dense`'s (or on the
 * installed host matrix product).
 */
export const matMul2d: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  // biome-ignore lint/suspicious/noExplicitAny: tf.customGrad's typing is (...args: Tensor[]) => ...
  ((a: tf.Tensor2D, b: tf.Tensor2D, save: any) => {
    save([a, b]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [as, bs] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [
        hostMatMul2d(dy as tf.Tensor2D, bs, false, true),
        hostMatMul2d(as, dy as tf.Tensor2D, true, false),
      ];
    };
    return { value: hostMatMul2d(a, b), gradFunc };
  }) as never,
) as never;
