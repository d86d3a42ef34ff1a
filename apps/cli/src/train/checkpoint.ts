import type { SafetensorsContent, StateDict } from '@hpseg/core';
import { HpError, isHpError, loadSafetensorsFile, saveSafetensorsFile } from '@hpseg/core';

/** Format tag of our checkpoints (in the safetensors `__metadata__`). */
export const CHECKPOINT_FORMAT = 'hpseg-checkpoint/1';

/** How the frozen backbone of a run is obtained again (eval, segment, resume). */
export type BackboneSpec =
  | { readonly kind: 'file'; readonly path: string; readonly numHeads?: number }
  | { readonly kind: 'random'; readonly config: Record<string, number>; readonly seed: number };

/** Where the training data comes from. */
export type DatasetSpec =
  | {
      readonly kind: 'synthetic';
      readonly seed: number;
      readonly length: number;
      readonly size: number;
      readonly numClasses: number;
    }
  | { readonly kind: 'preset'; readonly preset: string; readonly dataDir: string };

/** Everything about a run that is not a tensor; stored as JSON in the checkpoint. */
export interface CheckpointMeta {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly kind: 'last' | 'best' | 'interrupted';
  /** Resolved HP configuration (camelCase, every official key). */
  readonly config: Record<string, unknown>;
  readonly preset: string;
  readonly backbone: BackboneSpec;
  readonly engine: string;
  readonly dataset: DatasetSpec;
  readonly validation: DatasetSpec | null;
  readonly classNames: readonly string[];
  readonly nClasses: number;
  readonly featureCache: string | null;
  readonly cachedAugViews: number;
  /** Photometric view: 'image' (augment, then normalise) or 'official' (augment the normalised tensor, clamp). */
  readonly augmentMode?: 'image' | 'official';
  /** Next iteration to run (0-based global t), epoch and batch index inside it. */
  readonly iteration: number;
  readonly epoch: number;
  readonly batchInEpoch: number;
  /** Iterations of the whole schedule (λ ramp end). */
  readonly totalIterations: number;
  readonly batchesPerEpoch: number;
  /** RNG state: every draw is keyed by (seed, purpose, iteration), so the seed + iteration suffice. */
  readonly seed: number;
  readonly lambda: number;
  readonly best: { readonly score: number; readonly iteration: number } | null;
  /** Pool renewal bookkeeping: the (epoch, batch) the task-specific pool was last built at. */
  readonly poolBuiltAt: { readonly epoch: number; readonly batch: number };
  readonly lastLoss: number | null;
  readonly versions: Record<string, string>;
  readonly gitCommit: string | null;
  readonly savedAt: string;
  /** "best" checkpoints are selected with validation LABELS, as the official code. */
  readonly selection?: string;
}

export async function saveCheckpoint(path: string, tensors: StateDict, meta: CheckpointMeta): Promise<void> {
  await saveSafetensorsFile(path, tensors, { hpseg: JSON.stringify(meta) });
}

export async function loadCheckpoint(path: string): Promise<{ tensors: StateDict; meta: CheckpointMeta }> {
  let content: SafetensorsContent;
  try {
    content = await loadSafetensorsFile(path);
  } catch (error) {
    if (!isHpError(error, 'E_FORMAT')) throw error;
    throw new HpError('E_FORMAT', `loadCheckpoint: ${path}: ${error.message}`, {
      cause: error,
      hint: 'the file is truncated or not an hpseg checkpoint; use the other checkpoint (last/best) or retrain',
    });
  }
  const { tensors, metadata } = content;
  let meta: CheckpointMeta | undefined;
  try {
    meta = metadata.hpseg === undefined ? undefined : (JSON.parse(metadata.hpseg) as CheckpointMeta);
  } catch {
    meta = undefined;
  }
  if (meta?.format !== CHECKPOINT_FORMAT) {
    throw new HpError(
      'E_FORMAT',
      `loadCheckpoint: ${path} is not an hpseg checkpoint: expected metadata format ${CHECKPOINT_FORMAT}, got ${meta?.format ?? 'none'}`,
      { hint: 'pass a checkpoint written by `hpseg train` or an official HP ckpt.pth' },
    );
  }
  return { tensors, meta };
}
