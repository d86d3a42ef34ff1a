import type { Backbone, LoadBackboneOptions } from '@hpseg/backbone-vit';
import { HpError } from '@hpseg/core';
import type { Dataset } from '@hpseg/datasets';
import { type HpConfig, LHP_SIGMA } from '@hpseg/hidden-positives';
import { loadRunCheckpoint, type RunCheckpoint, type RunSources, sourcesOf } from './checkpoint.js';
import { type CacheIdentity, cacheFeatureSource, weightsFingerprint } from './feature-cache.js';
import { runPaths } from './run-config.js';
import { type BackboneSpec, type DatasetSpec, openBackbone, openDataset, type RunPreset } from './specs.js';
import type { AugmentMode } from './train-data.js';
import { createTrainer, type Trainer } from './trainer.js';
import type { TrainOptions } from './trainer-types.js';

/** A run described by specs instead of opened objects: what `hpseg train` records and resumes. */
export interface RunSpec {
  readonly config: HpConfig;
  readonly preset: RunPreset;
  readonly backbone: BackboneSpec;
  readonly dataset: DatasetSpec;
  readonly validation: DatasetSpec | null;
  readonly seed: number;
  /** Iterations of the whole schedule; default batches per epoch × `train.epochs`. */
  readonly iterations?: number;
  readonly augmentMode?: AugmentMode;
  /** Read the main-view features from this cache (`computeFeatureCache`), `augViews` cached augmented views. */
  readonly featureCache?: { readonly dir: string; readonly augViews: number };
}

/** How the specs of a run are opened, and what the run reports to. */
export type OpenRunOptions = Pick<
  TrainOptions,
  'signal' | 'onEvent' | 'stopAt' | 'selectBest' | 'versions' | 'lossEngine' | 'lossThreads' | 'matmulEngine'
> & {
  /** Engine and engine options of the backbone (the engine recorded by a resumed run is kept). */
  readonly backbone?: LoadBackboneOptions;
  /** Evaluate at most this many validation images during training. */
  readonly validationLimit?: number;
};

/** A run opened from specs, with the objects it opened; `dispose()` frees all of them. */
export interface OpenedRun {
  readonly trainer: Trainer;
  readonly backbone: Backbone;
  readonly trainSet: Dataset;
  readonly valSet: Dataset | null;
  dispose(): Promise<void>;
}

/** The identity a feature cache must have for this run (checked when it opens). */
export async function cacheIdentityFor(
  sources: { preset: string; backbone: BackboneSpec; dataset: DatasetSpec; augmentMode: AugmentMode },
  backbone: Backbone,
  trainSet: Dataset,
  resolution: number,
): Promise<CacheIdentity> {
  return {
    preset: sources.preset,
    dataset: sources.dataset,
    datasetLength: trainSet.length,
    weights: await weightsFingerprint(sources.backbone),
    resolution,
    patchSize: backbone.config.patchSize,
    embedDim: backbone.config.embedDim,
    sigma: LHP_SIGMA,
    augmentMode: sources.augmentMode,
  };
}

async function open(
  config: HpConfig,
  sources: RunSources & { preset: string; backbone: BackboneSpec; dataset: DatasetSpec },
  outDir: string,
  options: OpenRunOptions,
  extra: Pick<TrainOptions, 'seed' | 'iterations' | 'resume'>,
): Promise<OpenedRun> {
  const backbone = await openBackbone(sources.backbone, {
    ...options.backbone,
    ...(sources.engine ? { engine: sources.engine as LoadBackboneOptions['engine'] } : {}),
  });
  try {
    const trainSet = await openDataset(sources.dataset, 'train');
    const valSet = sources.validation ? await openDataset(sources.validation, 'val') : null;
    const cache = sources.featureCache;
    const trainer = await createTrainer(config, {
      ...extra,
      backbone,
      data: trainSet,
      validation: valSet,
      outDir,
      sources: { ...sources, engine: backbone.engine },
      augmentMode: sources.augmentMode,
      // The official validation is the evaluation protocol at 320 px (official-behaviour §4.5, §5); the
      // synthetic set is evaluated at its own size.
      validationOptions: {
        resolution: sources.preset === 'synthetic' ? config.dataset.res : 320,
        batchSize: 16,
        ...(options.validationLimit ? { limit: options.validationLimit } : {}),
      },
      ...(cache
        ? {
            features: cacheFeatureSource(cache, {
              augViews: sources.cachedAugViews,
              expected: () => cacheIdentityFor(sources, backbone, trainSet, config.dataset.res),
            }),
          }
        : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      ...(options.stopAt !== undefined ? { stopAt: options.stopAt } : {}),
      ...(options.selectBest !== undefined ? { selectBest: options.selectBest } : {}),
      ...(options.versions ? { versions: options.versions } : {}),
      ...(options.lossEngine ? { lossEngine: options.lossEngine } : {}),
      ...(options.lossThreads ? { lossThreads: options.lossThreads } : {}),
      ...(options.matmulEngine ? { matmulEngine: options.matmulEngine } : {}),
    });
    return {
      trainer,
      backbone,
      trainSet,
      valSet,
      async dispose() {
        await trainer.dispose();
        await backbone.dispose();
      },
    };
  } catch (error) {
    await backbone.dispose();
    throw error;
  }
}

/** Opens a new run from specs in `outDir` (writes `config.json`); `trainer.run()` trains it. */
export function openRun(spec: RunSpec, outDir: string, options: OpenRunOptions = {}): Promise<OpenedRun> {
  return open(
    spec.config,
    {
      preset: spec.preset,
      backbone: spec.backbone,
      engine: options.backbone?.engine ?? null,
      dataset: spec.dataset,
      validation: spec.validation,
      featureCache: spec.featureCache?.dir ?? null,
      cachedAugViews: spec.featureCache?.augViews ?? 0,
      augmentMode: spec.augmentMode ?? 'image',
    },
    outDir,
    options,
    { seed: spec.seed, ...(spec.iterations ? { iterations: spec.iterations } : {}) },
  );
}

/**
 * Re-opens the run of `outDir` from its `last` checkpoint: the configuration, data, backbone, feature
 * cache and seed all come from it, so the next step is the one an uninterrupted run would have taken.
 */
export async function resumeRun(outDir: string, options: OpenRunOptions = {}): Promise<OpenedRun> {
  const checkpoint: RunCheckpoint = await loadRunCheckpoint(runPaths(outDir).last);
  const m = checkpoint.meta;
  if (m.backbone === null || m.dataset === null || m.preset === null) {
    throw new HpError(
      'E_CHECKPOINT',
      `resumeRun: ${runPaths(outDir).last} records no backbone or dataset spec: expected a run opened with openRun (hpseg train), got a run started in code`,
      { hint: 'resume it with train(config, { backbone, data, outDir, resume: true })' },
    );
  }
  return open(
    m.config as unknown as HpConfig,
    { ...sourcesOf(m), preset: m.preset, backbone: m.backbone, dataset: m.dataset },
    outDir,
    options,
    { resume: checkpoint },
  );
}
