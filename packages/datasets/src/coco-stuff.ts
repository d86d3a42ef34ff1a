import { join } from 'node:path';
import { HpError } from '@hpseg/core';
import { type FileEntry, fileDataset } from './file-dataset.js';
import { fiveCropDataset } from './five-crop-dataset.js';
import { checkSplit, missingFileProblems, readListFile, requireDir } from './fs-utils.js';
import { buildLookup } from './label-map.js';
import { COCO_FINE_TO_COARSE, COCO27_CLASS_NAMES } from './label-maps/coco.js';
import type { VerifiableDataset, VerifyProblem } from './verify-types.js';

/** Curated list files (PiCIE/STEGO split) and their published sizes (official-behaviour §6.1). */
export const COCO_CURATED = {
  train: { dir: 'train2017', list: 'Coco164kFull_Stuff_Coarse.txt', size: 49_629 },
  val: { dir: 'val2017', list: 'Coco164kFull_Stuff_Coarse_7.txt', size: 2_175 },
} as const;

export const COCO_LAYOUT = `<root>/images/{train2017,val2017}/<id>.jpg
<root>/annotations/{train2017,val2017}/<id>.png        (fine ids 0..181, 255 = unlabelled)
<root>/curated/train2017/Coco164kFull_Stuff_Coarse.txt
<root>/curated/val2017/Coco164kFull_Stuff_Coarse_7.txt
<root>/cropped/cocostuff27_five_crop_0.5/{img,label}/{train,val}/<n>.{jpg,png}   (crop: 'five')`;

/** Raw fine id → coarse class lookup (182 fine ids; 255 and unknown ids → −1). */
export const COCO_LOOKUP: Int32Array = buildLookup(
  COCO_FINE_TO_COARSE.map((c, f) => [f, c] as const),
  255,
);

export interface CocoStuffOptions {
  /** The COCO-Stuff folder (contains `images/`, `annotations/`, `curated/`). */
  root: string;
  split: 'train' | 'val';
  /** `'five'` reads the five-crop set under `cropped/` (as HP trains); `null` (default) the full images. */
  crop?: 'five' | null;
  /** Skip the existence check of every listed file at open time (faster for 49k files). Default false. */
  skipFileCheck?: boolean;
}

/**
 * COCO-Stuff-27 (official-behaviour §6.1): the curated image lists, fine ids mapped to 27 coarse classes,
 * 255 → −1. Fine ids outside 0..181 (not in the official data) are read as −1 and reported by
 * `verifyDataset` (the official code would silently map them to class 0).
 */
export async function cocoStuff27(options: CocoStuffOptions): Promise<VerifiableDataset> {
  const fn = 'cocoStuff27';
  const { root, split, crop = null } = options;
  checkSplit(fn, split);
  if (crop === 'five') {
    return fiveCropDataset({
      root,
      name: 'cocostuff27',
      split,
      numClasses: 27,
      classNames: COCO27_CLASS_NAMES,
      expectedLength: COCO_CURATED[split].size * 5,
    });
  }
  if (crop !== null)
    throw new HpError('E_ARG', `${fn}: unknown crop: expected 'five' or null, got ${JSON.stringify(crop)}`);
  await requireDir(fn, root, 'COCO-Stuff root', COCO_LAYOUT);
  const { dir, list, size } = COCO_CURATED[split];
  const ids = await readListFile(fn, join(root, 'curated', dir, list), COCO_LAYOUT);
  const entries: FileEntry[] = ids.map((id) => ({
    id,
    image: join(root, 'images', dir, `${id}.jpg`),
    label: join(root, 'annotations', dir, `${id}.png`),
  }));
  const layoutProblems: VerifyProblem[] = options.skipFileCheck ? [] : await missingFileProblems(entries);
  return fileDataset({
    name: `cocostuff27-${split}`,
    root,
    numClasses: 27,
    classNames: COCO27_CLASS_NAMES,
    entries,
    expectedLength: size,
    layoutProblems,
    lut: COCO_LOOKUP,
    ignoreValues: [255],
  });
}
