import { HpError } from '@hpseg/core';
import { cityscapes27 } from './cityscapes.js';
import { cocoStuff27 } from './coco-stuff.js';
import { imageFolder } from './image-folder.js';
import type { Dataset } from './item.js';
import { potsdam3 } from './potsdam.js';
import { syntheticDataset } from './synthetic.js';

/** Names accepted by `openDataset` (the official `data_type` values plus ours). */
export const DATASET_NAMES = [
  'cocostuff27',
  'cityscapes',
  'potsdam',
  'potsdam6',
  'folder',
  'synthetic',
] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

export interface OpenDatasetOptions {
  name: DatasetName;
  /** Dataset folder (official datasets) or image folder (`folder`). Not used by `synthetic`. */
  root?: string;
  split?: 'train' | 'val';
  /** `'five'` for the five-crop set (COCO-Stuff and Cityscapes only, as HP trains). */
  crop?: 'five' | null;
  /** `folder`: label folder. */
  labels?: string;
  /** `folder`: class names. */
  classNames?: readonly string[];
  /** `synthetic`: seed, length, size, numClasses. */
  seed?: number;
  length?: number;
  size?: number;
  numClasses?: number;
}

/** Opens a dataset by name, for CLIs and configs: one entry point over every loader of this package. */
export async function openDataset(options: OpenDatasetOptions): Promise<Dataset> {
  const { name, root, split = 'train', crop = null } = options;
  const needRoot = (): string => {
    if (typeof root !== 'string' || root === '') {
      throw new HpError(
        'E_ARG',
        `openDataset: ${name} needs a root folder: expected a path, got ${JSON.stringify(root)}`,
      );
    }
    return root;
  };
  const noCrop = (): void => {
    if (crop !== null)
      throw new HpError(
        'E_ARG',
        `openDataset: ${name} has no five-crop set: expected crop null, got ${JSON.stringify(crop)}`,
      );
  };
  switch (name) {
    case 'cocostuff27':
      return cocoStuff27({ root: needRoot(), split, crop });
    case 'cityscapes':
      return cityscapes27({ root: needRoot(), split, crop });
    case 'potsdam':
    case 'potsdam6':
      noCrop();
      return potsdam3({ root: needRoot(), split, labels: name === 'potsdam6' ? 'fine' : 'coarse' });
    case 'folder':
      noCrop();
      return imageFolder({
        images: needRoot(),
        ...(options.labels === undefined ? {} : { labels: options.labels }),
        ...(options.classNames === undefined ? {} : { classNames: options.classNames }),
        ...(options.numClasses === undefined ? {} : { numClasses: options.numClasses }),
      });
    case 'synthetic':
      noCrop();
      return syntheticDataset({
        ...(options.seed === undefined ? {} : { seed: options.seed }),
        ...(options.length === undefined ? {} : { length: options.length }),
        ...(options.size === undefined ? {} : { size: options.size }),
        ...(options.numClasses === undefined ? {} : { numClasses: options.numClasses }),
      });
    default:
      throw new HpError(
        'E_ARG',
        `openDataset: unknown dataset: expected one of ${DATASET_NAMES.join(', ')}, got ${JSON.stringify(name)}`,
      );
  }
}
