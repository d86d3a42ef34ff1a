import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  applyPhotometric,
  augmentedView,
  createRng,
  drawPhotometricParams,
  imagenetNormalize,
  type PhotometricParams,
} from '../src/index.js';

interface Fixture {
  photometric: {
    height: number;
    width: number;
    input: number[];
    cases: { params: PhotometricParams; image: number[]; official: number[] }[];
  };
}
const { photometric: fx } = JSON.parse(
  readFileSync(new URL('./fixtures/transforms.json', import.meta.url), 'utf8'),
) as Fixture;
const input = Uint8Array.from(fx.input);
/** float32 ops of the reference vs ours: a few ulps per op. */
const TOL = 2e-5;

function maxDiff(a: Float32Array, b: number[]): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('photometric augmentation vs torchvision tensor formulas (golden)', () => {
  it.each(fx.cases.map((c, i) => [i, c] as const))('case %i, image mode ([0,1] input)', (_, c) => {
    const unit = Float32Array.from(input, (v) => v / 255);
    const out = applyPhotometric(unit, fx.height, fx.width, c.params);
    expect(maxDiff(out, c.image)).toBeLessThan(TOL);
  });
  it.each(fx.cases.map((c, i) => [i, c] as const))('case %i, official mode (normalised input)', (_, c) => {
    const out = applyPhotometric(imagenetNormalize(input), fx.height, fx.width, c.params);
    expect(maxDiff(out, c.official)).toBeLessThan(TOL);
  });
  it('augmentedView: image mode normalises the augmented image; official mode returns the clamped tensor', () => {
    const c = fx.cases[1]!;
    const img = augmentedView(input, fx.height, fx.width, { params: c.params });
    const expected = imagenetNormalize(Float32Array.from(c.image));
    expect(maxDiff(img.data, Array.from(expected))).toBeLessThan(1e-4);
    const off = augmentedView(input, fx.height, fx.width, { params: c.params, mode: 'official' });
    expect(maxDiff(off.data, c.official)).toBeLessThan(TOL);
    expect(Math.min(...off.data)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...off.data)).toBeLessThanOrEqual(1);
  });
});

describe('drawing parameters', () => {
  it('is seeded, within the official ranges, and close to the official probabilities', () => {
    const a = drawPhotometricParams(createRng(1));
    expect(drawPhotometricParams(createRng(1))).toEqual(a);
    const rng = createRng(9);
    let gray = 0;
    let blur = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const p = drawPhotometricParams(rng);
      expect([...p.order].sort()).toEqual([0, 1, 2, 3]);
      for (const f of [p.brightness, p.contrast, p.saturation]) expect(f >= 0.7 && f <= 1.3).toBe(true);
      expect(Math.abs(p.hue)).toBeLessThanOrEqual(0.1);
      if (p.grayscale) gray++;
      if (p.blurSigma !== null) {
        blur++;
        expect(p.blurSigma >= 0.1 && p.blurSigma <= 2).toBe(true);
      }
    }
    expect(gray / n).toBeGreaterThan(0.17);
    expect(gray / n).toBeLessThan(0.23);
    expect(blur / n).toBeGreaterThan(0.46);
    expect(blur / n).toBeLessThan(0.54);
  });
  it('augmentedView with a seed is reproducible and reports its draw', () => {
    const a = augmentedView(input, fx.height, fx.width, { seed: 5 });
    const b = augmentedView(input, fx.height, fx.width, { seed: 5 });
    expect(a.data).toEqual(b.data);
    expect(a.params).toEqual(drawPhotometricParams(createRng(5)));
  });
  it('identity parameters leave the image unchanged', () => {
    const unit = Float32Array.from(input, (v) => v / 255);
    const out = applyPhotometric(unit, fx.height, fx.width, {
      order: [0, 1, 2, 3],
      brightness: 1,
      contrast: 1,
      saturation: 1,
      hue: 0,
      grayscale: false,
      blurSigma: null,
    });
    expect(maxDiff(out, Array.from(unit))).toBeLessThan(2e-6);
  });
  it('rejects bad parameters', () => {
    const unit = new Float32Array(fx.height * fx.width * 3);
    const p: PhotometricParams = {
      order: [0, 0, 2, 3],
      brightness: 1,
      contrast: 1,
      saturation: 1,
      hue: 0,
      grayscale: false,
      blurSigma: null,
    };
    expect(() => applyPhotometric(unit, fx.height, fx.width, p)).toThrow(
      expect.objectContaining({ code: 'E_ARG', message: expect.stringContaining('permutation') }),
    );
    expect(() =>
      applyPhotometric(unit, fx.height, fx.width, { ...p, order: [0, 1, 2, 3], hue: 0.7 }),
    ).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => applyPhotometric(unit.subarray(1), fx.height, fx.width, p)).toThrow(
      expect.objectContaining({ code: 'E_SHAPE' }),
    );
    expect(() => augmentedView(input, fx.height, fx.width, { mode: 'x' as 'image' })).toThrow(
      expect.objectContaining({ code: 'E_ARG' }),
    );
  });
});
