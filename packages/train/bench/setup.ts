/**
 * What the step benchmark runs on: a random ViT-S/8 on ONNX Runtime, eight synthetic 224 px images with
 * their photometric views and labels, the main view's cached tokens and LHP weights, reference pools
 * built as the official pool pass does (Drop(f) rows and momentum-head rows of other images), and fresh
 * official-width modules and optimisers (COCO-Stuff-27 configuration).
 */
import { type Backbone, loadBackbone, randomVitWeights } from '@hpseg/backbone-vit';
import { l2Normalize, mulberry32, type StateDict } from '@hpseg/core';
import { augmentedView, imagenetNormalize, syntheticDataset } from '@hpseg/datasets';
import type { HiddenPositiveLossEngine } from '@hpseg/hidden-positives';
import { dropout2d } from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';
import {
  createHpModels,
  createHpOptimizers,
  disposeHpModels,
  disposeHpOptimizers,
  type HpModels,
  type HpOptimizers,
  patchTokens,
  resolveRunConfig,
  type StepConfig,
  stepConfigFrom,
  tokensWithLocalPositives,
} from '../src/index.js';

/** Official ViT-S/8 (`dino_deitsmall8_300ep_pretrain`): the widths HP trains COCO-Stuff-27 with. */
export const VITS8 = { embedDim: 384, depth: 12, numHeads: 6, patchSize: 8, trainedGrid: 28, mlpRatio: 4 };

export interface BenchSetup {
  readonly B: number;
  readonly H: number;
  readonly h: number;
  readonly C: number;
  readonly D: number;
  readonly K: number;
  readonly Q: number;
  readonly lambda: number;
  readonly step: StepConfig;
  readonly rates: { net: number; weightDecay: number; linear: number; cluster: number };
  readonly vitWeights: StateDict;
  readonly backbone: Backbone;
  /** ImageNet-normalised `[B, H, W, 3]` pixels of the augmented view, as the data loader gives them. */
  readonly augImages: Float32Array;
  /** Cached main view. */
  readonly feat: tf.Tensor4D;
  readonly lhpWeights: tf.Tensor3D;
  readonly labels: tf.Tensor3D;
  readonly poolAgnostic: tf.Tensor2D;
  readonly poolSpecific: tf.Tensor2D;
  readonly models: HpModels;
  readonly optimizers: HpOptimizers;
  dispose(): Promise<void>;
}

/** ~10 % of the pixels ignored (−1), as unlabelled pixels of COCO-Stuff. */
function withIgnored(label: Int32Array, seed: number): Int32Array {
  const random = mulberry32(seed);
  return label.map((v) => (random() < 0.1 ? -1 : v));
}

export async function createBenchSetup(
  batch: number,
  seed: number,
  lossEngine: HiddenPositiveLossEngine = 'auto',
): Promise<BenchSetup> {
  const config = resolveRunConfig('cocostuff27');
  const H = config.dataset.res; // 224
  const h = H / VITS8.patchSize; // 28
  const C = VITS8.embedDim;
  const D = config.model.dim; // 512
  const K = 27;
  const Q = config.model.poolSize; // 2048
  const step = stepConfigFrom(config, lossEngine);
  const vitWeights = randomVitWeights(VITS8, seed);
  const backbone = await loadBackbone(vitWeights, { engine: 'onnx', numHeads: VITS8.numHeads });

  // 12 "stuff" classes (the synthetic generator's maximum), labels within the K = 27 of COCO-Stuff-27.
  const data = syntheticDataset({ seed: 1, length: 2 * batch, size: H, numClasses: 12 });
  const px = H * H * 3;
  const main = new Float32Array(batch * px);
  const augImages = new Float32Array(batch * px);
  const poolImages = new Float32Array(batch * px);
  const labels = new Int32Array(batch * H * H);
  for (let i = 0; i < batch; i++) {
    const item = await data.get(i);
    main.set(imagenetNormalize(item.image), i * px);
    augImages.set(augmentedView(item.image, H, H, { seed: 100 + i }).data, i * px);
    labels.set(withIgnored(item.label, 200 + i), i * H * H);
    poolImages.set(imagenetNormalize((await data.get(batch + i)).image), i * px);
  }
  const shape = [batch, H, H, 3] as const;
  const { feat, lhp } = await tokensWithLocalPositives(backbone, main, shape, h);

  const models = createHpModels({ inChannels: C, dim: D, nClasses: K, dropoutRate: step.dropoutRate }, seed);
  const rates = {
    net: config.optimizer.net.lr,
    weightDecay: config.optimizer.net.weightDecay ?? 0,
    linear: config.optimizer.linear.lr,
    cluster: config.optimizer.cluster.lr,
  };
  const optimizers = createHpOptimizers(models, rates);

  // Pools as the official pool pass (official-behaviour §3.2): Q rows of Drop(f) and of Drop(S′(Drop f))
  // from other images (here Q distinct patches of the eight pool images), L2-normalised.
  const poolFeat = await patchTokens(backbone, poolImages, shape);
  const random = mulberry32(seed + 7);
  const order = Array.from({ length: batch * h * h }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const [poolAgnostic, poolSpecific] = tf.tidy(() => {
    const rows = tf.tensor1d(order.slice(0, Q), 'int32');
    const fDrop = dropout2d(poolFeat, step.dropoutRate, seed + 1);
    const code = models.momentumHead.forward(poolFeat, { training: true, seed: seed + 2 });
    const sDrop = dropout2d(code, step.dropoutRate, seed + 4);
    const ag = l2Normalize(tf.gather(tf.reshape(fDrop, [-1, C]), rows)) as tf.Tensor2D; // [Q, C]
    const sp = l2Normalize(tf.gather(tf.reshape(sDrop, [-1, D]), rows)) as tf.Tensor2D; // [Q, D]
    return [ag, sp];
  });
  poolFeat.dispose();

  const labelTensor = tf.tensor3d(labels, [batch, H, H], 'int32');
  return {
    B: batch,
    H,
    h,
    C,
    D,
    K,
    Q,
    lambda: 0.5,
    step,
    rates,
    vitWeights,
    backbone,
    augImages,
    feat,
    lhpWeights: lhp,
    labels: labelTensor,
    poolAgnostic,
    poolSpecific,
    models,
    optimizers,
    async dispose() {
      tf.dispose([feat, lhp, labelTensor, poolAgnostic, poolSpecific]);
      disposeHpOptimizers(optimizers);
      disposeHpModels(models);
      await backbone.dispose();
    },
  };
}
