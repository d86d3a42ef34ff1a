import { HpError } from '@hpseg/core';

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
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    uniform: (low, high) => low + (high - low) * next(),
    int: (n) => Math.floor(next() * n),
  };
}

/** A seeded permutation of `0..n-1` (Fisher–Yates). */
export function seededPermutation(n: number, seed: number): number[] {
  const rng = createRng(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}
