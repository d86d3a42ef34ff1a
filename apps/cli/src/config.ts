import { readFile } from 'node:fs/promises';
import { HpError } from '@hpseg/core';
import { fromOfficialJson, type HpConfig, type HpPresetName, resolveHpConfig } from '@hpseg/hidden-positives';
import type { PresetName } from './data-source.js';

/**
 * The configuration of the `synthetic` preset: the COCO-Stuff-27 file scaled down to the
 * 64-pixel synthetic images and a small random ViT (patch 8 → 8×8 grid). Every other field keeps
 * its official value.
 */
export const SYNTHETIC_OVERRIDES = {
  dataset: { res: 64 },
  dataloader: { batchSize: 8 },
  model: { poolSize: 64, dim: 64, warmup: 20 },
  renewInterval: 20,
  negativeKeepRatio: 1,
  train: { validFreq: 100, epochs: 1 },
} as const;

/** The ViT of `--preset synthetic` when no --weights are given: small and randomly initialised. */
export const SYNTHETIC_VIT = {
  embedDim: 64,
  depth: 2,
  numHeads: 4,
  patchSize: 8,
  trainedGrid: 8,
  mlpRatio: 4,
};

async function readJson(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new HpError(
      'E_NOT_FOUND',
      `config: cannot read ${path}: expected a JSON file, got ${(error as Error).message}`,
      {
        cause: error,
      },
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

/** True for a file in the official HP layout (`tau`, `dataloader.batch_size`, ...). */
function isOfficialLayout(json: Record<string, unknown>): boolean {
  return 'tau' in json || 'rho' in json || 'renew_interval' in json;
}

/**
 * Preset, then the `--config` file: an official HP JSON (read with `fromOfficialJson`, so every
 * official key is accepted) or a partial camelCase override of the preset. Validated once.
 */
export async function resolveRunConfig(
  preset: PresetName,
  configPath: string | undefined,
): Promise<HpConfig> {
  const base: HpPresetName = preset === 'synthetic' ? 'cocostuff27' : preset;
  const presetOverrides = preset === 'synthetic' ? SYNTHETIC_OVERRIDES : {};
  if (configPath === undefined) return resolveHpConfig(presetOverrides as Record<string, unknown>, base);
  const json = await readJson(configPath);
  if (isOfficialLayout(json)) return fromOfficialJson(json);
  const merged = resolveHpConfig(presetOverrides as Record<string, unknown>, base);
  return resolveHpConfig(json, merged);
}
