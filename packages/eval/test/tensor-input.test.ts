import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createConfusionMatrix } from '../src/index.js';

describe('TF.js tensors as update() input (cpu backend)', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('counts int32 tensors like the equivalent arrays', () => {
    const pred = [0, 1, 2, 2, 1, 0, 3, 0];
    const gt = [0, 1, 2, 1, 1, 255, 0, -1];
    const fromArrays = createConfusionMatrix({ numClasses: 3, extraClusters: 1 });
    fromArrays.update(pred, gt);
    const fromTensors = createConfusionMatrix({ numClasses: 3, extraClusters: 1 });
    const p = tf.tensor2d(pred, [2, 4], 'int32');
    const g = tf.tensor3d(gt, [2, 2, 2], 'int32'); // shapes may differ; sizes must agree
    fromTensors.update(p, g);
    expect(Array.from(fromTensors.counts)).toEqual(Array.from(fromArrays.counts));
    expect(fromTensors.total).toBe(5);
    tf.dispose([p, g]);
  });

  it('accepts float32 tensors holding integers and rejects fractional ones', () => {
    const m = createConfusionMatrix({ numClasses: 2 });
    const p = tf.tensor1d([0, 1, 1], 'float32');
    const g = tf.tensor1d([0, 1, 0], 'float32');
    m.update(p, g);
    expect(Array.from(m.counts)).toEqual([1, 0, 1, 1]);
    const bad = tf.tensor1d([0, 0.5, 1], 'float32');
    expect(() => m.update(bad, g)).toThrow(expect.objectContaining({ code: 'E_VALUE' }));
    tf.dispose([p, g, bad]);
  });

  it('leaves no tensors behind', () => {
    const m = createConfusionMatrix({ numClasses: 4 });
    const p = tf.tensor1d([0, 1, 2, 3], 'int32');
    const g = tf.tensor1d([3, 2, 1, 0], 'int32');
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) m.update(p, g);
    expect(tf.memory().numTensors).toBe(before);
    expect(m.total).toBe(20);
    // the inputs belong to the caller and stay usable
    expect(p.isDisposed).toBe(false);
    tf.dispose([p, g]);
    expect(tf.memory().numTensors).toBe(before - 2);
  });
});
