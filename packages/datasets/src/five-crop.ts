import { join } from 'node:path';
import { HpError, writeFileAtomic } from '@hpseg/core';
import { fiveCropDir } from './five-crop-dataset.js';
import { checkSplit, isNonEmptyFile } from './fs-utils.js';
import { encodeJpeg } from './image-io.js';
import type { Dataset, DatasetItem } from './item.js';
import { encodeGrayPng } from './png.js';
import { centerCropOffsets, cropItem } from './transforms.js';

/** One crop window. */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * The five crops of torchvision `five_crop` for a crop of `(int(H·ratio), int(W·ratio))`, in the
 * order tl, tr, bl, br, center (centre offsets with Python's half-to-even rounding).
 */
export function fiveCropBoxes(height: number, width: number, ratio = 0.5): CropBox[] {
  if (!(ratio > 0 && ratio <= 1))
    throw new HpError(
      'E_ARG',
      `fiveCropBoxes: ratio out of range: expected 0 < ratio <= 1, got ${String(ratio)}`,
    );
  const ch = Math.trunc(height * ratio);
  const cw = Math.trunc(width * ratio);
  if (ch < 1 || cw < 1)
    throw new HpError(
      'E_ARG',
      `fiveCropBoxes: image too small for ratio ${ratio}: expected crops of at least 1x1, got ${ch}x${cw} from ${height}x${width}`,
    );
  const [ct, cl] = centerCropOffsets(height, width, ch, cw);
  return [
    { top: 0, left: 0, height: ch, width: cw },
    { top: 0, left: width - cw, height: ch, width: cw },
    { top: height - ch, left: 0, height: ch, width: cw },
    { top: height - ch, left: width - cw, height: ch, width: cw },
    { top: ct, left: cl, height: ch, width: cw },
  ];
}

/** The five crops of an item (see `fiveCropBoxes`). */
export function fiveCrop(item: DatasetItem, ratio = 0.5): DatasetItem[] {
  return fiveCropBoxes(item.height, item.width, ratio).map((b, k) => ({
    ...cropItem(item, b.top, b.left, b.height, b.width),
    id: `${item.id}#${k}`,
  }));
}

/** Label map stored in a five-crop PNG: class + 1 as uint8, 0 = ignore. */
export function encodeFiveCropLabel(label: Int32Array): Uint8Array {
  const out = new Uint8Array(label.length);
  for (let i = 0; i < label.length; i++) {
    const v = label[i]!;
    if (v < -1 || v > 254)
      throw new HpError(
        'E_VALUE',
        `encodeFiveCropLabel: label value out of range: expected -1..254 (stored as value + 1 in uint8), got ${v}`,
      );
    out[i] = v + 1;
  }
  return out;
}

export interface PrepareFiveCropOptions {
  /** The full-resolution split (e.g. `await cocoStuff27({ root, split: 'train' })`). */
  dataset: Dataset;
  /** Dataset root: output goes to `<root>/cropped/<name>_five_crop_<ratio>/{img,label}/<split>/`. */
  root: string;
  /** `cocostuff27`, `cityscapes`, or your own name. */
  name: string;
  split: 'train' | 'val';
  /** Crop side as a fraction of the image side. Default 0.5 (as HP). */
  ratio?: number;
  /** JPEG quality. Default 75 (PIL's default, as the official script). */
  quality?: number;
  /** Items processed in parallel. Default 2. */
  concurrency?: number;
  onProgress?: (progress: { done: number; total: number; written: number; skipped: number }) => void;
}

export interface PrepareFiveCropResult {
  /** Folder written. */
  dir: string;
  /** Source items processed now. */
  written: number;
  /** Source items whose 5 crops already existed (resumed run). */
  skipped: number;
  /** Crops on disk for this split (5 per item). */
  crops: number;
}

/**
 * Writes the five-crop set of a split exactly as official-behaviour §6.4 (STEGO `crop_datasets.py`; HP's copy is
 * broken): crop `(int(H·r), int(W·r))`, order tl, tr, bl, br, center, file `n = item·5 + k`, image
 * as JPEG (quality 75, 4:2:0), label + 1 as 8-bit PNG (0 = ignore). Every file is written
 * atomically; items whose 10 files all exist are skipped, so an interrupted run resumes.
 */
export async function prepareFiveCrop(options: PrepareFiveCropOptions): Promise<PrepareFiveCropResult> {
  const fn = 'prepareFiveCrop';
  const { dataset, root, name, split, ratio = 0.5, quality = 75, concurrency = 2, onProgress } = options;
  checkSplit(fn, split);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new HpError(
      'E_ARG',
      `${fn}: concurrency must be a positive integer: expected >= 1, got ${String(concurrency)}`,
    );
  if (!/^[\w.-]+$/.test(name))
    throw new HpError(
      'E_ARG',
      `${fn}: bad dataset name: expected letters, digits, '_', '-', '.', got ${JSON.stringify(name)}`,
    );
  const dir = fiveCropDir(root, name, ratio);
  const imgDir = join(dir, 'img', split);
  const labelDir = join(dir, 'label', split);
  const total = dataset.length;
  let done = 0;
  let written = 0;
  let skipped = 0;
  let next = 0;
  const paths = (i: number) =>
    [0, 1, 2, 3, 4].map((k) => ({
      img: join(imgDir, `${i * 5 + k}.jpg`),
      label: join(labelDir, `${i * 5 + k}.png`),
    }));
  const processItem = async (i: number): Promise<void> => {
    const out = paths(i);
    const exists = await Promise.all(out.flatMap((p) => [isNonEmptyFile(p.img), isNonEmptyFile(p.label)]));
    if (exists.every(Boolean)) {
      skipped++;
      return;
    }
    const item = await dataset.get(i);
    const crops = fiveCrop(item, ratio);
    for (let k = 0; k < 5; k++) {
      const c = crops[k]!;
      const p = out[k]!;
      await writeFileAtomic(p.label, encodeGrayPng(encodeFiveCropLabel(c.label), c.height, c.width));
      await writeFileAtomic(p.img, await encodeJpeg(c.image, c.height, c.width, quality));
    }
    written++;
  };
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      await processItem(i);
      done++;
      onProgress?.({ done, total, written, skipped });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, total)) }, worker));
  return { dir, written, skipped, crops: total * 5 };
}
