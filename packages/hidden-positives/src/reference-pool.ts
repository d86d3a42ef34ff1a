import {
  assertInt,
  describeValue,
  HpError,
  l2NormalizeRows,
  mulberry32,
  randomSeed,
  roundToFloat16,
} from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';

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
 * Everything a pool holds, for checkpoints: `fromState(getState())` is the same pool, and it goes on
 * drawing the same random patches (the generator is replayed from `seed` over `draws` draws).
 */
export interface ReferencePoolState {
  readonly size: number;
  readonly width: number;
  readonly storage: PoolStorage;
  /** Rows stored so far. */
  readonly filled: number;
  /** `[size, width]` row-major rows as stored (not normalised); rows at and after `filled` are 0. */
  readonly rows: Float32Array;
  /** Seed of the patch-choice generator and how many numbers it has drawn. */
  readonly seed: number;
  readonly draws: number;
}

/**
 * A reference pool (official-behaviour §3.2): one randomly chosen patch vector per image, filled batch by batch
 * until `size` rows are stored, then read as an L2-normalised `[Q, width]` tensor. Rows live in host
 * memory (a `Float32Array`), so the pool owns no tensors and needs no `dispose`. Reads from the
 * backend are asynchronous (`await add(...)`), so pools work on GPU backends too.
 */
export class ReferencePool {
  readonly size: number;
  readonly width: number;
  readonly storage: PoolStorage;
  #rows: Float32Array;
  #filled = 0;
  #seed: number;
  #draws = 0;
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
    this.#seed = options.seed === undefined ? randomSeed() : assertInt(fn, 'seed', options.seed);
    this.#rng = mulberry32(this.#seed);
  }

  /** A pool restored from `getState()` (strictly checked). */
  static fromState(state: ReferencePoolState): ReferencePool {
    const pool = new ReferencePool({ size: state.size, width: state.width, storage: state.storage, seed: 0 });
    pool.setState(state);
    return pool;
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
   * ignored. Resolves to the patch index used for every stored image.
   */
  async add(features: tf.Tensor, indices?: ArrayLike<number>): Promise<number[]> {
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
      const idx = indices === undefined ? this.#draw(patches) : indices[b]!;
      assertInt(fn, `indices[${b}]`, idx, 0, patches - 1);
      chosen.push(idx);
    }
    if (take === 0) return chosen;
    const first = this.#filled;
    this.#filled += take; // reserved before the await, so concurrent adds never share rows
    let picked: Float32Array;
    try {
      picked = await pickPatches(features, chosen, patches, this.width);
    } catch (error) {
      if (this.#filled === first + take) this.#filled = first; // nothing was written
      throw error;
    }
    const offset = first * this.width;
    for (let k = 0; k < picked.length; k += 1) {
      const v = picked[k]!;
      this.#rows[offset + k] = this.storage === 'float16' ? roundToFloat16(v) : v;
    }
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
    const out = l2NormalizeRows(Float32Array.from(this.#rows), this.size, this.width);
    if (this.storage === 'float16') for (let i = 0; i < out.length; i += 1) out[i] = roundToFloat16(out[i]!);
    return tf.tensor2d(out, [this.size, this.width], 'float32');
  }

  /** Empties the pool (renewal of Q_sp), optionally re-seeding the patch choice. */
  reset(seed?: number): void {
    this.#rows.fill(0);
    this.#filled = 0;
    if (seed !== undefined) {
      this.#seed = assertInt('ReferencePool.reset', 'seed', seed);
      this.#draws = 0;
      this.#rng = mulberry32(this.#seed);
    }
  }

  /** A copy of the pool's state (rows, fill level, generator position). */
  getState(): ReferencePoolState {
    return {
      size: this.size,
      width: this.width,
      storage: this.storage,
      filled: this.#filled,
      rows: Float32Array.from(this.#rows),
      seed: this.#seed,
      draws: this.#draws,
    };
  }

  /** Restores a state of a pool of the same size, width and storage (`E_CHECKPOINT` otherwise). */
  setState(state: ReferencePoolState): void {
    const fn = 'ReferencePool.setState';
    const problems: string[] = [];
    if (state.size !== this.size) problems.push(`size ${state.size} (pool ${this.size})`);
    if (state.width !== this.width) problems.push(`width ${state.width} (pool ${this.width})`);
    if (state.storage !== this.storage) problems.push(`storage ${state.storage} (pool ${this.storage})`);
    if (!(state.rows instanceof Float32Array) || state.rows.length !== this.size * this.width)
      problems.push(
        `rows of length ${describeValue(state.rows?.length)} (expected ${this.size * this.width})`,
      );
    if (!Number.isInteger(state.filled) || state.filled < 0 || state.filled > this.size)
      problems.push(`filled ${describeValue(state.filled)} (expected 0..${this.size})`);
    if (!Number.isInteger(state.seed) || !Number.isInteger(state.draws) || state.draws < 0)
      problems.push(`generator seed ${describeValue(state.seed)} / draws ${describeValue(state.draws)}`);
    if (problems.length > 0) {
      throw new HpError(
        'E_CHECKPOINT',
        `${fn}: state does not fit the pool: expected size ${this.size}, width ${this.width}, storage ${this.storage}, got ${problems.join('; ')}`,
      );
    }
    this.#rows = Float32Array.from(state.rows);
    this.#filled = state.filled;
    this.#seed = state.seed;
    this.#rng = mulberry32(state.seed);
    for (let i = 0; i < state.draws; i += 1) this.#rng();
    this.#draws = state.draws;
  }

  #draw(patches: number): number {
    this.#draws += 1;
    return Math.floor(this.#rng() * patches);
  }
}

/** Reads row `indices[b]` of image b from `[B, P, C]` (or `[B, h, w, C]`) features to the host. */
async function pickPatches(
  features: tf.Tensor,
  indices: readonly number[],
  patches: number,
  width: number,
): Promise<Float32Array> {
  const rows = tf.tidy(() => {
    const flat = tf.reshape(features, [-1, width]); // [B*P, C]
    const at = tf.tensor1d(
      indices.map((idx, b) => b * patches + idx),
      'int32',
    );
    return tf.gather(flat, at); // [take, C]
  });
  try {
    return (await rows.data()) as Float32Array;
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

/** Creates the empty task-agnostic and task-specific pools (official-behaviour §3.2). */
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
