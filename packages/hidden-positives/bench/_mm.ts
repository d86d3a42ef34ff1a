import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';

await selectBackend('wasm');
console.log(
  'simd',
  await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
  'mt',
  await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
);
const a = tf.randomNormal([784, 512]);
const b = tf.randomNormal([512, 6272]);
const bt = tf.randomNormal([6272, 512]);
const s = tf.randomNormal([784, 6272]);
const c1 = tf.randomNormal([784, 1]);
function t(name: string, f: () => tf.Tensor) {
  f().dispose();
  const t0 = performance.now();
  for (let i = 0; i < 3; i++) f().dataSync();
  console.log(name, ((performance.now() - t0) / 3).toFixed(1), 'ms');
}
t('matmul 784x512x6272', () => tf.matMul(a, b));
t('matmul transposeB', () => tf.matMul(a, bt, false, true));
t('matmul 784x6272x512', () => tf.matMul(s, bt));
t('greater scalar', () => tf.greater(s, 0));
t('step', () => tf.step(s));
t('maximum same', () => tf.maximum(s, s));
t('sub [P,1]', () => tf.sub(s, c1));
