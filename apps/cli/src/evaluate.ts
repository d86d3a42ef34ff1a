import type { Backbone } from '@hpseg/backbone-vit';
import { type Dataset, type DatasetItem, evalView, stackImages, stackLabels } from '@hpseg/datasets';
import {
  type ConfusionMatrix,
  computeMetrics,
  createConfusionMatrix,
  type SegmentationMetrics,
} from '@hpseg/eval';
import type { ClusterProbe, LinearProbe, SegHead } from '@hpseg/seg-head';
import { upsampleBilinear } from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';

/** What evaluation and segmentation run: the frozen backbone, the online head, both probes. */
export interface EvalModel {
  readonly backbone: Backbone;
  readonly head: SegHead;
  readonly linear: LinearProbe;
  readonly cluster: ClusterProbe;
}

/** Per-pixel predictions of a batch, `[B, H, W]` int32 each, plus the probe scores when asked. */
export interface Predictions {
  readonly cluster: Int32Array;
  readonly linear: Int32Array;
  /** `[B, H, W, K]` log_softmax(2·cos) of the cluster probe (CRF input), when `scores` was set. */
  readonly clusterLogProbs?: Float32Array;
  /** `[B, H, W, K]` log_softmax(linear logits), when `scores` was set. */
  readonly linearLogProbs?: Float32Array;
}

/**
 * The official inference path (spec §5): backbone → head in eval mode → code bilinearly upsampled
 * (align_corners = False) to the image size BEFORE the probes → cluster argmax cos / linear argmax.
 * Upsampling is done one image at a time to bound memory (`[H, W, D]` floats per image).
 */
export async function predictBatch(
  model: EvalModel,
  images: Float32Array,
  shape: readonly [number, number, number, 3],
  options: { scores?: boolean } = {},
): Promise<Predictions> {
  const [B, H, W] = shape;
  const input = tf.tensor4d(images, [B, H, W, 3]);
  let out: Awaited<ReturnType<Backbone['forward']>> | undefined;
  try {
    out = await model.backbone.forward(input);
    const cluster = new Int32Array(B * H * W);
    const linear = new Int32Array(B * H * W);
    const K = model.cluster.nClusters;
    const KL = model.linear.nClasses;
    const clusterLogProbs = options.scores ? new Float32Array(B * H * W * K) : undefined;
    const linearLogProbs = options.scores ? new Float32Array(B * H * W * KL) : undefined;
    const code = model.head.forward(out.patchTokens); // [B, h, w, D]
    try {
      for (let b = 0; b < B; b++) {
        tf.tidy(() => {
          const one = tf.slice(code, [b, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
          const up = upsampleBilinear(one, [H, W]); // [1, H, W, D]
          const cos = model.cluster.forward(up); // [1, H, W, K]
          const logits = model.linear.forward(up); // [1, H, W, KL]
          cluster.set(tf.argMax(cos, -1).dataSync() as Int32Array, b * H * W);
          linear.set(tf.argMax(logits, -1).dataSync() as Int32Array, b * H * W);
          if (clusterLogProbs && linearLogProbs) {
            clusterLogProbs.set(tf.logSoftmax(tf.mul(cos, 2), -1).dataSync() as Float32Array, b * H * W * K);
            linearLogProbs.set(tf.logSoftmax(logits, -1).dataSync() as Float32Array, b * H * W * KL);
          }
        });
      }
    } finally {
      code.dispose();
    }
    return {
      cluster,
      linear,
      ...(clusterLogProbs ? { clusterLogProbs } : {}),
      ...(linearLogProbs ? { linearLogProbs } : {}),
    };
  } finally {
    input.dispose();
    out?.patchTokens.dispose();
    out?.clsToken.dispose();
    out?.attentionLogits?.dispose();
  }
}

export interface EvalBatch {
  readonly items: readonly DatasetItem[];
  readonly predictions: Predictions;
  readonly shape: readonly [number, number, number, 3];
  readonly labels: Int32Array;
}

export interface EvalOptions {
  readonly resolution: number;
  readonly batchSize: number;
  readonly limit?: number;
  readonly scores?: boolean;
  /** Called after every batch (progress, CRF, saving predictions). */
  readonly onBatch?: (batch: EvalBatch) => Promise<void> | void;
  readonly signal?: AbortSignal;
}

export interface EvalResult {
  readonly cluster: SegmentationMetrics;
  readonly linear: SegmentationMetrics;
  readonly clusterMatrix: ConfusionMatrix;
  readonly linearMatrix: ConfusionMatrix;
  readonly images: number;
}

/** Evaluates on a dataset with the official protocol: dataset-level confusion, Hungarian / identity. */
export async function evaluateDataset(
  model: EvalModel,
  dataset: Dataset,
  options: EvalOptions,
): Promise<EvalResult> {
  const n = Math.min(dataset.length, options.limit ?? dataset.length);
  const clusterMatrix = createConfusionMatrix({ numClasses: dataset.numClasses });
  const linearMatrix = createConfusionMatrix({ numClasses: dataset.numClasses });
  for (let start = 0; start < n; start += options.batchSize) {
    if (options.signal?.aborted) break;
    const indices = Array.from({ length: Math.min(options.batchSize, n - start) }, (_, j) => start + j);
    const items = await Promise.all(
      indices.map(async (i) => evalView(await dataset.get(i), options.resolution)),
    );
    const images = stackImages(items);
    const labels = stackLabels(items).data;
    const predictions = await predictBatch(model, images.data, images.shape, {
      scores: options.scores ?? false,
    });
    clusterMatrix.update(predictions.cluster, labels);
    linearMatrix.update(predictions.linear, labels);
    await options.onBatch?.({ items, predictions, shape: images.shape, labels });
  }
  return {
    cluster: computeMetrics(clusterMatrix, { matching: 'hungarian' }),
    linear: computeMetrics(linearMatrix, { matching: 'identity' }),
    clusterMatrix,
    linearMatrix,
    images: n,
  };
}

/** The official model-selection score: Cluster mIoU + Cluster Acc + Linear mIoU + Linear Acc (in %). */
export function selectionScore(result: Pick<EvalResult, 'cluster' | 'linear'>): number {
  return 100 * (result.cluster.mIoU + result.cluster.accuracy + result.linear.mIoU + result.linear.accuracy);
}
