import { deriveSeed, mulberry32 } from '@hpseg/core';
import { createReferencePools, type ReferencePool, type ReferencePools } from '@hpseg/hidden-positives';
import { dropout2d } from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';
import type { FeatureSource } from './features.js';
import type { HpModels } from './models.js';
import type { TrainData } from './train-data.js';

/** What filling the pools needs from a run. */
export interface PoolContext {
  readonly data: TrainData;
  readonly features: FeatureSource;
  readonly models: HpModels;
  readonly dropoutRate: number;
  /** Run seed: every pass and every patch choice is keyed by (seed, pass). */
  readonly seed: number;
}

/** Empty Q_ag `[Q, C]` and Q_sp `[Q, D]` (float32 rows; the patch choice is drawn by `fillReferencePools`). */
export function emptyReferencePools(
  size: number,
  inChannels: number,
  dim: number,
  seed: number,
): ReferencePools {
  return createReferencePools({ poolSize: size, agnosticWidth: inChannels, specificWidth: dim, seed });
}

/**
 * Fills pools as the official `make_reference_pool.py`: `⌈Q / B⌉` batches of a fresh shuffled pass over
 * the training set (pass `key`: 0 for the initial build, 1 + t for the renewal before iteration t), one
 * uniformly random patch per image and pool (independent draws). The forward runs with dropout active
 * (a train-mode module with `train=False`): Q_ag takes `Drop(f)`, Q_sp takes `Drop(S′(Drop f))`.
 * Only the pools in `which` are filled; each must be empty. (Seed labels as in `drawStepRandomness`.)
 */
export async function fillReferencePools(
  ctx: PoolContext,
  pools: ReferencePools,
  key: number,
  which: { readonly agnostic: boolean; readonly specific: boolean },
): Promise<void> {
  const { data, models, dropoutRate } = ctx;
  const targets: ReferencePool[] = [];
  if (which.agnostic) targets.push(pools.agnostic);
  if (which.specific) targets.push(pools.specific);
  const size = Math.max(...targets.map((p) => p.size));
  const batches = Math.ceil(size / data.batchSize);
  for (let j = 0; j < batches; j++) {
    const batch = await data.load(data.batchIndices('pool', key, j % data.batchesPerEpoch));
    const feat = await ctx.features.plain(batch); // [B, h, w, C]
    try {
      const [B, h, w] = feat.shape;
      const P = h * w;
      const passSeed = deriveSeed(ctx.seed, 'pool', key, j);
      const random = mulberry32(passSeed);
      const idxAgnostic = Array.from({ length: B }, () => Math.floor(random() * P));
      const idxSpecific = Array.from({ length: B }, () => Math.floor(random() * P));
      if (which.agnostic) {
        const fDrop = dropout2d(feat, dropoutRate, deriveSeed(passSeed, 'feat')); // [B, h, w, C]
        try {
          await pools.agnostic.add(fDrop, idxAgnostic);
        } finally {
          fDrop.dispose();
        }
      }
      if (which.specific) {
        const out = tf.tidy(() => {
          const code = models.momentumHead.forward(feat, {
            training: true,
            seed: deriveSeed(passSeed, 'ema'),
          });
          return dropout2d(code, dropoutRate, deriveSeed(passSeed, 'ema-out')); // [B, h, w, D]
        });
        try {
          await pools.specific.add(out, idxSpecific);
        } finally {
          out.dispose();
        }
      }
    } finally {
      feat.dispose();
    }
  }
}
