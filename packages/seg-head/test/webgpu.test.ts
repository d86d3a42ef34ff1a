import { describeBackend, formatBackend, l2Normalize, selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { webgpuSkipReason } from '../../../tools/test/webgpu-available.js';
import {
  ClusterProbe,
  clipGradNorm,
  computeGradients,
  createAdam,
  createAdamW,
  createMomentumHead,
  createSegHead,
  dense,
  disposeMap,
  drawDropout2dMask,
  dropout2d,
  ensureGradients,
  type GradMap,
  LinearProbe,
  linearProbeLoss,
  type Optimizer,
  ProjectionHead,
  SEG_HEAD_PARAM_NAMES,
  SegHead,
  updateMomentumHead,
  upsampleBilinear,
} from '../src/index.js';
import { expectClose, type Fx, fixture, I, T } from './helpers.js';
import { expectCloseAsync, expectNoLeak, scalarOf } from './webgpu-helpers.js';

// The golden cases of seg-head.test.ts, probes.test.ts and optim.test.ts on the webgpu backend,
// with the same named tolerances, reading results asynchronously.
const head = fixture('head.json');
const ema = fixture('ema.json');
const probes = fixture('probes.json');
const optim = fixture('optim.json');

const skip = await webgpuSkipReason();
if (skip === null) console.log(`seg-head webgpu golden tests on: ${formatBackend()}`);

function loadHead(weights: Record<string, Fx>, trainable = true): SegHead {
  const tensors = Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, T(v)]));
  const h = SegHead.fromWeights(tensors, { trainable });
  tf.dispose(Object.values(tensors));
  return h;
}

describe.skipIf(skip !== null)('seg-head on webgpu', () => {
  beforeAll(async () => {
    await selectBackend('webgpu');
    await ensureGradients();
  });
  afterEach(() => {
    expect(describeBackend().webgpu!.gpuErrors).toEqual([]);
  });

  describe('SegHead golden', () => {
    it('training forward with torch-drawn Dropout2d masks equals PyTorch (rtol 1e-5)', async () => {
      const h = loadHead(head.weights);
      const feat = T(head.feat) as tf.Tensor4D;
      const masks = { cluster1: T(head.mask1), cluster2: T(head.mask2) };
      const code = h.forward(feat, { training: true, masks });
      await expectCloseAsync(code, head.codeTrain, 1e-5, 1e-6);
      tf.dispose([code, feat, masks.cluster1, masks.cluster2]);
      h.dispose();
    });

    it('eval forward (no dropout) equals PyTorch (rtol 1e-5)', async () => {
      const h = loadHead(head.weights);
      const feat = T(head.feat) as tf.Tensor4D;
      const code = h.forward(feat);
      await expectCloseAsync(code, head.codeEval, 1e-5, 1e-6);
      tf.dispose([code, feat]);
      h.dispose();
    });

    it('gradients w.r.t. all six parameters and the input equal PyTorch (rtol 1e-5)', async () => {
      const h = loadHead(head.weights);
      const feat = T(head.feat) as tf.Tensor4D;
      const r = T(head.r);
      const masks = { cluster1: T(head.mask1), cluster2: T(head.mask2) };
      const { value, grads } = computeGradients(
        () => tf.sum(tf.mul(h.forward(feat, { training: true, masks }), r)) as tf.Scalar,
        h.params,
      );
      await expectCloseAsync(value, [head.loss], 1e-5);
      for (const name of SEG_HEAD_PARAM_NAMES)
        await expectCloseAsync(grads[name]!, head.grads[name], 1e-5, 1e-6);
      const gFeat = tf.grad((x: tf.Tensor) =>
        tf.sum(tf.mul(h.forward(x as tf.Tensor4D, { training: true, masks }), r)),
      )(feat);
      await expectCloseAsync(gFeat, head.gradFeat, 1e-5, 1e-6);
      disposeMap(grads);
      tf.dispose([value, gFeat, feat, r, masks.cluster1, masks.cluster2]);
      h.dispose();
    });

    it("EMA update θ' ← m·θ' + (1−m)·θ equals PyTorch (rtol 1e-6)", async () => {
      const online = loadHead(ema.online);
      const momentum = loadHead(ema.emaBefore, false);
      updateMomentumHead(online, momentum, ema.m);
      for (const name of SEG_HEAD_PARAM_NAMES) {
        await expectCloseAsync(momentum.params[name], ema.emaAfter[name], 1e-6, 1e-8);
      }
      online.dispose();
      momentum.dispose();
    });
  });

  describe('dropout', () => {
    it('seeded Dropout2d masks are the same draws as on the cpu backend (drawn on the host)', async () => {
      const onGpu = drawDropout2dMask(4, 32, 0.1, 17);
      const gpuValues = Array.from(await onGpu.data());
      onGpu.dispose();
      await selectBackend('cpu');
      const onCpu = drawDropout2dMask(4, 32, 0.1, 17);
      const cpuValues = Array.from(await onCpu.data());
      onCpu.dispose();
      await selectBackend('webgpu');
      expect(gpuValues).toEqual(cpuValues);
      expect(new Set(gpuValues)).toEqual(new Set([0, 1]));
    });

    it('dropout2d zeroes whole channels and scales kept ones by 1/0.9', async () => {
      const x = tf.ones([16, 2, 2, 32]) as tf.Tensor4D;
      const y = dropout2d(x, 0.1, 123);
      const v = await y.data();
      for (let b = 0; b < 16; b++) {
        for (let c = 0; c < 32; c++) {
          const vals = [0, 1, 2, 3].map((p) => v[b * 128 + p * 32 + c]!);
          expect(new Set(vals).size).toBe(1);
          if (vals[0] !== 0) expect(vals[0]).toBeCloseTo(1 / 0.9, 6);
        }
      }
      tf.dispose([x, y]);
    });
  });

  describe('probes golden', () => {
    const cl = probes.cluster;
    const li = probes.linear;

    it('cluster probe: cosine, loss, gradients, log-probs alpha 2, predictions (rtol 1e-5)', async () => {
      const clusters = T(cl.clusters);
      const probe = ClusterProbe.fromWeights({ clusters });
      const code = T(cl.code);
      const cos = probe.forward(code);
      await expectCloseAsync(cos, cl.cos, 1e-5, 1e-6);
      const { value, grads } = computeGradients(() => probe.clusterLoss(code), probe.params);
      await expectCloseAsync(value, [cl.loss], 1e-5);
      await expectCloseAsync(grads.clusters!, cl.gradClusters, 1e-5, 1e-6);
      const gCode = tf.grad((c: tf.Tensor) => probe.clusterLoss(c))(code);
      await expectCloseAsync(gCode, cl.gradCode, 1e-5, 1e-6);
      const lp = probe.logProbs(code, 2);
      await expectCloseAsync(lp, cl.logProbs2, 1e-5, 1e-6);
      const pred = probe.predict(code);
      expect(pred.dtype).toBe('int32');
      expect(Array.from(await pred.data())).toEqual(cl.predict.data); // exact: argmax
      tf.dispose([clusters, code, cos, value, gCode, lp, pred]);
      disposeMap(grads);
      probe.dispose();
    });

    it('upsampleBilinear equals F.interpolate(bilinear, align_corners=False) (rtol 1e-5)', async () => {
      for (const c of probes.resize) {
        const x = T(c.input) as tf.Tensor4D;
        const y = upsampleBilinear(x, c.size);
        await expectCloseAsync(y, c.output, 1e-5, 1e-6);
        tf.dispose([x, y]);
      }
    });

    it('linear probe: logits, upsampling, CE with ignored labels, gradients (rtol 1e-5)', async () => {
      const weight = T(li.weight);
      const bias = T(li.bias);
      const probe = LinearProbe.fromWeights({ weight, bias });
      const code = T(li.code);
      const logits = probe.forward(code) as tf.Tensor4D;
      await expectCloseAsync(logits, li.logits, 1e-5, 1e-6);
      const up = upsampleBilinear(logits, [20, 28]);
      await expectCloseAsync(up, li.upsampled, 1e-5, 1e-6);
      const labels = I(li.labels) as tf.Tensor3D;
      const { value, grads } = computeGradients(
        () => linearProbeLoss(probe.forward(code) as tf.Tensor4D, labels),
        probe.params,
      );
      await expectCloseAsync(value, [li.loss], 1e-5);
      await expectCloseAsync(grads.weight!, li.gradWeight, 1e-5, 1e-6);
      await expectCloseAsync(grads.bias!, li.gradBias, 1e-5, 1e-6);
      const gLogits = tf.grad((x: tf.Tensor) => linearProbeLoss(x as tf.Tensor4D, labels))(logits);
      await expectCloseAsync(gLogits, li.gradLogits, 1e-5, 1e-7);
      const pred = probe.predict(code);
      expect(pred.dtype).toBe('int32');
      tf.dispose([weight, bias, code, logits, up, labels, value, gLogits, pred]);
      disposeMap(grads);
      probe.dispose();
    });

    it('projection head: forward and gradients equal nn.Linear (rtol 1e-5)', async () => {
      const p = probes.projection;
      const weight = T(p.weight);
      const bias = T(p.bias);
      const proj = ProjectionHead.fromWeights({ weight, bias });
      const x = T(p.x);
      const r = T(p.r);
      const y = proj.forward(x);
      await expectCloseAsync(y, p.y, 1e-5, 1e-6);
      const { value, grads } = computeGradients(
        () => tf.sum(tf.mul(proj.forward(x), r)) as tf.Scalar,
        proj.params,
      );
      await expectCloseAsync(grads.weight!, p.gradWeight, 1e-5, 1e-6);
      await expectCloseAsync(grads.bias!, p.gradBias, 1e-5, 1e-6);
      const gx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(proj.forward(v), r)))(x);
      await expectCloseAsync(gx, p.gradX, 1e-5, 1e-6);
      tf.dispose([weight, bias, x, r, y, value, gx]);
      disposeMap(grads);
      proj.dispose();
    });
  });

  describe('optimisers vs torch.optim', () => {
    const makeParams = () => ({ a: tf.variable(T(optim.init.a)), b: tf.variable(T(optim.init.b)) });
    const makeGrads = (i: number): GradMap => ({ a: T(optim.grads[i].a), b: T(optim.grads[i].b) });
    // biome-ignore lint/suspicious/noExplicitAny: fixture JSON
    const makeOpt = (c: any, params: Record<string, tf.Variable>): Optimizer => {
      const common = { lr: c.lr, betas: c.betas as [number, number], eps: c.eps };
      return c.name === 'adam'
        ? createAdam(params, common)
        : createAdamW(params, { ...common, weightDecay: c.weightDecay });
    };

    for (const c of optim.cases) {
      it(`${c.name}: 3 steps${c.clip ? ` with clip_grad_norm_(${c.clip})` : ''}: params and norms within 1e-6 relative`, async () => {
        const params = makeParams();
        const opt = makeOpt(c, params);
        for (let i = 0; i < c.steps.length; i++) {
          const s = c.steps[i];
          let grads = makeGrads(i);
          if (c.clip !== null) {
            const clipped = clipGradNorm(grads, c.clip);
            await expectCloseAsync(clipped.totalNorm, [s.totalNorm], 1e-6);
            disposeMap(grads);
            clipped.totalNorm.dispose();
            grads = clipped.grads;
          }
          for (const k of ['a', 'b']) await expectCloseAsync(grads[k]!, s.clippedGrads[k], 1e-6, 1e-9);
          opt.step(grads);
          disposeMap(grads);
          for (const k of ['a', 'b'] as const) await expectCloseAsync(params[k], s.params[k], 1e-6, 1e-9);
        }
        opt.dispose();
        disposeMap(params);
      });
    }

    it('getState after a step gives the torch moments (asynchronous reads)', async () => {
      const c = optim.cases.find((x: { clip: number | null }) => x.clip === null); // unclipped: the moments of the raw gradients
      const params = makeParams();
      const opt = makeOpt(c, params);
      const grads = makeGrads(0);
      try {
        opt.step(grads);
        const state = await opt.getState();
        const s = c.steps[0];
        for (const k of ['a', 'b']) {
          expectClose(Array.from(state.get(`${k}.exp_avg`)!.data as Float32Array), s.expAvg[k], 1e-6, 1e-9);
          expectClose(
            Array.from(state.get(`${k}.exp_avg_sq`)!.data as Float32Array),
            s.expAvgSq[k],
            1e-6,
            1e-12,
          );
        }
      } finally {
        disposeMap(grads);
        opt.dispose();
        disposeMap(params);
      }
    });
  });

  describe('building blocks and leaks', () => {
    it('dense and l2Normalize on webgpu equal the built-in ops (rtol 1e-5)', async () => {
      const x = tf.randomNormal([7, 5], 0, 1, 'float32', 1) as tf.Tensor2D;
      const w = tf.randomNormal([5, 3], 0, 1, 'float32', 2) as tf.Tensor2D;
      const b = tf.randomNormal([3], 0, 1, 'float32', 3) as tf.Tensor1D;
      const ours = dense(x, w, b);
      const ref = tf.add(tf.matMul(x, w), b);
      await expectCloseAsync(ours, Array.from(await ref.data()), 1e-5, 1e-6);
      const n = l2Normalize(
        tf.tensor2d([
          [3, 4],
          [0, 0],
        ]),
      );
      await expectCloseAsync(n, [0.6, 0.8, 0, 0], 1e-6, 1e-7);
      tf.dispose([x, w, b, ours, ref, n]);
    });

    it('leak-free on webgpu: forward, computeGradients, momentum update, dropout, probes', () => {
      const feat = tf.randomNormal([1, 2, 2, 8]) as tf.Tensor4D;
      const h = createSegHead({ inChannels: 8, dim: 4, seed: 1 });
      const m = createMomentumHead(h);
      const cp = ClusterProbe.create({ nClusters: 3, dim: 4, seed: 1 });
      const code = h.forward(feat);
      expectNoLeak(() => h.forward(feat, { training: true, seed: 3 }), 1);
      expectNoLeak(() => updateMomentumHead(h, m, 0.99), 0);
      expectNoLeak(() => dropout2d(feat, 0.1, 4), 1);
      expectNoLeak(() => computeGradients(() => tf.sum(h.forward(feat)) as tf.Scalar, h.params), 7);
      expectNoLeak(() => cp.clusterLoss(code), 1);
      expectNoLeak(() => cp.predict(code), 1);
      tf.dispose([feat, code]);
      h.dispose();
      m.dispose();
      cp.dispose();
    });

    it('one gradient step reads one scalar asynchronously', async () => {
      const h = createSegHead({ inChannels: 8, dim: 4, seed: 1 });
      const opt = createAdamW(h.params, { lr: 1e-2, weightDecay: 0.1 });
      const feat = tf.randomNormal([2, 3, 3, 8], 0, 1, 'float32', 9) as tf.Tensor4D;
      const { value, grads } = computeGradients(
        () => tf.sum(tf.square(h.forward(feat))) as tf.Scalar,
        h.params,
      );
      const clipped = clipGradNorm(grads, 10);
      opt.step(clipped.grads);
      const [loss, norm] = await Promise.all([scalarOf(value), scalarOf(clipped.totalNorm)]);
      expect(Number.isFinite(loss) && loss > 0).toBe(true);
      expect(norm).toBeGreaterThan(0);
      disposeMap(grads);
      disposeMap(clipped.grads);
      tf.dispose([value, clipped.totalNorm, feat]);
      opt.dispose();
      h.dispose();
    });
  });
});

if (skip !== null) it.skip(`webgpu golden tests: skipped (${skip})`, () => {});
