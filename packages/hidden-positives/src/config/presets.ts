import { type HpConfig, HpConfigSchema } from './schema.js';

/**
 * The three official training configurations (`hynnsk/HP` `json/server/{cocostuff,cityscapes,potsdam}.json`,
 * values as listed in official-behaviour §4.6). The schema defaults are the COCO-Stuff values, so each preset
 * only states what differs; `test/config.test.ts` compares `toOfficialJson(preset)` with the full
 * official files.
 */
const cocostuff27: HpConfig = HpConfigSchema.parse({});

const cityscapes: HpConfig = HpConfigSchema.parse({
  dataset: { dataType: 'cityscapes', dataPath: '/DATA/seg/cityscapes' },
  temperature: 0.6,
  renewInterval: 20,
  model: { momentum: 0.999, warmup: 50 },
  train: { epochs: 30 },
});

const potsdam: HpConfig = HpConfigSchema.parse({
  dataset: { dataType: 'potsdam', dataPath: '/DATA/seg/potsdam' },
  temperature: 0.4,
  consistencyWeight: 0,
  negativeKeepRatio: 1,
  renewInterval: 20,
  model: { poolSize: 1024, momentum: 0.999, warmup: 100, dim: 256, pretrained: { modelType: 'vit_base' } },
  train: { epochs: 10, validFreq: 50 },
});

export type HpPresetName = 'cocostuff27' | 'cityscapes' | 'potsdam';

/** Official per-dataset configurations, frozen. */
export const HP_PRESETS: Readonly<Record<HpPresetName, Readonly<HpConfig>>> = Object.freeze({
  cocostuff27: deepFreeze(cocostuff27),
  cityscapes: deepFreeze(cityscapes),
  potsdam: deepFreeze(potsdam),
});

export const HP_PRESET_NAMES: readonly HpPresetName[] = ['cocostuff27', 'cityscapes', 'potsdam'];

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
