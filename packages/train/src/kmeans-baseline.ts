import type { Backbone } from '@hpseg/backbone-vit';
import { type Dataset, evalView, stackImages, stackLabels, trainView } from '@hpseg/datasets';
import {
  assignToCentroids,
  computeMetrics,
  createConfusionMatrix,
  kmeans,
  type SegmentationMetrics,
} from '@hpseg/eval';
import { upsampleBilinear } from '@hpseg/seg-head';
import type * as tf from '@tensorflow/tfjs-core';
import { patchTokens } from './features.js';

export interface BaselineResult {
  readonly metrics: SegmentationMetrics;
  /** `[n, H, W]` raw cluster predictions of the first `keep` validation images. */
  readonly predictions: Int32Array[];
  readonly iterations: number;
}

/** Patch features `[B, h, w, C]` of ImageNet-normalised `[B, H, W, 3]` images. */
export type FeatureFn = (
  images: Float32Array,
  shape: readonly [number, number, number, 3],
) => Promise<tf.Tensor4D>;

/** The raw backbone tokens, or (with `head`) the head's code in eval mode. */
export function featureFn(backbone: Backbone, head?: { forward(x: tf.Tensor4D): tf.Tensor4D }): FeatureFn {
  return async (images, shape) => {
    const tokens = await patchTokens(backbone, images, shape);
    if (!head) return tokens;
    try {
      return head.forward(tokens);
    } finally {
      tokens.dispose();
    }
  };
}

/**
 * The demo's baseline: spherical k-means (K = classes, seeded, best of 5 restarts) on the RAW backbone patch features
 * of `fitImages` training images, evaluated like HP's cluster probe: features bilinearly upsampled
 * to the pixels, nearest centroid, dataset-level Hungarian matching on the validation set.
 */
export async function kmeansBaseline(
  features: FeatureFn,
  trainSet: Dataset,
  valSet: Dataset,
  options: { resolution: number; fitImages: number; seed: number; keep: number; batchSize?: number },
): Promise<BaselineResult> {
  const k = valSet.numClasses;
  const batch = options.batchSize ?? 8;
  const rows: Float32Array[] = [];
  let C = 0;
  for (let start = 0; start < Math.min(options.fitImages, trainSet.length); start += batch) {
    const n = Math.min(batch, options.fitImages - start, trainSet.length - start);
    const items = await Promise.all(
      Array.from({ length: n }, async (_, j) => trainView(await trainSet.get(start + j), options.resolution)),
    );
    const images = stackImages(items);
    const feat = await features(images.data, images.shape);
    C = feat.shape[3];
    try {
      rows.push(Float32Array.from((await feat.data()) as Float32Array));
    } finally {
      feat.dispose();
    }
  }
  const all = new Float32Array(rows.reduce((a, r) => a + r.length, 0));
  let at = 0;
  for (const r of rows) {
    all.set(r, at);
    at += r.length;
  }
  const fit = kmeans(all, all.length / C, C, k, { seed: options.seed, restarts: 5 }); // best of 5 k-means++ restarts
  const matrix = createConfusionMatrix({ numClasses: k });
  const predictions: Int32Array[] = [];
  for (let start = 0; start < valSet.length; start += batch) {
    const n = Math.min(batch, valSet.length - start);
    const items = await Promise.all(
      Array.from({ length: n }, async (_, j) => evalView(await valSet.get(start + j), options.resolution)),
    );
    const images = stackImages(items);
    const labels = stackLabels(items).data;
    const [B, H, W] = images.shape;
    const feat = await features(images.data, images.shape);
    const up = upsampleBilinear(feat, [H, W]); // [B, H, W, C]
    feat.dispose();
    let pixels: Float32Array;
    try {
      pixels = (await up.data()) as Float32Array;
    } finally {
      up.dispose();
    }
    const pred = assignToCentroids(pixels, B * H * W, C, fit.centroids, k);
    matrix.update(pred, labels);
    for (let b = 0; b < B && predictions.length < options.keep; b++) {
      predictions.push(pred.slice(b * H * W, (b + 1) * H * W));
    }
  }
  return {
    metrics: computeMetrics(matrix, { matching: 'hungarian' }),
    predictions,
    iterations: fit.iterations,
  };
}
