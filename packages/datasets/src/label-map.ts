/**
 * Builds a lookup table raw value → class id for `0..maxRaw`; values not in `entries` map to −1.
 * Raw values above `maxRaw` also map to −1 (see `applyLabelMap`).
 */
export function buildLookup(entries: Iterable<readonly [number, number]>, maxRaw = 65535): Int32Array {
  const lut = new Int32Array(maxRaw + 1).fill(-1);
  for (const [raw, cls] of entries) lut[raw] = cls;
  return lut;
}

/** Maps raw label values through a lookup table (out-of-table values → −1). */
export function applyLabelMap(raw: ArrayLike<number>, lut: Int32Array): Int32Array {
  const out = new Int32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i]!;
    out[i] = v < lut.length ? lut[v]! : -1;
  }
  return out;
}

/** Raw values that the table does not know (map to −1) other than the declared ignore values, sorted. */
export function unknownRawValues(
  raw: ArrayLike<number>,
  lut: Int32Array,
  ignore: readonly number[],
): number[] {
  const seen = new Set<number>();
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i]!;
    if ((v >= lut.length || lut[v] === -1) && !ignore.includes(v)) seen.add(v);
  }
  return [...seen].sort((a, b) => a - b);
}
