import { inflateSync } from 'node:zlib';
import { HpError } from '@hpseg/core';

/** MATLAB numeric classes this reader understands. */
export type MatClass = 'double' | 'single' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32';

export type MatData =
  | Float64Array
  | Float32Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

/** One numeric array of a MAT-file, converted to row-major order (last dimension fastest). */
export interface MatArray {
  name: string;
  className: MatClass;
  /** MATLAB dimensions, e.g. `[H, W, 4]`. */
  shape: number[];
  /** Values in row-major (C) order for `shape`. */
  data: MatData;
}

const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
  UTF8: 16,
} as const;
const MX_CLASSES: Record<number, MatClass> = {
  6: 'double',
  7: 'single',
  8: 'int8',
  9: 'uint8',
  10: 'int16',
  11: 'uint16',
  12: 'int32',
  13: 'uint32',
};
const MX_NAMES: Record<number, string> = {
  1: 'cell',
  2: 'struct',
  3: 'object',
  4: 'char',
  5: 'sparse',
  14: 'int64',
  15: 'uint64',
};
const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

function formatError(source: string, what: string, got: string, hint = ''): HpError {
  return new HpError(
    'E_FORMAT',
    `readMat: ${what}${source ? ` in ${source}` : ''}: ${got}${hint ? `. ${hint}` : ''}`,
    { details: { source } },
  );
}

interface Element {
  type: number;
  data: Uint8Array;
  /** Offset of the next element. */
  next: number;
}

function readElement(bytes: Uint8Array, view: DataView, pos: number, le: boolean, source: string): Element {
  if (pos + 8 > bytes.length)
    throw formatError(
      source,
      'truncated data element',
      `tag at byte ${pos} past the end (${bytes.length} bytes)`,
    );
  const first = view.getUint32(pos, le);
  if (first >>> 16 !== 0) {
    // Small data element: 2-byte size, 2-byte type, 4 bytes of data.
    const size = first >>> 16;
    const type = first & 0xffff;
    if (size > 4) throw formatError(source, 'bad small data element', `size ${size} > 4`);
    return { type, data: bytes.subarray(pos + 4, pos + 4 + size), next: pos + 8 };
  }
  const type = first;
  const size = view.getUint32(pos + 4, le);
  const start = pos + 8;
  if (start + size > bytes.length)
    throw formatError(
      source,
      'truncated data element',
      `type ${type} needs ${size} bytes at ${start}, file has ${bytes.length}`,
    );
  // Compressed elements are not padded; all others are padded to 8 bytes.
  const next = type === MI.COMPRESSED ? start + size : start + Math.ceil(size / 8) * 8;
  return { type, data: bytes.subarray(start, start + size), next };
}

function numericView(type: number, data: Uint8Array, le: boolean, source: string): ArrayLike<number> {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const read = (size: number, get: (o: number) => number): number[] => {
    const n = Math.floor(data.length / size);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = get(i * size);
    return out;
  };
  switch (type) {
    case MI.INT8:
      return new Int8Array(data.buffer, data.byteOffset, data.byteLength);
    case MI.UINT8:
      return data;
    case MI.INT16:
      return read(2, (o) => view.getInt16(o, le));
    case MI.UINT16:
      return read(2, (o) => view.getUint16(o, le));
    case MI.INT32:
      return read(4, (o) => view.getInt32(o, le));
    case MI.UINT32:
      return read(4, (o) => view.getUint32(o, le));
    case MI.SINGLE:
      return read(4, (o) => view.getFloat32(o, le));
    case MI.DOUBLE:
      return read(8, (o) => view.getFloat64(o, le));
    case MI.INT64:
      return read(8, (o) => Number(view.getBigInt64(o, le)));
    case MI.UINT64:
      return read(8, (o) => Number(view.getBigUint64(o, le)));
    default:
      throw formatError(source, 'unsupported numeric data type', `miType ${type}`);
  }
}

function allocate(cls: MatClass, n: number): MatData {
  switch (cls) {
    case 'double':
      return new Float64Array(n);
    case 'single':
      return new Float32Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'uint8':
      return new Uint8Array(n);
    case 'int16':
      return new Int16Array(n);
    case 'uint16':
      return new Uint16Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'uint32':
      return new Uint32Array(n);
  }
}

/** Column-major (MATLAB) → row-major (C) order for any number of dimensions. */
export function columnToRowMajor<T extends MatData>(
  src: ArrayLike<number>,
  shape: readonly number[],
  out: T,
): T {
  const rank = shape.length;
  const n = out.length;
  // strides of the column-major source for each dimension
  const colStride = new Array<number>(rank);
  let s = 1;
  for (let d = 0; d < rank; d++) {
    colStride[d] = s;
    s *= shape[d]!;
  }
  const idx = new Array<number>(rank).fill(0);
  let srcPos = 0;
  for (let i = 0; i < n; i++) {
    out[i] = src[srcPos]!;
    // increment the row-major multi-index (last dimension fastest), tracking the source offset
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      srcPos += colStride[d]!;
      if (idx[d]! < shape[d]!) break;
      srcPos -= colStride[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

function parseMatrix(
  body: Uint8Array,
  le: boolean,
  source: string,
): MatArray | { name: string; unsupported: string } {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const flags = readElement(body, view, 0, le, source);
  const flagView = new DataView(flags.data.buffer, flags.data.byteOffset, flags.data.byteLength);
  const word = flagView.getUint32(0, le);
  const classId = word & 0xff;
  const complex = (word >>> 11) & 1;
  const dimsEl = readElement(body, view, flags.next, le, source);
  const shape = Array.from(numericView(dimsEl.type, dimsEl.data, le, source));
  const nameEl = readElement(body, view, dimsEl.next, le, source);
  const name = new TextDecoder().decode(nameEl.data);
  const cls = MX_CLASSES[classId];
  if (cls === undefined) return { name, unsupported: MX_NAMES[classId] ?? `class ${classId}` };
  if (complex) return { name, unsupported: 'complex' };
  const real = readElement(body, view, nameEl.next, le, source);
  const values = numericView(real.type, real.data, le, source);
  const n = shape.reduce((a, b) => a * b, 1);
  if (values.length !== n)
    throw formatError(
      source,
      `array "${name}" has the wrong number of values`,
      `expected ${shape.join('x')} = ${n}, got ${values.length}`,
    );
  return { name, className: cls, shape, data: columnToRowMajor(values, shape, allocate(cls, n)) };
}

/**
 * Reads the numeric arrays of a MATLAB v5 (v6/v7, optionally compressed) MAT-file. Arrays of
 * other classes (cell, struct, char, sparse, complex) are listed in `unsupported` and skipped.
 * v7.3 (HDF5) files and v4 files are refused with `E_FORMAT`.
 */
export function readMat(
  bytes: Uint8Array,
  source = '',
): { arrays: Map<string, MatArray>; unsupported: Map<string, string> } {
  if (bytes.length >= 520 && HDF5_SIGNATURE.every((v, i) => bytes[512 + i] === v)) {
    throw formatError(
      source,
      'MATLAB v7.3 (HDF5) files are not supported',
      'found an HDF5 signature',
      "Re-save the file with save(..., '-v7') in MATLAB or scipy.io.savemat",
    );
  }
  const header = new TextDecoder('latin1').decode(bytes.subarray(0, Math.min(116, bytes.length)));
  if (header.includes('MATLAB 7.3')) {
    throw formatError(
      source,
      'MATLAB v7.3 (HDF5) files are not supported',
      'header says "MATLAB 7.3"',
      "Re-save the file with save(..., '-v7') in MATLAB or scipy.io.savemat",
    );
  }
  if (bytes.length < 128 || !header.startsWith('MATLAB 5.0')) {
    throw formatError(
      source,
      'not a MATLAB v5 MAT-file',
      `expected a header starting with "MATLAB 5.0 MAT-file", got ${JSON.stringify(header.slice(0, 20))}`,
    );
  }
  const endian = String.fromCharCode(bytes[126]!, bytes[127]!);
  if (endian !== 'IM' && endian !== 'MI')
    throw formatError(source, 'bad endian indicator', `expected "IM" or "MI", got ${JSON.stringify(endian)}`);
  const le = endian === 'IM';
  const arrays = new Map<string, MatArray>();
  const unsupported = new Map<string, string>();
  const walk = (buf: Uint8Array, start: number): void => {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let pos = start;
    while (pos + 8 <= buf.length) {
      const el = readElement(buf, view, pos, le, source);
      if (el.type === MI.COMPRESSED) {
        let inflated: Uint8Array;
        try {
          inflated = inflateSync(el.data);
        } catch (error) {
          throw formatError(source, 'corrupt compressed element', (error as Error).message);
        }
        walk(inflated, 0);
      } else if (el.type === MI.MATRIX) {
        if (el.data.length > 0) {
          const m = parseMatrix(el.data, le, source);
          if ('unsupported' in m) unsupported.set(m.name, m.unsupported);
          else arrays.set(m.name, m);
        }
      }
      pos = el.next;
    }
  };
  walk(bytes, 128);
  return { arrays, unsupported };
}

/** The array called `key` of a MAT-file, or `E_FORMAT` naming the keys that are there. */
export function getMatArray(mat: ReturnType<typeof readMat>, key: string, source = ''): MatArray {
  const a = mat.arrays.get(key);
  if (a !== undefined) return a;
  const why = mat.unsupported.get(key);
  if (why !== undefined)
    throw formatError(
      source,
      `variable "${key}" has an unsupported type`,
      `expected a real numeric array, got ${why}`,
    );
  throw formatError(
    source,
    `variable "${key}" not found`,
    `expected it among [${[...mat.arrays.keys(), ...mat.unsupported.keys()].join(', ')}]`,
  );
}
