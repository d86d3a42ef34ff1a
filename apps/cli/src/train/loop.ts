import { existsSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deriveSeed, HpError, type StateDict } from '@hpseg/core';
import { lambdaSchedule } from '@hpseg/hidden-positives';
import * as tf from '@tensorflow/tfjs-core';
import type { EvalResult } from '../evaluate.js';
import { selectionScore } from '../evaluate.js';
import type { CliIo } from '../io.js';
import { createProgress } from '../progress.js';
import { type CheckpointMeta, saveCheckpoint } from './checkpoint.js';
import type { HostBatch, TrainData } from './data.js';
import { type HpModels, type HpOptimizers, modelsToStateDict, optimizersToStateDict } from './models.js';
import { assemblePool, type HostPools, poolRowsFromBatch } from './pools.js';
import { dropoutSeeds, type StepConfig, type StepLosses, trainStep } from './step.js';

/** Backbone features for the loop: online (ONNX Runtime / TF.js) or from a `hpseg features` cache. */
export interface FeatureSource {
  /** Whether `TrainData.load` must produce the augmented view's pixels. */
  readonly needsAugImages: boolean;
  /** Main view: `[B, h, w, C]` tokens and sparse LHP weights (from the last block's attention). */
  main(batch: HostBatch): Promise<{ feat: tf.Tensor4D; lhp: tf.Tensor }>;
  /** Tokens only (reference pools). */
  plain(batch: HostBatch): Promise<tf.Tensor4D>;
  /** Augmented view tokens, or null when the consistency term is off. */
  augmented(batch: HostBatch, iteration: number): Promise<tf.Tensor4D | null>;
}

/** The explicit state of a run: everything `--resume` needs besides the weights. */
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
  pools: HostPools | null;
}

export interface TrainSession {
  readonly data: TrainData;
  readonly features: FeatureSource;
  readonly models: HpModels;
  readonly optimizers: HpOptimizers;
  readonly state: TrainState;
  readonly step: StepConfig;
  readonly poolSize: number;
  readonly renewInterval: number;
  readonly warmup: number;
  readonly validFreq: number;
  readonly lr: Record<string, number>;
  /** Static part of the checkpoint metadata (config, specs, versions). */
  readonly meta: Omit<
    CheckpointMeta,
    | 'kind'
    | 'iteration'
    | 'epoch'
    | 'batchInEpoch'
    | 'totalIterations'
    | 'seed'
    | 'lambda'
    | 'best'
    | 'poolBuiltAt'
    | 'lastLoss'
    | 'savedAt'
    | 'batchesPerEpoch'
  >;
  readonly outDir: string;
  readonly validate: (() => Promise<EvalResult>) | null;
  readonly selectBest: boolean;
  /** Stop (with a checkpoint) when the iteration counter reaches this value. */
  readonly stopAt: number | null;
}

export interface TrainOutcome {
  readonly status: 'completed' | 'stopped' | 'interrupted';
  readonly iteration: number;
  readonly losses: StepLosses[];
  readonly lastCheckpoint: string;
  readonly lastValidation: EvalResult | null;
}

export function checkpointPaths(outDir: string) {
  return {
    last: join(outDir, 'checkpoints', 'last.safetensors'),
    best: join(outDir, 'checkpoints', 'best.safetensors'),
    log: join(outDir, 'log.jsonl'),
    config: join(outDir, 'config.json'),
  };
}

async function logLine(path: string, record: Record<string, unknown>): Promise<void> {
  await appendFile(path, `${JSON.stringify(record)}\n`);
}

function poolsToStateDict(pools: HostPools): StateDict {
  const sd: StateDict = new Map();
  sd.set('pool.agnostic', {
    dtype: 'float32',
    storedDtype: 'float32',
    shape: [pools.size, pools.featWidth],
    data: pools.agnostic,
  });
  sd.set('pool.specific', {
    dtype: 'float32',
    storedDtype: 'float32',
    shape: [pools.size, pools.codeWidth],
    data: pools.specific,
  });
  return sd;
}

export async function writeRunCheckpoint(
  session: TrainSession,
  path: string,
  kind: CheckpointMeta['kind'],
): Promise<void> {
  const { state } = session;
  const tensors: StateDict = new Map([
    ...modelsToStateDict(session.models),
    ...optimizersToStateDict(session.optimizers),
    ...(state.pools ? poolsToStateDict(state.pools) : []),
  ]);
  const meta: CheckpointMeta = {
    ...session.meta,
    kind,
    iteration: state.iteration,
    epoch: state.epoch,
    batchInEpoch: state.batchInEpoch,
    totalIterations: state.totalIterations,
    batchesPerEpoch: session.data.batchesPerEpoch,
    seed: state.seed,
    lambda: state.lambda,
    best: state.best,
    poolBuiltAt: state.poolBuiltAt,
    lastLoss: state.lastLoss,
    savedAt: new Date().toISOString(),
    ...(kind === 'best'
      ? {
          selection:
            'best by Cluster mIoU + Cluster Acc + Linear mIoU + Linear Acc on the VALIDATION set (uses validation labels, as the official code)',
        }
      : {}),
  };
  await saveCheckpoint(path, tensors, meta);
}

/**
 * Builds a reference pool as the official `make_reference_pool.py`: `poolSize / B` batches of a
 * fresh shuffled pass over the training set, one random patch per image. `key` separates the
 * passes (initial build, each renewal) so every pass has its own order and patch draws.
 */
async function buildPools(
  session: TrainSession,
  key: number,
  which: { agnostic: boolean; specific: boolean },
): Promise<{ agnostic: Float32Array[]; specific: Float32Array[] }> {
  const { data, models, step, poolSize } = session;
  const batches = Math.ceil(poolSize / data.batchSize);
  const agnostic: Float32Array[] = [];
  const specific: Float32Array[] = [];
  for (let j = 0; j < batches; j++) {
    const indices = data.batchIndices('pool', key, j % data.batchesPerEpoch);
    const batch = await data.load(indices);
    const feat = await session.features.plain(batch);
    try {
      const rows = poolRowsFromBatch(
        models,
        feat,
        step.dropoutRate,
        deriveSeed(session.state.seed, 'pool', key, j),
        which,
      );
      if (rows.agnostic) agnostic.push(rows.agnostic);
      if (rows.specific) specific.push(rows.specific);
    } finally {
      feat.dispose();
    }
  }
  return { agnostic, specific };
}

function trimPool(chunks: Float32Array[], width: number, size: number): Float32Array {
  return assemblePool(chunks, width)
    .subarray(0, size * width)
    .slice();
}

/**
 * The official training loop (`run.py`), with its state explicit. Before training: both pools
 * (Q_ag once, never renewed). Per iteration t (batch i of epoch e): λ(t); Q_sp renewed when
 * i % renew_interval == 0 and i != 0; one step (`trainStep`); validation every valid_freq batches
 * and at the end of each epoch; `last` checkpoint at every validation, at the end, on Ctrl-C and at
 * `stopAt`; `best` only with `selectBest`. A non-finite loss stops the run (the last checkpoint
 * on disk is the last good one).
 */
export async function trainLoop(session: TrainSession, io: CliIo): Promise<TrainOutcome> {
  const { data, state, models, optimizers } = session;
  const paths = checkpointPaths(session.outDir);
  const losses: StepLosses[] = [];
  let lastValidation: EvalResult | null = null;
  const featWidth = models.head.inChannels;
  const codeWidth = models.head.dim;

  if (state.pools === null) {
    io.stderr.write(`building reference pools (${session.poolSize} patches each)\n`);
    const built = await buildPools(session, 0, { agnostic: true, specific: true });
    state.pools = {
      agnostic: trimPool(built.agnostic, featWidth, session.poolSize),
      specific: trimPool(built.specific, codeWidth, session.poolSize),
      size: session.poolSize,
      featWidth,
      codeWidth,
    };
    state.poolBuiltAt = { epoch: 0, batch: 0 };
  }
  let poolTensors = {
    agnostic: tf.tensor2d(state.pools.agnostic, [session.poolSize, featWidth]),
    specific: tf.tensor2d(state.pools.specific, [session.poolSize, codeWidth]),
  };

  const progress = createProgress(io, 'train', state.totalIterations - state.iteration);
  const L = data.batchesPerEpoch;
  try {
    while (state.iteration < state.totalIterations) {
      if (session.stopAt !== null && state.iteration >= session.stopAt) {
        await writeRunCheckpoint(session, paths.last, 'last');
        progress.done('stopped');
        return {
          status: 'stopped',
          iteration: state.iteration,
          losses,
          lastCheckpoint: paths.last,
          lastValidation,
        };
      }
      const t = state.iteration;
      const i = state.batchInEpoch;
      const epoch = state.epoch;
      const started = performance.now();
      state.lambda = lambdaSchedule({
        iteration: t,
        warmup: session.warmup,
        maxIterations: state.totalIterations,
      });
      // Task-specific pool renewal at i = k·renew_interval (k >= 1) of every epoch.
      if (
        i % session.renewInterval === 0 &&
        i !== 0 &&
        !(state.poolBuiltAt.epoch === epoch && state.poolBuiltAt.batch === i)
      ) {
        const built = await buildPools(session, 1 + t, { agnostic: false, specific: true });
        state.pools.specific = trimPool(built.specific, codeWidth, session.poolSize);
        state.poolBuiltAt = { epoch, batch: i };
        poolTensors.specific.dispose();
        poolTensors = {
          ...poolTensors,
          specific: tf.tensor2d(state.pools.specific, [session.poolSize, codeWidth]),
        };
      }
      const batch = await data.load(data.batchIndices('train', epoch, i), {
        ...(session.features.needsAugImages ? { augmentSeed: deriveSeed(state.seed, 'augment', t) } : {}),
      });
      const loaded = performance.now();
      const main = await session.features.main(batch);
      const featAug = await session.features.augmented(batch, t);
      const featured = performance.now();
      const labels = tf.tensor3d(batch.labels, [batch.shape[0], batch.shape[1], batch.shape[2]], 'int32');
      let result: StepLosses;
      try {
        result = trainStep(
          models,
          optimizers,
          {
            feat: main.feat,
            lhpWeights: main.lhp,
            featAug,
            labels,
            poolAgnostic: poolTensors.agnostic,
            poolSpecific: poolTensors.specific,
            lambda: state.lambda,
          },
          session.step,
          dropoutSeeds(state.seed, t),
        );
      } finally {
        main.feat.dispose();
        main.lhp.dispose();
        featAug?.dispose();
        labels.dispose();
      }
      if (!Number.isFinite(result.total)) {
        await logLine(paths.log, { type: 'error', iteration: t, error: 'non-finite loss', ...result });
        throw new HpError(
          'E_NUMERIC',
          `train: non-finite loss at iteration ${t}: expected a finite value, got ${result.total} (hp ${result.hp}, consistency ${result.consistency}, linear ${result.linear}, cluster ${result.cluster})`,
          {
            hint: `${existsSync(paths.last) ? `the last good checkpoint is ${paths.last}` : 'no checkpoint was written yet'}; lower the learning rates or check the data`,
          },
        );
      }
      losses.push(result);
      state.lastLoss = result.total;
      state.iteration = t + 1;
      state.batchInEpoch = i + 1;
      if (state.batchInEpoch >= L) {
        state.epoch = epoch + 1;
        state.batchInEpoch = 0;
      }
      const stepMs = performance.now() - started;
      await logLine(paths.log, {
        type: 'step',
        iteration: t,
        epoch,
        batch: i,
        lambda: state.lambda,
        loss: result.total,
        hp: result.hp,
        consistency: result.consistency,
        linear: result.linear,
        cluster: result.cluster,
        headGradNorm: result.headGradNorm,
        lr: session.lr,
        stepMs: Math.round(stepMs),
        dataMs: Math.round(loaded - started),
        backboneMs: Math.round(featured - loaded),
        ...result.timings,
      });
      progress.tick(1, `loss ${result.total.toFixed(4)} λ ${state.lambda.toFixed(3)}`);

      const validateNow =
        (i + 1) % session.validFreq === 0 || i + 1 === L || state.iteration === state.totalIterations;
      if (validateNow) {
        if (session.validate) {
          lastValidation = await session.validate();
          const score = selectionScore(lastValidation);
          await logLine(paths.log, {
            type: 'valid',
            iteration: t,
            epoch,
            clusterMIoU: lastValidation.cluster.mIoU,
            clusterAccuracy: lastValidation.cluster.accuracy,
            linearMIoU: lastValidation.linear.mIoU,
            linearAccuracy: lastValidation.linear.accuracy,
            score,
          });
          if (session.selectBest && (state.best === null || score >= state.best.score)) {
            state.best = { score, iteration: t };
            await writeRunCheckpoint(session, paths.best, 'best');
          }
        }
        await writeRunCheckpoint(session, paths.last, 'last');
      }
      if (io.signal?.aborted) {
        await writeRunCheckpoint(session, paths.last, 'interrupted');
        await logLine(paths.log, { type: 'interrupted', iteration: state.iteration });
        progress.done('interrupted');
        return {
          status: 'interrupted',
          iteration: state.iteration,
          losses,
          lastCheckpoint: paths.last,
          lastValidation,
        };
      }
    }
    progress.done();
    return {
      status: 'completed',
      iteration: state.iteration,
      losses,
      lastCheckpoint: paths.last,
      lastValidation,
    };
  } finally {
    poolTensors.agnostic.dispose();
    poolTensors.specific.dispose();
  }
}
