import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import {
  disposeFusedLoss,
  fusedLossThreads,
  hiddenPositiveLoss,
  initFusedLoss,
  l2Normalize,
} from '../src/index.js';

const B = Number(process.argv[2] ?? 2),
  G = 28,
  D = 512,
  C = 384,
  Q = 2048;
await selectBackend('wasm');
const threads = Number(process.argv[3] ?? 2);
await initFusedLoss({ threads });
console.log('threads', fusedLossThreads());
const n = B * G * G;
const x = {
  z: l2Normalize(tf.randomNormal([n, D], 0, 1, 'float32', 1)) as tf.Tensor2D,
  zMix: l2Normalize(tf.randomNormal([n, D], 0, 1, 'float32', 2)) as tf.Tensor2D,
  featBackbone: tf.randomNormal([n, C], 0, 1, 'float32', 3) as tf.Tensor2D,
  codeMomentum: tf.randomNormal([n, D], 0, 1, 'float32', 4) as tf.Tensor2D,
  poolAgnostic: tf.randomNormal([Q, C], 0, 1, 'float32', 5) as tf.Tensor2D,
  poolSpecific: tf.randomNormal([Q, D], 0, 1, 'float32', 6) as tf.Tensor2D,
};
function fb(engine: 'tfjs' | 'fused') {
  const t0 = performance.now();
  const { value, grads } = tf.valueAndGrads((z: tf.Tensor, zMix: tf.Tensor) =>
    hiddenPositiveLoss({
      ...x,
      z: z as tf.Tensor2D,
      zMix: zMix as tf.Tensor2D,
      lambda: 0.5,
      temperature: 0.8,
      negativeKeepRatio: Number(process.argv[4] ?? 0.02),
      gridSize: G,
      seed: 0,
      engine,
    }),
  )([x.z, x.zMix]);
  const out = {
    loss: value.dataSync()[0]!,
    g0: grads[0]!.dataSync().slice(),
    g1: grads[1]!.dataSync().slice(),
    ms: performance.now() - t0,
  };
  tf.dispose([value, ...grads]);
  return out;
}
const skipTf = process.argv.includes('--no-tfjs');
const f = fb('fused');
for (let i = 0; i < 2; i++) {
  const f2 = fb('fused');
  console.log('fused ms', f2.ms.toFixed(0), 'loss', f2.loss);
}
if (!skipTf) {
  const t = fb('tfjs');
  console.log(
    'tfjs ms',
    t.ms.toFixed(0),
    'loss',
    t.loss,
    'fused',
    f.loss,
    'rel',
    Math.abs(t.loss - f.loss) / Math.abs(t.loss),
  );
  let md = 0,
    ms = 0;
  for (let i = 0; i < t.g0.length; i++) {
    md = Math.max(md, Math.abs(t.g0[i]! - f.g0[i]!), Math.abs(t.g1[i]! - f.g1[i]!));
    ms = Math.max(ms, Math.abs(t.g0[i]!));
  }
  console.log('grad max abs diff', md, 'scale', ms);
}
console.log('rss MiB', (process.resourceUsage().maxRSS / 1024).toFixed(0));
await disposeFusedLoss();
