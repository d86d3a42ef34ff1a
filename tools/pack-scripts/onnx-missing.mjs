// backbone-vit without its optional peer onnxruntime-node: the onnx engine must say how to install it
// (E_BACKEND), and the tfjs engine must work. Run by tools/pack-test.mjs from the packed tarballs.
// pack-test install: @hpseg/backbone-vit @hpseg/core @tensorflow/tfjs-core @tensorflow/tfjs-backend-cpu
import { loadBackbone, randomVitWeights } from '@hpseg/backbone-vit';
import { selectBackend } from '@hpseg/core';

await selectBackend('cpu');
const config = { embedDim: 32, depth: 1, numHeads: 2, patchSize: 8, trainedGrid: 2, mlpRatio: 4 };
const error = await loadBackbone(randomVitWeights(config, 0), { engine: 'onnx', numHeads: 2 }).then(
  () => null,
  (e) => e,
);
if (
  error?.name !== 'HpError' ||
  error.code !== 'E_BACKEND' ||
  !error.message.includes('`npm install onnxruntime-node`')
) {
  console.error('onnx-missing: expected E_BACKEND naming `npm install onnxruntime-node`, got', error);
  process.exit(1);
}
const tfjs = await loadBackbone(randomVitWeights(config, 0), { engine: 'tfjs', numHeads: 2 });
await tfjs.dispose();
console.log(`onnx engine: ${error.code}: ${error.message}\ntfjs engine: loads without onnxruntime-node`);
