import { bfloat16ToFloat32, float16ToFloat32 } from './half.js';
import type { HostDType, HostTensor, StoredDType } from './host-tensor.js';

export type HostData = HostTensor['data'];

/** Bytes per element of each stored type. */
export const STORED_ITEM_SIZE: Readonly<Record<StoredDType, number>> = {
  float64: 8,
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** The host type a stored type is widened to (halves → float32, int16 → int32). */
export function hostDTypeOf(stored: StoredDType): HostDType {
  if (stored === 'float16' || stored === 'bfloat16') return 'float32';
  if (stored === 'int16') return 'int32';
  return stored;
}

/** Reverses the byte order of every `size`-byte element, in place. */
function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/**
 * Decodes raw elements into a fresh, aligned typed array of the host type (one copy; alignment of
 * `bytes` does not matter). `bytes.length` must be a multiple of the element size.
 */
export function decodeElements(bytes: Uint8Array, stored: StoredDType, bigEndian = false): HostData {
  const copy = new Uint8Array(bytes.length); // aligned, owned copy (Buffer#slice would alias)
  copy.set(bytes);
  const size = STORED_ITEM_SIZE[stored];
  if (bigEndian && size > 1) swapBytes(copy, size);
  const buf = copy.buffer;
  const count = copy.length / size;
  switch (stored) {
    case 'float32':
      return new Float32Array(buf, 0, count);
    case 'float64':
      return new Float64Array(buf, 0, count);
    case 'int32':
      return new Int32Array(buf, 0, count);
    case 'int64':
      return new BigInt64Array(buf, 0, count);
    case 'int8':
      return new Int8Array(buf, 0, count);
    case 'uint8':
      return copy;
    case 'bool':
      for (let i = 0; i < copy.length; i++) copy[i] = copy[i] === 0 ? 0 : 1;
      return copy;
    case 'float16':
      return float16ToFloat32(new Uint16Array(buf, 0, count));
    case 'bfloat16':
      return bfloat16ToFloat32(new Uint16Array(buf, 0, count));
    case 'int16':
      return Int32Array.from(new Int16Array(buf, 0, count));
  }
}

/** Elements of the row-major tensor `shape`. */
export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** True when `stride` is the row-major stride of `shape` (size-1 dimensions may have any stride). */
export function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

/**
 * Copies the strided view (`shape`, `stride`, element offset 0 into `src`) into a new row-major array.
 * The innermost dimension is a tight loop; outer dimensions advance an index counter.
 */
export function gatherStrided(src: HostData, shape: readonly number[], stride: readonly number[]): HostData {
  const n = numelOf(shape);
  const out = new (src.constructor as new (length: number) => HostData)(n);
  if (n === 0) return out;
  const rank = shape.length;
  if (rank === 0) {
    (out as Float32Array)[0] = (src as Float32Array)[0]!;
    return out;
  }
  const inner = shape[rank - 1]!;
  const innerStride = stride[rank - 1]!;
  const counter = new Array<number>(rank).fill(0);
  const o = out as unknown as number[];
  const s = src as unknown as number[];
  let base = 0;
  for (let w = 0; w < n; w += inner) {
    for (let j = 0, p = base; j < inner; j++, p += innerStride) o[w + j] = s[p]!;
    for (let d = rank - 2; d >= 0; d--) {
      counter[d]!++;
      base += stride[d]!;
      if (counter[d]! < shape[d]!) break;
      base -= stride[d]! * shape[d]!;
      counter[d] = 0;
    }
  }
  return out;
}
