import { describe, expect, it } from 'vitest';
import { PermutohedralLattice } from '../src/crf/lattice.js';
import { meanField, unaryFromScores } from '../src/crf/mean-field.js';
import { buildLatticeKernel, jsMessagePasser } from '../src/crf/message-passing.js';
import { denseCrfValidated } from '../src/crf/solve.js';
import { validateCrfInput } from '../src/crf/validate.js';
import { latticeKernelsWasm } from '../src/crf/wasm-lattice-kernels.js';
import { wasmMeanField } from '../src/crf/wasm-mean-field.js';
import { wasmApi } from '../src/crf/wasm-types.js';
import { DEFAULT_CRF_PARAMS, denseCrf, denseCrfExact } from '../src/index.js';
import { agreement, maxAbsDiff, randomCase, rng } from './fixtures/crf-helpers.js';

// Named tolerances.
const LATTICE_VS_EXACT_Q = 0.05; // measured ≤ 0.035 on informative noisy unaries (README.md, Dense CRF)
const WASM_VS_JS_Q = 1e-5; // same float32 loops, different summation rounding (measured ~4e-7)

function softmax(row: number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

describe('DEFAULT_CRF_PARAMS', () => {
  it('are the official constants (POS_XY_STD 1, POS_W 3, Bi_XY_STD 67, Bi_RGB_STD 3, Bi_W 4, MAX_ITER 10)', () => {
    expect(DEFAULT_CRF_PARAMS).toEqual({
      iterations: 10,
      clip: 1e-5,
      gaussian: { sxy: 1, weight: 3 },
      bilateral: { sxy: 67, srgb: 3, weight: 4 },
    });
    expect(Object.isFrozen(DEFAULT_CRF_PARAMS)).toBe(true);
  });
});

describe('permutohedral lattice', () => {
  it('approximates a unit Gaussian: filtering a delta on a grid has second moment ≈ 1 per axis', () => {
    const side = 41;
    const n = side * side;
    const features = new Float32Array(n * 2);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        features[(y * side + x) * 2] = x / 3;
        features[(y * side + x) * 2 + 1] = y / 3;
      }
    }
    const lattice = new PermutohedralLattice(features, n, 2);
    const input = new Float32Array(n);
    const centre = 20 * side + 20;
    input[centre] = 1;
    const out = new Float32Array(n);
    lattice.filter(input, out, 1);
    let m0 = 0;
    let m2 = 0;
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const v = out[y * side + x]!;
        m0 += v;
        m2 += v * ((x - 20) / 3) ** 2;
      }
    }
    const sigma = Math.sqrt(m2 / m0);
    expect(sigma).toBeGreaterThan(0.9);
    expect(sigma).toBeLessThan(1.1);
    // Symmetric response: the kernel value to the right equals the value below (isotropy, ±15%).
    expect(out[centre + 3]! / out[centre + 3 * side]!).toBeCloseTo(1, 0);
  });

  it('the WebAssembly SIMD mean field (K = 6, padded to 8) matches the JavaScript loop', () => {
    for (const stride of [16, 32, 112]) expect(wasmApi()!.validate(latticeKernelsWasm(stride))).toBe(true);
    const c = randomCase(20, 17, 6, 11); // K = 6 exercises channel padding to 8
    const v = validateCrfInput('test', c);
    const n = 20 * 17;
    const r = rng(5);
    const q = new Float32Array(n * 6).map(() => r());
    const f = new Float32Array(n * 5).map(() => r() * 4);
    const kernels = [
      buildLatticeKernel(f, n, 5, 4),
      buildLatticeKernel(
        new Float32Array(n * 2).map(() => r() * 10),
        n,
        2,
        3,
      ),
    ];
    const unary = unaryFromScores(q, n, 6, 'probabilities', 1e-5);
    for (const iterations of [0, 1, 5]) {
      const a = wasmMeanField({ unary }, n, 6, kernels, iterations)!;
      const b = meanField(unary, n, 6, jsMessagePasser(kernels, n, 6), iterations);
      expect(maxAbsDiff(a, b)).toBeLessThan(WASM_VS_JS_Q);
    }
    expect(
      maxAbsDiff(denseCrfValidated(v, 'auto').probabilities, denseCrfValidated(v, 'js').probabilities),
    ).toBeLessThan(WASM_VS_JS_Q);
  });
});

describe('denseCrf vs the exact O(N²) reference', () => {
  it.each([
    [24, 24, 3, 1],
    [32, 32, 5, 2],
    [40, 40, 4, 3],
  ])('%ix%i, K=%i, seed %i: noisy informative unaries give the same labels', (h, w, k, seed) => {
    const c = randomCase(h, w, k, seed, { signal: 1 });
    const lattice = denseCrf(c);
    const exact = denseCrfExact(c);
    const unaryOnly = denseCrfExact({ ...c, params: { iterations: 0 } });
    expect(maxAbsDiff(lattice.probabilities, exact.probabilities)).toBeLessThan(LATTICE_VS_EXACT_Q);
    expect(agreement(lattice.labels, exact.labels)).toBeGreaterThanOrEqual(0.99);
    // The test can fail: the CRF does change most noisy labels (and recovers the regions).
    expect(agreement(unaryOnly.labels, c.truth)).toBeLessThan(0.7);
    expect(agreement(exact.labels, c.truth)).toBeGreaterThan(0.98);
  });

  it('probabilities sum to 1 per pixel and labels are their argmax', () => {
    const c = randomCase(16, 21, 4, 9, { signal: 1 });
    for (const { probabilities, labels } of [denseCrf(c), denseCrfExact(c)]) {
      expect(probabilities).toHaveLength(16 * 21 * 4);
      expect(labels).toHaveLength(16 * 21);
      for (let p = 0; p < 16 * 21; p++) {
        const row = Array.from(probabilities.subarray(p * 4, p * 4 + 4));
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        expect(labels[p]).toBe(row.indexOf(Math.max(...row)));
      }
    }
  });
});

describe('hand-checkable cases', () => {
  it('zero pairwise weights: Q = softmax(logits) and labels = unary argmax exactly', () => {
    const c = randomCase(9, 7, 5, 4, { spread: 6 });
    const params = { gaussian: { weight: 0 }, bilateral: { weight: 0 } };
    for (const solve of [denseCrf, denseCrfExact]) {
      const { probabilities, labels } = solve({ ...c, params });
      for (let p = 0; p < 63; p++) {
        const expected = softmax(Array.from(c.scores.subarray(p * 5, p * 5 + 5)));
        for (let l = 0; l < 5; l++) expect(probabilities[p * 5 + l]).toBeCloseTo(expected[l]!, 6);
        expect(labels[p]).toBe(expected.indexOf(Math.max(...expected)));
      }
    }
  });

  it('probabilities input: unary = −log(clip(p, 1e-5)), so Q⁰ = clip(p) renormalised', () => {
    const scores = new Float32Array([1, 0, 0.25, 0.75]); // 2 pixels, K = 2
    const image = new Uint8Array(6);
    const { probabilities } = denseCrf({
      image,
      height: 1,
      width: 2,
      scores,
      numLabels: 2,
      input: 'probabilities',
      params: { iterations: 0 },
    });
    expect(probabilities[0]).toBeCloseTo(1 / (1 + 1e-5), 7);
    expect(probabilities[1]).toBeCloseTo(1e-5 / (1 + 1e-5), 9);
    expect(probabilities[2]).toBeCloseTo(0.25, 6);
  });

  it('uniform image and unaries favouring one label keep the unary argmax everywhere', () => {
    const h = 30;
    const w = 30;
    const k = 4;
    const r = rng(2);
    const image = new Uint8Array(h * w * 3).fill(120);
    const scores = new Float32Array(h * w * k);
    const argmax = new Int32Array(h * w);
    for (let p = 0; p < h * w; p++) {
      for (let l = 0; l < k; l++) scores[p * k + l] = r();
      scores[p * k + 2]! += 1.5; // label 2 wins everywhere
      argmax[p] = 2;
    }
    const c = { image, height: h, width: w, scores, numLabels: k, input: 'logits' as const };
    expect(Array.from(denseCrf(c).labels)).toEqual(Array.from(argmax));
    expect(Array.from(denseCrfExact(c).labels)).toEqual(Array.from(argmax));
  });

  it('a sharp colour edge pulls noisy labels to it', () => {
    // Left half dark, right half bright; unaries say label 0 left / 1 right, but with noise that
    // flips many pixels in a band of 6 columns around the edge.
    const h = 24;
    const w = 32;
    const r = rng(7);
    const image = new Uint8Array(h * w * 3);
    const scores = new Float32Array(h * w * 2);
    const truth = new Int32Array(h * w);
    let unaryCorrect = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const p = y * w + x;
        const side = x < w / 2 ? 0 : 1;
        truth[p] = side;
        image.fill(side === 0 ? 30 : 220, p * 3, p * 3 + 3);
        const nearEdge = Math.abs(x + 0.5 - w / 2) < 3;
        const margin = nearEdge ? (r() - 0.6) * 2 : 0.8 + r(); // near the edge mostly wrong
        scores[p * 2 + side] = margin;
        unaryCorrect += margin > 0 ? 1 : 0;
      }
    }
    const c = { image, height: h, width: w, scores, numLabels: 2, input: 'logits' as const };
    expect(unaryCorrect / (h * w)).toBeLessThan(0.93);
    expect(agreement(denseCrf(c).labels, truth)).toBe(1);
    expect(agreement(denseCrfExact(c).labels, truth)).toBe(1);
  });

  it('is deterministic and leaves its inputs untouched', () => {
    const c = randomCase(20, 20, 3, 8, { signal: 1 });
    const scores = c.scores.slice();
    const image = c.image.slice();
    const a = denseCrf(c);
    const b = denseCrf(c);
    expect(a.probabilities).toEqual(b.probabilities);
    expect(c.scores).toEqual(scores);
    expect(c.image).toEqual(image);
  });
});

describe('errors', () => {
  const ok = () => randomCase(4, 5, 3, 1);
  const cases: Array<[string, () => unknown, string, string]> = [
    [
      'NaN score',
      () => denseCrf({ ...ok(), scores: ok().scores.fill(Number.NaN, 7, 8) }),
      'E_VALUE',
      'index 7',
    ],
    [
      'probability > 1',
      () => denseCrf({ ...ok(), input: 'probabilities', scores: ok().scores.fill(0.5).fill(1.5, 2, 3) }),
      'E_VALUE',
      'probabilities in [0, 1]',
    ],
    [
      'scores size',
      () => denseCrf({ ...ok(), scores: new Float32Array(59) }),
      'E_SHAPE',
      'expected [4, 5, 3] = 60',
    ],
    [
      'image size',
      () => denseCrf({ ...ok(), image: new Uint8Array(59) }),
      'E_SHAPE',
      'expected [4, 5, 3] = 60',
    ],
    ['one label', () => denseCrf({ ...ok(), numLabels: 1 }), 'E_ARG', 'at least 2 labels'],
    [
      'image dtype',
      () => denseCrf({ ...ok(), image: new Float32Array(60) as never }),
      'E_DTYPE',
      'Uint8Array',
    ],
    [
      'input kind',
      () => denseCrf({ ...ok(), input: 'softmax' as never }),
      'E_ARG',
      "'logits' or 'probabilities'",
    ],
    ['height', () => denseCrf({ ...ok(), height: 0 }), 'E_ARG', 'height is invalid'],
    ['iterations', () => denseCrf({ ...ok(), params: { iterations: 1.5 } }), 'E_ARG', 'params.iterations'],
    ['sxy', () => denseCrf({ ...ok(), params: { bilateral: { sxy: 0 } } }), 'E_ARG', 'params.bilateral.sxy'],
    [
      'weight',
      () => denseCrf({ ...ok(), params: { gaussian: { weight: -1 } } }),
      'E_ARG',
      'params.gaussian.weight',
    ],
    [
      'exact too large',
      () =>
        denseCrfExact({
          ...ok(),
          height: 65,
          width: 65,
          image: new Uint8Array(65 * 65 * 3),
          scores: new Float32Array(65 * 65 * 3),
        }),
      'E_ARG',
      'at most 4096 pixels',
    ],
  ];
  it.each(cases)('%s', (_name, call, code, fragment) => {
    let caught: unknown;
    try {
      call();
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ name: 'HpError', code });
    expect((caught as Error).message).toContain(fragment);
  });
});
