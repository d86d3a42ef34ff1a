import { HpError } from '@hpseg/core';
import { checkIndex, type Dataset, type DatasetItem } from './item.js';
import { createRng } from './rng.js';

export interface SyntheticOptions {
  /** Seed of the whole dataset; item `i` is generated from `(seed, i)` only. Default 0. */
  seed?: number;
  /** Number of items. Default 64. */
  length?: number;
  /** Side of the square images in pixels. Default 64. */
  size?: number;
  /** Number of "stuff" classes, 2..12. Default 4. */
  numClasses?: number;
}

/**
 * Class appearance: a base colour (jittered per image) plus an oriented sinusoidal texture of a
 * class-specific frequency. Colours of different classes are close enough that pixel noise and the
 * texture make single pixel values ambiguous; the texture frequency/orientation disambiguates.
 */
const BASE_COLOURS: readonly (readonly [number, number, number])[] = [
  [150, 90, 70],
  [80, 140, 80],
  [90, 110, 170],
  [170, 160, 80],
  [140, 80, 150],
  [70, 150, 150],
  [180, 120, 110],
  [110, 110, 110],
  [120, 170, 120],
  [160, 100, 140],
  [100, 130, 110],
  [150, 150, 150],
];

function classTexture(k: number): { freq: number; angle: number; amp: number } {
  return { freq: 0.08 + 0.07 * (k % 4), angle: (Math.PI * (k % 3)) / 3 + 0.4 * Math.floor(k / 4), amp: 28 };
}

function generate(seed: number, index: number, size: number, numClasses: number): DatasetItem {
  const rng = createRng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
  // Blob layout: warped Voronoi cells around 3–6 random centres, each with a random class.
  const nCentres = 3 + rng.int(4);
  const centres = Array.from({ length: nCentres }, () => ({
    y: rng.next() * size,
    x: rng.next() * size,
    k: rng.int(numClasses),
  }));
  const warp = {
    ay: 0.15 * size * rng.next(),
    ax: 0.15 * size * rng.next(),
    fy: 0.05 + 0.1 * rng.next(),
    fx: 0.05 + 0.1 * rng.next(),
    p: rng.next() * 6.28,
  };
  const jitter = Array.from(
    { length: numClasses },
    () => [rng.uniform(-20, 20), rng.uniform(-20, 20), rng.uniform(-20, 20)] as const,
  );
  const phase = Array.from({ length: numClasses }, () => rng.next() * 6.28);
  const image = new Uint8Array(size * size * 3);
  const label = new Int32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const wy = y + warp.ay * Math.sin(warp.fx * x + warp.p);
      const wx = x + warp.ax * Math.sin(warp.fy * y + warp.p);
      let best = 0;
      let bestD = Number.POSITIVE_INFINITY;
      for (let c = 0; c < nCentres; c++) {
        const d = (centres[c]!.y - wy) ** 2 + (centres[c]!.x - wx) ** 2;
        if (d < bestD) {
          bestD = d;
          best = c;
        }
      }
      const k = centres[best]!.k;
      const tex = classTexture(k);
      const t =
        tex.amp *
        Math.sin(tex.freq * 2 * Math.PI * (x * Math.cos(tex.angle) + y * Math.sin(tex.angle)) + phase[k]!);
      const base = BASE_COLOURS[k]!;
      const j = jitter[k]!;
      const p = y * size + x;
      label[p] = k;
      for (let ch = 0; ch < 3; ch++) {
        const noise = (rng.next() - 0.5) * 24;
        const v = base[ch]! + j[ch]! + t + noise;
        image[p * 3 + ch] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return { image, label, height: size, width: size, id: `synthetic-${index}` };
}

/**
 * A deterministic dataset that needs no files: textured, coloured "stuff" classes in random blob
 * layouts, with exact labels. Item `i` depends only on `(seed, i)`.
 */
export function syntheticDataset(options: SyntheticOptions = {}): Dataset {
  const { seed = 0, length = 64, size = 64, numClasses = 4 } = options;
  if (!Number.isInteger(seed))
    throw new HpError(
      'E_ARG',
      `syntheticDataset: seed must be an integer: expected an integer, got ${String(seed)}`,
    );
  if (!Number.isInteger(length) || length < 1)
    throw new HpError(
      'E_ARG',
      `syntheticDataset: length must be a positive integer: expected >= 1, got ${String(length)}`,
    );
  if (!Number.isInteger(size) || size < 8)
    throw new HpError(
      'E_ARG',
      `syntheticDataset: size must be an integer >= 8: expected >= 8, got ${String(size)}`,
    );
  if (!Number.isInteger(numClasses) || numClasses < 2 || numClasses > BASE_COLOURS.length) {
    throw new HpError(
      'E_ARG',
      `syntheticDataset: numClasses out of range: expected an integer in [2, ${BASE_COLOURS.length}], got ${String(numClasses)}`,
    );
  }
  return {
    name: 'synthetic',
    numClasses,
    classNames: Array.from({ length: numClasses }, (_, k) => `stuff-${k}`),
    length,
    get: async (index) => {
      checkIndex('syntheticDataset.get', index, length);
      return generate(seed, index, size, numClasses);
    },
  };
}
