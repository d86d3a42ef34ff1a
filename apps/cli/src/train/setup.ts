import { mkdir } from 'node:fs/promises';
import type { Backbone, BackboneEngine } from '@hpseg/backbone-vit';
import { HpError, writeJsonAtomic } from '@hpseg/core';
import type { Dataset } from '@hpseg/datasets';
import { deriveHpValues, type HpConfig, LHP_SIGMA } from '@hpseg/hidden-positives';
import { ensureGradients } from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';
import { onlineFeatures, openBackbone } from '../backbone.js';
import { openDataset } from '../data-source.js';
import { evaluateDataset } from '../evaluate.js';
import { weightsFingerprint } from '../features/cache.js';
import type { FeatureSourceFactory } from '../features/source.js';
import { gitCommit, packageVersions } from '../versions.js';
import { resolveAugment } from './augment.js';
import { type BackboneSpec, type CheckpointMeta, type DatasetSpec, loadCheckpoint } from './checkpoint.js';
import { type Augment, TrainData } from './data.js';
import { checkpointPaths, type TrainSession, type TrainState } from './loop.js';
import {
  createModels,
  createOptimizers,
  disposeModels,
  disposeOptimizers,
  modelsFromStateDict,
  restoreOptimizers,
} from './models.js';

export interface NewRunOptions {
  readonly config: HpConfig;
  readonly preset: string;
  readonly dataset: DatasetSpec;
  readonly validation: DatasetSpec | null;
  readonly backbone: BackboneSpec;
  readonly engine: BackboneEngine;
  readonly outDir: string;
  readonly seed: number;
  /** Whole schedule; default batchesPerEpoch × config.train.epochs. */
  readonly totalIterations?: number;
  readonly featureSource?: FeatureSourceFactory;
  readonly featureCache?: string | null;
  readonly cachedAugViews?: number;
  readonly augmentMode?: 'image' | 'official';
}

export interface RunControl {
  readonly selectBest: boolean;
  readonly stopAt: number | null;
  readonly validationLimit?: number;
}

export interface OpenedRun {
  readonly session: TrainSession;
  readonly backbone: Backbone;
  readonly trainSet: Dataset;
  readonly valSet: Dataset | null;
  readonly resumed: boolean;
  dispose(): Promise<void>;
}

function stepConfig(config: HpConfig, gridSize: number) {
  return {
    dropoutRate: config.model.pretrained.dropout ? 0.1 : 0,
    momentum: config.model.momentum,
    temperature: config.temperature,
    negativeKeepRatio: config.negativeKeepRatio,
    consistencyWeight: config.consistencyWeight,
    gradNorm: config.train.gradNorm,
    gridSize,
  };
}

/** Official options this port does not implement are refused, never silently ignored. */
export function checkSupported(config: HpConfig): void {
  const problems: string[] = [];
  if (config.model.pretrained.projectionType !== 'nonlinear') {
    problems.push(
      `model.pretrained.projectionType: expected 'nonlinear' (every official config), got '${config.model.pretrained.projectionType}'`,
    );
  }
  if (config.model.extraClusters !== 0 || config.eval.extraClusters !== 0) {
    problems.push('model.extraClusters / eval.extraClusters: expected 0 (every official config), got more');
  }
  if (config.dataset.cropType !== 'five' && config.dataset.dataType !== 'potsdam') {
    problems.push(
      `dataset.cropType: expected 'five' (training reads the five-crop set), got ${JSON.stringify(config.dataset.cropType)}`,
    );
  }
  if (config.dataset.cropRatio !== 0.5)
    problems.push(`dataset.cropRatio: expected 0.5, got ${config.dataset.cropRatio}`);
  if (problems.length > 0) {
    throw new HpError('E_CONFIG', `train: unsupported configuration: ${problems.join('; ')}`, {
      hint: 'these official options are fixed in every HP config; hpseg implements only those values',
    });
  }
}

function checkBackboneMatches(config: HpConfig, backbone: Backbone): number {
  const p = backbone.config.patchSize;
  if (config.model.pretrained.patchSize !== p || config.dataset.res % p !== 0) {
    throw new HpError(
      'E_CONFIG',
      `train: backbone and config disagree: expected model.pretrained.patchSize = ${p} (the weights' patch) and dataset.res a multiple of it, got patchSize ${config.model.pretrained.patchSize}, res ${config.dataset.res}`,
      { hint: 'set model.pretrained.patchSize / dataset.res in --config to match the weights' },
    );
  }
  return config.dataset.res / p;
}

async function assemble(
  meta: TrainSession['meta'],
  config: HpConfig,
  opts: { seed: number; engine: BackboneEngine; outDir: string; totalIterations?: number },
  control: RunControl,
  restore: { tensors: Map<string, import('@hpseg/core').HostTensor>; meta: CheckpointMeta } | null,
  featureSource?: NewRunOptions['featureSource'],
): Promise<OpenedRun> {
  // tfjs-core registers no gradients by itself (in plain Node the hook of bin/tfjs-esm-hook.mjs lets this load them).
  checkSupported(config);
  await ensureGradients(); // plain Node loads tfjs-core's gradient registry through bin/tfjs-esm-hook.mjs
  const backbone = await openBackbone(meta.backbone, opts.engine);
  const disposers: (() => Promise<void> | void)[] = [() => backbone.dispose()];
  try {
    const gridSize = checkBackboneMatches(config, backbone);
    const trainSet = await openDataset(meta.dataset, 'train');
    const valSet = meta.validation ? await openDataset(meta.validation, 'val') : null;
    const augment: Augment | undefined =
      config.consistencyWeight > 0 ? await resolveAugment(meta.augmentMode ?? 'image') : undefined;
    const data = new TrainData(trainSet, {
      batchSize: config.dataloader.batchSize,
      resolution: config.dataset.res,
      seed: opts.seed,
      ...(augment ? { augment } : {}),
    });
    const consistency = config.consistencyWeight > 0;
    const features = featureSource
      ? await featureSource({
          backbone,
          gridSize,
          consistency,
          seed: opts.seed,
          identity: async () => ({
            preset: meta.preset,
            dataset: meta.dataset,
            datasetLength: trainSet.length,
            weights: await weightsFingerprint(meta.backbone),
            resolution: config.dataset.res,
            patchSize: backbone.config.patchSize,
            embedDim: backbone.config.embedDim,
            sigma: LHP_SIGMA,
            augmentMode: meta.augmentMode ?? 'image',
          }),
        })
      : onlineFeatures(backbone, gridSize, consistency);
    const dropoutRate = config.model.pretrained.dropout ? 0.1 : 0;
    const models = restore
      ? modelsFromStateDict(restore.tensors, dropoutRate)
      : createModels(
          {
            inChannels: backbone.config.embedDim,
            dim: config.model.dim,
            nClasses: trainSet.numClasses,
            dropoutRate,
          },
          opts.seed,
        );
    disposers.push(() => disposeModels(models));
    const lr = {
      net: config.optimizer.net.lr,
      weightDecay: config.optimizer.net.weightDecay,
      linear: config.optimizer.linear.lr,
      cluster: config.optimizer.cluster.lr,
    };
    const optimizers = createOptimizers(models, lr);
    disposers.push(() => disposeOptimizers(optimizers));
    if (restore) restoreOptimizers(optimizers, restore.tensors);
    const totalIterations = restore
      ? restore.meta.totalIterations
      : (opts.totalIterations ?? data.batchesPerEpoch * config.train.epochs);
    const poolAg = restore?.tensors.get('pool.agnostic');
    const poolSp = restore?.tensors.get('pool.specific');
    const state: TrainState = restore
      ? {
          iteration: restore.meta.iteration,
          epoch: restore.meta.epoch,
          batchInEpoch: restore.meta.batchInEpoch,
          totalIterations,
          seed: restore.meta.seed,
          lambda: restore.meta.lambda,
          best: restore.meta.best,
          poolBuiltAt: restore.meta.poolBuiltAt,
          lastLoss: restore.meta.lastLoss,
          pools:
            poolAg && poolSp
              ? {
                  agnostic: Float32Array.from(poolAg.data as Float32Array),
                  specific: Float32Array.from(poolSp.data as Float32Array),
                  size: poolAg.shape[0] as number,
                  featWidth: poolAg.shape[1] as number,
                  codeWidth: poolSp.shape[1] as number,
                }
              : null,
        }
      : {
          iteration: 0,
          epoch: 0,
          batchInEpoch: 0,
          totalIterations,
          seed: opts.seed,
          lambda: 0,
          best: null,
          poolBuiltAt: { epoch: 0, batch: 0 },
          lastLoss: null,
          pools: null,
        };
    const session: TrainSession = {
      data,
      features,
      models,
      optimizers,
      state,
      step: stepConfig(config, gridSize),
      poolSize: config.model.poolSize,
      renewInterval: config.renewInterval,
      warmup: config.model.warmup,
      validFreq: config.train.validFreq,
      lr: { head: lr.net, projection: lr.net, linear: lr.linear, cluster: lr.cluster },
      meta,
      outDir: opts.outDir,
      validate: valSet
        ? () =>
            evaluateDataset(
              { backbone, head: models.head, linear: models.linear, cluster: models.cluster },
              valSet,
              {
                // The official validation is the evaluation protocol at 320 px (spec §4.5, §5); the
                // synthetic set is evaluated at its own size.
                resolution: meta.preset === 'synthetic' ? config.dataset.res : 320,
                batchSize: 16,
                ...(control.validationLimit ? { limit: control.validationLimit } : {}),
              },
            )
        : null,
      selectBest: control.selectBest,
      stopAt: control.stopAt,
    };
    return {
      session,
      backbone,
      trainSet,
      valSet,
      resumed: restore !== null,
      async dispose() {
        for (const d of disposers.reverse()) await d();
      },
    };
  } catch (error) {
    for (const d of disposers.reverse()) await d();
    throw error;
  }
}

/** A new run: resolved config, run folder with config.json (config, versions, git commit). */
export async function openNewRun(options: NewRunOptions, control: RunControl): Promise<OpenedRun> {
  await mkdir(options.outDir, { recursive: true });
  const meta: TrainSession['meta'] = {
    format: 'hpseg-checkpoint/1',
    config: options.config as unknown as Record<string, unknown>,
    preset: options.preset,
    backbone: options.backbone,
    engine: options.engine,
    dataset: options.dataset,
    validation: options.validation,
    classNames: [],
    nClasses: 0,
    featureCache: options.featureCache ?? null,
    cachedAugViews: options.cachedAugViews ?? 0,
    augmentMode: options.augmentMode ?? 'image',
    versions: await packageVersions(),
    gitCommit: await gitCommit(),
  };
  const opened = await assemble(
    meta,
    options.config,
    {
      seed: options.seed,
      engine: options.engine,
      outDir: options.outDir,
      ...(options.totalIterations ? { totalIterations: options.totalIterations } : {}),
    },
    control,
    null,
    options.featureSource,
  );
  const withClasses = {
    ...meta,
    classNames: [...opened.trainSet.classNames],
    nClasses: opened.trainSet.numClasses,
  };
  (opened.session as { meta: TrainSession['meta'] }).meta = withClasses;
  await writeJsonAtomic(checkpointPaths(options.outDir).config, {
    ...withClasses,
    derived: deriveHpValues(options.config),
    totalIterations: opened.session.state.totalIterations,
    batchesPerEpoch: opened.session.data.batchesPerEpoch,
    seed: options.seed,
    tfBackend: tf.getBackend(),
  });
  return opened;
}

/** Re-opens a run from its `last` checkpoint; everything (config, data, backbone, seed) comes from it. */
export async function openResumedRun(
  outDir: string,
  control: RunControl,
  featureSource?: NewRunOptions['featureSource'],
): Promise<OpenedRun> {
  const path = checkpointPaths(outDir).last;
  const restored = await loadCheckpoint(path);
  const m = restored.meta;
  const config = m.config as unknown as HpConfig;
  const {
    kind: _k,
    iteration: _i,
    epoch: _e,
    batchInEpoch: _b,
    totalIterations: _t,
    seed: _s,
    lambda: _l,
    best: _be,
    poolBuiltAt: _p,
    lastLoss: _ll,
    savedAt: _sa,
    batchesPerEpoch: _bpe,
    selection: _sel,
    ...meta
  } = m;
  return assemble(
    meta,
    config,
    { seed: m.seed, engine: m.engine as BackboneEngine, outDir },
    control,
    restored,
    featureSource,
  );
}
