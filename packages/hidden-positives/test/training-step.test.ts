import { l2Normalize, selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
// Test-only: autodiff through the projection below needs tfjs-core's registered gradients (vitest can
// import this ESM file; the package itself never relies on it).
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { hiddenPositiveLoss, localPositiveWeights, mixLocalPositives, ReferencePool } from '../src/index.js';

describe('training through the objective', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('Adam on a linear projection lowers the HP loss on two well-separated clusters', async () => {
    const [B, G, C, D] = [2, 4, 8, 6];
    const N = B * G * G;
    // Two clusters: tokens of the left half of each image near +e0, the right half near −e0.
    const feat = tf.tidy(() => {
      const side = tf.tensor2d(
        Array.from({ length: N }, (_, r) => (r % G < G / 2 ? 1 : -1)),
        [N, 1],
      );
      const e0 = tf.reshape(tf.oneHot(tf.tensor1d([0], 'int32'), C), [1, C]);
      return tf.add(tf.mul(side, e0), tf.randomNormal([N, C], 0, 0.2, 'float32', 1)) as tf.Tensor2D;
    });
    const pool = new ReferencePool({ size: 4, width: C, seed: 3 });
    const tokens = tf.reshape(feat, [B, G * G, C]);
    await pool.add(tokens);
    await pool.add(tokens);
    tokens.dispose();
    const poolAgnostic = pool.toTensor();
    const attention = tf.randomNormal([B, 2, G * G + 1, G * G + 1], 0, 1, 'float32', 2);
    const weights = localPositiveWeights(attention, { gridSize: G });
    const proj = tf.variable(tf.randomNormal([C, D], 0, 0.5, 'float32', 4));
    const opt = tf.train.adam(0.05);
    const lossFn = () =>
      tf.tidy(() => {
        const code = tf.matMul(feat, proj) as tf.Tensor2D; // [N, D]
        const mixed = tf.reshape(mixLocalPositives(code, weights), [N, D]);
        return hiddenPositiveLoss({
          z: l2Normalize(code),
          zMix: l2Normalize(mixed) as tf.Tensor2D,
          featBackbone: feat,
          codeMomentum: feat,
          poolAgnostic,
          poolSpecific: poolAgnostic,
          lambda: 0.5,
          temperature: 0.8,
          gridSize: G,
        });
      });
    const first = tf.tidy(() => lossFn().dataSync()[0]!);
    opt.minimize(lossFn, true, [proj])?.dispose(); // first step creates Adam's two moment variables
    const before = tf.memory().numTensors;
    for (let k = 1; k < 25; k += 1) {
      const cost = opt.minimize(lossFn, true, [proj]);
      cost?.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    const last = tf.tidy(() => lossFn().dataSync()[0]!);
    expect(last).toBeLessThan(first - 0.5);
    tf.dispose([feat, poolAgnostic, attention, weights, proj]);
    opt.dispose();
  });
});
