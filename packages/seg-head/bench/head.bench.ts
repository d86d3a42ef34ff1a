// Head / probe timings at the official sizes: `npm run bench -w @hpseg/seg-head` (run by vitest, so
// TF.js's gradient registration loads; see ensureGradients). Prints mean ms over 3 runs after a warm-up. B = 8 images of 28×28 patches
// (N = 6272), C = 384 (ViT-S), D = 512, K = 27 classes, labels 224×224. Backend: HP_BACKEND (wasm).
import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  ClusterProbe,
  clipGradNorm,
  computeGradients,
  createAdamW,
  createMomentumHead,
  createSegHead,
  disposeMap,
  ensureGradients,
  LinearProbe,
  linearProbeLoss,
  type SegHead,
  updateMomentumHead,
} from '../src/index.js';

const B = Number(process.env.HP_B ?? 8);
const [S, C, D, K] = [28, 384, 512, 27];
function bench(label: string, fn: () => void): void {
  it(label, () => {
    fn(); // warm-up
    const t0 = performance.now();
    for (let i = 0; i < 3; i++) fn();
    console.log(`${label}: ${((performance.now() - t0) / 3).toFixed(0)} ms`);
  });
}

let feat: tf.Tensor4D;
let labels: tf.Tensor3D;
let code: tf.Tensor4D;
let head: SegHead;
let momentum: SegHead;
let opt: ReturnType<typeof createAdamW>;
let linear: LinearProbe;
let cluster: ClusterProbe;

describe(`seg-head B=${B} N=${B * S * S} C=${C} D=${D} K=${K}`, () => {
  beforeAll(async () => {
    const backend = await selectBackend((process.env.HP_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm');
    await ensureGradients();
    console.log(`backend ${backend}`);
    feat = tf.randomNormal([B, S, S, C], 0, 1, 'float32', 1) as tf.Tensor4D;
    labels = tf.randomUniform([B, 224, 224], -1, K, 'int32', 2) as tf.Tensor3D;
    head = createSegHead({ inChannels: C, dim: D, seed: 0 });
    momentum = createMomentumHead(head);
    opt = createAdamW(head.params, { lr: 5e-4, weightDecay: 0.1 });
    linear = LinearProbe.create({ nClasses: K, dim: D, seed: 0 });
    cluster = ClusterProbe.create({ nClusters: K, dim: D, seed: 0 });
    code = head.forward(feat);
  });
  afterAll(() => {
    console.log(
      `tensors alive ${tf.memory().numTensors}, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
    );
  });

  bench('head forward (training, 2 dropout draws)', () => {
    tf.dispose(head.forward(feat, { training: true, seed: 1 }));
  });

  bench('head forward + backward + EMA update + clip 10 + AdamW step', () => {
    const { value, grads } = computeGradients(
      () => tf.mean(tf.square(head.forward(feat, { training: true, seed: 1 }))) as tf.Scalar,
      head.params,
    );
    updateMomentumHead(head, momentum, 0.99);
    const clipped = clipGradNorm(grads, 10);
    opt.step(clipped.grads);
    disposeMap(grads);
    disposeMap(clipped.grads);
    tf.dispose([value, clipped.totalNorm]);
  });

  bench('linear probe: 28×28 logits → 224×224, CE + backward', () => {
    const { value, grads } = computeGradients(
      () => linearProbeLoss(linear.forward(code) as tf.Tensor4D, labels),
      linear.params,
    );
    disposeMap(grads);
    value.dispose();
  });

  bench('cluster probe: loss + backward', () => {
    const { value, grads } = computeGradients(() => cluster.clusterLoss(code), cluster.params);
    disposeMap(grads);
    value.dispose();
  });
});
