import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

export interface GoldenCase {
  tag: string;
  B: number;
  H: number;
  W: number;
  imageOffset: number;
}

export interface GoldenModel {
  config: {
    embedDim: number;
    depth: number;
    numHeads: number;
    patchSize: number;
    trainedGrid: number;
    mlpRatio: number;
  };
  cases: GoldenCase[];
  pthPath: string;
  /** Reference arrays by name (`32x32.patchTokens`), float32. */
  array(name: string): { shape: number[]; data: Float32Array };
}

/** The header + float32 blob written by tools/golden/backbone_make_vit.py. */
export function readGoldenModel(name: 'vit_p8' | 'vit_p16'): GoldenModel {
  const header = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8'));
  const blob = readFileSync(join(FIXTURES, `${name}.bin`));
  const bytes = new Uint8Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
  return {
    config: header.config,
    cases: header.cases,
    pthPath: join(FIXTURES, `${name}.pth`),
    array(key: string) {
      const a = header.arrays[key] as { offset: number; shape: number[] } | undefined;
      if (!a) throw new Error(`no golden array ${key}`);
      const n = a.shape.reduce((x, y) => x * y, 1);
      return { shape: a.shape, data: new Float32Array(bytes.buffer, a.offset, n) };
    },
  };
}

/** Mirror of `golden_image` in the Python script: an integer hash of the NHWC flat index, in [-2, 2). */
export function goldenImage(B: number, H: number, W: number, offset: number): tf.Tensor4D {
  const n = B * H * W * 3;
  const data = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const i = k + offset;
    data[k] = (((i * 1103515245 + 12345) % 2147483648) / 2147483648) * 4 - 2;
  }
  return tf.tensor4d(data, [B, H, W, 3]);
}

/** max |a - b| / max(|b|) over the arrays (relative to the reference's scale). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < b.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    maxRef = Math.max(maxRef, Math.abs(b[i]!));
  }
  return maxDiff / maxRef;
}

export function maxAbsError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
