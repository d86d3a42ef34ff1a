import { createHash } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Backbone } from '@hpseg/backbone-vit';
import {
  deriveSeed,
  float16ToFloat32,
  float32ToFloat16,
  HpError,
  sha256File,
  writeFileAtomic,
  writeJsonAtomic,
} from '@hpseg/core';
import { augmentedView, type Dataset, stackImages, trainView } from '@hpseg/datasets';
import * as tf from '@tensorflow/tfjs-core';
import { type FeatureSourceFactory, patchTokens, tokensWithLocalPositives } from './features.js';
import type { BackboneSpec, DatasetSpec } from './specs.js';
import type { AugmentMode, HostBatch } from './train-data.js';

export const FEATURE_CACHE_FORMAT = 'hpseg-features/1';

/** What a cache was computed from; a cache is used only when all of it matches the run. */
export interface CacheIdentity {
  readonly preset: string;
  readonly dataset: DatasetSpec;
  readonly datasetLength: number;
  /** Weights fingerprint: file size + SHA-256 (or the random-weights spec). */
  readonly weights: { readonly size: number; readonly sha256: string } | BackboneSpec;
  readonly resolution: number;
  readonly patchSize: number;
  readonly embedDim: number;
  readonly sigma: number;
  /** Mode of the cached augmented views (and of the online ones of the run). */
  readonly augmentMode: AugmentMode;
}

export interface ChunkEntry {
  readonly file: string;
  readonly first: number;
  readonly count: number;
  readonly sha256: string;
  readonly bytes: number;
}

/**
 * Manifest of a feature cache. Per item: the main view's patch tokens `[h, w, C]`, its sparse LHP
 * weights `[P, 9]` and `augViews` augmented views' tokens `[h, w, C]`, all float16, little-endian,
 * item-major inside each chunk file (`chunk-00000.f16`).
 */
export interface CacheManifest {
  readonly format: typeof FEATURE_CACHE_FORMAT;
  readonly identity: CacheIdentity;
  readonly gridSize: number;
  readonly augViews: number;
  readonly seed: number;
  readonly chunkSize: number;
  readonly items: number;
  readonly chunks: readonly ChunkEntry[];
  readonly createdAt: string;
  readonly versions: Record<string, string>;
}

/** Floats per item in a chunk: tokens, LHP weights, augmented tokens. */
export function itemLayout(gridSize: number, embedDim: number, augViews: number) {
  const tokens = gridSize * gridSize * embedDim;
  const lhp = gridSize * gridSize * 9;
  return { tokens, lhp, aug: augViews * tokens, total: tokens + lhp + augViews * tokens };
}

/** File size + SHA-256 of a weights file; a random-weights spec stands for itself. */
export async function weightsFingerprint(spec: BackboneSpec): Promise<CacheIdentity['weights']> {
  if (spec.kind !== 'file') return spec;
  const info = await stat(spec.path);
  return { size: info.size, sha256: await sha256File(spec.path) };
}

export function manifestPath(dir: string): string {
  return join(dir, 'manifest.json');
}

/** Appends item rows and flushes full chunks as float16 files with their SHA-256 (atomic writes). */
class ChunkWriter {
  private readonly rows: Float32Array[] = [];
  private first = 0;
  readonly chunks: ChunkEntry[] = [];
  constructor(
    private readonly dir: string,
    private readonly chunkSize: number,
  ) {}

  async add(row: Float32Array): Promise<void> {
    this.rows.push(row);
    if (this.rows.length === this.chunkSize) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.rows.length === 0) return;
    const per = this.rows[0]!.length;
    const all = new Float32Array(per * this.rows.length);
    for (const [i, r] of this.rows.entries()) all.set(r, i * per);
    const half = float32ToFloat16(all);
    const bytes = new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
    const file = `chunk-${String(this.chunks.length).padStart(5, '0')}.f16`;
    await writeFileAtomic(join(this.dir, file), bytes);
    this.chunks.push({
      file,
      first: this.first,
      count: this.rows.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      bytes: bytes.length,
    });
    this.first += this.rows.length;
    this.rows.length = 0;
  }
}

export interface ComputeFeatureCacheOptions {
  /** The frozen backbone (its attention gives the LHP weights). */
  readonly backbone: Backbone;
  /** The training set, in its index order. */
  readonly dataset: Dataset;
  /** What the cache is computed from (checked again when a run opens it); its `sigma` must be `LHP_SIGMA`. */
  readonly identity: CacheIdentity;
  readonly outDir: string;
  /** Augmented views per item to store (0: the run computes them online). */
  readonly augViews?: number;
  /** Seed of the augmented views (`deriveSeed(seed, 'cache-aug', item, k)`). */
  readonly seed?: number;
  /** Items per chunk file (default 256). */
  readonly chunkSize?: number;
  /** Images per backbone forward (default 8). */
  readonly batchSize?: number;
  readonly signal?: AbortSignal;
  /** After every batch: items done so far. */
  readonly onProgress?: (done: number, total: number) => void;
  readonly versions?: Record<string, string>;
}

/**
 * Precomputes the training set's backbone features for `train` (`features: cacheFeatureSource(dir)`):
 * per item the main view's tokens and LHP weights, and `augViews` augmented views, float16 chunks with
 * SHA-256, the manifest written last (an interrupted run leaves no manifest: `E_INTERRUPTED`).
 */
export async function computeFeatureCache(options: ComputeFeatureCacheOptions): Promise<CacheManifest> {
  const { backbone, dataset, identity, outDir } = options;
  const augViews = options.augViews ?? 0;
  const seed = options.seed ?? 0;
  const chunkSize = options.chunkSize ?? 256;
  const batch = options.batchSize ?? 8;
  const res = identity.resolution;
  const p = backbone.config.patchSize;
  if (res % p !== 0) {
    throw new HpError(
      'E_CONFIG',
      `computeFeatureCache: resolution and patch size disagree: expected a resolution that is a multiple of ${p}, got ${res}`,
    );
  }
  const gridSize = res / p;
  await mkdir(outDir, { recursive: true });
  const writer = new ChunkWriter(outDir, chunkSize);
  const layout = itemLayout(gridSize, backbone.config.embedDim, augViews);
  for (let start = 0; start < dataset.length; start += batch) {
    if (options.signal?.aborted) {
      throw new HpError(
        'E_INTERRUPTED',
        'computeFeatureCache: interrupted: expected the whole training set, got a partial pass (no manifest written, the cache is unusable)',
      );
    }
    const indices = Array.from({ length: Math.min(batch, dataset.length - start) }, (_, j) => start + j);
    const items = await Promise.all(indices.map(async (i) => trainView(await dataset.get(i), res)));
    const images = stackImages(items);
    const B = indices.length;
    const main = await tokensWithLocalPositives(backbone, images.data, images.shape, gridSize);
    let tokens: Float32Array;
    let weights: Float32Array;
    try {
      tokens = (await main.feat.data()) as Float32Array;
      weights = (await main.lhp.data()) as Float32Array;
    } finally {
      main.feat.dispose();
      main.lhp.dispose();
    }
    const aug: Float32Array[] = [];
    for (let k = 0; k < augViews; k++) {
      const views = new Float32Array(B * res * res * 3);
      items.forEach((it, b) => {
        const seedK = deriveSeed(seed, 'cache-aug', indices[b] as number, k);
        views.set(
          augmentedView(it.image, it.height, it.width, { seed: seedK, mode: identity.augmentMode }).data,
          b * res * res * 3,
        );
      });
      const t = await patchTokens(backbone, views, images.shape);
      try {
        aug.push((await t.data()) as Float32Array);
      } finally {
        t.dispose();
      }
    }
    for (let b = 0; b < B; b++) {
      const row = new Float32Array(layout.total);
      row.set(tokens.subarray(b * layout.tokens, (b + 1) * layout.tokens), 0);
      row.set(weights.subarray(b * layout.lhp, (b + 1) * layout.lhp), layout.tokens);
      for (const [k, a] of aug.entries()) {
        row.set(
          a.subarray(b * layout.tokens, (b + 1) * layout.tokens),
          layout.tokens + layout.lhp + k * layout.tokens,
        );
      }
      await writer.add(row);
    }
    options.onProgress?.(start + B, dataset.length);
  }
  await writer.flush();
  const manifest: CacheManifest = {
    format: FEATURE_CACHE_FORMAT,
    identity,
    gridSize,
    augViews,
    seed,
    chunkSize,
    items: dataset.length,
    chunks: writer.chunks,
    createdAt: new Date().toISOString(),
    versions: options.versions ?? {},
  };
  await writeJsonAtomic(manifestPath(outDir), manifest);
  return manifest;
}

function describeDiff(a: unknown, b: unknown): string[] {
  const out: string[] = [];
  const walk = (x: unknown, y: unknown, path: string) => {
    if (typeof x === 'object' && x !== null && typeof y === 'object' && y !== null) {
      for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
        walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      }
    } else if (JSON.stringify(x) !== JSON.stringify(y))
      out.push(`${path}: cache ${JSON.stringify(x)}, run ${JSON.stringify(y)}`);
  };
  walk(a, b, '');
  return out;
}

/** Reads a manifest and refuses it (`E_STALE`) when it was computed from other data, weights or resolution. */
export async function openCache(dir: string, expected: CacheIdentity): Promise<CacheReader> {
  let manifest: CacheManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath(dir), 'utf8')) as CacheManifest;
  } catch (error) {
    throw new HpError(
      'E_NOT_FOUND',
      `feature cache: cannot read ${manifestPath(dir)}: expected a cache written by computeFeatureCache (\`hpseg features\`), got ${(error as Error).message}`,
      { hint: 'hpseg features --preset <p> --data-dir <dir> --weights <file> --out <cache>' },
    );
  }
  if (manifest.format !== FEATURE_CACHE_FORMAT) {
    throw new HpError(
      'E_FORMAT',
      `feature cache: ${dir}: expected format ${FEATURE_CACHE_FORMAT}, got ${String(manifest.format)}`,
    );
  }
  const diff = describeDiff(manifest.identity, expected);
  if (diff.length > 0) {
    throw new HpError(
      'E_STALE',
      `feature cache: ${dir} is stale or for another run: expected it to match, got ${diff.join('; ')}`,
      {
        hint: 'recompute it with `hpseg features` for these weights, data and resolution',
        details: { diff },
      },
    );
  }
  return new CacheReader(dir, manifest);
}

/** Reads items back (float32), verifying each chunk's SHA-256 on first load; keeps a few chunks. */
export class CacheReader {
  private readonly loaded = new Map<number, Float32Array>();
  readonly layout: ReturnType<typeof itemLayout>;
  constructor(
    readonly dir: string,
    readonly manifest: CacheManifest,
  ) {
    this.layout = itemLayout(manifest.gridSize, manifest.identity.embedDim, manifest.augViews);
  }

  private async chunk(index: number): Promise<Float32Array> {
    const hit = this.loaded.get(index);
    if (hit) return hit;
    const entry = this.manifest.chunks[index]!;
    const bytes = await readFile(join(this.dir, entry.file));
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== entry.sha256 || bytes.length !== entry.bytes) {
      throw new HpError(
        'E_FORMAT',
        `feature cache: ${entry.file} is corrupt: expected sha256 ${entry.sha256}, got ${sha}`,
        { hint: 'recompute the cache with `hpseg features`' },
      );
    }
    const copy = Uint8Array.prototype.slice.call(bytes);
    const values = float16ToFloat32(new Uint16Array(copy.buffer, 0, copy.length / 2));
    if (this.loaded.size >= 4) this.loaded.delete(this.loaded.keys().next().value as number);
    this.loaded.set(index, values);
    return values;
  }

  /** The float32 row of item `i`: tokens, LHP weights, augmented views. */
  async item(i: number): Promise<Float32Array> {
    const c = Math.floor(i / this.manifest.chunkSize);
    const entry = this.manifest.chunks[c];
    if (!entry || i < 0 || i >= this.manifest.items) {
      throw new HpError(
        'E_ARG',
        `feature cache: item out of range: expected 0..${this.manifest.items - 1}, got ${i}`,
      );
    }
    const data = await this.chunk(c);
    const per = this.layout.total;
    return data.subarray((i - entry.first) * per, (i - entry.first + 1) * per);
  }
}

async function gather(reader: CacheReader, batch: HostBatch, part: 'tokens' | 'lhp'): Promise<Float32Array> {
  const { tokens, lhp } = reader.layout;
  const size = part === 'lhp' ? lhp : tokens;
  const offset = part === 'tokens' ? 0 : tokens;
  const out = new Float32Array(batch.indices.length * size);
  for (const [b, index] of batch.indices.entries()) {
    const row = await reader.item(index);
    out.set(row.subarray(offset, offset + size), b * size);
  }
  return out;
}

/**
 * Features from a cache of `computeFeatureCache`: the main view's tokens and LHP weights are exact (no
 * geometric augmentation; float16 storage); the augmented view is computed online (default) or, with
 * `augViews` = K > 0, one of K cached views is picked per image and iteration — an approximation of the
 * official fresh draw per step. `expected` is the identity the run needs (checked: `E_STALE`).
 */
export function cacheFeatureSource(
  dir: string,
  options: { readonly augViews?: number; readonly expected: () => Promise<CacheIdentity> },
): FeatureSourceFactory {
  const augViews = options.augViews ?? 0;
  return async (ctx) => {
    const reader = await openCache(dir, await options.expected());
    const m = reader.manifest;
    if (augViews > m.augViews) {
      throw new HpError(
        'E_ARG',
        `train: cached augmented views: expected at most the ${m.augViews} views in the cache, got ${augViews}`,
        { hint: 'recompute with `hpseg features --aug-views K`' },
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
          const { tokens, lhp } = reader.layout;
          const out = new Float32Array(B * tokens);
          for (const [b, index] of batch.indices.entries()) {
            const k = deriveSeed(ctx.seed, 'aug-pick', iteration, b) % augViews;
            const row = await reader.item(index);
            const start = tokens + lhp + k * tokens;
            out.set(row.subarray(start, start + tokens), b * tokens);
          }
          return tokensTensor(out, B);
        }
        if (!batch.augImages) return null;
        return patchTokens(ctx.backbone, batch.augImages, batch.shape);
      },
    };
  };
}
