import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { VitConfig } from '../src/index.js';
import { loadBackbone, randomVitWeights } from '../src/index.js';

const TINY: VitConfig = { embedDim: 16, depth: 2, numHeads: 2, patchSize: 4, trainedGrid: 3, mlpRatio: 4 };

describe.each(['tfjs', 'onnx'] as const)('tensor accounting (%s engine)', (engine) => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('forward returns only its outputs; dispose() frees every weight; no variables', async () => {
    const start = tf.memory().numTensors;
    const backbone = await loadBackbone(randomVitWeights(TINY, 2), { engine, numHeads: 2 });
    const loaded = tf.memory().numTensors;
    // tfjs: patch kernel + bias, CLS, final norm (2); per block 10 tensors + 6 per head (q, k, v kernels and biases).
    if (engine === 'tfjs') expect(loaded - start).toBe(5 + (10 + 6 * TINY.numHeads) * TINY.depth);
    else expect(loaded).toBe(start);
    const images = tf.randomNormal([2, 12, 16, 3]) as tf.Tensor4D;
    for (const attention of [false, true]) {
      const before = tf.memory().numTensors;
      const out = await backbone.forward(images, { attention });
      // The tfjs engine caches the positional embedding of a new size (owned by the backbone).
      const cached = engine === 'tfjs' && !attention ? 1 : 0;
      expect(tf.memory().numTensors).toBe(before + (attention ? 3 : 2) + cached);
      tf.dispose(Object.values(out));
    }
    // A second call at the same size reuses the cached positional embedding: exactly the outputs.
    const before = tf.memory().numTensors;
    const out = await backbone.forward(images, { attention: true });
    expect(tf.memory().numTensors).toBe(before + 3);
    tf.dispose(Object.values(out));
    expect(Object.keys(tf.engine().registeredVariables)).toHaveLength(0);
    await backbone.dispose();
    images.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});
