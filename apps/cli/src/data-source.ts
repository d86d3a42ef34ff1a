import { access } from 'node:fs/promises';
import { HpError } from '@hpseg/core';
import { cityscapes27, cocoStuff27, type Dataset, potsdam3, syntheticDataset } from '@hpseg/datasets';
import type { DatasetSpec } from './train/checkpoint.js';

export const PRESETS = ['cocostuff27', 'cityscapes', 'potsdam', 'synthetic'] as const;
export type PresetName = (typeof PRESETS)[number];

export function checkPreset(value: string | undefined, command: string): PresetName {
  if (value === undefined) {
    throw new HpError(
      'E_ARG',
      `hpseg ${command}: missing --preset: expected one of ${PRESETS.join(', ')}, got none`,
      {
        hint: `hpseg ${command} --help`,
      },
    );
  }
  if (!(PRESETS as readonly string[]).includes(value)) {
    throw new HpError(
      'E_ARG',
      `hpseg ${command}: unknown preset: expected one of ${PRESETS.join(', ')}, got ${JSON.stringify(value)}`,
      { hint: 'presets are the official HP configurations; `synthetic` needs no files' },
    );
  }
  return value as PresetName;
}

/** Throws `E_NOT_FOUND` with a hint when the data folder is missing. */
export async function checkDataDir(dir: string | undefined, command: string): Promise<string> {
  if (dir === undefined) {
    throw new HpError(
      'E_ARG',
      `hpseg ${command}: missing --data-dir: expected the dataset folder, got none`,
      {
        hint: `hpseg ${command} --help`,
      },
    );
  }
  try {
    await access(dir);
  } catch {
    throw new HpError(
      'E_NOT_FOUND',
      `hpseg ${command}: data folder not found: expected an existing folder, got ${dir}`,
      {
        hint: 'download the dataset (see README: "Data") and pass its root folder with --data-dir',
      },
    );
  }
  return dir;
}

/** Default synthetic sets: training and validation differ only by seed. */
export function syntheticSpecs(
  seed: number,
  options: { length?: number; valLength?: number; size?: number; numClasses?: number } = {},
) {
  const size = options.size ?? 64;
  const numClasses = options.numClasses ?? 4;
  const train: DatasetSpec = {
    kind: 'synthetic',
    seed: seed * 2 + 1,
    length: options.length ?? 64,
    size,
    numClasses,
  };
  const val: DatasetSpec = {
    kind: 'synthetic',
    seed: seed * 2 + 2,
    length: options.valLength ?? 16,
    size,
    numClasses,
  };
  return { train, val };
}

/** Opens the dataset a spec names; `split` picks train or val for the official presets. */
export async function openDataset(spec: DatasetSpec, split: 'train' | 'val'): Promise<Dataset> {
  if (spec.kind === 'synthetic') {
    return syntheticDataset({
      seed: spec.seed,
      length: spec.length,
      size: spec.size,
      numClasses: spec.numClasses,
    });
  }
  // Training reads the five-crop set (COCO-Stuff, Cityscapes), evaluation the full val images (spec §4.2, §5).
  const crop = split === 'train' ? 'five' : null;
  switch (spec.preset) {
    case 'cocostuff27':
      return cocoStuff27({ root: spec.dataDir, split, crop });
    case 'cityscapes':
      return cityscapes27({ root: spec.dataDir, split, crop });
    case 'potsdam':
      return potsdam3({ root: spec.dataDir, split });
    default:
      throw new HpError(
        'E_ARG',
        `openDataset: unknown preset: expected cocostuff27, cityscapes or potsdam, got ${JSON.stringify(spec.preset)}`,
      );
  }
}
