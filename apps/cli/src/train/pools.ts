import { deriveSeed, l2NormalizeRows, mulberry32 } from '@hpseg/core';
import { dropout2d } from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';
import type { HpModels } from './models.js';

/** Host copies of the two reference pools, rows L2-normalised. */
export interface HostPools {
  /** `[Q, C]` task-agnostic pool Q_ag (backbone features), built once. */
  agnostic: Float32Array;
  /** `[Q, D]` task-specific pool Q_sp (momentum-head outputs), renewed every renew_interval batches. */
  specific: Float32Array;
  readonly size: number;
  readonly featWidth: number;
  readonly codeWidth: number;
}

/**
 * Fills pool rows from one batch as the official `make_reference_pool.py`: the forward runs with
 * dropout active (train-mode module, `train=False`), out[0] = Drop(f) and out[2] = Drop(S'(Drop f));
 * each image gives one uniformly random patch to each pool (independent draws).
 */
export function poolRowsFromBatch(
  models: HpModels,
  feat: tf.Tensor4D,
  dropoutRate: number,
  seed: number,
  which: { agnostic: boolean; specific: boolean },
): { agnostic?: Float32Array; specific?: Float32Array } {
  const [B, h, w, C] = feat.shape;
  const P = h * w;
  const random = mulberry32(seed);
  const idxAg = Array.from({ length: B }, () => Math.floor(random() * P));
  const idxSp = Array.from({ length: B }, () => Math.floor(random() * P));
  const out: { agnostic?: Float32Array; specific?: Float32Array } = {};
  tf.tidy(() => {
    if (which.agnostic) {
      const fDrop = tf.reshape(dropout2d(feat, dropoutRate, deriveSeed(seed, 'feat')), [B * P, C]); // [N, C]
      const rows = tf.gather(
        fDrop,
        idxAg.map((p, b) => b * P + p),
      );
      out.agnostic = Float32Array.from(rows.dataSync());
    }
    if (which.specific) {
      const code = models.ema.forward(feat, { training: true, seed: deriveSeed(seed, 'ema') });
      const D = code.shape[3];
      const drop = tf.reshape(dropout2d(code, dropoutRate, deriveSeed(seed, 'ema-out')), [B * P, D]); // [N, D]
      const rows = tf.gather(
        drop,
        idxSp.map((p, b) => b * P + p),
      );
      out.specific = Float32Array.from(rows.dataSync());
    }
  });
  return out;
}

/** Stacks per-batch rows into a normalised pool. */
export function assemblePool(chunks: readonly Float32Array[], width: number): Float32Array {
  const total = chunks.reduce((a, c) => a + c.length, 0);
  const out = new Float32Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  l2NormalizeRows(out, out.length / width, width);
  return out;
}
