import { resolve } from 'node:path';
import { HpError } from '@hpseg/core';
import type { HpConfig } from '@hpseg/hidden-positives';
import type { FlagValues } from './args.js';
import { intFlag, optionalString } from './args.js';
import { resolveRunConfig, SYNTHETIC_VIT } from './config.js';
import { checkDataDir, checkPreset, type PresetName, syntheticSpecs } from './data-source.js';
import type { BackboneSpec, DatasetSpec } from './train/checkpoint.js';

export interface RunInputs {
  readonly preset: PresetName;
  readonly config: HpConfig;
  readonly dataset: DatasetSpec;
  readonly validation: DatasetSpec | null;
  readonly backbone: BackboneSpec;
}

/** --preset, --config, --data-dir and --weights of `train` and `features`, validated. */
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
  const config = await resolveRunConfig(preset, optionalString(values, 'config'));
  const weights = optionalString(values, 'weights');
  if (preset === 'synthetic') {
    const specs = syntheticSpecs(seed);
    return {
      preset,
      config,
      dataset: specs.train,
      validation: specs.val,
      backbone: weights ? file(weights) : { kind: 'random', config: SYNTHETIC_VIT, seed },
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
