const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds a number to the nearest IEEE half-precision value (round half to even), returned as a float. */
export function roundToFloat16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = x >>> 31 ? -1 : 1;
  const exp = (x >>> 23) & 0xff;
  if (exp === 0xff) return value; // NaN, ±Inf
  const abs = Math.abs(f32[0]!);
  if (abs >= 65520) return sign * Infinity; // rounds past the largest half (65504)
  // Spacing of half values around |value|: 2^(e − 10) for normals, 2^−24 for subnormals.
  const e = Math.max(Math.floor(Math.log2(abs || 1)), -14);
  let ulp = 2 ** (e - 10);
  // log2 may be off by one at exact powers of two; fix the exponent by checking the range.
  if (abs >= 2 ** (e + 1)) ulp *= 2;
  const q = abs / ulp;
  let r = Math.round(q);
  if (Math.abs(q - Math.trunc(q) - 0.5) === 0 && r % 2 !== 0) r -= 1; // ties to even
  return sign * r * ulp;
}
