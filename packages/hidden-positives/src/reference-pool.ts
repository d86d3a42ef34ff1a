import { assertInt, describeValue, HpError, mulberry32, randomSeed } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { roundToFloat16 } from './float16.js';

/** How pool rows are stored: plain float32, or rounded to half precision like the official fp16 pools. */
export type PoolStorage = 'float32' | 'float16';

export interface ReferencePoolOptions {
  /** Rows Q (official `model.pool_size`). */
  readonly size: number;
  /** Row width: backbone width C for Q_ag, head width D for Q_sp. */
  readonly width: number;
  /**
   * Default `float32`. The official pools are fp16 tensors (filled under autocast, normalised in
   * fp16); `float16` reproduces that rounding (before and after normalisation).
   */
  readonly storage?: PoolStorage;
  /** Seed of the patch choice; a fresh random seed when omitted. */
  readonly seed?: number;
}

/**
 * A reference pool (spec §3.2): one randomly chosen patch vector per image, filled batch by batch
 * until `size` rows are stored, then read as an L2-normalised `[Q, width]` tensor. Rows live in host
 * memory (a `Float32Array`), so the pool owns no tensors and needs no `dispose`.
 */
export class ReferencePool {
  readonly size: number;
  readonly width: number;
  readonly storage: PoolStorage;
  #rows: Float32Array;
  #filled = 0;
  #rng: () => number;

  constructor(options: ReferencePoolOptions) {
    const fn = 'ReferencePool';
    this.size = assertInt(fn, 'size', options.size, 1);
    this.width = assertInt(fn, 'width', options.width, 1);
    this.storage = options.storage ?? 'float32';
    if (this.storage !== 'float32' && this.storage !== 'float16') {
      throw new HpError(
        'E_ARG',
        `${fn}: storage is invalid: expected 'float32' or 'float16', got ${describeValue(options.storage)}`,
      );
    }
    this.#rows = new Float32Array(this.size * this.width);
    this.#rng = mulberry32(options.seed === undefined ? randomSeed() : assertInt(fn, 'seed', options.seed));
  }

  /** Rows stored so far. */
  get filled(): number {
    return this.#filled;
  }

  get isFull(): boolean {
    return this.#filled === this.size;
  }

  /**
   * Adds one patch per image of `features` (`[B, h, w, width]` or `[B, P, width]`), at `indices`
   * (flat patch index i·w + j per image) or uniformly at random. Images beyond the free rows are
   * ignored. Returns the patch index used for every stored image.
   */
  add(features: tf.Tensor, indices?: ArrayLike<number>): number[] {
    const fn = 'ReferencePool.add';
    if ((features.rank !== 3 && features.rank !== 4) || features.shape[features.rank - 1] !== this.width) {
      throw new HpError(
        'E_SHAPE',
        `${fn}: features has the wrong shape: expected [B, h, w, ${this.width}] or [B, P, ${this.width}], got [${features.shape.join(', ')}]`,
      );
    }
    const batch = features.shape[0]!;
    const patches = features.size / (batch * this.width);
    const take = Math.min(batch, this.size - this.#filled);
    if (indices !== undefined && indices.length < take) {
      throw new HpError(
        'E_SHAPE',
        `${fn}: indices is too short: expected at least ${take} patch indices, got ${indices.length}`,
      );
    }
    const chosen: number[] = [];
    for (let b = 0; b < take; b += 1) {
      const idx = indices === undefined ? Math.floor(this.#rng() * patches) : indices[b]!;
      assertInt(fn, `indices[${b}]`, idx, 0, patches - 1);
      chosen.push(idx);
    }
    if (take === 0) return chosen;
    const picked = pickPatches(features, chosen, patches, this.width);
    const offset = this.#filled * this.width;
    for (let k = 0; k < picked.length; k += 1) {
      const v = picked[k]!;
      this.#rows[offset + k] = this.storage === 'float16' ? roundToFloat16(v) : v;
    }
    this.#filled += take;
    return chosen;
  }

  /**
   * The pool as an L2-normalised `[Q, width]` float32 tensor (`F.normalize(pool, dim=1)`).
   * Throws `E_VALUE` unless full: a partly filled pool would contain zero rows.
   */
  toTensor(): tf.Tensor2D {
    if (!this.isFull) {
      throw new HpError(
        'E_VALUE',
        `ReferencePool.toTensor: the pool is not full: expected ${this.size} rows, got ${this.#filled}. Add more batches first`,
      );
    }
    const out = new Float32Array(this.#rows.length);
    for (let r = 0; r < this.size; r += 1) {
      let sq = 0;
      for (let c = 0; c < this.width; c += 1) sq += this.#rows[r * this.width + c]! ** 2;
      const inv = 1 / Math.max(Math.sqrt(sq), 1e-12);
      for (let c = 0; c < this.width; c += 1) {
        const v = this.#rows[r * this.width + c]! * inv;
        out[r * this.width + c] = this.storage === 'float16' ? roundToFloat16(v) : v;
      }
    }
    return tf.tensor2d(out, [this.size, this.width], 'float32');
  }

  /** Empties the pool (renewal of Q_sp), optionally re-seeding the patch choice. */
  reset(seed?: number): void {
    this.#rows.fill(0);
    this.#filled = 0;
    if (seed !== undefined) this.#rng = mulberry32(assertInt('ReferencePool.reset', 'seed', seed));
  }
}

/** Reads row `indices[b]` of image b from `[B, P, C]` (or `[B, h, w, C]`) features to the host. */
function pickPatches(
  features: tf.Tensor,
  indices: readonly number[],
  patches: number,
  width: number,
): Float32Array {
  const rows = tf.tidy(() => {
    const flat = tf.reshape(features, [-1, width]); // [B*P, C]
    const at = tf.tensor1d(
      indices.map((idx, b) => b * patches + idx),
      'int32',
    );
    return tf.gather(flat, at); // [take, C]
  });
  try {
    return rows.dataSync() as Float32Array;
  } finally {
    rows.dispose();
  }
}

export interface ReferencePoolsOptions {
  /** Rows per pool (official `model.pool_size`). */
  readonly poolSize: number;
  /** Backbone width C (Q_ag rows). */
  readonly agnosticWidth: number;
  /** Head width D (Q_sp rows). */
  readonly specificWidth: number;
  readonly storage?: PoolStorage;
  /** Seed; the two pools draw from seed and seed + 1 (independent patch choices, as officially). */
  readonly seed?: number;
}

/** The two pools of HP: task-agnostic (backbone features, fixed) and task-specific (momentum head, renewed). */
export interface ReferencePools {
  readonly agnostic: ReferencePool;
  readonly specific: ReferencePool;
}

/** Creates the empty task-agnostic and task-specific pools (spec §3.2). */
export function createReferencePools(options: ReferencePoolsOptions): ReferencePools {
  const seed = options.seed ?? randomSeed();
  const storage = options.storage ?? 'float32';
  return {
    agnostic: new ReferencePool({ size: options.poolSize, width: options.agnosticWidth, storage, seed }),
    specific: new ReferencePool({
      size: options.poolSize,
      width: options.specificWidth,
      storage,
      seed: (seed + 1) >>> 0,
    }),
  };
}

/**
 * Whether Q_sp is rebuilt before batch `batchIndex` of an epoch (`run.py:144`):
 * `batchIndex % renewInterval === 0 && batchIndex !== 0` — the index restarts every epoch.
 * To renew: `pools.specific.reset()`, then `add` momentum-head outputs of fresh batches until full.
 */
export function shouldRenewReferencePool(batchIndex: number, renewInterval: number): boolean {
  assertInt('shouldRenewReferencePool', 'batchIndex', batchIndex, 0);
  assertInt('shouldRenewReferencePool', 'renewInterval', renewInterval, 1);
  return batchIndex % renewInterval === 0 && batchIndex !== 0;
}
