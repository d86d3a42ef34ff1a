/**
 * Half-precision conversions (IEEE float16 and bfloat16 ↔ float32), on raw 16-bit patterns.
 * float32 → float16 rounds to nearest, ties to even (as NumPy and PyTorch do); overflow gives ±Inf.
 */

let halfTable: Float32Array | undefined;

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** float16 bit patterns → float32 values (a 256 kB lookup table, built on first use). */
export function float16ToFloat32(bits: Uint16Array): Float32Array {
  if (halfTable === undefined) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  const table = halfTable;
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}

/** float32 values → float16 bit patterns, round to nearest even. */
export function float32ToFloat16(values: Float32Array): Uint16Array {
  const u32 = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = floatBitsToHalf(u32[i]!);
  return out;
}

function floatBitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 255) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // a carry into the exponent is correct rounding
  return sign | half;
}

/** bfloat16 bit patterns → float32 values (exact). */
export function bfloat16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const u32 = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) u32[i] = bits[i]! << 16;
  return out;
}

/** float32 values → bfloat16 bit patterns, round to nearest even (NaN stays NaN). */
export function float32ToBfloat16(values: Float32Array): Uint16Array {
  const u32 = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = u32[i]!;
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) out[i] = (x >>> 16) | 0x40;
    else out[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

const roundScratch = new Float32Array(1);
const roundBits = new Uint32Array(roundScratch.buffer);

/**
 * Rounds one number to the nearest IEEE half-precision value (ties to even; overflow gives ±Inf) and
 * returns it as a float: the scalar form of `float32ToFloat16`, through the same bit routine. (The value
 * is first rounded to float32, as a float32 tensor would be before a `.half()`.)
 */
export function roundToFloat16(value: number): number {
  roundScratch[0] = value;
  return halfToFloat(floatBitsToHalf(roundBits[0]!));
}
