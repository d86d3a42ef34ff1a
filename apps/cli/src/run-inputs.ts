import { access, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { HpError } from '@hpseg/core';
import type { HpConfig } from '@hpseg/hidden-positives';
import {
  type BackboneSpec,
  type DatasetSpec,
  type LoadInferenceModelOptions,
  RUN_PRESETS,
  type RunPreset,
  resolveRunConfig,
  SYNTHETIC_VIT,
  syntheticSpecs,
} from '@hpseg/train';
import type { FlagValues } from './args.js';
import { engineFlag, intFlag, optionalString } from './args.js';
import { engineOptions } from './engine-options.js';

export function checkPreset(value: string | undefined, command: string): RunPreset {
  if (value === undefined) {
    throw new HpError(
      'E_ARG',
      `hpseg ${command}: missing --preset: expected one of ${RUN_PRESETS.join(', ')}, got none`,
      { hint: `hpseg ${command} --help` },
    );
  }
  if (!(RUN_PRESETS as readonly string[]).includes(value)) {
    throw new HpError(
      'E_ARG',
      `hpseg ${command}: unknown preset: expected one of ${RUN_PRESETS.join(', ')}, got ${JSON.stringify(value)}`,
      { hint: 'presets are the official HP configurations; `synthetic` needs no files' },
    );
  }
  return value as RunPreset;
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
      { hint: 'download the dataset (see README: "Data") and pass its root folder with --data-dir' },
    );
  }
  return dir;
}

/** The JSON of `--config` (an official HP file or a partial camelCase override). */
async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new HpError(
      'E_NOT_FOUND',
      `config: cannot read ${path}: expected a JSON file, got ${(error as Error).message}`,
      { cause: error },
    );
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new HpError('E_CONFIG', `config: ${path} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** `--config` applied to a preset (`resolveRunConfig` of @hpseg/train). */
export async function configFromFlags(preset: RunPreset, values: FlagValues): Promise<HpConfig> {
  const path = optionalString(values, 'config');
  return resolveRunConfig(preset, path === undefined ? undefined : await readConfigFile(path));
}

export interface RunInputs {
  readonly preset: RunPreset;
  readonly config: HpConfig;
  readonly dataset: DatasetSpec;
  readonly validation: DatasetSpec | null;
  readonly backbone: BackboneSpec;
}

/** --preset, --config, --data-dir, --weights and --vit-heads of `train` and `features`, validated. */
export async function resolveRunInputs(
  values: FlagValues,
  command: string,
  seed: number,
): Promise<RunInputs> {
  const preset = checkPreset(optionalString(values, 'preset'), command);
  const heads = intFlag(values, 'vit-heads', command, 0, 0);
  const file = (path: string): BackboneSpec => ({
    kind: 'file',
    path: resolve(path),
    ...(heads > 0 ? { numHeads: heads } : {}),
  });
  const config = await configFromFlags(preset, values);
  const weights = optionalString(values, 'weights');
  if (preset === 'synthetic') {
    const specs = syntheticSpecs(seed);
    return {
      preset,
      config,
      dataset: specs.train,
      validation: specs.val,
      backbone: weights ? file(weights) : { kind: 'random', config: { ...SYNTHETIC_VIT }, seed },
    };
  }
  const dataDir = resolve(await checkDataDir(optionalString(values, 'data-dir'), command));
  if (!weights) {
    throw new HpError(
      'E_ARG',
      `hpseg ${command}: missing --weights: expected DINO weights (.pth), got none`,
      {
        hint: 'hpseg weights fetch vits8 (ViT-S/8, the official COCO-Stuff/Cityscapes backbone)',
      },
    );
  }
  return {
    preset,
    config,
    dataset: { kind: 'preset', preset, dataDir },
    validation: { kind: 'preset', preset, dataDir },
    backbone: file(weights),
  };
}

/** `loadInferenceModel` options from a command's `--engine`, `--vit-heads` and `--weights` flags. */
export function inferenceModelFlags(values: FlagValues, command: string): LoadInferenceModelOptions {
  const engine = engineFlag(values, command);
  const heads = intFlag(values, 'vit-heads', command, 0, 0);
  const weights = optionalString(values, 'weights');
  return {
    backbone: { ...engineOptions(engine), ...(heads > 0 ? { numHeads: heads } : {}) },
    ...(weights ? { weights: resolve(weights) } : {}),
  };
}
