import { extname, join } from 'node:path';
import { HpError } from '@hpseg/core';
import { type FileEntry, fileDataset } from './file-dataset.js';
import { listDir, requireDir } from './fs-utils.js';
import { buildLookup } from './label-map.js';
import type { VerifiableDataset, VerifyProblem } from './verify-types.js';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.bmp']);

export interface ImageFolderOptions {
  /** Folder of images (`.jpg .jpeg .png .webp .tif .tiff`), read in sorted name order. */
  images: string;
  /** Optional folder of label PNGs named `<image stem>.png` (class ids; `ignoreValue` = ignore). */
  labels?: string;
  /** Class names; their count is the number of classes. */
  classNames?: readonly string[];
  /** Number of classes when no names are given (required with `labels` and no `classNames`). */
  numClasses?: number;
  /** Raw label value meaning "ignore". Default 255. */
  ignoreValue?: number;
  /** Name used in reports. Default 'image-folder'. */
  name?: string;
}

/**
 * Your own data: a folder of images, optionally with label PNGs (values `0..K-1`, `ignoreValue` →
 * −1). Without labels every pixel is −1 (for unsupervised training or prediction).
 */
export async function imageFolder(options: ImageFolderOptions): Promise<VerifiableDataset> {
  const fn = 'imageFolder';
  const { images, labels, classNames, ignoreValue = 255, name = 'image-folder' } = options;
  const layout = `${images}/<name>.{jpg,png,...}${labels ? `\n${labels}/<name>.png   (class ids 0..K-1, ${ignoreValue} = ignore)` : ''}`;
  await requireDir(fn, images, 'image folder', layout);
  if (labels !== undefined) await requireDir(fn, labels, 'label folder', layout);
  const numClasses = classNames?.length ?? options.numClasses ?? 0;
  if (labels !== undefined && numClasses < 1) {
    throw new HpError(
      'E_ARG',
      `${fn}: number of classes unknown: expected classNames or numClasses >= 1 with labels, got ${String(options.numClasses)}`,
    );
  }
  if (
    classNames !== undefined &&
    options.numClasses !== undefined &&
    options.numClasses !== classNames.length
  ) {
    throw new HpError(
      'E_ARG',
      `${fn}: numClasses disagrees with classNames: expected ${classNames.length}, got ${options.numClasses}`,
    );
  }
  if (
    !Number.isInteger(ignoreValue) ||
    ignoreValue < 0 ||
    ignoreValue > 65535 ||
    (ignoreValue < numClasses && labels !== undefined)
  ) {
    throw new HpError(
      'E_ARG',
      `${fn}: ignoreValue must be an integer in [numClasses, 65535]: expected ${numClasses}..65535, got ${String(ignoreValue)}`,
    );
  }
  const files = (await listDir(images)).filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase()));
  if (files.length === 0)
    throw new HpError('E_DATASET', `${fn}: no images found: expected image files in ${images}, got none`);
  const layoutProblems: VerifyProblem[] = [];
  const labelFiles = labels === undefined ? undefined : new Set(await listDir(labels));
  const entries: FileEntry[] = files.map((f) => {
    const id = f.slice(0, f.length - extname(f).length);
    if (labels === undefined || labelFiles === undefined) return { id, image: join(images, f) };
    const label = join(labels, `${id}.png`);
    if (!labelFiles.has(`${id}.png`))
      layoutProblems.push({ kind: 'missing', id, path: label, message: `no label ${id}.png for image ${f}` });
    labelFiles.delete(`${id}.png`);
    return { id, image: join(images, f), label };
  });
  for (const extra of labelFiles ?? []) {
    if (extra.endsWith('.png'))
      layoutProblems.push({
        kind: 'missing',
        id: extra.slice(0, -4),
        message: `label ${extra} has no image`,
      });
  }
  return fileDataset({
    name,
    root: images,
    numClasses,
    classNames: classNames ?? Array.from({ length: numClasses }, (_, k) => `class-${k}`),
    entries,
    layoutProblems,
    lut: buildLookup(Array.from({ length: numClasses }, (_, k) => [k, k] as const)),
    ignoreValues: [ignoreValue],
  });
}
