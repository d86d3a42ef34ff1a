import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  float16ToFloat32,
  float32ToFloat16,
  HpError,
  sha256File,
  writeFileAtomic,
  writeJsonAtomic,
} from '@hpseg/core';
import { LHP_SIGMA } from '@hpseg/hidden-positives';
import type { BackboneSpec, DatasetSpec } from '../train/checkpoint.js';

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
  readonly augmentMode: 'image' | 'official';
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

export async function weightsFingerprint(spec: BackboneSpec): Promise<CacheIdentity['weights']> {
  if (spec.kind !== 'file') return spec;
  const info = await stat(spec.path);
  return { size: info.size, sha256: await sha256File(spec.path) };
}

export function manifestPath(dir: string): string {
  return join(dir, 'manifest.json');
}

/** Appends item rows and flushes full chunks as float16 files with their SHA-256. */
export class ChunkWriter {
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

export async function writeManifest(dir: string, manifest: CacheManifest): Promise<void> {
  await writeJsonAtomic(manifestPath(dir), manifest);
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

/** Reads a manifest and refuses it when it was computed from other data, weights or resolution. */
export async function openCache(dir: string, expected: CacheIdentity): Promise<CacheReader> {
  let manifest: CacheManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath(dir), 'utf8')) as CacheManifest;
  } catch (error) {
    throw new HpError(
      'E_NOT_FOUND',
      `feature cache: cannot read ${manifestPath(dir)}: expected a cache written by \`hpseg features\`, got ${(error as Error).message}`,
      {
        hint: 'hpseg features --preset <p> --data-dir <dir> --weights <file> --out <cache>',
      },
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
        {
          hint: 'recompute the cache with `hpseg features`',
        },
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
