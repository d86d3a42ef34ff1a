import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bfloat16ToFloat32,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  roundToFloat16,
} from '../src/index.js';

const H = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'half.json'), 'utf8')) as {
  float32: (number | string)[];
  float16_bits: number[];
  bfloat16_bits: number[];
};
const values = Float32Array.from(H.float32, (v) =>
  typeof v === 'string' ? Number(v.replace('inf', 'Infinity')) : v,
);

describe('half-precision converters (golden: numpy astype(float16), torch .bfloat16())', () => {
  it('float32 → float16 rounds to nearest even, including ties, subnormals and overflow', () => {
    expect(Array.from(float32ToFloat16(values))).toEqual(H.float16_bits);
  });

  it('float32 → bfloat16 rounds to nearest even', () => {
    expect(Array.from(float32ToBfloat16(values))).toEqual(H.bfloat16_bits);
  });

  it('float16 → float32 is exact: every finite pattern survives a round trip', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f = float16ToFloat32(all);
    const back = float32ToFloat16(f);
    for (let h = 0; h < 65536; h++) {
      const nanPattern = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (nanPattern) expect(Number.isNaN(f[h]!)).toBe(true);
      else if (back[h] !== h)
        throw new Error(`pattern 0x${h.toString(16)} came back as 0x${back[h]!.toString(16)}`);
    }
    expect(f[0x3c00]).toBe(1);
    expect(f[0x0001]).toBe(2 ** -24);
    expect(f[0xfc00]).toBe(-Infinity);
  });

  it('bfloat16 → float32 is the upper half of the float32 pattern; NaN stays NaN', () => {
    expect(Array.from(bfloat16ToFloat32(Uint16Array.from([0x3f80, 0xc020, 0x7f80])))).toEqual([
      1,
      -2.5,
      Infinity,
    ]);
    expect(Number.isNaN(bfloat16ToFloat32(float32ToBfloat16(Float32Array.of(Number.NaN)))[0]!)).toBe(true);
    expect(Number.isNaN(float16ToFloat32(float32ToFloat16(Float32Array.of(Number.NaN)))[0]!)).toBe(true);
  });

  it('roundToFloat16: one number to the nearest half value, through the same routine', () => {
    expect(roundToFloat16(0.1)).toBe(0.0999755859375);
    expect(roundToFloat16(1 / 3)).toBe(0.333251953125);
    expect(roundToFloat16(2049)).toBe(2048); // tie to even
    expect(roundToFloat16(2051)).toBe(2052);
    expect(roundToFloat16(65504)).toBe(65504);
    expect(roundToFloat16(65520)).toBe(Infinity); // rounds past the largest half
    expect(roundToFloat16(1e-8)).toBe(0);
    expect(roundToFloat16(-1.5)).toBe(-1.5);
    expect(roundToFloat16(2 ** -24)).toBe(2 ** -24); // smallest subnormal
    const bits = float32ToFloat16(values);
    const back = float16ToFloat32(bits);
    values.forEach((v, i) => {
      if (!Number.isNaN(v)) expect(roundToFloat16(v)).toBe(back[i]);
    });
  });
});
