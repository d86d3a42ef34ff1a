import { join } from 'node:path';
import { HpError } from '@hpseg/core';
import { type FileEntry, fileDataset } from './file-dataset.js';
import { fiveCropDataset } from './five-crop-dataset.js';
import { checkSplit, listDir, requireDir } from './fs-utils.js';
import { buildLookup } from './label-map.js';
import {
  CITYSCAPES_FIRST_LABEL_ID,
  CITYSCAPES_LAST_LABEL_ID,
  CITYSCAPES27_CLASS_NAMES,
} from './label-maps/cityscapes.js';
import type { VerifiableDataset, VerifyProblem } from './verify-types.js';

/** Published split sizes (fine annotations). */
export const CITYSCAPES_SIZES = { train: 2_975, val: 500 } as const;

export const CITYSCAPES_LAYOUT = `<root>/leftImg8bit/{train,val}/<city>/<name>_leftImg8bit.png
<root>/gtFine/{train,val}/<city>/<name>_gtFine_labelIds.png      (labelIds 0..33)
<root>/cropped/cityscapes_five_crop_0.5/{img,label}/{train,val}/<n>.{jpg,png}   (crop: 'five')`;

/** labelId → class (`labelId − 7`; 0–6 → −1; ids above 33 → −1 and reported by verify). */
export const CITYSCAPES_LOOKUP: Int32Array = buildLookup(
  Array.from(
    { length: CITYSCAPES_LAST_LABEL_ID - CITYSCAPES_FIRST_LABEL_ID + 1 },
    (_, k) => [k + CITYSCAPES_FIRST_LABEL_ID, k] as const,
  ),
  255,
);

export interface CityscapesOptions {
  /** The Cityscapes folder (contains `leftImg8bit/` and `gtFine/`). */
  root: string;
  split: 'train' | 'val';
  /** `'five'` reads the five-crop set under `cropped/`; `null` (default) the full images. */
  crop?: 'five' | null;
}

/**
 * Cityscapes-27 (official-behaviour §6.2): fine annotations, `class = labelId − 7`, labelIds 0–6 ignored.
 * Images are listed city by city in sorted order (torchvision uses `os.listdir` order, which is
 * file-system dependent).
 */
export async function cityscapes27(options: CityscapesOptions): Promise<VerifiableDataset> {
  const fn = 'cityscapes27';
  const { root, split, crop = null } = options;
  checkSplit(fn, split);
  if (crop === 'five') {
    return fiveCropDataset({
      root,
      name: 'cityscapes',
      split,
      numClasses: 27,
      classNames: CITYSCAPES27_CLASS_NAMES,
      expectedLength: CITYSCAPES_SIZES[split] * 5,
    });
  }
  if (crop !== null)
    throw new HpError('E_ARG', `${fn}: unknown crop: expected 'five' or null, got ${JSON.stringify(crop)}`);
  const imgRoot = join(root, 'leftImg8bit', split);
  const gtRoot = join(root, 'gtFine', split);
  await requireDir(fn, imgRoot, 'Cityscapes image folder', CITYSCAPES_LAYOUT);
  await requireDir(fn, gtRoot, 'Cityscapes gtFine folder', CITYSCAPES_LAYOUT);
  const entries: FileEntry[] = [];
  const layoutProblems: VerifyProblem[] = [];
  const suffix = '_leftImg8bit.png';
  const gtSuffix = '_gtFine_labelIds.png';
  const cities = new Set([...(await listDir(imgRoot)), ...(await listDir(gtRoot))]);
  for (const city of [...cities].sort()) {
    const images = (await listDir(join(imgRoot, city))).filter((f) => f.endsWith(suffix));
    const gts = new Set((await listDir(join(gtRoot, city))).filter((f) => f.endsWith(gtSuffix)));
    for (const file of images) {
      const stem = file.slice(0, -suffix.length);
      const gt = `${stem}${gtSuffix}`;
      const label = join(gtRoot, city, gt);
      if (!gts.has(gt)) {
        layoutProblems.push({
          kind: 'missing',
          id: stem,
          path: label,
          message: `no gtFine labelIds for image ${city}/${file}`,
        });
      }
      gts.delete(gt);
      entries.push({ id: stem, image: join(imgRoot, city, file), label });
    }
    for (const gt of gts) {
      layoutProblems.push({
        kind: 'missing',
        id: gt.slice(0, -gtSuffix.length),
        path: join(gtRoot, city, gt),
        message: `label ${city}/${gt} has no image`,
      });
    }
  }
  return fileDataset({
    name: `cityscapes27-${split}`,
    root,
    numClasses: 27,
    classNames: CITYSCAPES27_CLASS_NAMES,
    entries,
    expectedLength: CITYSCAPES_SIZES[split],
    layoutProblems,
    lut: CITYSCAPES_LOOKUP,
    ignoreValues: Array.from({ length: CITYSCAPES_FIRST_LABEL_ID }, (_, i) => i),
  });
}
