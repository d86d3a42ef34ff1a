import { HpError, l2NormalizeRows, mulberry32 } from '@hpseg/core';

export interface KMeansResult {
  /** Sum over points of the cosine to their centroid (higher is better); the best restart is kept. */
  readonly objective: number;
  /** `[K, C]` row-major centroids (L2-normalised when `cosine`). */
  readonly centroids: Float32Array;
  /** Cluster of every input row. */
  readonly assignments: Int32Array;
  readonly iterations: number;
}

/**
 * Seeded spherical k-means (cosine similarity, k-means++ seeding, best of `restarts` by objective): the
 * clustering of the demo's baselines (raw backbone features, head codes). Small and dependency-free;
 * `x` is `[N, C]` row-major (not modified; rows are normalised on a copy).
 */
export function kmeans(
  x: Float32Array,
  n: number,
  c: number,
  k: number,
  { seed = 0, maxIterations = 50, restarts = 1 } = {},
): KMeansResult {
  let best: KMeansResult | undefined;
  for (let r = 0; r < restarts; r++) {
    const result = kmeansOnce(x, n, c, k, seed + 7919 * r, maxIterations);
    if (best === undefined || result.objective > best.objective) best = result;
  }
  return best as KMeansResult;
}

function kmeansOnce(
  x: Float32Array,
  n: number,
  c: number,
  k: number,
  seed: number,
  maxIterations: number,
): KMeansResult {
  if (x.length !== n * c || k < 1 || k > n) {
    throw new HpError(
      'E_ARG',
      `kmeans: bad sizes: expected x.length = n*c and 1 <= k <= n, got length ${x.length}, n ${n}, c ${c}, k ${k}`,
    );
  }
  const data = Float32Array.from(x);
  l2NormalizeRows(data, n, c);
  const random = mulberry32(seed);
  const centroids = new Float32Array(k * c);
  // k-means++ on cosine distance (1 - cos).
  const first = Math.floor(random() * n);
  centroids.set(data.subarray(first * c, first * c + c), 0);
  const dist = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  for (let j = 1; j < k; j++) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let d = 0; d < c; d++) dot += (data[i * c + d] as number) * (centroids[(j - 1) * c + d] as number);
      const di = Math.max(0, 1 - dot);
      if (di < (dist[i] as number)) dist[i] = di;
      total += dist[i] as number;
    }
    let pick = Math.floor(random() * n);
    if (total > 0) {
      let u = random() * total;
      for (let i = 0; i < n; i++) {
        u -= dist[i] as number;
        if (u <= 0) {
          pick = i;
          break;
        }
      }
    }
    centroids.set(data.subarray(pick * c, pick * c + c), j * c);
  }
  const assignments = new Int32Array(n);
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestDot = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < k; j++) {
        let dot = 0;
        for (let d = 0; d < c; d++) dot += (data[i * c + d] as number) * (centroids[j * c + d] as number);
        if (dot > bestDot) {
          bestDot = dot;
          best = j;
        }
      }
      if (assignments[i] !== best || iterations === 0) changed += assignments[i] !== best ? 1 : 0;
      assignments[i] = best;
    }
    const sums = new Float64Array(k * c);
    const counts = new Int32Array(k);
    for (let i = 0; i < n; i++) {
      const j = assignments[i] as number;
      counts[j] = (counts[j] as number) + 1;
      for (let d = 0; d < c; d++) sums[j * c + d] = (sums[j * c + d] as number) + (data[i * c + d] as number);
    }
    for (let j = 0; j < k; j++) {
      if ((counts[j] as number) === 0) {
        // Empty cluster: re-seed it on a random point.
        const pick = Math.floor(random() * n);
        centroids.set(data.subarray(pick * c, pick * c + c), j * c);
        continue;
      }
      for (let d = 0; d < c; d++) centroids[j * c + d] = sums[j * c + d] as number;
    }
    l2NormalizeRows(centroids, k, c);
    if (iterations > 0 && changed === 0) break;
  }
  let objective = 0;
  for (let i = 0; i < n; i++) {
    const j = assignments[i] as number;
    for (let d = 0; d < c; d++) objective += (data[i * c + d] as number) * (centroids[j * c + d] as number);
  }
  return { centroids, assignments, iterations, objective };
}

/** Index of the nearest (cosine) centroid for every row of `x` `[N, C]`. */
export function assignToCentroids(
  x: Float32Array,
  n: number,
  c: number,
  centroids: Float32Array,
  k: number,
): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestDot = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < k; j++) {
      let dot = 0;
      for (let d = 0; d < c; d++) dot += (x[i * c + d] as number) * (centroids[j * c + d] as number);
      if (dot > bestDot) {
        bestDot = dot;
        best = j;
      }
    }
    out[i] = best;
  }
  return out;
}
