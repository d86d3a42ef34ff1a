import { selectBackend, setHostMatMul } from '@hpseg/core';
import { localPositiveWeights } from '@hpseg/hidden-positives';
import { ClusterProbe, ensureGradients, LinearProbe, ProjectionHead, SegHead } from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createHpOptimizers,
  disposeHpModels,
  disposeHpOptimizers,
  disposeStepGradients,
  type HpModels,
  OPTIMIZED_MODULES,
  type OpenedMatMulEngine,
  openMatMulEngine,
  type StepConfig,
  type StepDraws,
  type StepInputs,
  stepGradients,
  trainStep,
} from '../src/index.js';
import { expectClose, type Fx, fixture, I, T, tensors } from './helpers.js';

type Params = Record<string, Fx>;
interface Modules {
  head: Params;
  momentumHead: Params;
  projectionHead: Params;
  linearProbe: Params;
  clusterProbe: Params;
}
interface Step {
  lambda: number;
  inputs: Record<
    'feat' | 'featAug' | 'attentionLogits' | 'lhpWeights' | 'labels' | 'poolAgnostic' | 'poolSpecific',
    Fx
  >;
  draws: Record<string, Fx>;
  expected: {
    losses: { hp: number; consistency: number; linear: number; cluster: number; total: number };
    headGradNorm: number;
    after: Modules;
  };
  intermediate: { grads: Record<'head' | 'projectionHead' | 'linearProbe' | 'clusterProbe', Params> };
}
interface Golden {
  config: {
    B: number;
    h: number;
    dropoutRate: number;
    momentum: number;
    temperature: number;
    consistencyWeight: number;
    gradNorm: number;
    lr: { head: number; weightDecay: number; projection: number; linear: number; cluster: number };
  };
  initial: Modules;
  steps: Step[];
}

const G = fixture<Golden>('official-step.json');

function modelsFrom(m: Modules): HpModels {
  const t = (p: Params) => tensors(p);
  const parts = [t(m.head), t(m.momentumHead), t(m.projectionHead), t(m.linearProbe), t(m.clusterProbe)];
  const [head, momentum, projection, linear, cluster] = parts as Record<string, tf.Tensor>[];
  const models: HpModels = {
    head: SegHead.fromWeights(head!, { dropoutRate: G.config.dropoutRate }),
    momentumHead: SegHead.fromWeights(momentum!, { trainable: false, dropoutRate: G.config.dropoutRate }),
    projectionHead: ProjectionHead.fromWeights(projection as { weight: tf.Tensor; bias: tf.Tensor }),
    linearProbe: LinearProbe.fromWeights(linear as { weight: tf.Tensor; bias: tf.Tensor }),
    clusterProbe: ClusterProbe.fromWeights(cluster as { clusters: tf.Tensor }),
  };
  for (const p of parts) tf.dispose(Object.values(p));
  return models;
}

const config: StepConfig = {
  dropoutRate: G.config.dropoutRate,
  momentum: G.config.momentum,
  temperature: G.config.temperature,
  negativeKeepRatio: 1, // the fixture injects its mask R
  consistencyWeight: G.config.consistencyWeight,
  gradNorm: G.config.gradNorm,
};

/** The step's inputs with OUR LHP weights (the whole chain from the attention logits) and the reference's draws. */
function stepTensors(step: Step): { inputs: StepInputs; draws: StepDraws; all: tf.Tensor[] } {
  const x = step.inputs;
  const attention = T(x.attentionLogits);
  const lhpWeights = localPositiveWeights(attention, { gridSize: G.config.h });
  const masks = tensors(
    Object.fromEntries(Object.entries(step.draws).filter(([k]) => k !== 'negativeMask')),
  ) as Record<string, tf.Tensor4D>;
  const inputs: StepInputs = {
    feat: T(x.feat) as tf.Tensor4D,
    featAug: T(x.featAug) as tf.Tensor4D,
    lhpWeights,
    labels: I(x.labels) as tf.Tensor3D,
    poolAgnostic: T(x.poolAgnostic) as tf.Tensor2D,
    poolSpecific: T(x.poolSpecific) as tf.Tensor2D,
    lambda: step.lambda,
  };
  const negativeMask = T(step.draws.negativeMask!) as tf.Tensor2D;
  const draws: StepDraws = {
    dropout: {
      headCluster1: masks.headCluster1!,
      headCluster2: masks.headCluster2!,
      momentumCluster1: masks.momentumCluster1!,
      momentumCluster2: masks.momentumCluster2!,
      features: masks.features!,
      momentumOutput: masks.momentumOutput!,
      mix: masks.mix!,
      augCluster1: masks.augCluster1!,
      augCluster2: masks.augCluster2!,
    },
    negatives: { mask: negativeMask },
  };
  const all = [
    attention,
    negativeMask,
    ...Object.values(masks),
    ...(Object.values(inputs).filter((v) => v instanceof tf.Tensor) as tf.Tensor[]),
  ];
  return { inputs, draws, all };
}

function expectModules(models: HpModels, want: Modules, rtol: number, atol: number, label: string): void {
  for (const m of ['head', 'momentumHead', 'projectionHead', 'linearProbe', 'clusterProbe'] as const) {
    const params = models[m].params as Record<string, tf.Tensor>;
    for (const [name, fx] of Object.entries(want[m]))
      expectClose(params[name]!, fx, rtol, atol, `${label} ${m}.${name}`);
  }
}

describe.each([
  ['cpu', 'tfjs'],
  ['wasm', 'tfjs'],
  ['cpu', 'onnx'],
  ['wasm', 'onnx'],
] as const)(
  "one whole official training step vs our PyTorch run.py order (%s backend, the heads' products on %s)",
  (backend, matmulEngine) => {
    let matmul: OpenedMatMulEngine;
    beforeAll(async () => {
      await selectBackend(backend);
      await ensureGradients();
      matmul = await openMatMulEngine(matmulEngine);
      expect(matmul.engine).toBe(matmulEngine);
      setHostMatMul(matmul.host);
    });
    afterAll(() => {
      setHostMatMul(undefined);
      matmul.dispose();
    });

    it('two consecutive steps: LHP weights, losses, every gradient, the head-gradient norm, all weights after the optimiser steps', async () => {
      const models = modelsFrom(G.initial);
      const optimizers = createHpOptimizers(models, {
        net: G.config.lr.head,
        weightDecay: G.config.lr.weightDecay,
        linear: G.config.lr.linear,
        cluster: G.config.lr.cluster,
      });
      for (const [s, step] of G.steps.entries()) {
        const label = `step ${s + 1}`;
        const { inputs, draws, all } = stepTensors(step);
        expectClose(inputs.lhpWeights, step.inputs.lhpWeights, 1e-5, 1e-6, `${label} LHP weights`);
        // The tape alone (pure: it changes no weight): losses and the gradient of every trained parameter.
        const g = stepGradients(models, inputs, config, draws);
        const e = step.expected.losses;
        expectClose(
          g.values,
          [e.total, e.hp, e.consistency, e.linear, e.cluster],
          1e-5,
          1e-6,
          `${label} losses`,
        );
        for (const m of OPTIMIZED_MODULES) {
          for (const [name, fx] of Object.entries(step.intermediate.grads[m])) {
            expectClose(g.grads[m][name]!, fx, 1e-4, 1e-6, `${label} d${m}.${name}`);
          }
        }
        disposeStepGradients(g);
        // The whole step.
        const before = tf.memory().numTensors;
        const r = await trainStep(models, optimizers, inputs, config, draws);
        expect(tf.memory().numTensors, `${label}: trainStep leaves no tensor behind`).toBe(before);
        expect(r.applied).toBe(true);
        expectClose(
          [r.total, r.hp, r.consistency, r.linear, r.cluster],
          [e.total, e.hp, e.consistency, e.linear, e.cluster],
          1e-5,
          1e-6,
          `${label} step losses`,
        );
        expectClose([r.headGradNorm], [step.expected.headGradNorm], 1e-5, 0, `${label} head-gradient norm`);
        // Adam's first steps are ±lr·sign-like, so the weights after are checked tightly.
        expectModules(models, step.expected.after, 1e-5, 2e-7, label);
        tf.dispose(all);
      }
      expect(G.steps[1]!.expected.headGradNorm).toBeGreaterThan(G.config.gradNorm); // step 2 clipped, step 1 not
      expect(G.steps[0]!.expected.headGradNorm).toBeLessThan(G.config.gradNorm);
      disposeHpOptimizers(optimizers);
      disposeHpModels(models);
    });
  },
);
