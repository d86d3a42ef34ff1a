import { ensureGradients, gradientsRegistered } from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Registers TF.js's gradient functions before training. tfjs-core registers none by itself; its
 * `dist/register_all_gradients.js` loads in plain Node thanks to bin/tfjs-esm-hook.mjs.
 * Work-around: @hpseg/seg-head's `gradientsRegistered()` looks for a kernel named 'Mul', which
 * TF.js calls 'Multiply', so it never reports success; once the real gradients are in, an inert
 * entry under 'Mul' (no kernel has that name) satisfies the check.
 */
export async function registerGradients(): Promise<void> {
  if (!gradientsRegistered()) {
    const specifier: string = '@tensorflow/tfjs-core/dist/register_all_gradients.js';
    await import(specifier);
    if (
      !gradientsRegistered() &&
      tf.getGradient('Multiply') !== undefined &&
      tf.getGradient('Mul') === undefined
    ) {
      tf.registerGradient({ kernelName: 'Mul', gradFunc: () => ({}) });
    }
  }
  await ensureGradients();
}
