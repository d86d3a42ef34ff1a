import * as tf from '@tensorflow/tfjs-core';

/**
 * `x @ w + b` for `x [N, in]`, `w [in, out]`, `b [out]`: a 1×1 convolution or a `Linear` written
 * as one 2-D matmul. Its gradient is a custom one whose two products use explicitly transposed
 * operands, because TF.js wasm only sends un-flagged 2-D matmuls to XNNPACK (the built-in
 * gradient uses transpose flags and runs a naive loop), and `Conv2DBackpropFilter` has no wasm
 * kernel at all.
 */
export const dense: (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D = tf.customGrad(
  // biome-ignore lint/suspicious/noExplicitAny: tf.customGrad's typing is (...args: Tensor[]) => ...
  ((x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, save: any) => {
    save([x, w]);
    const value = tf.add(tf.matMul(x, w), b) as tf.Tensor2D; // [N, out]
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const dx = tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)); // [N, in]
      const dw = tf.matMul(tf.transpose(xs), dy as tf.Tensor2D); // [in, out]
      const db = tf.sum(dy, 0); // [out]
      return [dx, dw, db];
    };
    return { value, gradFunc };
  }) as never,
) as never;
