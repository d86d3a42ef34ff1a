import * as tf from '@tensorflow/tfjs-core';

/**
 * PyTorch's default initialisation of `nn.Conv2d` / `nn.Linear`: `kaiming_uniform_(a=√5)` gives
 * `gain = √(2/(1+5))`, `bound = √3 · gain / √fan_in = 1/√fan_in`, and the bias is drawn from the
 * same `U(−1/√fan_in, 1/√fan_in)`. Draws come from TF.js's seeded generator, so they match
 * PyTorch in distribution, not value by value (load a checkpoint for the latter).
 */
export function torchDefaultUniform(shape: number[], fanIn: number, seed: number | undefined): tf.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.randomUniform(shape, -bound, bound, 'float32', seed);
}

/**
 * Seed of the `index`-th draw of a module seed (`undefined` stays unseeded). Never 0 for seeds
 * >= 0: TF.js's `randomNormal` treats a seed of 0 as "no seed" and draws from `Math.random`.
 */
export function subSeed(seed: number | undefined, index: number): number | undefined {
  return seed === undefined ? undefined : seed * 7919 + index + 1;
}
