import { selectBackend } from '@hpseg/core';
import { ensureGradients } from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createHpModels,
  createHpOptimizers,
  disposeHpModels,
  disposeHpOptimizers,
  disposeStepDraws,
  disposeStepGradients,
  drawStepRandomness,
  type StepConfig,
  type StepInputs,
  stepGradients,
  trainStep,
} from '../src/index.js';

const [B, h, C, D, K, Q] = [2, 4, 6, 5, 3, 4];
const config: StepConfig = {
  dropoutRate: 0.1,
  momentum: 0.99,
  temperature: 0.8,
  negativeKeepRatio: 0.3,
  consistencyWeight: 0.05,
  gradNorm: 10,
};

function inputs(seed: number): StepInputs {
  const r = (shape: number[], k: number) => tf.randomNormal(shape, 0, 1, 'float32', seed * 10 + k);
  return {
    feat: r([B, h, h, C], 1) as tf.Tensor4D,
    featAug: r([B, h, h, C], 2) as tf.Tensor4D,
    lhpWeights: tf.tidy(() => tf.div(tf.abs(r([B, h * h, 9], 3)), 9)) as tf.Tensor3D,
    labels: tf.tidy(() =>
      tf.cast(tf.floor(tf.mul(tf.randomUniform([B, 16, 16], 0, 1, 'float32', seed), K + 1)), 'int32'),
    ) as tf.Tensor3D,
    poolAgnostic: r([Q, C], 4) as tf.Tensor2D,
    poolSpecific: r([Q, D], 5) as tf.Tensor2D,
    lambda: 0.5,
  };
}
const disposeInputs = (x: StepInputs) =>
  tf.dispose(Object.values(x).filter((v) => v instanceof tf.Tensor) as tf.Tensor[]);

describe('trainStep randomness and inputs', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
    await ensureGradients();
  });

  it('drawStepRandomness: keyed by (seed, t), 0/1 masks of the right widths, independent branches; none for p = 0 and ρ = 1', () => {
    const a = drawStepRandomness(7, 3, { batch: B, inChannels: C, dim: D }, config);
    const b = drawStepRandomness(7, 3, { batch: B, inChannels: C, dim: D }, config);
    const c = drawStepRandomness(7, 4, { batch: B, inChannels: C, dim: D }, config);
    const ma = a.dropout!;
    expect(ma.headCluster1.shape).toEqual([B, 1, 1, C]);
    expect(ma.momentumOutput.shape).toEqual([B, 1, 1, D]);
    expect(ma.mix.shape).toEqual([B, 1, 1, D]);
    for (const m of Object.values(ma))
      expect(new Set(m.dataSync()).size <= 2 && [...m.dataSync()].every((v) => v === 0 || v === 1)).toBe(
        true,
      );
    for (const k of Object.keys(ma) as (keyof typeof ma)[]) {
      expect(Array.from(ma[k].dataSync()), k).toEqual(Array.from(b.dropout![k].dataSync()));
    }
    expect(Array.from(ma.headCluster1.dataSync())).not.toEqual(Array.from(ma.headCluster2.dataSync()));
    expect(Array.from(ma.headCluster1.dataSync())).not.toEqual(
      Array.from(c.dropout!.headCluster1.dataSync()),
    );
    expect(a.negatives).toEqual(b.negatives);
    expect(a.negatives).not.toEqual(c.negatives);
    const none = drawStepRandomness(
      7,
      3,
      { batch: B, inChannels: C, dim: D },
      { dropoutRate: 0, negativeKeepRatio: 1 },
    );
    expect(none).toEqual({ dropout: null, negatives: null });
    for (const d of [a, b, c]) disposeStepDraws(d);
  });

  it('a seed for the negatives and the mask drawn from it give the same step; the tape changes no weight', () => {
    const models = createHpModels({ inChannels: C, dim: D, nClasses: K, dropoutRate: 0.1 }, 2);
    const x = inputs(1);
    const seeded = drawStepRandomness(11, 0, { batch: B, inChannels: C, dim: D }, config);
    const seed = (seeded.negatives as { seed: number }).seed;
    const mask = tf.tidy(() =>
      tf.cast(
        tf.less(tf.randomUniform([h * h, B * h * h], 0, 1, 'float32', seed), config.negativeKeepRatio),
        'float32',
      ),
    ) as tf.Tensor2D;
    const head = Array.from(models.head.params['cluster1.0.weight'].dataSync());
    const g1 = stepGradients(models, x, config, seeded);
    const g2 = stepGradients(models, x, config, { dropout: seeded.dropout, negatives: { mask } });
    expect(Array.from(g1.values.dataSync())).toEqual(Array.from(g2.values.dataSync()));
    expect(Array.from(g1.grads.head['cluster2.2.weight']!.dataSync())).toEqual(
      Array.from(g2.grads.head['cluster2.2.weight']!.dataSync()),
    );
    expect(Array.from(models.head.params['cluster1.0.weight'].dataSync())).toEqual(head);
    // The probes train on the detached code: other probe weights change their gradients, never the head's.
    tf.tidy(() => {
      models.linearProbe.params.weight.assign(
        tf.randomNormal(models.linearProbe.params.weight.shape, 0, 1, 'float32', 3),
      );
      models.clusterProbe.params.clusters.assign(
        tf.randomNormal(models.clusterProbe.params.clusters.shape, 0, 1, 'float32', 4),
      );
    });
    const g3 = stepGradients(models, x, config, seeded);
    for (const k of Object.keys(g1.grads.head)) {
      expect(Array.from(g3.grads.head[k]!.dataSync()), k).toEqual(Array.from(g1.grads.head[k]!.dataSync()));
    }
    expect(Array.from(g3.grads.linearProbe.weight!.dataSync())).not.toEqual(
      Array.from(g1.grads.linearProbe.weight!.dataSync()),
    );
    disposeStepGradients(g3);
    disposeStepGradients(g1);
    disposeStepGradients(g2);
    mask.dispose();
    disposeStepDraws(seeded);
    disposeInputs(x);
    disposeHpModels(models);
  });

  it('bad inputs: HpError naming the tensor, what was expected and what was received', async () => {
    const models = createHpModels({ inChannels: C, dim: D, nClasses: K, dropoutRate: 0.1 }, 2);
    const optimizers = createHpOptimizers(models, {
      net: 5e-4,
      weightDecay: 0.1,
      linear: 1e-3,
      cluster: 5e-3,
    });
    const x = inputs(2);
    const draws = drawStepRandomness(1, 0, { batch: B, inChannels: C, dim: D }, config);
    const wrongFeat = tf.zeros([B, h, h, C + 1]) as tf.Tensor4D;
    await expect(
      trainStep(models, optimizers, { ...x, feat: wrongFeat }, config, draws),
    ).rejects.toMatchObject({
      name: 'HpError',
      code: 'E_SHAPE',
      message: expect.stringContaining('feat'),
    });
    const floatLabels = tf.zeros([B, 16, 16]) as tf.Tensor3D;
    await expect(
      trainStep(models, optimizers, { ...x, labels: floatLabels }, config, draws),
    ).rejects.toMatchObject({
      code: 'E_DTYPE',
      message: expect.stringContaining('expected int32, got float32'),
    });
    const lhp = tf.zeros([B, h * h, 8]) as tf.Tensor3D;
    await expect(
      trainStep(models, optimizers, { ...x, lhpWeights: lhp }, config, draws),
    ).rejects.toMatchObject({
      code: 'E_SHAPE',
      message: expect.stringContaining('lhpWeights'),
    });
    const before = tf.memory().numTensors;
    const r = await trainStep(models, optimizers, x, config, draws);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.applied).toBe(true);
    expect(r.total).toBeCloseTo(r.hp + 0.05 * r.consistency + r.linear + r.cluster, 12);
    tf.dispose([wrongFeat, floatLabels, lhp]);
    disposeStepDraws(draws);
    disposeInputs(x);
    disposeHpOptimizers(optimizers);
    disposeHpModels(models);
  });
});
