import { selectBackend, setHostMatMul } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  consistencyLoss,
  disposeFusedLoss,
  type HiddenPositiveLossEngine,
  hiddenPositiveLoss,
  initFusedLoss,
} from '../src/index.js';
import type { LossCase } from './fixture-types.js';
import { expectClose, fixture, referenceHostMatMul } from './helpers.js';

const golden = fixture<{
  cases: LossCase[];
  consistency: {
    z: number[];
    zAug: number[];
    shape: [number, number];
    loss: number;
    gradZ: number[];
    gradZAug: number[];
  };
}>('hp_loss.json');

/** Named tolerances (issue 4): loss 1e-5 relative, gradients 1e-4. */
const LOSS_RTOL = 1e-5;
const GRAD_TOL = 1e-4;

function inputsOf(c: LossCase) {
  const t = (key: keyof LossCase['shapes'] | 'zMix', values: number[]) =>
    tf.tensor2d(values, key === 'zMix' ? c.shapes.z : c.shapes[key]);
  const n = c.shapes.z[0];
  const p = n / c.validAnchorsPerImage.length;
  return {
    z: t('z', c.z),
    zMix: t('zMix', c.zMix),
    featBackbone: t('featBackbone', c.featBackbone),
    codeMomentum: t('codeMomentum', c.codeMomentum),
    poolAgnostic: t('poolAgnostic', c.poolAgnostic),
    poolSpecific: t('poolSpecific', c.poolSpecific),
    negativeMask: c.negativeMask === null ? undefined : tf.tensor2d(c.negativeMask, [p, n]),
    lambda: c.lambda,
    temperature: c.temperature,
    gridSize: c.gridSize,
  };
}

/** Every engine on both CPU backends; the fused engine once on the calling thread and once on 2 threads. */
/** …and once with a host matrix product installed, which the fused engine's dense phases then use. */
const RUNS: {
  backend: 'cpu' | 'wasm';
  engine: HiddenPositiveLossEngine;
  threads?: number;
  product?: true;
}[] = [
  { backend: 'cpu', engine: 'tfjs' },
  { backend: 'wasm', engine: 'tfjs' },
  { backend: 'cpu', engine: 'fused' },
  { backend: 'wasm', engine: 'fused', threads: 2 },
  { backend: 'wasm', engine: 'fused', threads: 2, product: true },
];

for (const { backend, engine, threads, product } of RUNS) {
  const label = `${backend}, engine ${engine}${threads ? `, ${threads} threads` : ''}${product ? ', host matrix product' : ''}`;
  describe(`hiddenPositiveLoss equals the PyTorch reference (${label})`, () => {
    const host = referenceHostMatMul();
    beforeAll(async () => {
      await selectBackend(backend);
      if (threads) await initFusedLoss({ threads });
      if (product) setHostMatMul(host);
    });
    afterAll(async () => {
      setHostMatMul(undefined);
      tf.disposeVariables();
      await disposeFusedLoss();
      // the dense phases did run on the product (criteria and pairs: calls in every case)
      if (product) expect(host.calls).toBeGreaterThan(golden.cases.length);
    });

    for (const c of golden.cases) {
      it(`${c.name}: loss within ${LOSS_RTOL} relative, gradients within ${GRAD_TOL}`, () => {
        const inputs = inputsOf(c);
        try {
          const before = tf.memory().numTensors;
          const { value, grads } = tf.valueAndGrads((z: tf.Tensor, zMix: tf.Tensor) =>
            hiddenPositiveLoss({ ...inputs, z: z as tf.Tensor2D, zMix: zMix as tf.Tensor2D, engine }),
          )([inputs.z, inputs.zMix]);
          const loss = value.dataSync()[0]!;
          expect(Math.abs(loss - c.loss)).toBeLessThanOrEqual(LOSS_RTOL * Math.abs(c.loss));
          expectClose(grads[0]!.dataSync(), c.gradZ, GRAD_TOL, 'dL/dz');
          expectClose(grads[1]!.dataSync(), c.gradZMix, GRAD_TOL, 'dL/dzMix');
          // the gradient is not trivially zero
          expect(Math.max(...grads[0]!.dataSync().map(Math.abs))).toBeGreaterThan(1e-3);
          tf.dispose([value, ...grads]);
          expect(tf.memory().numTensors).toBe(before);
          // forward only (no tape): same value, no leak
          const plain = hiddenPositiveLoss({ ...inputs, engine });
          expect(Math.abs(plain.dataSync()[0]! - c.loss)).toBeLessThanOrEqual(LOSS_RTOL * Math.abs(c.loss));
          plain.dispose();
          expect(tf.memory().numTensors).toBe(before);
        } finally {
          tf.dispose(Object.values(inputs).filter((v) => v instanceof tf.Tensor));
        }
      });
    }

    it('all anchors dropped in one image: that image contributes 0 (PyTorch would give NaN)', () => {
      const c = golden.cases.find((x) => x.name === 'all anchors dropped in one image')!;
      expect(c.validAnchorsPerImage).toEqual([9, 0]);
      expect(c.officialTorchLossIsNaN).toBe(true);
      const inputs = inputsOf(c);
      const loss = hiddenPositiveLoss({ ...inputs, engine });
      expect(Number.isFinite(loss.dataSync()[0])).toBe(true);
      tf.dispose([loss, ...Object.values(inputs).filter((v) => v instanceof tf.Tensor)]);
    });

    it('consistencyLoss equals nn.PairwiseDistance(p=2, eps=1e-6).mean() and its gradients', () => {
      const g = golden.consistency;
      const z = tf.tensor2d(g.z, g.shape);
      const zAug = tf.tensor2d(g.zAug, g.shape);
      const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => consistencyLoss(a, b))([
        z,
        zAug,
      ]);
      expect(Math.abs(value.dataSync()[0]! - g.loss)).toBeLessThanOrEqual(1e-5 * g.loss);
      expectClose(grads[0]!.dataSync(), g.gradZ, 1e-4, 'dz');
      expectClose(grads[1]!.dataSync(), g.gradZAug, 1e-4, 'dzAug');
      tf.dispose([z, zAug, value, ...grads]);
    });
  });
}
