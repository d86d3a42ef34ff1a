import { HpError, isHpError } from '@hpseg/core';
import type { Dataset, DatasetItem } from './item.js';
import { createRng, type Rng, seededPermutation } from './rng.js';
import { imagenetNormalize } from './transforms.js';

export interface BatchOptions {
  /** Items per batch. */
  batchSize: number;
  /** Shuffle the order with `seed` (and `epoch`). Default false. */
  shuffle?: boolean;
  /** Seed of the shuffle. Default 0. */
  seed?: number;
  /** Mixed into the shuffle seed so every epoch has its own order. Default 0. */
  epoch?: number;
  /** Drop the last incomplete batch (the official training loader does). Default false. */
  dropLast?: boolean;
  /**
   * Applied to every decoded item (e.g. `trainView`); may be async. `index` is the dataset index;
   * `rng` is seeded from `(seed, epoch, index)`, so random augmentations do not depend on decoding
   * order or concurrency.
   */
  transform?: (item: DatasetItem, index: number, rng: Rng) => DatasetItem | Promise<DatasetItem>;
  /** How many items are decoded ahead, in parallel. Default 4. */
  concurrency?: number;
  /** What to do when an item cannot be read (corrupt or missing file). Default 'error'. */
  onCorrupt?: 'skip' | 'error';
  /** Called for every skipped item (with `onCorrupt: 'skip'`). */
  onWarning?: (message: string, info: { index: number; error: unknown }) => void;
}

export interface Batch {
  items: DatasetItem[];
  /** Dataset indices of the items. */
  indices: number[];
}

/** An async iterable of batches that also counts the items it skipped. */
export interface BatchStream extends AsyncIterable<Batch> {
  /** Items skipped so far because they could not be read. */
  readonly skipped: number;
  /** Dataset indices of the skipped items. */
  readonly skippedIndices: readonly number[];
}

/** The generator handed to `transform` for one item: a hash of `(seed, epoch, index)`. */
export function itemRng(seed: number, epoch: number, index: number): Rng {
  let h = Math.imul(seed ^ 0x27d4eb2f, 0x165667b1);
  h = Math.imul(h ^ (epoch + 0x9e3779b9), 0x85ebca6b);
  h = Math.imul(h ^ (index + 0x7f4a7c15), 0xc2b2ae35);
  return createRng((h ^ (h >>> 16)) >>> 0);
}

/** Error codes that mean "this one item is unreadable" (skippable), as opposed to programming errors. */
const ITEM_ERRORS = new Set(['E_FORMAT', 'E_NOT_FOUND', 'E_IO', 'E_DATASET']);

/**
 * Iterates a dataset in batches with a seeded shuffle and bounded-concurrency prefetch: up to
 * `concurrency` items are decoded ahead while the consumer works; the order is fixed by the seed,
 * not by decoding speed.
 */
export function iterateBatches(dataset: Dataset, options: BatchOptions): BatchStream {
  const {
    batchSize,
    shuffle = false,
    seed = 0,
    epoch = 0,
    dropLast = false,
    transform,
    concurrency = 4,
    onCorrupt = 'error',
    onWarning,
  } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new HpError(
      'E_ARG',
      `iterateBatches: batchSize must be a positive integer: expected >= 1, got ${String(batchSize)}`,
    );
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new HpError(
      'E_ARG',
      `iterateBatches: concurrency must be a positive integer: expected >= 1, got ${String(concurrency)}`,
    );
  }
  if (onCorrupt !== 'skip' && onCorrupt !== 'error') {
    throw new HpError(
      'E_ARG',
      `iterateBatches: onCorrupt must be 'skip' or 'error': expected one of them, got ${String(onCorrupt)}`,
    );
  }
  const order = shuffle
    ? seededPermutation(dataset.length, (seed + Math.imul(epoch, 0x2545f491)) | 0)
    : Array.from({ length: dataset.length }, (_, i) => i);
  const skippedIndices: number[] = [];

  const load = async (index: number): Promise<DatasetItem> => {
    const item = await dataset.get(index);
    return transform ? transform(item, index, itemRng(seed, epoch, index)) : item;
  };

  async function* run(): AsyncGenerator<Batch> {
    const pending: { index: number; promise: Promise<DatasetItem> }[] = [];
    let next = 0;
    const fill = (): void => {
      while (pending.length < concurrency && next < order.length) {
        const index = order[next++]!;
        const promise = load(index);
        promise.catch(() => undefined); // handled when awaited; avoid unhandled-rejection noise
        pending.push({ index, promise });
      }
    };
    let batch: Batch = { items: [], indices: [] };
    fill();
    while (pending.length > 0) {
      const head = pending[0]!;
      let item: DatasetItem;
      try {
        item = await head.promise;
      } catch (error) {
        pending.shift();
        if (onCorrupt === 'skip' && isHpError(error) && ITEM_ERRORS.has(error.code)) {
          skippedIndices.push(head.index);
          onWarning?.(`iterateBatches: skipped item ${head.index}: ${error.message}`, {
            index: head.index,
            error,
          });
          continue;
        }
        // Let in-flight reads settle before rethrowing.
        await Promise.allSettled(pending.map((p) => p.promise));
        throw error;
      }
      // The head's slot is freed only now, so at most `concurrency` reads are ever in flight.
      pending.shift();
      fill();
      batch.items.push(item);
      batch.indices.push(head.index);
      if (batch.items.length === batchSize) {
        yield batch;
        batch = { items: [], indices: [] };
      }
    }
    if (batch.items.length > 0 && !dropLast) yield batch;
  }

  return {
    [Symbol.asyncIterator]: run,
    get skipped() {
      return skippedIndices.length;
    },
    get skippedIndices() {
      return skippedIndices;
    },
  };
}

function commonSize(fn: string, items: readonly DatasetItem[]): [number, number] {
  const first = items[0];
  if (first === undefined)
    throw new HpError('E_ARG', `${fn}: empty batch: expected at least one item, got 0`);
  for (const it of items) {
    if (it.height !== first.height || it.width !== first.width) {
      throw new HpError(
        'E_SHAPE',
        `${fn}: items have different sizes: expected all ${first.height}x${first.width}, got ${it.height}x${it.width} (item ${it.id}). Apply trainView/evalView first.`,
      );
    }
  }
  return [first.height, first.width];
}

/** Stacks item images into float32 `[B, H, W, 3]`, ImageNet-normalised (default) or in `[0,1]`. */
export function stackImages(
  items: readonly DatasetItem[],
  options: { normalize?: boolean } = {},
): { data: Float32Array; shape: [number, number, number, 3] } {
  const [h, w] = commonSize('stackImages', items);
  const per = h * w * 3;
  const data = new Float32Array(items.length * per);
  items.forEach((it, b) => {
    if (options.normalize === false) {
      for (let i = 0; i < per; i++) data[b * per + i] = it.image[i]! / 255;
    } else {
      data.set(imagenetNormalize(it.image), b * per);
    }
  });
  return { data, shape: [items.length, h, w, 3] };
}

/** Stacks item labels into int32 `[B, H, W]` (`-1` = ignore). */
export function stackLabels(items: readonly DatasetItem[]): {
  data: Int32Array;
  shape: [number, number, number];
} {
  const [h, w] = commonSize('stackLabels', items);
  const data = new Int32Array(items.length * h * w);
  items.forEach((it, b) => {
    data.set(it.label, b * h * w);
  });
  return { data, shape: [items.length, h, w] };
}
