import { join } from 'node:path';
import { HpError } from '@hpseg/core';
import { fileDataset } from './file-dataset.js';
import { checkSplit, listDir, requireDir } from './fs-utils.js';
import type { VerifiableDataset, VerifyProblem } from './verify-types.js';

/** Folder of a five-crop set: `<root>/cropped/<name>_five_crop_<ratio>` (ratio printed like Python, `0.5`). */
export function fiveCropDir(root: string, name: string, ratio = 0.5): string {
  return join(root, 'cropped', `${name}_five_crop_${String(ratio)}`);
}

export interface FiveCropDatasetOptions {
  /** Dataset root (the folder that contains `cropped/`). */
  root: string;
  /** Dataset name in the folder name: `cocostuff27`, `cityscapes`, or your own. */
  name: string;
  split: 'train' | 'val';
  numClasses: number;
  classNames: readonly string[];
  /** Crop ratio in the folder name. Default 0.5. */
  ratio?: number;
  /** Published number of crops of this split, when known. */
  expectedLength?: number;
}

/**
 * Reads `cropped/<name>_five_crop_<ratio>/{img,label}/<split>/<n>.{jpg,png}` (official-behaviour §6.4): items
 * `n = 0..count-1`, labels stored as class + 1 (0 = ignore) and returned with −1 = ignore.
 */
export async function fiveCropDataset(options: FiveCropDatasetOptions): Promise<VerifiableDataset> {
  const fn = 'fiveCropDataset';
  const { root, name, split, numClasses, classNames, ratio = 0.5 } = options;
  checkSplit(fn, split);
  if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 255) {
    throw new HpError(
      'E_ARG',
      `${fn}: numClasses must be in [1, 255] (labels are stored as uint8 class + 1): expected 1..255, got ${String(numClasses)}`,
    );
  }
  const dir = fiveCropDir(root, name, ratio);
  const layout = `${dir}/img/${split}/<n>.jpg\n${dir}/label/${split}/<n>.png   (n = 0, 1, ...; create with prepareFiveCrop)`;
  const imgDir = join(dir, 'img', split);
  const labelDir = join(dir, 'label', split);
  await requireDir(fn, imgDir, 'five-crop image folder', layout);
  await requireDir(fn, labelDir, 'five-crop label folder', layout);
  const imgs = new Set((await listDir(imgDir)).filter((f) => f.endsWith('.jpg')));
  const labels = new Set((await listDir(labelDir)).filter((f) => f.endsWith('.png')));
  const layoutProblems: VerifyProblem[] = [];
  if (imgs.size !== labels.size) {
    layoutProblems.push({
      kind: 'count',
      message: `${name} five-crop ${split}: ${imgs.size} images but ${labels.size} labels`,
    });
  }
  // Files are named 0..count-1 (the official reader indexes by position, so gaps break it).
  const count = imgs.size;
  const entries = [];
  for (let n = 0; n < count; n++) {
    const image = join(imgDir, `${n}.jpg`);
    const label = join(labelDir, `${n}.png`);
    if (!imgs.has(`${n}.jpg`))
      layoutProblems.push({
        kind: 'missing',
        id: String(n),
        path: image,
        message: `image ${n}.jpg missing (files must be numbered 0..${count - 1})`,
      });
    if (!labels.has(`${n}.png`))
      layoutProblems.push({ kind: 'missing', id: String(n), path: label, message: `label ${n}.png missing` });
    entries.push({ id: String(n), image, label });
  }
  const lut = new Int32Array(256).fill(-1);
  for (let k = 0; k < numClasses; k++) lut[k + 1] = k;
  return fileDataset({
    name: `${name}-five-crop-${split}`,
    root,
    numClasses,
    classNames,
    entries,
    ...(options.expectedLength === undefined ? {} : { expectedLength: options.expectedLength }),
    layoutProblems,
    lut,
    ignoreValues: [0],
  });
}
