import { HpError, mulberry32, permutation } from '@hpseg/core';

/** A small seeded pseudo-random generator (mulberry32): deterministic across platforms. */
export interface Rng {
  /** Uniform in `[0, 1)`. */
  next(): number;
  /** Uniform in `[low, high)`. */
  uniform(low: number, high: number): number;
  /** Uniform integer in `[0, n)`. */
  int(n: number): number;
}

/** Creates a mulberry32 generator from a 32-bit integer seed. */
export function createRng(seed: number): Rng {
  if (!Number.isInteger(seed)) {
    throw new HpError(
      'E_ARG',
      `createRng: seed must be an integer: expected an integer, got ${String(seed)}`,
    );
  }
  const next = mulberry32(seed);
  return {
    next,
    uniform: (low, high) => low + (high - low) * next(),
    int: (n) => Math.floor(next() * n),
  };
}

/** A seeded permutation of `0..n-1` (Fisher–Yates). */
export function seededPermutation(n: number, seed: number): number[] {
  return permutation(n, mulberry32(seed));
}
