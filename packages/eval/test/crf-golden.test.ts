import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CrfParams } from '../src/index.js';
import { denseCrf, denseCrfExact } from '../src/index.js';

// Made by tools/golden/crf_exact.py (NumPy, float64): an independent exact mean-field.
interface GoldenCase {
  name: string;
  height: number;
  width: number;
  numLabels: number;
  params: CrfParams;
  image: number[];
  logits: number[];
  probabilities: number[];
  labels: number[];
}
const golden = JSON.parse(readFileSync(new URL('./fixtures/crf_exact.json', import.meta.url), 'utf8')) as {
  cases: GoldenCase[];
};

const EXACT_VS_NUMPY_Q = 1e-5; // float32 storage vs float64
const LATTICE_VS_NUMPY_Q = 0.05; // lattice approximation (README.md, Dense CRF)

describe('dense CRF vs the NumPy golden (tools/golden/crf_exact.py)', () => {
  it.each(golden.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const input = {
      image: Uint8Array.from(c.image),
      height: c.height,
      width: c.width,
      scores: Float32Array.from(c.logits),
      numLabels: c.numLabels,
      input: 'logits' as const,
      params: c.params,
    };
    const exact = denseCrfExact(input);
    let maxExact = 0;
    let maxLattice = 0;
    const lattice = denseCrf(input);
    c.probabilities.forEach((v, i) => {
      maxExact = Math.max(maxExact, Math.abs(exact.probabilities[i]! - v));
      maxLattice = Math.max(maxLattice, Math.abs(lattice.probabilities[i]! - v));
    });
    expect(maxExact).toBeLessThan(EXACT_VS_NUMPY_Q);
    expect(Array.from(exact.labels)).toEqual(c.labels);
    expect(maxLattice).toBeLessThan(LATTICE_VS_NUMPY_Q);
  });
});
