import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { FusedPool } from '../src/fused/pool.js';
import { runTask } from '../src/fused/tasks.js';
import { hiddenPositiveLoss, l2Normalize } from '../src/index.js';

await selectBackend('cpu');
const n = 80;
const r = (s: number, a: number, b: number) => tf.randomNormal([a, b], 0, 1, 'float32', s) as tf.Tensor2D;
try {
  hiddenPositiveLoss({
    z: l2Normalize(r(1, n, 12)) as tf.Tensor2D,
    zMix: l2Normalize(r(2, n, 12)) as tf.Tensor2D,
    featBackbone: r(3, n, 10),
    codeMomentum: r(4, n, 12),
    poolAgnostic: r(5, 24, 10),
    poolSpecific: r(6, 24, 12),
    lambda: 0.5,
    temperature: 0.6,
    gridSize: 4,
    engine: 'fused',
  });
} catch (e) {
  console.log((e as Error).message);
}
