import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { deriveSeed, describeBackend, formatBackend, HpError, writeJsonAtomic } from '@hpseg/core';
import type { Dataset } from '@hpseg/datasets';
import {
  deriveHpValues,
  fusedLossThreads,
  type HpConfig,
  initFusedLoss,
  lambdaSchedule,
  type ReferencePools,
  resolveLossEngine,
  shouldRenewReferencePool,
} from '@hpseg/hidden-positives';
import { ensureGradients } from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';
import {
  loadRunCheckpoint,
  modelsFromRunCheckpoint,
  poolsFromRunCheckpoint,
  poolsMeta,
  type RunCheckpoint,
  type RunCheckpointMeta,
  type RunSources,
  runStateDict,
  saveRunCheckpoint,
  sourcesOf,
} from './checkpoint.js';
import { type EvalResult, evaluate, selectionScore } from './evaluate.js';
import { type FeatureSource, online } from './features.js';
import { type OpenedMatMulEngine, openMatMulEngine } from './matmul-engine.js';
import {
  createHpModels,
  createHpOptimizers,
  disposeHpModels,
  disposeHpOptimizers,
  type HpModels,
  type HpOptimizers,
  restoreOptimizers,
} from './models.js';
import { emptyReferencePools, fillReferencePools } from './pools.js';
import { checkSupported, configDiff, gridSizeOf, runPaths, stepConfigFrom } from './run-config.js';
import { disposeStepDraws, drawStepRandomness } from './step-draws.js';
import { photometricAugment, TrainData } from './train-data.js';
import { type StepConfig, type StepResult, trainStep } from './train-step.js';
import type {
  CheckpointKind,
  StartedMeta,
  TrainEvent,
  TrainOptions,
  TrainOutcome,
  TrainState,
  TrainStatus,
} from './trainer-types.js';
import { gitCommit, packageVersions } from './versions.js';

const NO_SOURCES: RunSources = {
  preset: null,
  backbone: null,
  engine: null,
  dataset: null,
  validation: null,
  featureCache: null,
  cachedAugViews: 0,
  augmentMode: 'image',
};

/**
 * An HP training run (the official `run.py` loop) with its state explicit: `run()` trains to the end of
 * the schedule (or `stopAt`, or an abort) and can be called once. `models` are usable before, during
 * (between events) and after it; `dispose()` frees the models and optimisers, not the backbone or data.
 */
export class Trainer {
  readonly config: HpConfig;
  readonly models: HpModels;
  readonly optimizers: HpOptimizers;
  readonly data: TrainData;
  readonly state: TrainState;
  readonly resumed: boolean;
  readonly gridSize: number;
  readonly #options: TrainOptions;
  readonly #features: FeatureSource;
  readonly #step: StepConfig;
  readonly #sources: RunSources;
  readonly #startedMeta: StartedMeta;
  readonly #matmul: OpenedMatMulEngine;
  #ran = false;
  #disposed = false;

  private constructor(init: {
    config: HpConfig;
    options: TrainOptions;
    models: HpModels;
    optimizers: HpOptimizers;
    data: TrainData;
    state: TrainState;
    features: FeatureSource;
    gridSize: number;
    resumed: boolean;
    sources: RunSources;
    step: StepConfig;
    startedMeta: StartedMeta;
    matmul: OpenedMatMulEngine;
  }) {
    this.config = init.config;
    this.#options = init.options;
    this.models = init.models;
    this.optimizers = init.optimizers;
    this.data = init.data;
    this.state = init.state;
    this.#features = init.features;
    this.gridSize = init.gridSize;
    this.resumed = init.resumed;
    this.#sources = init.sources;
    this.#step = init.step;
    this.#startedMeta = init.startedMeta;
    this.#matmul = init.matmul;
  }

  /** Opens a new run, or resumes one (`options.resume`). Writes `config.json` for a new run with a folder. */
  static async create(config: HpConfig, options: TrainOptions): Promise<Trainer> {
    checkSupported(config);
    await ensureGradients();
    const gridSize = gridSizeOf(config, options.backbone);
    let restore: RunCheckpoint | null = null;
    if (options.resume) {
      if (typeof options.resume === 'object') restore = options.resume;
      else {
        if (!options.outDir) {
          throw new HpError('E_ARG', 'train: resume without a run folder: expected outDir, got none');
        }
        restore = await loadRunCheckpoint(runPaths(options.outDir).last);
      }
      const diff = configDiff(restore.meta.config, config);
      if (diff.length > 0) {
        throw new HpError(
          'E_CONFIG',
          `train: resume with another configuration: expected the checkpoint's, got ${diff.slice(0, 8).join('; ')}${diff.length > 8 ? ` (+${diff.length - 8} more)` : ''}`,
          {
            hint: 'resume with the configuration the run was started with (resumeRun reads it from the checkpoint)',
          },
        );
      }
      if (options.seed !== undefined && options.seed !== restore.meta.seed) {
        throw new HpError(
          'E_CONFIG',
          `train: resume with another seed: expected ${restore.meta.seed} (the checkpoint's), got ${options.seed}`,
        );
      }
    }
    const seed = restore?.meta.seed ?? options.seed ?? 0;
    const sources: RunSources = restore
      ? { ...sourcesOf(restore.meta), ...options.sources }
      : {
          ...NO_SOURCES,
          ...options.sources,
          augmentMode: options.augmentMode ?? options.sources?.augmentMode ?? 'image',
        };
    const consistency = config.consistencyWeight > 0;
    const data = new TrainData(options.data, {
      batchSize: config.dataloader.batchSize,
      resolution: config.dataset.res,
      seed,
      ...(consistency ? { augment: photometricAugment(sources.augmentMode) } : {}),
    });
    if (restore && restore.meta.batchesPerEpoch !== data.batchesPerEpoch) {
      throw new HpError(
        'E_DATASET',
        `train: resume on other data: expected ${restore.meta.batchesPerEpoch} batches per epoch (the checkpoint's), got ${data.batchesPerEpoch}`,
        { hint: 'resume with the training set the run was started with' },
      );
    }
    const features = await (options.features ?? online)({
      backbone: options.backbone,
      gridSize,
      consistency,
      seed,
    });
    const step = stepConfigFrom(config, options.lossEngine);
    if (resolveLossEngine(step.lossEngine) === 'fused') {
      await initFusedLoss(options.lossThreads === undefined ? {} : { threads: options.lossThreads });
    }
    const models = restore
      ? (modelsFromRunCheckpoint(restore, step.dropoutRate, {
          projection: true,
          source: 'the run checkpoint',
        }) as HpModels)
      : createHpModels(
          {
            inChannels: options.backbone.config.embedDim,
            dim: config.model.dim,
            nClasses: options.data.numClasses,
            dropoutRate: step.dropoutRate,
          },
          seed,
        );
    let optimizers: HpOptimizers | undefined;
    let matmul: OpenedMatMulEngine | undefined;
    try {
      matmul = await openMatMulEngine(options.matmulEngine ?? 'auto');
      optimizers = createHpOptimizers(models, {
        net: config.optimizer.net.lr,
        weightDecay: config.optimizer.net.weightDecay,
        linear: config.optimizer.linear.lr,
        cluster: config.optimizer.cluster.lr,
      });
      if (restore) restoreOptimizers(optimizers, restore.tensors);
      const m = restore?.meta;
      const state: TrainState = {
        iteration: m?.iteration ?? 0,
        epoch: m?.epoch ?? 0,
        batchInEpoch: m?.batchInEpoch ?? 0,
        totalIterations:
          m?.totalIterations ?? options.iterations ?? data.batchesPerEpoch * config.train.epochs,
        seed,
        lambda: m?.lambda ?? 0,
        best: m?.best ?? null,
        poolBuiltAt: m?.poolBuiltAt ?? { epoch: 0, batch: 0 },
        lastLoss: m?.lastLoss ?? null,
        pools: restore ? poolsFromRunCheckpoint(restore) : null,
      };
      const backend = describeBackend();
      const engine = resolveLossEngine(step.lossEngine);
      const startedMeta: StartedMeta = {
        versions: packageVersions(options.versions),
        gitCommit: await gitCommit(),
        backend,
        backendLine: formatBackend(backend),
        lossEngine: engine === 'fused' ? `fused (${fusedLossThreads()} threads)` : 'tfjs',
        matmulEngine: matmul.label,
      };
      const trainer = new Trainer({
        config,
        options,
        models,
        optimizers,
        data,
        state,
        features,
        gridSize,
        resumed: restore !== null,
        sources,
        step,
        startedMeta,
        matmul,
      });
      if (!restore && options.outDir) await trainer.#writeRunConfig(options.outDir);
      return trainer;
    } catch (error) {
      matmul?.dispose();
      if (optimizers) disposeHpOptimizers(optimizers);
      disposeHpModels(models);
      throw error;
    }
  }

  async #writeRunConfig(outDir: string): Promise<void> {
    await mkdir(outDir, { recursive: true });
    await writeJsonAtomic(runPaths(outDir).config, {
      format: 'hpseg-run/1',
      config: this.config,
      derived: deriveHpValues(this.config),
      ...this.#sources,
      classNames: [...this.#options.data.classNames],
      nClasses: this.#options.data.numClasses,
      totalIterations: this.state.totalIterations,
      batchesPerEpoch: this.data.batchesPerEpoch,
      seed: this.state.seed,
      backend: this.#startedMeta.backend,
      lossEngine: this.#startedMeta.lossEngine,
      matmulEngine: this.#startedMeta.matmulEngine,
      versions: this.#startedMeta.versions,
      gitCommit: this.#startedMeta.gitCommit,
    });
  }

  async #emit(event: TrainEvent): Promise<void> {
    await this.#options.onEvent?.(event);
  }

  /** Writes the run's checkpoint of `kind` (no-op without a run folder); returns its path. */
  async saveCheckpoint(kind: CheckpointKind): Promise<string | null> {
    const outDir = this.#options.outDir;
    if (!outDir) return null;
    const paths = runPaths(outDir);
    const path = kind === 'best' ? paths.best : paths.last;
    const s = this.state;
    const meta: RunCheckpointMeta = {
      ...this.#sources,
      format: 'hpseg-checkpoint/2',
      kind,
      config: this.config as unknown as Record<string, unknown>,
      classNames: [...this.#options.data.classNames],
      nClasses: this.#options.data.numClasses,
      iteration: s.iteration,
      epoch: s.epoch,
      batchInEpoch: s.batchInEpoch,
      totalIterations: s.totalIterations,
      batchesPerEpoch: this.data.batchesPerEpoch,
      seed: s.seed,
      lambda: s.lambda,
      best: s.best,
      poolBuiltAt: s.poolBuiltAt,
      pools: poolsMeta(s.pools),
      lastLoss: s.lastLoss,
      backend: this.#startedMeta.backendLine,
      versions: this.#startedMeta.versions,
      gitCommit: this.#startedMeta.gitCommit,
      savedAt: new Date().toISOString(),
      ...(kind === 'best'
        ? {
            selection:
              'best by Cluster mIoU + Cluster Acc + Linear mIoU + Linear Acc on the VALIDATION set (uses validation labels, as the official code)',
          }
        : {}),
    };
    await mkdir(join(outDir, 'checkpoints'), { recursive: true });
    await saveRunCheckpoint(path, {
      tensors: await runStateDict(this.models, this.optimizers, s.pools),
      meta,
    });
    await this.#emit({ type: 'checkpoint', kind, path, iteration: s.iteration });
    return path;
  }

  async #fillPools(reason: 'initial' | 'renewal'): Promise<void> {
    const s = this.state;
    const started = performance.now();
    const ctx = {
      data: this.data,
      features: this.#features,
      models: this.models,
      dropoutRate: this.#step.dropoutRate,
      seed: s.seed,
    };
    if (reason === 'initial') {
      s.pools = emptyReferencePools(
        this.config.model.poolSize,
        this.models.head.inChannels,
        this.models.head.dim,
        s.seed,
      );
      await fillReferencePools(ctx, s.pools, 0, { agnostic: true, specific: true });
      s.poolBuiltAt = { epoch: 0, batch: 0 };
    } else {
      const pools = s.pools as ReferencePools;
      pools.specific.reset();
      await fillReferencePools(ctx, pools, 1 + s.iteration, { agnostic: false, specific: true });
      s.poolBuiltAt = { epoch: s.epoch, batch: s.batchInEpoch };
      if (this.#poolTensors) {
        this.#poolTensors.specific.dispose();
        this.#poolTensors = { agnostic: this.#poolTensors.agnostic, specific: pools.specific.toTensor() };
      }
    }
    await this.#emit({
      type: 'pools',
      reason,
      iteration: s.iteration,
      epoch: s.epoch,
      batch: s.batchInEpoch,
      size: this.config.model.poolSize,
      ms: Math.round(performance.now() - started),
    });
  }

  #validate(): Promise<EvalResult> {
    const validation = this.#options.validation as Dataset;
    const v = this.#options.validationOptions ?? {};
    return evaluate(
      {
        backbone: this.#options.backbone,
        head: this.models.head,
        linearProbe: this.models.linearProbe,
        clusterProbe: this.models.clusterProbe,
      },
      validation,
      {
        resolution: v.resolution ?? 320,
        batchSize: v.batchSize ?? 16,
        ...(v.limit ? { limit: v.limit } : {}),
      },
    );
  }

  /** One iteration t = (epoch, batch i): λ(t), the Q_sp renewal, the batch, its features, `trainStep`. */
  async #iterate(): Promise<StepResult> {
    const s = this.state;
    const t = s.iteration;
    const started = performance.now();
    s.lambda = lambdaSchedule({
      iteration: t,
      warmup: this.config.model.warmup,
      maxIterations: s.totalIterations,
    });
    // Q_sp renewal at i = k·renew_interval (k ≥ 1) of every epoch (run.py:144), once per (epoch, i).
    const i = s.batchInEpoch;
    const renewedHere = s.poolBuiltAt.epoch === s.epoch && s.poolBuiltAt.batch === i;
    if (shouldRenewReferencePool(i, this.config.renewInterval) && !renewedHere)
      await this.#fillPools('renewal');
    const loadStart = performance.now();
    const batch = await this.data.load(this.data.batchIndices('train', s.epoch, i), {
      ...(this.#features.needsAugImages ? { augmentSeed: deriveSeed(s.seed, 'augment', t) } : {}),
    });
    const loaded = performance.now();
    const main = await this.#features.main(batch);
    const featAug = await this.#features.augmented(batch, t);
    const featured = performance.now();
    const [B, H, W] = batch.shape;
    const labels = tf.tensor3d(batch.labels, [B, H, W], 'int32');
    const { agnostic: poolAgnostic, specific: poolSpecific } = this.#poolTensors!;
    const draws = drawStepRandomness(
      s.seed,
      t,
      { batch: B, inChannels: this.models.head.inChannels, dim: this.models.head.dim },
      this.#step,
    );
    try {
      const result = await trainStep(
        this.models,
        this.optimizers,
        {
          feat: main.feat,
          lhpWeights: main.lhp,
          featAug,
          labels,
          poolAgnostic,
          poolSpecific,
          lambda: s.lambda,
        },
        this.#step,
        draws,
      );
      await this.#afterStep(result, { started, loadStart, loaded, featured });
      return result;
    } finally {
      disposeStepDraws(draws);
      main.feat.dispose();
      main.lhp.dispose();
      featAug?.dispose();
      labels.dispose();
    }
  }

  /** The pools as tensors, alive from the initial build to the end of `run()`; Q_sp replaced at each renewal. */
  #poolTensors: { agnostic: tf.Tensor2D; specific: tf.Tensor2D } | null = null;

  #disposePoolTensors(): void {
    if (!this.#poolTensors) return;
    this.#poolTensors.agnostic.dispose();
    this.#poolTensors.specific.dispose();
    this.#poolTensors = null;
  }

  async #afterStep(
    result: StepResult,
    times: { started: number; loadStart: number; loaded: number; featured: number },
  ): Promise<void> {
    const s = this.state;
    const t = s.iteration;
    if (!result.applied) {
      const last = this.#options.outDir ? runPaths(this.#options.outDir).last : null;
      throw new HpError(
        'E_NUMERIC',
        `train: non-finite loss at iteration ${t}: expected a finite value, got ${result.total} (hp ${result.hp}, consistency ${result.consistency}, linear ${result.linear}, cluster ${result.cluster})`,
        {
          hint: `${last && existsSync(last) ? `the last good checkpoint is ${last}` : 'no checkpoint was written yet'}; lower the learning rates or check the data`,
          details: { iteration: t, result },
        },
      );
    }
    const epoch = s.epoch;
    const batch = s.batchInEpoch;
    s.lastLoss = result.total;
    s.iteration = t + 1;
    s.batchInEpoch = batch + 1;
    if (s.batchInEpoch >= this.data.batchesPerEpoch) {
      s.epoch = epoch + 1;
      s.batchInEpoch = 0;
    }
    await this.#emit({
      type: 'step',
      iteration: t,
      epoch,
      batch,
      lambda: s.lambda,
      result,
      stepMs: Math.round(performance.now() - times.started),
      dataMs: Math.round(times.loaded - times.loadStart),
      backboneMs: Math.round(times.featured - times.loaded),
    });
  }

  /** Trains to the end of the schedule, `stopAt` or an abort (official-behaviour §3.10, §4.5). */
  async run(): Promise<TrainOutcome> {
    if (this.#ran || this.#disposed) {
      throw new HpError(
        'E_ARG',
        'Trainer.run: the run has already run or is disposed: expected a fresh trainer',
      );
    }
    this.#ran = true;
    const s = this.state;
    const losses: StepResult[] = [];
    let lastValidation: EvalResult | null = null;
    let lastCheckpoint: string | null = null;
    const outcome = async (status: TrainStatus): Promise<TrainOutcome> => {
      await this.#emit({ type: 'end', status, iteration: s.iteration });
      return { status, iteration: s.iteration, losses, lastCheckpoint, lastValidation };
    };
    await this.#emit({
      type: 'start',
      resumed: this.resumed,
      iteration: s.iteration,
      totalIterations: s.totalIterations,
      batchesPerEpoch: this.data.batchesPerEpoch,
      backend: this.#startedMeta.backendLine,
      lossEngine: this.#startedMeta.lossEngine,
      matmulEngine: this.#startedMeta.matmulEngine,
    });
    // The heads' products run on the opened engine for the whole run (pools, steps, validation).
    return this.#matmul.use(async () => {
      if (s.pools === null) await this.#fillPools('initial');
      const pools = s.pools as ReferencePools;
      this.#poolTensors = { agnostic: pools.agnostic.toTensor(), specific: pools.specific.toTensor() };
      const L = this.data.batchesPerEpoch;
      const stopAt = this.#options.stopAt ?? null;
      try {
        while (s.iteration < s.totalIterations) {
          if (stopAt !== null && s.iteration >= stopAt) {
            lastCheckpoint = (await this.saveCheckpoint('last')) ?? lastCheckpoint;
            return await outcome('stopped');
          }
          const i = s.batchInEpoch;
          const result = await this.#iterate();
          losses.push(result);
          const validateNow =
            (i + 1) % this.config.train.validFreq === 0 || i + 1 === L || s.iteration === s.totalIterations;
          if (validateNow) {
            if (this.#options.validation) {
              lastValidation = await this.#validate();
              const score = selectionScore(lastValidation);
              await this.#emit({
                type: 'validation',
                iteration: s.iteration - 1,
                epoch: s.epoch,
                result: lastValidation,
                score,
              });
              if (this.#options.selectBest && (s.best === null || score >= s.best.score)) {
                s.best = { score, iteration: s.iteration - 1 };
                await this.saveCheckpoint('best');
              }
            }
            lastCheckpoint = (await this.saveCheckpoint('last')) ?? lastCheckpoint;
          }
          if (this.#options.signal?.aborted) {
            lastCheckpoint = (await this.saveCheckpoint('interrupted')) ?? lastCheckpoint;
            return await outcome('interrupted');
          }
        }
        return await outcome('completed');
      } finally {
        this.#disposePoolTensors();
      }
    });
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#disposePoolTensors();
    this.#matmul.dispose();
    disposeHpOptimizers(this.optimizers);
    disposeHpModels(this.models);
  }
}

/** `Trainer.create`: a new run or a resumed one. */
export function createTrainer(config: HpConfig, options: TrainOptions): Promise<Trainer> {
  return Trainer.create(config, options);
}

/** What `train` returns: the outcome and the trained models (call `dispose()` when done with them). */
export interface TrainResult extends TrainOutcome {
  readonly models: HpModels;
  dispose(): Promise<void>;
}

/**
 * Trains HP: `createTrainer(config, options)` then `run()`. The models stay alive for evaluation until
 * `dispose()`.
 *
 *   const result = await train(resolveRunConfig('synthetic'), { backbone, data, outDir: 'runs/a' });
 */
export async function train(config: HpConfig, options: TrainOptions): Promise<TrainResult> {
  const trainer = await createTrainer(config, options);
  try {
    const outcome = await trainer.run();
    return { ...outcome, models: trainer.models, dispose: () => trainer.dispose() };
  } catch (error) {
    await trainer.dispose();
    throw error;
  }
}
