/**
 * Counter-based seeds. Every random draw of a run is keyed by (run seed, purpose, iteration, ...):
 * nothing depends on how many draws happened before, so `--resume` replays the same draws as an
 * uninterrupted run, and the "RNG state" a checkpoint stores is the seed plus the iteration.
 */
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

/** A 31-bit non-negative seed for (seed, key...) — usable as a TF.js op seed or a PRNG seed. */
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

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
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

/** Fisher–Yates permutation of 0..n-1 drawn from `random`. */
export function permutation(n: number, random: () => number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = out[i] as number;
    out[i] = out[j] as number;
    out[j] = t;
  }
  return out;
}
