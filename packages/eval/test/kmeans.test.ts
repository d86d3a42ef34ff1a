import { describe, expect, it } from 'vitest';
import { assignToCentroids, kmeans } from '../src/index.js';

/** Two tight groups of directions: around +x (rows 0-2) and around +y (rows 3-5), C = 2. */
const X = Float32Array.from([1, 0.05, 2, -0.1, 0.5, 0.02, 0.04, 1, -0.06, 3, 0.1, 0.7]);

describe('kmeans (spherical, k-means++, seeded)', () => {
  it('separates two groups of directions, with unit centroids and the cosine objective', () => {
    const r = kmeans(X, 6, 2, 2, { seed: 3 });
    const a = Array.from(r.assignments);
    expect(new Set(a.slice(0, 3)).size).toBe(1);
    expect(new Set(a.slice(3)).size).toBe(1);
    expect(a[0]).not.toBe(a[3]);
    for (let j = 0; j < 2; j++)
      expect(Math.hypot(r.centroids[2 * j]!, r.centroids[2 * j + 1]!)).toBeCloseTo(1, 6);
    // the +x centroid is the normalised mean of the three normalised +x rows
    const unit = (x: number, y: number) => [x / Math.hypot(x, y), y / Math.hypot(x, y)];
    const rows = [unit(1, 0.05), unit(2, -0.1), unit(0.5, 0.02)];
    const mean = unit(
      rows.reduce((s, v) => s + v[0]!, 0),
      rows.reduce((s, v) => s + v[1]!, 0),
    );
    const cx = a[0]!;
    expect(r.centroids[2 * cx]).toBeCloseTo(mean[0]!, 6);
    expect(r.centroids[2 * cx + 1]).toBeCloseTo(mean[1]!, 6);
    let objective = 0;
    for (let i = 0; i < 6; i++) {
      const [x, y] = unit(X[2 * i]!, X[2 * i + 1]!);
      const j = a[i]!;
      objective += x! * r.centroids[2 * j]! + y! * r.centroids[2 * j + 1]!;
    }
    expect(r.objective).toBeCloseTo(objective, 5);
    expect(Array.from(X.subarray(0, 2))).toEqual([1, Math.fround(0.05)]); // input untouched
  });

  it('is reproducible for a seed, keeps the best of the restarts, and refuses bad sizes', () => {
    const a = kmeans(X, 6, 2, 3, { seed: 9, restarts: 4 });
    const b = kmeans(X, 6, 2, 3, { seed: 9, restarts: 4 });
    expect(Array.from(a.assignments)).toEqual(Array.from(b.assignments));
    for (let r = 1; r <= 4; r++)
      expect(a.objective).toBeGreaterThanOrEqual(
        kmeans(X, 6, 2, 3, { seed: 9, restarts: r }).objective - 1e-9,
      );
    expect(() => kmeans(X, 6, 2, 7)).toThrow(expect.objectContaining({ name: 'HpError', code: 'E_ARG' }));
    expect(() => kmeans(X, 5, 2, 2)).toThrow('expected x.length = n*c');
  });

  it('assignToCentroids picks the centroid of largest dot product for every row', () => {
    const centroids = Float32Array.from([1, 0, 0, 1, -1, 0]);
    const out = assignToCentroids(Float32Array.from([0.9, 0.1, 0.2, 0.8, -3, 1, 0, -1]), 4, 2, centroids, 3);
    expect(Array.from(out)).toEqual([0, 1, 2, 0]); // the last row ties centroids 0 and 2 at 0: the first wins
  });
});
