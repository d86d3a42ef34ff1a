import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Backbone } from '@hpseg/backbone-vit';
import {
  type BackendDescription,
  deriveSeed,
  describeBackend,
  formatBackend,
  HpError,
  writeJsonAtomic,
} from '@hpseg/core';
import type { Dataset } from '@hpseg/datasets';
import {
  deriveHpValues,
  fusedLossThreads,
  type HiddenPositiveLossEngine,
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
import { type FeatureSource, type FeatureSourceFactory, online } from './features.js';
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
import { disposeStepDraws, drawStepRandomness } from './step-draws.js';
import { type AugmentMode, photometricAugment, TrainData } from './train-data.js';
import { type StepConfig, type StepResult, trainStep } from './train-step.js';
import { gitCommit, packageVersions } from './versions.js';

/** Files of a run folder. */
export function runPaths(outDir: string) {
  return {
    last: join(outDir, 'checkpoints', 'last.safetensors'),
    best: join(outDir, 'checkpoints', 'best.safetensors'),
    config: join(outDir, 'config.json'),
    log: join(outDir, 'log.jsonl'),
  };
}

/** The step hyper-parameters of a resolved config (official keys in brackets in `StepConfig`). */
export function stepConfigFrom(config: HpConfig, lossEngine: HiddenPositiveLossEngine = 'auto'): StepConfig {
  return {
    lossEngine,
    dropoutRate: config.model.pretrained.dropout ? 0.1 : 0,
    momentum: config.model.momentum,
    temperature: config.temperature,
    negativeKeepRatio: config.negativeKeepRatio,
    consistencyWeight: config.consistencyWeight,
    gradNorm: config.train.gradNorm,
  };
}

/** Official options this port does not implement are refused (`E_CONFIG`), never silently ignored. */
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

function gridSizeOf(config: HpConfig, backbone: Backbone): number {
  const p = backbone.config.patchSize;
  if (config.model.pretrained.patchSize !== p || config.dataset.res % p !== 0) {
    throw new HpError(
      'E_CONFIG',
      `train: backbone and config disagree: expected model.pretrained.patchSize = ${p} (the weights' patch) and dataset.res a multiple of it, got patchSize ${config.model.pretrained.patchSize}, res ${config.dataset.res}`,
      { hint: 'set model.pretrained.patchSize / dataset.res in the config to match the weights' },
    );
  }
  return config.dataset.res / p;
}

/** What a run records about where it runs, once, when it opens. */
interface StartedMeta {
  readonly versions: Record<string, string>;
  readonly gitCommit: string | null;
  /** The TF.js backend (with the adapter on webgpu). */
  readonly backend: BackendDescription;
  readonly backendLine: string;
  /** The HP-loss engine resolved for this backend, with its thread count. */
  readonly lossEngine: string;
}

/** The explicit state of a run: everything a resume needs besides the weights. */
export interface TrainState {
  iteration: number;
  epoch: number;
  batchInEpoch: number;
  readonly totalIterations: number;
  readonly seed: number;
  lambda: number;
  best: { score: number; iteration: number } | null;
  poolBuiltAt: { epoch: number; batch: number };
  lastLoss: number | null;
  pools: ReferencePools | null;
}

export type TrainStatus = 'completed' | 'stopped' | 'interrupted';
export type CheckpointKind = RunCheckpointMeta['kind'];

/** What a run reports while it goes; the CLI turns these into its progress bar and `log.jsonl`. */
export type TrainEvent =
  | {
      readonly type: 'start';
      readonly resumed: boolean;
      readonly iteration: number;
      readonly totalIterations: number;
      readonly batchesPerEpoch: number;
      /** The TF.js backend (and its adapter on webgpu), in one line (`formatBackend`). */
      readonly backend: string;
      /** The HP-loss engine: `tfjs`, or `fused (N threads)`. */
      readonly lossEngine: string;
    }
  | {
      readonly type: 'pools';
      readonly reason: 'initial' | 'renewal';
      readonly iteration: number;
      readonly epoch: number;
      readonly batch: number;
      readonly size: number;
      readonly ms: number;
    }
  | {
      readonly type: 'step';
      readonly iteration: number;
      readonly epoch: number;
      readonly batch: number;
      readonly lambda: number;
      readonly result: StepResult;
      /** Milliseconds of the whole iteration, of loading the batch, of the backbone (or the cache). */
      readonly stepMs: number;
      readonly dataMs: number;
      readonly backboneMs: number;
    }
  | {
      readonly type: 'validation';
      readonly iteration: number;
      readonly epoch: number;
      readonly result: EvalResult;
      readonly score: number;
    }
  | {
      readonly type: 'checkpoint';
      readonly kind: CheckpointKind;
      readonly path: string;
      readonly iteration: number;
    }
  | { readonly type: 'end'; readonly status: TrainStatus; readonly iteration: number };

export interface TrainOptions {
  /** The frozen backbone (the caller's: never disposed by the run). */
  readonly backbone: Backbone;
  /** Training images (labels train the linear probe only). */
  readonly data: Dataset;
  /** Validation images, evaluated every `train.validFreq` batches and at each epoch's end. */
  readonly validation?: Dataset | null;
  /** Run folder (`config.json`, `checkpoints/`); without one nothing is written. */
  readonly outDir?: string;
  /** Backbone features: online (default) or a feature cache (`cacheFeatureSource`). */
  readonly features?: FeatureSourceFactory;
  /** Aborting finishes the current step, writes an `interrupted` checkpoint and returns. */
  readonly signal?: AbortSignal;
  /** Awaited for every event, in order. */
  readonly onEvent?: (event: TrainEvent) => void | Promise<void>;
  /** Run seed (every draw is keyed by it); default 0. A resumed run keeps its own. */
  readonly seed?: number;
  /** Iterations of the whole schedule (λ ramp end); default batches per epoch × `train.epochs`. */
  readonly iterations?: number;
  /** Stop with a `last` checkpoint when the iteration counter reaches this value. */
  readonly stopAt?: number | null;
  /** Also keep `best.safetensors` (selected with validation LABELS, as the official code). */
  readonly selectBest?: boolean;
  /** Continue the run of `outDir` from `checkpoints/last.safetensors` (or from this checkpoint). */
  readonly resume?: boolean | RunCheckpoint;
  /** Photometric view of the consistency term (default `image`). */
  readonly augmentMode?: AugmentMode;
  /** Evaluation view during training: official 320 px, batch 16. */
  readonly validationOptions?: {
    readonly resolution?: number;
    readonly batchSize?: number;
    readonly limit?: number;
  };
  /** Where the inputs came from, recorded in checkpoints so that `resumeRun` can reopen them. */
  readonly sources?: Partial<RunSources>;
  /** Extra versions to record (an application's own). */
  readonly versions?: Readonly<Record<string, string>>;
  /** Engine of the HP loss (`auto`: fused on wasm / cpu, TF.js ops elsewhere). */
  readonly lossEngine?: HiddenPositiveLossEngine;
  /**
   * Threads of the fused engine, the calling thread included (default: every core). Its results can
   * differ in the last bits between thread counts: a run resumed on another machine is then not
   * bit-identical (the count is recorded in `config.json`).
   */
  readonly lossThreads?: number;
}

export interface TrainOutcome {
  readonly status: TrainStatus;
  readonly iteration: number;
  readonly losses: StepResult[];
  /** Path of the last checkpoint written, or null without a run folder. */
  readonly lastCheckpoint: string | null;
  readonly lastValidation: EvalResult | null;
}

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

function configDiff(a: unknown, b: unknown, path = ''): string[] {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) =>
      configDiff(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        path ? `${path}.${k}` : k,
      ),
    );
  }
  return JSON.stringify(a) === JSON.stringify(b)
    ? []
    : [`${path}: checkpoint ${JSON.stringify(a)}, given ${JSON.stringify(b)}`];
}

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
    startedMeta: StartedMeta;
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
    this.#step = stepConfigFrom(init.config, init.options.lossEngine);
    this.#startedMeta = init.startedMeta;
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
    try {
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
        startedMeta,
      });
      if (!restore && options.outDir) await trainer.#writeRunConfig(options.outDir);
      return trainer;
    } catch (error) {
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
    });
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
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#disposePoolTensors();
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
