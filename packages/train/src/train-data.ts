import { deriveSeed, HpError, mulberry32, permutation } from '@hpseg/core';
import {
  augmentedView,
  type Dataset,
  type DatasetItem,
  stackImages,
  stackLabels,
  trainView,
} from '@hpseg/datasets';

/** One training batch on the host: the main view, its photometric augmentation, the labels. */
export interface HostBatch {
  /** Dataset indices of the items. */
  readonly indices: readonly number[];
  /** `[B, H, W, 3]` ImageNet-normalised main view. */
  readonly images: Float32Array;
  /** `[B, H, W, 3]` ImageNet-normalised augmented view (pixel-aligned with `images`), when asked. */
  readonly augImages?: Float32Array;
  /** `[B, H, W]` int32 labels, −1 = ignore. */
  readonly labels: Int32Array;
  readonly shape: readonly [number, number, number, 3];
}

/** Photometric augmentation of one uint8 image, seeded; returns the normalised `[H, W, 3]` model input. */
export type Augment = (image: Uint8Array, height: number, width: number, seed: number) => Float32Array;

/**
 * Order of the photometric view of the consistency term (official-behaviour §4.3): `image` jitters, greys and
 * blurs the image before the ImageNet normalisation (the correct order, default); `official` applies
 * them to the normalised tensor and clamps to [0, 1], as the official code does.
 */
export type AugmentMode = 'image' | 'official';

/** The seeded photometric view of @hpseg/datasets in the given mode. */
export function photometricAugment(mode: AugmentMode = 'image'): Augment {
  return (image, height, width, seed) => augmentedView(image, height, width, { seed, mode }).data;
}

/**
 * The training data of a run, addressed by (epoch, batch index) instead of an iterator: the order
 * of epoch e is a permutation seeded by (seed, e), so a resumed run reads exactly the batches an
 * uninterrupted one would have read. The pool pass (official `train_loader_memory`) is another
 * shuffled pass keyed by its own purpose.
 */
export class TrainData {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly resolution: number;
  readonly seed: number;
  readonly batchesPerEpoch: number;
  private readonly augment: Augment | undefined;
  private orderCache: { key: string; order: number[] } | undefined;

  constructor(
    dataset: Dataset,
    options: { batchSize: number; resolution: number; seed: number; augment?: Augment },
  ) {
    this.dataset = dataset;
    this.batchSize = options.batchSize;
    this.resolution = options.resolution;
    this.seed = options.seed;
    this.augment = options.augment;
    this.batchesPerEpoch = Math.floor(dataset.length / options.batchSize); // drop_last, as the official loader
    if (this.batchesPerEpoch < 1) {
      throw new HpError(
        'E_DATASET',
        `TrainData: dataset ${dataset.name} is smaller than one batch: expected at least ${options.batchSize} items, got ${dataset.length}`,
        { hint: 'use a smaller --config dataloader.batchSize or check --data-dir' },
      );
    }
  }

  /** Dataset indices of batch `i` of `epoch` (`purpose` separates the training pass from pool passes). */
  batchIndices(purpose: 'train' | 'pool', epoch: number, i: number): number[] {
    const key = `${purpose}:${epoch}`;
    if (this.orderCache?.key !== key) {
      const order = permutation(this.dataset.length, mulberry32(deriveSeed(this.seed, purpose, epoch)));
      this.orderCache = { key, order };
    }
    return this.orderCache.order.slice(i * this.batchSize, (i + 1) * this.batchSize);
  }

  async load(indices: readonly number[], options: { augmentSeed?: number } = {}): Promise<HostBatch> {
    const items: DatasetItem[] = await Promise.all(
      indices.map(async (index) => trainView(await this.dataset.get(index), this.resolution)),
    );
    const images = stackImages(items);
    const labels = stackLabels(items);
    let augImages: Float32Array | undefined;
    if (options.augmentSeed !== undefined && this.augment) {
      const per = images.shape[1] * images.shape[2] * 3;
      augImages = new Float32Array(items.length * per);
      items.forEach((it, b) => {
        augImages!.set(
          this.augment!(it.image, it.height, it.width, deriveSeed(options.augmentSeed!, b)),
          b * per,
        );
      });
    }
    return {
      indices,
      images: images.data,
      labels: labels.data,
      shape: images.shape,
      ...(augImages ? { augImages } : {}),
    };
  }
}
