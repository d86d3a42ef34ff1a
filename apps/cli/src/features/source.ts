import type { Backbone } from '@hpseg/backbone-vit';
import { deriveSeed, HpError } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import type { HostBatch } from '../train/data.js';
import type { FeatureSource } from '../train/loop.js';
import { type CacheIdentity, type CacheReader, openCache } from './cache.js';

export interface FeatureSourceContext {
  readonly backbone: Backbone;
  readonly gridSize: number;
  readonly consistency: boolean;
  readonly seed: number;
  readonly identity: () => Promise<CacheIdentity>;
}

export type FeatureSourceFactory = (ctx: FeatureSourceContext) => Promise<FeatureSource>;

async function gather(
  reader: CacheReader,
  batch: HostBatch,
  part: 'tokens' | 'lhp' | number,
): Promise<Float32Array> {
  const { tokens, lhp } = reader.layout;
  const size = part === 'lhp' ? lhp : tokens;
  const offset = part === 'tokens' ? 0 : part === 'lhp' ? tokens : tokens + lhp + part * tokens;
  const out = new Float32Array(batch.indices.length * size);
  for (const [b, index] of batch.indices.entries()) {
    const row = await reader.item(index);
    out.set(row.subarray(offset, offset + size), b * size);
  }
  return out;
}

/**
 * Features from a `hpseg features` cache: the main view's tokens and LHP weights are exact (no
 * geometric augmentation, fp16 storage); the augmented view is computed online (default) or, with
 * `augViews` = K > 0, one of K cached augmented views is picked per image and iteration — an
 * approximation of the official fresh draw per step.
 */
export function cacheFeatureSource(dir: string, augViews: number): FeatureSourceFactory {
  return async (ctx) => {
    const reader = await openCache(dir, await ctx.identity());
    const m = reader.manifest;
    if (augViews > m.augViews) {
      throw new HpError(
        'E_ARG',
        `train: --cached-aug-views ${augViews}: expected at most the ${m.augViews} views in the cache, got ${augViews}`,
        {
          hint: 'recompute with `hpseg features --aug-views K`',
        },
      );
    }
    const h = m.gridSize;
    const C = m.identity.embedDim;
    const P = h * h;
    const tokensTensor = (data: Float32Array, B: number) => tf.tensor4d(data, [B, h, h, C]); // [B, h, w, C]
    return {
      needsAugImages: ctx.consistency && augViews === 0,
      async main(batch) {
        const B = batch.indices.length;
        const feat = tokensTensor(await gather(reader, batch, 'tokens'), B);
        const lhp = tf.tensor3d(await gather(reader, batch, 'lhp'), [B, P, 9]); // [B, P, 9]
        return { feat, lhp };
      },
      async plain(batch) {
        return tokensTensor(await gather(reader, batch, 'tokens'), batch.indices.length);
      },
      async augmented(batch, iteration) {
        if (!ctx.consistency) return null;
        const B = batch.indices.length;
        if (augViews > 0) {
          const out = new Float32Array(B * reader.layout.tokens);
          for (const [b, index] of batch.indices.entries()) {
            const k = deriveSeed(ctx.seed, 'aug-pick', iteration, b) % augViews;
            const row = await reader.item(index);
            const start = reader.layout.tokens + reader.layout.lhp + k * reader.layout.tokens;
            out.set(row.subarray(start, start + reader.layout.tokens), b * reader.layout.tokens);
          }
          return tokensTensor(out, B);
        }
        if (!batch.augImages) return null;
        const input = tf.tensor4d(batch.augImages, [B, batch.shape[1], batch.shape[2], 3]);
        try {
          const out = await ctx.backbone.forward(input);
          out.clsToken.dispose();
          return out.patchTokens;
        } finally {
          input.dispose();
        }
      },
    };
  };
}
