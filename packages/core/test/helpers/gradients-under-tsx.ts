// Run by test/register-gradients.test.ts as `node --import tsx`: the source entry under tsx, the way the
// CLI runs from a source checkout without a build. Prints which gradients are registered and one value.
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import '../../src/register-gradients.js';

await tf.setBackend('cpu');
const registered = ['Sum', 'Relu', 'BatchMatMul', 'Multiply', 'Prod'].filter((k) => tf.getGradient(k));
const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, x)))(tf.tensor1d([1, -2, 3]));
console.log(JSON.stringify({ registered, grad: Array.from(g.dataSync()) }));
