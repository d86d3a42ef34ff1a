import {
  type Backbone,
  type LoadBackboneOptions,
  loadBackbone,
  randomVitWeights,
  type VitConfig,
} from '@hpseg/backbone-vit';
import { HpError } from '@hpseg/core';
import { cityscapes27, cocoStuff27, type Dataset, potsdam3, syntheticDataset } from '@hpseg/datasets';
import { fromOfficialJson, type HpConfig, type HpPresetName, resolveHpConfig } from '@hpseg/hidden-positives';

/**
 * How the frozen backbone of a run is obtained again (resume, eval, segment): a weights file, or
 * seeded random weights (demos and tests). Recorded in every run checkpoint.
 */
export type BackboneSpec =
  | { readonly kind: 'file'; readonly path: string; readonly numHeads?: number }
  | { readonly kind: 'random'; readonly config: Record<string, number>; readonly seed: number };

/** Where a run's data comes from: the seeded synthetic set, or an official dataset folder. */
export type DatasetSpec =
  | {
      readonly kind: 'synthetic';
      readonly seed: number;
      readonly length: number;
      readonly size: number;
      readonly numClasses: number;
    }
  | { readonly kind: 'preset'; readonly preset: string; readonly dataDir: string };

/** The official presets plus `synthetic` (no files: generated images and a small random ViT). */
export const RUN_PRESETS = ['cocostuff27', 'cityscapes', 'potsdam', 'synthetic'] as const;
export type RunPreset = (typeof RUN_PRESETS)[number];

/**
 * The configuration of the `synthetic` preset: the COCO-Stuff-27 file scaled down to the 64-pixel
 * synthetic images and a small random ViT (patch 8 → 8×8 grid). Every other field keeps its official value.
 */
export const SYNTHETIC_OVERRIDES = {
  dataset: { res: 64 },
  dataloader: { batchSize: 8 },
  model: { poolSize: 64, dim: 64, warmup: 20 },
  renewInterval: 20,
  negativeKeepRatio: 1,
  train: { validFreq: 100, epochs: 1 },
} as const;

/** The ViT of the `synthetic` preset when no weights are given: small and randomly initialised. */
export const SYNTHETIC_VIT = {
  embedDim: 64,
  depth: 2,
  numHeads: 4,
  patchSize: 8,
  trainedGrid: 8,
  mlpRatio: 4,
} as const;

/** True for an object in the official HP JSON layout (`tau`, `rho`, `renew_interval` …). */
function isOfficialLayout(json: Readonly<Record<string, unknown>>): boolean {
  return 'tau' in json || 'rho' in json || 'renew_interval' in json;
}

/**
 * The resolved configuration of a run: the preset, then `overrides`, which is either a whole
 * official HP JSON (read with `fromOfficialJson`, every official key accepted) or a partial camelCase
 * override of the preset. Validated once (`E_CONFIG` lists every problem).
 */
export function resolveRunConfig(preset: RunPreset, overrides?: Readonly<Record<string, unknown>>): HpConfig {
  const base: HpPresetName = preset === 'synthetic' ? 'cocostuff27' : preset;
  const presetOverrides = preset === 'synthetic' ? SYNTHETIC_OVERRIDES : {};
  if (overrides === undefined) return resolveHpConfig(presetOverrides as Record<string, unknown>, base);
  if (isOfficialLayout(overrides)) return fromOfficialJson(overrides as Record<string, unknown>);
  const merged = resolveHpConfig(presetOverrides as Record<string, unknown>, base);
  return resolveHpConfig(overrides as Record<string, unknown>, merged);
}

/** Default synthetic sets of a seed: training and validation differ only by their seed. */
export function syntheticSpecs(
  seed: number,
  options: { length?: number; valLength?: number; size?: number; numClasses?: number } = {},
): { train: DatasetSpec; val: DatasetSpec } {
  const size = options.size ?? 64;
  const numClasses = options.numClasses ?? 4;
  return {
    train: { kind: 'synthetic', seed: seed * 2 + 1, length: options.length ?? 64, size, numClasses },
    val: { kind: 'synthetic', seed: seed * 2 + 2, length: options.valLength ?? 16, size, numClasses },
  };
}

/**
 * Opens the dataset a spec names. Training reads the five-crop set of COCO-Stuff and Cityscapes,
 * evaluation the full validation images (official-behaviour §4.2, §5).
 */
export async function openDataset(spec: DatasetSpec, split: 'train' | 'val'): Promise<Dataset> {
  if (spec.kind === 'synthetic') {
    return syntheticDataset({
      seed: spec.seed,
      length: spec.length,
      size: spec.size,
      numClasses: spec.numClasses,
    });
  }
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

/** Opens the frozen backbone a spec describes, on the engine of `options` (default ONNX Runtime). */
export async function openBackbone(spec: BackboneSpec, options: LoadBackboneOptions = {}): Promise<Backbone> {
  if (spec.kind === 'file') {
    return loadBackbone(spec.path, { ...options, ...(spec.numHeads ? { numHeads: spec.numHeads } : {}) });
  }
  const config = spec.config as unknown as VitConfig;
  return loadBackbone(randomVitWeights(config, spec.seed), { ...options, numHeads: config.numHeads });
}
