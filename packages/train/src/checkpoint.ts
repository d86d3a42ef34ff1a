import {
  type HostTensor,
  HpError,
  isHpError,
  loadSafetensorsFile,
  type SafetensorsContent,
  type StateDict,
  saveSafetensorsFile,
} from '@hpseg/core';
import { type PoolStorage, ReferencePool, type ReferencePools } from '@hpseg/hidden-positives';
import { headModulesFromStateDict, headModulesToStateDict } from '@hpseg/seg-head';
import type { HpModels, HpOptimizers } from './models.js';
import { optimizersToStateDict } from './models.js';
import type { BackboneSpec, DatasetSpec } from './specs.js';
import type { AugmentMode } from './train-data.js';

/** Format tag of run checkpoints (in the safetensors `__metadata__.hpseg` JSON). */
export const RUN_CHECKPOINT_FORMAT = 'hpseg-checkpoint/2';
/** The format of earlier releases (keys `ema.*`, `linear.*`, `optim.*`, normalised pools), still read. */
export const LEGACY_RUN_CHECKPOINT_FORMAT = 'hpseg-checkpoint/1';

/** Where a run's inputs came from, when it was opened from specs (`openRun`); null parts for library runs. */
export interface RunSources {
  readonly preset: string | null;
  readonly backbone: BackboneSpec | null;
  /** Backbone engine (`onnx`, `tfjs`). */
  readonly engine: string | null;
  readonly dataset: DatasetSpec | null;
  readonly validation: DatasetSpec | null;
  readonly featureCache: string | null;
  readonly cachedAugViews: number;
  readonly augmentMode: AugmentMode;
}

/** The `RunSources` part of a checkpoint's metadata. */
export function sourcesOf(meta: RunCheckpointMeta): RunSources {
  return {
    preset: meta.preset,
    backbone: meta.backbone,
    engine: meta.engine,
    dataset: meta.dataset,
    validation: meta.validation,
    featureCache: meta.featureCache,
    cachedAugViews: meta.cachedAugViews,
    augmentMode: meta.augmentMode,
  };
}

/** Per pool: everything but its rows (those are the `referencePool.*` tensors). */
export interface PoolMeta {
  readonly filled: number;
  readonly seed: number;
  readonly draws: number;
  readonly storage: PoolStorage;
}

/** Everything about a run that is not a tensor; stored as JSON in the checkpoint. */
export interface RunCheckpointMeta extends RunSources {
  readonly format: typeof RUN_CHECKPOINT_FORMAT;
  readonly kind: 'last' | 'best' | 'interrupted';
  /** Resolved HP configuration (camelCase, every official key). */
  readonly config: Record<string, unknown>;
  readonly classNames: readonly string[];
  readonly nClasses: number;
  /** Next iteration to run (0-based global t), epoch and batch index inside it. */
  readonly iteration: number;
  readonly epoch: number;
  readonly batchInEpoch: number;
  /** Iterations of the whole schedule (λ ramp end). */
  readonly totalIterations: number;
  readonly batchesPerEpoch: number;
  /** Every draw is keyed by (seed, purpose, iteration): the seed and the iteration are the RNG state. */
  readonly seed: number;
  readonly lambda: number;
  readonly best: { readonly score: number; readonly iteration: number } | null;
  /** Pool renewal bookkeeping: the (epoch, batch) the task-specific pool was last built at. */
  readonly poolBuiltAt: { readonly epoch: number; readonly batch: number };
  readonly pools: { readonly agnostic: PoolMeta; readonly specific: PoolMeta } | null;
  readonly lastLoss: number | null;
  /** TF.js backend the run trained on last (`formatBackend`: with the adapter on webgpu). */
  readonly backend: string;
  readonly versions: Record<string, string>;
  readonly gitCommit: string | null;
  readonly savedAt: string;
  /** "best" checkpoints are selected with validation LABELS, as the official code. */
  readonly selection?: string;
}

export interface RunCheckpoint {
  readonly tensors: StateDict;
  readonly meta: RunCheckpointMeta;
}

const POOL_KEYS = { agnostic: 'referencePool.agnostic', specific: 'referencePool.specific' } as const;

/** The state dict of a run: head modules (seg-head's layout), optimisers, pool rows. */
export async function runStateDict(
  models: HpModels,
  optimizers: HpOptimizers,
  pools: ReferencePools | null,
): Promise<StateDict> {
  const out: StateDict = new Map([
    ...(await headModulesToStateDict(models)),
    ...(await optimizersToStateDict(optimizers)),
  ]);
  if (pools) {
    for (const which of ['agnostic', 'specific'] as const) {
      const st = pools[which].getState();
      out.set(POOL_KEYS[which], {
        dtype: 'float32',
        storedDtype: 'float32',
        shape: [st.size, st.width],
        data: st.rows,
      });
    }
  }
  return out;
}

export function poolsMeta(pools: ReferencePools | null): RunCheckpointMeta['pools'] {
  if (!pools) return null;
  const meta = (p: ReferencePool): PoolMeta => {
    const st = p.getState();
    return { filled: st.filled, seed: st.seed, draws: st.draws, storage: st.storage };
  };
  return { agnostic: meta(pools.agnostic), specific: meta(pools.specific) };
}

/** Writes a run checkpoint atomically (temporary file, then rename). */
export async function saveRunCheckpoint(path: string, checkpoint: RunCheckpoint): Promise<void> {
  await saveSafetensorsFile(path, checkpoint.tensors, { hpseg: JSON.stringify(checkpoint.meta) });
}

/** Key renames from format 1: one name per module since format 2. */
const LEGACY_PREFIXES: readonly (readonly [string, string])[] = [
  ['ema.', 'momentumHead.'],
  ['projection.', 'projectionHead.'],
  ['linear.', 'linearProbe.'],
  ['cluster.', 'clusterProbe.'],
  ['optim.head.', 'optimizer.head.'],
  ['optim.projection.', 'optimizer.projectionHead.'],
  ['optim.linear.', 'optimizer.linearProbe.'],
  ['optim.cluster.', 'optimizer.clusterProbe.'],
  ['pool.agnostic', POOL_KEYS.agnostic],
  ['pool.specific', POOL_KEYS.specific],
];

/**
 * A format-1 checkpoint in format 2: keys renamed, pools (stored L2-normalised there) taken as full
 * pools whose rows are those normalised rows (normalising them again moves a value by at most an ulp).
 */
function upgradeLegacy(tensors: StateDict, meta: Record<string, unknown>): RunCheckpoint {
  const renamed: StateDict = new Map();
  for (const [key, value] of tensors) {
    const rule = LEGACY_PREFIXES.find(([from]) => key.startsWith(from));
    renamed.set(rule ? rule[1] + key.slice(rule[0].length) : key, value);
  }
  const pool = (key: string): PoolMeta | null => {
    const t = renamed.get(key);
    return t ? { filled: t.shape[0] as number, seed: 0, draws: 0, storage: 'float32' } : null;
  };
  const agnostic = pool(POOL_KEYS.agnostic);
  const specific = pool(POOL_KEYS.specific);
  const { format: _f, featureCache, cachedAugViews, augmentMode, ...rest } = meta as Record<string, unknown>;
  return {
    tensors: renamed,
    meta: {
      ...(rest as Omit<RunCheckpointMeta, 'format'>),
      format: RUN_CHECKPOINT_FORMAT,
      featureCache: (featureCache as string | null) ?? null,
      cachedAugViews: (cachedAugViews as number) ?? 0,
      augmentMode: (augmentMode as AugmentMode) ?? 'image',
      pools: agnostic && specific ? { agnostic, specific } : null,
      backend: (rest.backend as string) ?? 'unknown',
    },
  };
}

/** Reads a run checkpoint of format 2 (or 1, upgraded); `E_FORMAT` for anything else. */
export async function loadRunCheckpoint(path: string): Promise<RunCheckpoint> {
  let content: SafetensorsContent;
  try {
    content = await loadSafetensorsFile(path);
  } catch (error) {
    if (!isHpError(error, 'E_FORMAT')) throw error;
    throw new HpError('E_FORMAT', `loadRunCheckpoint: ${path}: ${error.message}`, {
      cause: error,
      hint: 'the file is truncated or not an hpseg checkpoint; use the other checkpoint (last/best) or retrain',
    });
  }
  return parseRunCheckpoint(content, path);
}

/** The run checkpoint held by a loaded safetensors file (format 2, or 1 upgraded); `E_FORMAT` otherwise. */
export function parseRunCheckpoint(content: SafetensorsContent, path: string): RunCheckpoint {
  const meta = runMetaOf(content);
  if (meta?.format === LEGACY_RUN_CHECKPOINT_FORMAT) return upgradeLegacy(content.tensors, meta);
  if (meta?.format !== RUN_CHECKPOINT_FORMAT) {
    throw new HpError(
      'E_FORMAT',
      `loadRunCheckpoint: ${path} is not an hpseg run checkpoint: expected metadata format ${RUN_CHECKPOINT_FORMAT} (or ${LEGACY_RUN_CHECKPOINT_FORMAT}), got ${String(meta?.format ?? 'none')}`,
      { hint: 'pass checkpoints/last.safetensors or best.safetensors of a run' },
    );
  }
  return { tensors: content.tensors, meta: meta as unknown as RunCheckpointMeta };
}

/** The run metadata JSON of a safetensors file, or null when it has none. */
export function runMetaOf(content: SafetensorsContent): Record<string, unknown> | null {
  const text = content.metadata.hpseg;
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** The models of a run checkpoint, strictly (the projection head is required to train on). */
export function modelsFromRunCheckpoint(
  checkpoint: RunCheckpoint,
  dropoutRate: number,
  options: { readonly projection: boolean; readonly source: string },
) {
  return headModulesFromStateDict(checkpoint.tensors, {
    dropoutRate,
    projection: options.projection,
    otherPrefixes: ['optimizer.', 'referencePool.'],
    source: options.source,
  });
}

/** The pools of a run checkpoint, or null when it was saved before they were built. */
export function poolsFromRunCheckpoint(checkpoint: RunCheckpoint): ReferencePools | null {
  const meta = checkpoint.meta.pools;
  if (meta === null) return null;
  const pool = (which: 'agnostic' | 'specific'): ReferencePool => {
    const rows = checkpoint.tensors.get(POOL_KEYS[which]) as HostTensor | undefined;
    if (rows === undefined || rows.shape.length !== 2) {
      throw new HpError(
        'E_CHECKPOINT',
        `poolsFromRunCheckpoint: ${POOL_KEYS[which]} is missing or not 2-D: expected [Q, width] rows, got ${rows ? `[${rows.shape.join(', ')}]` : 'none'}`,
      );
    }
    const m = meta[which];
    return ReferencePool.fromState({
      size: rows.shape[0] as number,
      width: rows.shape[1] as number,
      storage: m.storage,
      filled: m.filled,
      rows: rows.data instanceof Float32Array ? rows.data : Float32Array.from(rows.data as ArrayLike<number>),
      seed: m.seed,
      draws: m.draws,
    });
  };
  return { agnostic: pool('agnostic'), specific: pool('specific') };
}
