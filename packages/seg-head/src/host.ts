import { type HostTensor, HpError } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';

/** A float32 TF.js tensor from a checkpoint tensor (float64 / integer data converted). */
export function hostToTensor(h: HostTensor, shape: readonly number[] = h.shape): tf.Tensor {
  const data =
    h.data instanceof Float32Array
      ? h.data
      : h.data instanceof BigInt64Array
        ? Float32Array.from(h.data, (v) => Number(v))
        : Float32Array.from(h.data as ArrayLike<number>);
  return tf.tensor(data, [...shape], 'float32');
}

/** PyTorch `Conv2d.weight [out, in, 1, 1]` (or `Linear.weight [out, in]`) → our `[in, out]`. */
export function convWeightToInOut(h: HostTensor, fn: string, name: string): tf.Tensor2D {
  const [out, inn, kh = 1, kw = 1] = h.shape;
  if (
    (h.shape.length !== 4 && h.shape.length !== 2) ||
    kh !== 1 ||
    kw !== 1 ||
    out === undefined ||
    inn === undefined
  ) {
    throw new HpError(
      'E_CHECKPOINT',
      `${fn}: ${name} is not a 1×1 convolution weight: expected [out, in, 1, 1], got [${h.shape.join(', ')}]`,
    );
  }
  return tf.tidy(() => tf.transpose(hostToTensor(h, [out, inn])) as tf.Tensor2D); // [in, out]
}

/** A checkpoint tensor (float32, row-major) from a TF.js tensor. */
export async function tensorToHost(t: tf.Tensor): Promise<HostTensor> {
  const data = Float32Array.from((await t.data()) as Float32Array);
  return { dtype: 'float32', storedDtype: 'float32', shape: [...t.shape], data };
}
