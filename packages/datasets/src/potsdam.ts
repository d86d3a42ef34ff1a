import { join } from 'node:path';
import { HpError } from '@hpseg/core';
import { type FileEntry, fileDataset } from './file-dataset.js';
import { checkSplit, missingFileProblems, readListFile, requireDir } from './fs-utils.js';
import type { RawLabel, RgbImage } from './image-io.js';
import { readBytes } from './image-io.js';
import { buildLookup } from './label-map.js';
import { POTSDAM_FINE_TO_COARSE, POTSDAM3_CLASS_NAMES, POTSDAM6_CLASS_NAMES } from './label-maps/potsdam.js';
import { getMatArray, type MatArray, readMat } from './mat.js';
import type { VerifiableDataset, VerifyProblem } from './verify-types.js';

export const POTSDAM_LAYOUT = `<root>/labelled_train.txt   (split 'train': one tile id per line)
<root>/labelled_test.txt    (split 'val')
<root>/imgs/<id>.mat        (variable "img": H x W x C, RGB-IR; the first 3 channels are used)
<root>/gt/<id>.mat          (variable "gt": H x W, labels 0..5, 255 = ignore)`;

const SPLIT_LISTS = { train: 'labelled_train.txt', val: 'labelled_test.txt' } as const;

/** 6 raw classes → 3 (`{0,4}→0, {1,5}→1, {2,3}→2`); 255 and unknown values → −1. */
export const POTSDAM3_LOOKUP: Int32Array = buildLookup(
  POTSDAM_FINE_TO_COARSE.map((c, f) => [f, c] as const),
  255,
);
/** The 6 raw classes unchanged; 255 and unknown values → −1. */
export const POTSDAM6_LOOKUP: Int32Array = buildLookup(
  POTSDAM6_CLASS_NAMES.map((_, f) => [f, f] as const),
  255,
);

/**
 * The image of a Potsdam tile as RGB uint8: the first 3 channels of "img" (H×W×C). uint8 is taken
 * as is; float arrays are treated like torchvision's `to_pil_image` does (`x·255`, truncated).
 */
export function potsdamImageFromMat(a: MatArray, source = ''): RgbImage {
  if (a.shape.length !== 3 || a.shape[2]! < 3) {
    throw new HpError(
      'E_FORMAT',
      `potsdam3: image array has the wrong shape${source ? ` in ${source}` : ''}: expected [H, W, C>=3], got [${a.shape.join(', ')}]`,
    );
  }
  const [h, w, c] = a.shape as [number, number, number];
  const isFloat = a.className === 'double' || a.className === 'single';
  if (!isFloat && a.className !== 'uint8') {
    throw new HpError(
      'E_FORMAT',
      `potsdam3: image array has an unsupported class${source ? ` in ${source}` : ''}: expected uint8, single or double, got ${a.className}`,
    );
  }
  const data = new Uint8Array(h * w * 3);
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < 3; k++) {
      const v = a.data[p * c + k]!;
      data[p * 3 + k] = isFloat ? Math.max(0, Math.min(255, Math.trunc(v * 255))) : v;
    }
  }
  return { data, height: h, width: w };
}

/** The label of a Potsdam tile: "gt" (H×W, integer values). */
export function potsdamLabelFromMat(a: MatArray, source = ''): RawLabel {
  const shape = a.shape.length === 3 && a.shape[2] === 1 ? a.shape.slice(0, 2) : a.shape;
  if (shape.length !== 2) {
    throw new HpError(
      'E_FORMAT',
      `potsdam3: label array has the wrong shape${source ? ` in ${source}` : ''}: expected [H, W], got [${a.shape.join(', ')}]`,
    );
  }
  const data = new Uint16Array(a.data.length);
  for (let i = 0; i < data.length; i++) {
    const v = a.data[i]!;
    data[i] = Number.isInteger(v) && v >= 0 && v <= 65535 ? v : 65535; // non-integers → unknown (−1)
  }
  return { data, height: shape[0]!, width: shape[1]! };
}

async function readMatFile(path: string): Promise<ReturnType<typeof readMat>> {
  return readMat(await readBytes('potsdam3', path), path);
}

export interface PotsdamOptions {
  /** The Potsdam folder (contains `imgs/`, `gt/` and the list files). */
  root: string;
  split: 'train' | 'val';
  /** `'coarse'` (default): the 3 classes of Potsdam-3; `'fine'`: the 6 raw ISPRS classes. */
  labels?: 'coarse' | 'fine';
}

/**
 * Potsdam-3 (official-behaviour §6.3): tiles listed in `labelled_train.txt` / `labelled_test.txt`, read from
 * MATLAB v5 files. Unknown label values (not 0..5 or 255) are read as −1 and reported by
 * `verifyDataset` (the official code maps them to class 0).
 */
export async function potsdam3(options: PotsdamOptions): Promise<VerifiableDataset> {
  const fn = 'potsdam3';
  const { root, split, labels = 'coarse' } = options;
  checkSplit(fn, split);
  if (labels !== 'coarse' && labels !== 'fine')
    throw new HpError(
      'E_ARG',
      `${fn}: unknown labels: expected 'coarse' or 'fine', got ${JSON.stringify(labels)}`,
    );
  await requireDir(fn, root, 'Potsdam root', POTSDAM_LAYOUT);
  const ids = await readListFile(fn, join(root, SPLIT_LISTS[split]), POTSDAM_LAYOUT);
  const entries: FileEntry[] = ids.map((id) => ({
    id,
    image: join(root, 'imgs', `${id}.mat`),
    label: join(root, 'gt', `${id}.mat`),
  }));
  const layoutProblems: VerifyProblem[] = await missingFileProblems(entries);
  const fine = labels === 'fine';
  return fileDataset({
    name: `${fine ? 'potsdam6' : 'potsdam3'}-${split}`,
    root,
    numClasses: fine ? 6 : 3,
    classNames: fine ? POTSDAM6_CLASS_NAMES : POTSDAM3_CLASS_NAMES,
    entries,
    // The split sizes are not fixed by the official code: the list files are the reference.
    expectedLength: ids.length,
    layoutProblems,
    lut: fine ? POTSDAM6_LOOKUP : POTSDAM3_LOOKUP,
    ignoreValues: [255],
    readImage: async (path) => potsdamImageFromMat(getMatArray(await readMatFile(path), 'img', path), path),
    readLabel: async (path) => potsdamLabelFromMat(getMatArray(await readMatFile(path), 'gt', path), path),
  });
}
