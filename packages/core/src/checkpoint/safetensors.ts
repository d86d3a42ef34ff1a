import { HpError } from '../errors.js';
import { readFileChecked, writeFileAtomic } from '../fs.js';
import { float32ToBfloat16, float32ToFloat16 } from './half.js';
import type { HostTensor, StateDict, StoredDType } from './host-tensor.js';
import { isHostTensor } from './pth-value.js';
import { decodeElements, hostDTypeOf, numelOf, STORED_ITEM_SIZE } from './tensor-data.js';

/**
 * `.safetensors`: 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {str: str}}`, then raw
 * little-endian data (offsets relative to the end of the header).
 */

const FILE_DTYPES: Readonly<Record<string, StoredDType>> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const DTYPE_NAMES: Readonly<Record<StoredDType, string>> = Object.fromEntries(
  Object.entries(FILE_DTYPES).map(([k, v]) => [v, k]),
) as Record<StoredDType, string>;

/** Largest header we accept (the reference implementation's limit). */
const MAX_HEADER = 100_000_000;

export interface SafetensorsContent {
  tensors: StateDict;
  metadata: Record<string, string>;
}

/** Reads a `.safetensors` file held in memory. F16/BF16 are widened to float32 (`storedDtype` keeps the file's). */
export function readSafetensors(bytes: Uint8Array): SafetensorsContent {
  const fn = 'readSafetensors';
  const bad = (what: string, expected: string, got: string): never => {
    throw new HpError('E_FORMAT', `${fn}: ${what}: expected ${expected}, got ${got}`);
  };
  if (bytes.length < 8) bad('file is too short', 'at least 8 bytes', `${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER || 8 + headerLength > bytes.length) {
    bad(
      'bad header length (truncated or not a safetensors file)',
      `at most ${Math.min(MAX_HEADER, bytes.length - 8)}`,
      `${headerLength}`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (error) {
    bad('header is not JSON', 'a UTF-8 JSON object', (error as Error).message);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    bad('bad header', 'a JSON object', typeof header);
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const tensors: StateDict = new Map();
  const metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
        bad('bad __metadata__', 'an object of strings', typeof entry);
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') bad(`bad __metadata__.${k}`, 'a string', typeof v);
        metadata[k] = v as string;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const stored = typeof e?.dtype === 'string' ? FILE_DTYPES[e.dtype] : undefined;
    if (stored === undefined)
      bad(`tensor ${name} has an unsupported dtype`, Object.keys(FILE_DTYPES).join('/'), String(e?.dtype));
    const isDim = (d: unknown): boolean => typeof d === 'number' && Number.isInteger(d) && d >= 0;
    if (!Array.isArray(e.shape) || !e.shape.every(isDim))
      bad(`tensor ${name} has a bad shape`, 'integers >= 0', JSON.stringify(e.shape));
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isDim)) {
      bad(`tensor ${name} has bad data_offsets`, '[begin, end]', JSON.stringify(offsets));
    }
    const [begin, end] = offsets as [number, number];
    const shape = e.shape as number[];
    const byteLength = numelOf(shape) * STORED_ITEM_SIZE[stored!];
    if (end < begin || end > dataLength)
      bad(`tensor ${name} lies outside the data`, `0 <= begin <= end <= ${dataLength}`, `[${begin}, ${end}]`);
    if (end - begin !== byteLength) {
      bad(
        `tensor ${name} has the wrong byte count for shape [${shape.join(', ')}] ${e.dtype}`,
        `${byteLength}`,
        `${end - begin}`,
      );
    }
    ranges.push([begin, end, name]);
    const data = decodeElements(bytes.subarray(dataStart + begin, dataStart + end), stored!);
    tensors.set(name, { dtype: hostDTypeOf(stored!), storedDtype: stored!, shape, data });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    const [b, , name] = ranges[i]!;
    const [, prevEnd, prevName] = ranges[i - 1]!;
    if (b < prevEnd)
      bad(
        `tensors ${prevName} and ${name} overlap`,
        'disjoint data_offsets',
        `[.., ${prevEnd}] and [${b}, ..]`,
      );
  }
  return { tensors, metadata };
}

/** The bytes of one tensor in the file's type (float32 data is narrowed when `storedDtype` is a half type). */
function encodeTensor(t: HostTensor): { dtype: string; bytes: Uint8Array } {
  const fn = 'writeSafetensors';
  const n = numelOf(t.shape);
  if (t.data.length !== n) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: data length does not match shape [${t.shape.join(', ')}]: expected ${n}, got ${t.data.length}`,
    );
  }
  if (t.dtype === 'float32' && (t.storedDtype === 'float16' || t.storedDtype === 'bfloat16')) {
    const f = t.data as Float32Array;
    const half = t.storedDtype === 'float16' ? float32ToFloat16(f) : float32ToBfloat16(f);
    return { dtype: DTYPE_NAMES[t.storedDtype], bytes: new Uint8Array(half.buffer) };
  }
  const name = DTYPE_NAMES[t.dtype];
  if (name === undefined)
    throw new HpError('E_DTYPE', `${fn}: unsupported dtype: expected a HostDType, got ${String(t.dtype)}`);
  const d = t.data;
  return { dtype: name, bytes: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) };
}

/**
 * Serialises tensors (in insertion order) and string metadata. Tensors whose `storedDtype` is
 * float16/bfloat16 are written in that type (round to nearest even); others in their `dtype`.
 */
export function writeSafetensors(tensors: StateDict, metadata: Record<string, string> = {}): Uint8Array {
  const fn = 'writeSafetensors';
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new HpError(
          'E_ARG',
          `${fn}: metadata ${k} is not a string: expected a string, got ${typeof v}`,
        );
    }
    header.__metadata__ = metadata;
  }
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__')
      throw new HpError('E_ARG', `${fn}: reserved tensor name: expected any name but __metadata__, got it`);
    if (!isHostTensor(t))
      throw new HpError(
        'E_ARG',
        `${fn}: ${name} is not a HostTensor: expected {dtype, shape, data}, got ${typeof t}`,
      );
    const { dtype, bytes } = encodeTensor(t);
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8; // data starts 8-byte aligned, as the reference writer does
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `readSafetensors` of a file. Missing file → `E_NOT_FOUND`. */
export async function loadSafetensorsFile(path: string): Promise<SafetensorsContent> {
  const bytes = await readFileChecked('loadSafetensorsFile', path);
  return readSafetensors(bytes);
}

/** `writeSafetensors` to a file, atomically (temp file + rename). */
export async function saveSafetensorsFile(
  path: string,
  tensors: StateDict,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, writeSafetensors(tensors, metadata));
}
