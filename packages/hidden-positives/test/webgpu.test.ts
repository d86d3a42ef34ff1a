import { describeBackend, formatBackend, l2Normalize, selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
// Test-only, as in lhp-chain.golden.test.ts: the reshapes of the chain need registered gradients.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { webgpuSkipReason } from '../../../tools/test/webgpu-available.js';
import {
  consistencyLoss,
  hiddenPositiveLoss,
  localPositiveWeights,
  mixLocalPositives,
  ReferencePool,
} from '../src/index.js';
import type { Chain, LocalCase, LossCase } from './fixture-types.js';
import { expectClose, fixture } from './helpers.js';

// The golden cases of local-positives.test.ts, loss.golden.test.ts and lhp-chain.golden.test.ts on
// the webgpu backend, with the same named tolerances, reading results asynchronously.

const local = fixture<{ cases: LocalCase[] }>('hp_local.json');
const lossFixture = fixture<{
  cases: LossCase[];
  consistency: {
    z: number[];
    zAug: number[];
    shape: [number, number];
    loss: number;
    gradZ: number[];
    gradZAug: number[];
  };
  chain: Chain;
}>('hp_loss.json');

/** Named tolerances, as in the cpu/wasm golden tests: LHP 1e-5; loss 1e-5 relative, gradients 1e-4. */
const LHP_TOL = 1e-5;
const LOSS_RTOL = 1e-5;
const GRAD_TOL = 1e-4;

const skip = await webgpuSkipReason();
if (skip === null) console.log(`hidden-positives webgpu golden tests on: ${formatBackend()}`);

function lossInputs(c: LossCase) {
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

describe.skipIf(skip !== null)('hidden-positives on webgpu', () => {
  beforeAll(async () => {
    await selectBackend('webgpu');
  });
  afterEach(() => {
    expect(describeBackend().webgpu!.gpuErrors).toEqual([]);
  });

  describe('local hidden positives equal the PyTorch reference', () => {
    for (const c of local.cases) {
      it(`grid ${c.gridSize}, σ = ${c.sigma}: weights and mixed outputs within ${LHP_TOL}; leak-free`, async () => {
        const attn = tf.tensor4d(c.attention, c.attentionShape);
        const code = tf.tensor4d(c.codeNHWC, c.codeShape);
        const before = tf.memory().numTensors;
        const weights = localPositiveWeights(attn, { gridSize: c.gridSize, sigma: c.sigma });
        expect(tf.memory().numTensors).toBe(before + 1);
        expect(weights.shape).toEqual(c.weightsShape);
        const w = await weights.data();
        expectClose(w, c.weights, LHP_TOL, 'weights');
        const perImage = c.weightsShape[1] * 9;
        const kept = c.keptPerImage.map(
          (_, b) => Array.from(w.slice(b * perImage, (b + 1) * perImage)).filter((v) => v > 0).length,
        );
        expect(kept).toEqual(c.keptPerImage); // which neighbours are kept: exact
        const mixed = mixLocalPositives(code, weights);
        expect(tf.memory().numTensors).toBe(before + 2);
        expectClose(await mixed.data(), c.mixedNHWC, LHP_TOL, 'mixed');
        const d = c.codeShape[3];
        const mixed2 = mixLocalPositives(tf.reshape(code, [-1, d]), weights, { gridSize: c.gridSize });
        expectClose(await mixed2.data(), c.mixedNHWC, LHP_TOL, 'mixed token-major');
        tf.dispose([attn, code, weights, mixed, mixed2]);
      });
    }

    it('the mix gradient is the exact adjoint of the mix (random, grid 5×4)', async () => {
      const [b, h, w, d] = [2, 5, 4, 3];
      const weights = tf.randomUniform([b, h * w, 9], 0, 1, 'float32', 4);
      const code = tf.randomNormal([b * h * w, d], 0, 1, 'float32', 5);
      const dy = tf.randomNormal([b, h, w, d], 0, 1, 'float32', 6);
      const mixed = mixLocalPositives(code, weights, { gridSize: [h, w] });
      const grad = tf.grad((c: tf.Tensor) => mixLocalPositives(c, weights, { gridSize: [h, w] }))(code, dy);
      const dot = async (x: tf.Tensor, y: tf.Tensor) => {
        const [a, bb] = [Array.from(await x.data()), await y.data()];
        return a.reduce((s, v, i) => s + v * bb[i]!, 0);
      };
      expect(await dot(mixed, dy)).toBeCloseTo(await dot(code, grad), 4);
      tf.dispose([weights, code, dy, mixed, grad]);
    });
  });

  it('consistencyLoss equals nn.PairwiseDistance(p=2, eps=1e-6).mean() and its gradients', async () => {
    const g = lossFixture.consistency;
    const z = tf.tensor2d(g.z, g.shape);
    const zAug = tf.tensor2d(g.zAug, g.shape);
    const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => consistencyLoss(a, b))([
      z,
      zAug,
    ]);
    expect(Math.abs((await value.data())[0]! - g.loss)).toBeLessThanOrEqual(1e-5 * g.loss);
    expectClose(await grads[0]!.data(), g.gradZ, 1e-4, 'dz');
    expectClose(await grads[1]!.data(), g.gradZAug, 1e-4, 'dzAug');
    tf.dispose([z, zAug, value, ...grads]);
  });

  describe('hiddenPositiveLoss equals the PyTorch reference', () => {
    for (const c of lossFixture.cases) {
      it(`${c.name}: loss within ${LOSS_RTOL} relative, gradients within ${GRAD_TOL}; leak-free (no host read)`, async () => {
        const inputs = lossInputs(c);
        try {
          const before = tf.memory().numTensors;
          const { value, grads } = tf.valueAndGrads((z: tf.Tensor, zMix: tf.Tensor) =>
            hiddenPositiveLoss({ ...inputs, z: z as tf.Tensor2D, zMix: zMix as tf.Tensor2D }),
          )([inputs.z, inputs.zMix]);
          const loss = (await value.data())[0]!;
          expect(Math.abs(loss - c.loss)).toBeLessThanOrEqual(LOSS_RTOL * Math.abs(c.loss));
          expectClose(await grads[0]!.data(), c.gradZ, GRAD_TOL, 'dL/dz');
          expectClose(await grads[1]!.data(), c.gradZMix, GRAD_TOL, 'dL/dzMix');
          tf.dispose([value, ...grads]);
          expect(tf.memory().numTensors).toBe(before);
          const plain = hiddenPositiveLoss(inputs); // forward only
          expect(Math.abs((await plain.data())[0]! - c.loss)).toBeLessThanOrEqual(
            LOSS_RTOL * Math.abs(c.loss),
          );
          plain.dispose();
          expect(tf.memory().numTensors).toBe(before);
        } finally {
          tf.dispose(Object.values(inputs).filter((v) => v instanceof tf.Tensor));
        }
      });
    }

    it('LHP chain: head output → mix → normalize → loss, d loss / d code within 1e-4', async () => {
      const chain = lossFixture.chain;
      const [B, h, w, D] = chain.codeShape;
      const N = B * h * w;
      const attention = tf.tensor4d(chain.attention, chain.attentionShape);
      const code = tf.tensor4d(chain.codeNHWC, chain.codeShape);
      const featBackbone = tf.tensor2d(chain.featBackbone, [N, chain.C]);
      const codeMomentum = tf.tensor2d(chain.codeMomentum, [N, D]);
      const poolAgnostic = tf.tensor2d(chain.poolAgnostic, [chain.Q, chain.C]);
      const poolSpecific = tf.tensor2d(chain.poolSpecific, [chain.Q, D]);
      const weights = localPositiveWeights(attention, { gridSize: chain.gridSize });
      try {
        const { value, grad } = tf.valueAndGrad((c: tf.Tensor) =>
          hiddenPositiveLoss({
            z: l2Normalize(tf.reshape(c, [N, D])) as tf.Tensor2D,
            zMix: l2Normalize(tf.reshape(mixLocalPositives(c, weights), [N, D])) as tf.Tensor2D,
            featBackbone,
            codeMomentum,
            poolAgnostic,
            poolSpecific,
            lambda: chain.lambda,
            temperature: chain.temperature,
            gridSize: chain.gridSize,
          }),
        )(code);
        expect(Math.abs((await value.data())[0]! - chain.loss)).toBeLessThanOrEqual(
          1e-5 * Math.abs(chain.loss),
        );
        expectClose(await grad.data(), chain.gradCodeNHWC, 1e-4, 'd loss / d code');
        tf.dispose([value, grad]);
      } finally {
        tf.dispose([attention, code, featBackbone, codeMomentum, poolAgnostic, poolSpecific, weights]);
      }
    });
  });

  it('ReferencePool.add stores the chosen patches from GPU features (asynchronous read)', async () => {
    const pool = new ReferencePool({ size: 2, width: 3 });
    // a matmul, so the features live on the GPU (tiny inputs would stay on the CPU)
    const feats = tf.tidy(() => tf.reshape(tf.matMul(tf.ones([8, 4]), tf.ones([4, 3])), [2, 2, 2, 3]));
    try {
      expect(await pool.add(feats, [3, 1])).toEqual([3, 1]);
      const rows = pool.toTensor();
      expectClose(await rows.data(), Array(6).fill(1 / Math.sqrt(3)), 1e-6, 'pool rows');
      rows.dispose();
    } finally {
      feats.dispose();
    }
  });
});

if (skip !== null) it.skip(`webgpu golden tests: skipped (${skip})`, () => {});
