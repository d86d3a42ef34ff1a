/**
 * Seeded randomness shared by every hpseg package, so a seed means the same draws everywhere and
 * can be replayed (`--resume`, golden tests). Not cryptographic.
 */

/** mulberry32: a small, fast, seedable 32-bit PRNG returning uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mix32(x: number): number {
  // murmur3 finaliser: a bijection on uint32 with good avalanche.
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 31-bit non-negative seed for (seed, key...): counter-based, so a draw keyed by (run seed,
 * purpose, iteration) does not depend on how many draws came before it.
 */
export function deriveSeed(seed: number, ...keys: (number | string)[]): number {
  let h = mix32(seed ^ 0x9e3779b9);
  for (const key of keys) {
    if (typeof key === 'number') {
      h = mix32(h ^ mix32(key >>> 0) ^ Math.floor(key / 2 ** 32));
    } else {
      for (let i = 0; i < key.length; i++) h = mix32(h ^ key.charCodeAt(i));
    }
  }
  return h & 0x7fffffff;
}

/** Fisher–Yates permutation of 0..n-1 drawn from `random` (uniform floats in [0, 1)). */
export function permutation(n: number, random: () => number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}

/** A fresh random 32-bit seed from the platform RNG (for callers that gave no seed). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x1_0000_0000);
}
