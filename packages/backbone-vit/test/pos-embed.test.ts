import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bicubicResizeGrid, interpolatePosEmbed } from '../src/index.js';
import { FIXTURES, maxAbsError } from './golden.js';

interface Case {
  grid: number;
  channels: number;
  outH: number;
  outW: number;
  input: number[];
  output: number[];
}
const fixture = JSON.parse(readFileSync(join(FIXTURES, 'posembed.json'), 'utf8')) as { cases: Case[] };

/** Float32 resampling vs PyTorch (float32 weights and sums there, float64 sums here): values up to 3.4, ~1e-6 relative. */
const RESIZE_ABS_TOL = 1e-5;

describe('bicubicResizeGrid vs F.interpolate(bicubic, scale_factor=(h+0.1)/g, align_corners=False)', () => {
  it.each(
    fixture.cases.map((c) => [`${c.grid}x${c.grid} -> ${c.outH}x${c.outW} (C=${c.channels})`, c] as const),
  )('%s', (_name, c) => {
    const out = bicubicResizeGrid(
      Float32Array.from(c.input),
      c.grid,
      c.grid,
      c.channels,
      c.outH,
      c.outW,
      (c.outH + 0.1) / c.grid,
      (c.outW + 0.1) / c.grid,
    );
    expect(out.length).toBe(c.output.length);
    expect(maxAbsError(out, c.output)).toBeLessThan(RESIZE_ABS_TOL);
  });

  it('the +0.1 scale rule matters: using 1/scale = g/h instead differs from PyTorch', () => {
    const c = fixture.cases.find((k) => k.grid === 28 && k.outH === 40)!;
    const naive = bicubicResizeGrid(Float32Array.from(c.input), 28, 28, c.channels, 40, 40, 40 / 28, 40 / 28);
    expect(maxAbsError(naive, c.output)).toBeGreaterThan(1e-3);
  });

  it('rejects a grid of the wrong length', () => {
    expect(() => bicubicResizeGrid(new Float32Array(5), 2, 2, 1, 3, 3, 1.5, 1.5)).toThrow(
      expect.objectContaining({
        code: 'E_SHAPE',
        message: expect.stringContaining('expected 2*2*1 = 4, got 5'),
      }),
    );
  });
});

describe('interpolatePosEmbed', () => {
  const g = 4;
  const C = 3;
  const c = fixture.cases.find((k) => k.grid === 4 && k.outH === 5 && k.outW === 7)!;
  const pos = new Float32Array((1 + g * g) * C);
  pos.set([0.5, -1.5, 2.5], 0); // CLS row
  pos.set(c.input, C);

  it('keeps the trained grid (square input) unchanged, as DINO does', () => {
    expect(Array.from(interpolatePosEmbed(pos, g, C, g, g))).toEqual(Array.from(pos));
  });

  it('keeps the CLS row and resizes the patch rows for other grids (non-square)', () => {
    const out = interpolatePosEmbed(pos, g, C, 5, 7);
    expect(out.length).toBe((1 + 35) * C);
    expect(Array.from(out.subarray(0, C))).toEqual([0.5, -1.5, 2.5]);
    expect(maxAbsError(out.subarray(C), c.output)).toBeLessThan(RESIZE_ABS_TOL);
  });
});
