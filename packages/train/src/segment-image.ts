import { assertInt, HpError } from '@hpseg/core';
import { imagenetNormalize, pilNearestIndices, type RgbImage, resizeImageLinear } from '@hpseg/datasets';
import { type InferenceModules, predict } from './evaluate.js';

export interface SegmentImageOptions {
  /** Which probe labels the pixels: `cluster` (unsupervised, default) or `linear`. */
  readonly probe?: 'cluster' | 'linear';
  /**
   * How the image reaches a multiple of the patch size: `pad` (default) replicates the bottom/right
   * edge and crops the labels back; `resize` rescales to the nearest multiple and the labels back.
   */
  readonly fit?: 'pad' | 'resize';
  /** Larger images are first downscaled (bilinear, aspect kept) so that their longer side is this. Default 640. */
  readonly maxSide?: number;
}

/** `[height, width]` labels of one image at its own size. */
export interface Segmentation {
  readonly labels: Int32Array;
  readonly height: number;
  readonly width: number;
  readonly probe: 'cluster' | 'linear';
}

/** Edge-replicating pad of `[h, w, 3]` to `[h2, w2, 3]` (bottom/right). */
function padEdge(img: RgbImage, h2: number, w2: number): RgbImage {
  const { data, height: h, width: w } = img;
  const out = new Uint8Array(h2 * w2 * 3);
  for (let y = 0; y < h2; y++) {
    const sy = Math.min(y, h - 1);
    for (let x = 0; x < w2; x++) {
      const sx = Math.min(x, w - 1);
      out.set(data.subarray((sy * w + sx) * 3, (sy * w + sx) * 3 + 3), (y * w2 + x) * 3);
    }
  }
  return { data: out, height: h2, width: w2 };
}

/** NEAREST resize of a label map (PIL's sampling, as every other resize of labels in hpseg). */
function resizeLabels(labels: Int32Array, h: number, w: number, h2: number, w2: number): Int32Array {
  if (h === h2 && w === w2) return labels;
  const ys = pilNearestIndices(h, h2);
  const xs = pilNearestIndices(w, w2);
  const out = new Int32Array(h2 * w2);
  for (let y = 0; y < h2; y++) for (let x = 0; x < w2; x++) out[y * w2 + x] = labels[ys[y]! * w + xs[x]!]!;
  return out;
}

/**
 * Labels of an arbitrary RGB image at its own size: downscale past `maxSide`, fit to a multiple of the
 * patch size, the official inference path (`predict`: code upsampled before the probes), then back to
 * the input size. Cluster ids are unsupervised: which class a cluster is comes from Hungarian matching.
 */
export async function segmentImage(
  model: InferenceModules,
  image: RgbImage,
  options: SegmentImageOptions = {},
): Promise<Segmentation> {
  const fn = 'segmentImage';
  const probe = options.probe ?? 'cluster';
  const fit = options.fit ?? 'pad';
  const maxSide = assertInt(fn, 'maxSide', options.maxSide ?? 640, 1);
  if (probe !== 'cluster' && probe !== 'linear') {
    throw new HpError(
      'E_ARG',
      `${fn}: probe is invalid: expected 'cluster' or 'linear', got ${JSON.stringify(probe)}`,
    );
  }
  if (fit !== 'pad' && fit !== 'resize') {
    throw new HpError(
      'E_ARG',
      `${fn}: fit is invalid: expected 'pad' or 'resize', got ${JSON.stringify(fit)}`,
    );
  }
  const p = model.backbone.config.patchSize;
  const { height: H, width: W } = image;
  // 1. Downscale large images (aspect kept), 2. reach a multiple of the patch size.
  const scale = Math.min(1, maxSide / Math.max(H, W));
  const h1 = Math.max(p, Math.round(H * scale));
  const w1 = Math.max(p, Math.round(W * scale));
  const base = await resizeImageLinear(image, h1, w1);
  const h2 = fit === 'pad' ? Math.ceil(h1 / p) * p : Math.max(p, Math.round(h1 / p) * p);
  const w2 = fit === 'pad' ? Math.ceil(w1 / p) * p : Math.max(p, Math.round(w1 / p) * p);
  const fitted = fit === 'pad' ? padEdge(base, h2, w2) : await resizeImageLinear(base, h2, w2);
  const pred = await predict(model, imagenetNormalize(fitted.data), [1, h2, w2, 3]);
  const raw = probe === 'cluster' ? pred.cluster : pred.linear;
  // 3. Back to the input size: crop the padding (pad) or resize (resize), then undo the downscale.
  let labels: Int32Array;
  if (fit === 'pad') {
    labels = new Int32Array(h1 * w1);
    for (let y = 0; y < h1; y++) labels.set(raw.subarray(y * w2, y * w2 + w1), y * w1);
  } else labels = resizeLabels(raw, h2, w2, h1, w1);
  labels = resizeLabels(labels, h1, w1, H, W);
  return { labels, height: H, width: W, probe };
}
