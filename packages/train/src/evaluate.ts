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

/** What prediction runs: the frozen backbone, the (online) head and both probes. */
export interface InferenceModules {
  readonly backbone: Backbone;
  readonly head: SegHead;
  readonly linearProbe: LinearProbe;
  readonly clusterProbe: ClusterProbe;
}

/** Per-pixel predictions of a batch, `[B, H, W]` int32 each, plus the probe scores when asked. */
export interface Predictions {
  readonly cluster: Int32Array;
  readonly linear: Int32Array;
  /** `[B, H, W, K]` log_softmax(2·cos) of the cluster probe (the CRF input, run.py:372), when `scores` was set. */
  readonly clusterLogProbs?: Float32Array;
  /** `[B, H, W, K]` log_softmax(linear logits), when `scores` was set. */
  readonly linearLogProbs?: Float32Array;
}

/**
 * The official inference path (official-behaviour §5): backbone → head in eval mode → code bilinearly
 * upsampled (align_corners = False) to the image size BEFORE the probes → cluster argmax cos / linear
 * argmax. Upsampling is done one image at a time to bound memory (`[H, W, D]` floats per image); every
 * read from the backend is asynchronous.
 */
export async function predict(
  model: InferenceModules,
  images: Float32Array,
  shape: readonly [number, number, number, 3],
  options: { scores?: boolean } = {},
): Promise<Predictions> {
  const [B, H, W] = shape;
  const K = model.clusterProbe.nClusters;
  const KL = model.linearProbe.nClasses;
  const input = tf.tensor4d(images, [B, H, W, 3]);
  let out: Awaited<ReturnType<Backbone['forward']>> | undefined;
  let code: tf.Tensor4D | undefined;
  try {
    out = await model.backbone.forward(input);
    code = model.head.forward(out.patchTokens); // [B, h, w, D]
    const cluster = new Int32Array(B * H * W);
    const linear = new Int32Array(B * H * W);
    const clusterLogProbs = options.scores ? new Float32Array(B * H * W * K) : undefined;
    const linearLogProbs = options.scores ? new Float32Array(B * H * W * KL) : undefined;
    for (let b = 0; b < B; b++) {
      const outs = tf.tidy(() => {
        const one = tf.slice(code as tf.Tensor4D, [b, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
        const up = upsampleBilinear(one, [H, W]); // [1, H, W, D]
        const cos = model.clusterProbe.forward(up); // [1, H, W, K]
        const logits = model.linearProbe.forward(up); // [1, H, W, KL]
        const argmax = [tf.argMax(cos, -1), tf.argMax(logits, -1)];
        return options.scores
          ? [...argmax, tf.logSoftmax(tf.mul(cos, 2), -1), tf.logSoftmax(logits, -1)]
          : argmax;
      });
      try {
        const [c, l, cs, ls] = await Promise.all(outs.map((t) => t.data()));
        cluster.set(c as Int32Array, b * H * W);
        linear.set(l as Int32Array, b * H * W);
        if (clusterLogProbs && linearLogProbs) {
          clusterLogProbs.set(cs as Float32Array, b * H * W * K);
          linearLogProbs.set(ls as Float32Array, b * H * W * KL);
        }
      } finally {
        tf.dispose(outs);
      }
    }
    return {
      cluster,
      linear,
      ...(clusterLogProbs ? { clusterLogProbs } : {}),
      ...(linearLogProbs ? { linearLogProbs } : {}),
    };
  } finally {
    input.dispose();
    code?.dispose();
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

export interface EvaluateOptions {
  /** Shorter side of the evaluation view (official 320). */
  readonly resolution: number;
  readonly batchSize: number;
  readonly limit?: number;
  /** Also return the probes' log-probabilities (for a CRF). */
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
  /** Images evaluated (fewer than asked when the signal aborted). */
  readonly images: number;
}

/** Evaluates on a dataset with the official protocol: dataset-level confusion, Hungarian (cluster) / identity (linear). */
export async function evaluate(
  model: InferenceModules,
  dataset: Dataset,
  options: EvaluateOptions,
): Promise<EvalResult> {
  const n = Math.min(dataset.length, options.limit ?? dataset.length);
  const clusterMatrix = createConfusionMatrix({ numClasses: dataset.numClasses });
  const linearMatrix = createConfusionMatrix({ numClasses: dataset.numClasses });
  let done = 0;
  for (let start = 0; start < n; start += options.batchSize) {
    if (options.signal?.aborted) break;
    const indices = Array.from({ length: Math.min(options.batchSize, n - start) }, (_, j) => start + j);
    const items = await Promise.all(
      indices.map(async (i) => evalView(await dataset.get(i), options.resolution)),
    );
    const images = stackImages(items);
    const labels = stackLabels(items).data;
    const predictions = await predict(model, images.data, images.shape, { scores: options.scores ?? false });
    clusterMatrix.update(predictions.cluster, labels);
    linearMatrix.update(predictions.linear, labels);
    done += indices.length;
    await options.onBatch?.({ items, predictions, shape: images.shape, labels });
  }
  return {
    cluster: computeMetrics(clusterMatrix, { matching: 'hungarian' }),
    linear: computeMetrics(linearMatrix, { matching: 'identity' }),
    clusterMatrix,
    linearMatrix,
    images: done,
  };
}

/** The official model-selection score (run.py:263-329): Cluster mIoU + Cluster Acc + Linear mIoU + Linear Acc, in %. */
export function selectionScore(result: Pick<EvalResult, 'cluster' | 'linear'>): number {
  return 100 * (result.cluster.mIoU + result.cluster.accuracy + result.linear.mIoU + result.linear.accuracy);
}
