// Gradient registration for a library user: one import of @hpseg/core/register-gradients, in plain
// Node, from the packed tarball (run by tools/pack-test.mjs in a project outside the workspace).
// pack-test install: @hpseg/core @tensorflow/tfjs-core @tensorflow/tfjs-backend-cpu
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

const kernels = ['Sum', 'Relu', 'BatchMatMul', 'Multiply', 'Reshape', 'Prod', 'Conv2D', 'Softmax'];
const fail = (msg) => {
  console.error(`register-gradients: ${msg}`);
  process.exit(1);
};
if (kernels.some((k) => tf.getGradient(k) !== undefined)) fail('tfjs-core alone already had gradients');

const engine = tf.engine();
await import('@hpseg/core/register-gradients');
// One engine: the bundled modules found the user's on the global object instead of making their own.
if (tf.engine() !== engine || globalThis._tfengine !== engine) fail('a second TF.js engine appeared');
const missing = kernels.filter((k) => tf.getGradient(k) === undefined);
if (missing.length > 0) fail(`not registered after the import: ${missing.join(', ')}`);

await tf.setBackend('cpu');
const x = tf.tensor1d([1, -2, 3]);
const w = tf.tensor2d([0.5, -1, 2, 0, 1, 3], [3, 2]);
// d/dx sum(relu(x W)) = W[:, 1] (x W = [-3.5, 7]); d/dx prod(x) = prod(x) / x
const g = tf.grad((v) => tf.sum(tf.relu(tf.matMul(tf.reshape(v, [1, 3]), w))))(x);
const p = tf.grad((v) => tf.prod(v))(x);
const got = [Array.from(g.dataSync()), Array.from(p.dataSync())];
if (
  JSON.stringify(got) !==
  JSON.stringify([
    [-1, 0, 3],
    [-6, 3, -2],
  ])
)
  fail(`wrong gradients ${JSON.stringify(got)}`);
console.log(
  `one engine; registered ${kernels.join(', ')}; grad sum(relu(xW)) = ${got[0].join(' ')}, grad prod(x) = ${got[1].join(' ')}`,
);
