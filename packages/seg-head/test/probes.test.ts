import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ClusterProbe,
  computeGradients,
  disposeMap,
  ensureGradients,
  LinearProbe,
  linearProbeLoss,
  ProjectionHead,
  upsampleBilinear,
} from '../src/index.js';
import { expectClose, expectHpError, expectNoLeak, fixture, I, T } from './helpers.js';

const fx = fixture('probes.json');
const cl = fx.cluster;
const li = fx.linear;

describe.each(['cpu', 'wasm'] as const)('probes golden (%s)', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
    await ensureGradients();
  });

  it('cluster probe: cosine, loss, gradients (clusters and code), log-probs alpha 2, predictions (rtol 1e-5)', () => {
    const clusters = T(cl.clusters);
    const probe = ClusterProbe.fromWeights({ clusters });
    const code = T(cl.code);
    const cos = probe.forward(code);
    expectClose(cos, cl.cos, 1e-5, 1e-6);
    const { value, grads } = computeGradients(() => probe.clusterLoss(code), probe.params);
    expectClose([value.dataSync()[0]!], [cl.loss], 1e-5);
    expectClose(grads.clusters!, cl.gradClusters, 1e-5, 1e-6);
    const gCode = tf.grad((c: tf.Tensor) => probe.clusterLoss(c))(code);
    expectClose(gCode, cl.gradCode, 1e-5, 1e-6);
    const lp = probe.logProbs(code, 2);
    expectClose(lp, cl.logProbs2, 1e-5, 1e-6);
    const pred = probe.predict(code);
    expect(pred.dtype).toBe('int32');
    expect(pred.shape).toEqual([2, 3, 4]);
    expect(Array.from(pred.dataSync())).toEqual(cl.predict.data);
    tf.dispose([clusters, code, cos, value, gCode, lp, pred]);
    disposeMap(grads);
    probe.dispose();
  });

  it('upsampleBilinear equals F.interpolate(bilinear, align_corners=False) for 5×7 → 11×13, 3×4, 15×21 (rtol 1e-5)', () => {
    for (const c of fx.resize) {
      const x = T(c.input) as tf.Tensor4D;
      const y = upsampleBilinear(x, c.size);
      expectClose(y, c.output, 1e-5, 1e-6);
      tf.dispose([x, y]);
    }
  });

  it('linear probe: logits, 5×7 → 20×28 upsampling, CE over valid labels (−1, 3, 255 ignored), gradients (rtol 1e-5)', () => {
    const weight = T(li.weight);
    const bias = T(li.bias);
    const probe = LinearProbe.fromWeights({ weight, bias });
    const code = T(li.code);
    const logits = probe.forward(code) as tf.Tensor4D;
    expectClose(logits, li.logits, 1e-5, 1e-6);
    const up = upsampleBilinear(logits, [20, 28]);
    expectClose(up, li.upsampled, 1e-5, 1e-6);
    const labels = I(li.labels) as tf.Tensor3D;
    const { value, grads } = computeGradients(
      () => linearProbeLoss(probe.forward(code) as tf.Tensor4D, labels),
      probe.params,
    );
    expectClose([value.dataSync()[0]!], [li.loss], 1e-5);
    expectClose(grads.weight!, li.gradWeight, 1e-5, 1e-6);
    expectClose(grads.bias!, li.gradBias, 1e-5, 1e-6);
    const gLogits = tf.grad((x: tf.Tensor) => linearProbeLoss(x as tf.Tensor4D, labels))(logits);
    expectClose(gLogits, li.gradLogits, 1e-5, 1e-7);
    tf.dispose([weight, bias, code, logits, up, labels, value, gLogits]);
    disposeMap(grads);
    probe.dispose();
  });

  it('projection head: forward and gradients equal nn.Linear (rtol 1e-5)', () => {
    const p = fx.projection;
    const weight = T(p.weight);
    const bias = T(p.bias);
    const head = ProjectionHead.fromWeights({ weight, bias });
    const x = T(p.x);
    const r = T(p.r);
    const y = head.forward(x);
    expectClose(y, p.y, 1e-5, 1e-6);
    const { value, grads } = computeGradients(
      () => tf.sum(tf.mul(head.forward(x), r)) as tf.Scalar,
      head.params,
    );
    expectClose(grads.weight!, p.gradWeight, 1e-5, 1e-6);
    expectClose(grads.bias!, p.gradBias, 1e-5, 1e-6);
    const gx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(head.forward(v), r)))(x);
    expectClose(gx, p.gradX, 1e-5, 1e-6);
    tf.dispose([weight, bias, x, r, y, value, gx]);
    disposeMap(grads);
    head.dispose();
  });
});

describe('probes behaviour', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
    await ensureGradients();
  });

  it('cluster loss of codes equal to the centroids is −1; ties pick the first centroid as torch.argmax', () => {
    const clusters = tf.tensor2d([
      [1, 0],
      [0, 1],
    ]);
    const probe = ClusterProbe.fromWeights({ clusters });
    const code = tf.tensor2d([
      [2, 0],
      [0, 3],
      [1, 1],
    ]);
    expect(Array.from(probe.predict(code).dataSync())).toEqual([0, 1, 0]);
    const onCentroids = tf.tensor2d([
      [2, 0],
      [0, 3],
    ]);
    expect(probe.clusterLoss(onCentroids).dataSync()[0]).toBeCloseTo(-1, 6);
    tf.dispose([clusters, code, onCentroids]);
    probe.dispose();
  });

  it('linear-probe loss: a label map with no valid pixel gives 0 (torch: NaN); perfect logits give ≈ 0', () => {
    const logits = tf.tensor4d([10, -10, -10, 10], [1, 1, 2, 2]); // pixel 0 → class 0, pixel 1 → class 1
    const none = tf.tensor3d([-1, 255], [1, 1, 2], 'int32');
    expect(Math.abs(linearProbeLoss(logits, none).dataSync()[0]!)).toBe(0);
    const gNone = tf.grad((x: tf.Tensor) => linearProbeLoss(x as tf.Tensor4D, none))(logits);
    expect(Array.from(gNone.dataSync()).every((v) => v === 0)).toBe(true);
    gNone.dispose();
    const good = tf.tensor3d([0, 1], [1, 1, 2], 'int32');
    expect(linearProbeLoss(logits, good).dataSync()[0]).toBeLessThan(1e-8);
    tf.dispose([logits, none, good]);
  });

  it('create: seeded inits with the PyTorch bounds; randn centroids', () => {
    const lp = LinearProbe.create({ nClasses: 27, dim: 64, seed: 1 });
    expect(lp.params.weight.shape).toEqual([64, 27]);
    expect(Math.max(...Array.from(lp.params.weight.dataSync()).map(Math.abs))).toBeLessThanOrEqual(1 / 8);
    const cp = ClusterProbe.create({ nClusters: 27, dim: 64, seed: 1 });
    const v = Array.from(cp.params.clusters.dataSync());
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    const variance = v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length;
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(variance).toBeGreaterThan(0.85);
    expect(variance).toBeLessThan(1.15);
    // seed 0 is a seed (TF.js's randomNormal alone would treat 0 as unseeded)
    const z1 = ClusterProbe.create({ nClusters: 2, dim: 4, seed: 0 });
    const z2 = ClusterProbe.create({ nClusters: 2, dim: 4, seed: 0 });
    expect(Array.from(z1.params.clusters.dataSync())).toEqual(Array.from(z2.params.clusters.dataSync()));
    z1.dispose();
    z2.dispose();
    const ph = ProjectionHead.create({ dim: 16, seed: 1 });
    expect(Math.max(...Array.from(ph.params.weight.dataSync()).map(Math.abs))).toBeLessThanOrEqual(0.25);
    lp.dispose();
    cp.dispose();
    ph.dispose();
  });

  it('leak-free: every probe method, upsampleBilinear, linearProbeLoss, creators', () => {
    const code = tf.randomNormal([2, 3, 3, 8]) as tf.Tensor4D;
    let cp!: ClusterProbe;
    let lp!: LinearProbe;
    let ph!: ProjectionHead;
    expectNoLeak(() => {
      cp = ClusterProbe.create({ nClusters: 4, dim: 8, seed: 1 });
    }, 1);
    expectNoLeak(() => {
      lp = LinearProbe.create({ nClasses: 4, dim: 8, seed: 1 });
    }, 2);
    expectNoLeak(() => {
      ph = ProjectionHead.create({ dim: 8, seed: 1 });
    }, 2);
    expectNoLeak(() => cp.forward(code), 1);
    expectNoLeak(() => cp.clusterLoss(code), 1);
    expectNoLeak(() => cp.logProbs(code), 1);
    expectNoLeak(() => cp.predict(code), 1);
    expectNoLeak(() => lp.forward(code), 1);
    expectNoLeak(() => lp.predict(code), 1);
    expectNoLeak(() => ph.forward(code), 1);
    expectNoLeak(() => upsampleBilinear(code, [5, 6]), 1);
    const labels = tf.zeros([2, 6, 6], 'int32') as tf.Tensor3D;
    const logits = lp.forward(code) as tf.Tensor4D;
    expectNoLeak(() => linearProbeLoss(logits, labels), 1);
    expectNoLeak(() => ClusterProbe.fromWeights({ clusters: cp.params.clusters }).dispose(), 0);
    expectNoLeak(() => LinearProbe.fromWeights(lp.params).dispose(), 0);
    expectNoLeak(() => ProjectionHead.fromWeights(ph.params).dispose(), 0);
    tf.dispose([code, labels, logits]);
    cp.dispose();
    lp.dispose();
    ph.dispose();
  });

  it('errors: wrong code width, label batch/shape/dtype mismatch', () => {
    const cp = ClusterProbe.create({ nClusters: 3, dim: 4 });
    const lp = LinearProbe.create({ nClasses: 3, dim: 4 });
    const code5 = tf.zeros([1, 2, 2, 5]);
    expectHpError(
      () => cp.forward(code5),
      'E_SHAPE',
      'ClusterProbe.forward: code has the wrong shape: expected [..., 4]',
    );
    expectHpError(() => cp.clusterLoss(code5), 'E_SHAPE', 'expected [..., 4]');
    expectHpError(() => lp.forward(code5), 'E_SHAPE', 'LinearProbe.forward: code has the wrong shape');
    const logits = tf.zeros([2, 2, 2, 3]) as tf.Tensor4D;
    const wrongB = tf.zeros([3, 8, 8], 'int32') as tf.Tensor3D;
    expectHpError(
      () => linearProbeLoss(logits, wrongB),
      'E_SHAPE',
      'labels has the wrong shape: expected [B, H, W] with B = 2',
    );
    const rank4 = tf.zeros([2, 8, 8, 1], 'int32') as unknown as tf.Tensor3D;
    expectHpError(() => linearProbeLoss(logits, rank4), 'E_SHAPE', 'labels has the wrong shape');
    const floats = tf.zeros([2, 8, 8]) as tf.Tensor3D;
    expectHpError(() => linearProbeLoss(logits, floats), 'E_DTYPE', 'expected int32, got float32');
    expectHpError(
      () => ClusterProbe.fromWeights({ clusters: tf.zeros([3]) }),
      'E_CHECKPOINT',
      'expected [K, D]',
    );
    tf.dispose([code5, logits, wrongB, rank4, floats]);
    cp.dispose();
    lp.dispose();
  });
});
