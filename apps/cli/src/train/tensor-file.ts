import { readFile } from 'node:fs/promises';
import { type HostTensor, HpError, type StateDict, writeFileAtomic } from '@hpseg/core';

/**
 * The safetensors layout (8-byte little-endian header length, JSON header, raw little-endian data)
 * for the float32/int32 tensors of a checkpoint, plus a `__metadata__` string map. Written with
 * `writeFileAtomic` (temp + rename), so a crash never leaves a half-written checkpoint.
 * (Local to the CLI until @hpseg/core exports its safetensors reader/writer.)
 */
const DTYPES = { float32: 'F32', int32: 'I32' } as const;

export function encodeTensorFile(tensors: StateDict, metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const [name, t] of [...tensors.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const code = DTYPES[t.dtype as keyof typeof DTYPES];
    if (code === undefined) {
      throw new HpError('E_DTYPE', `encodeTensorFile: ${name}: expected float32 or int32, got ${t.dtype}`);
    }
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
    header[name] = { dtype: code, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function decodeTensorFile(
  bytes: Uint8Array,
  source: string,
): { tensors: StateDict; metadata: Record<string, string> } {
  const fail = (what: string): never => {
    throw new HpError('E_FORMAT', `readTensorFile: ${source}: ${what}`, {
      hint: 'the file is truncated or not an hpseg checkpoint; use the other checkpoint (last/best) or retrain',
    });
  };
  if (bytes.length < 8) fail(`too short: expected at least 8 bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n <= 0 || 8 + n > bytes.length) fail(`bad header length: expected <= ${bytes.length - 8}, got ${n}`);
  let header: Record<string, unknown> = {};
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')) as Record<string, unknown>;
  } catch {
    fail('header is not JSON');
  }
  const base = 8 + n;
  const tensors: StateDict = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const [start, end] = e.data_offsets ?? [-1, -1];
    const shape = e.shape ?? [];
    const numel = shape.reduce((a, b) => a * b, 1);
    if (!(start >= 0 && end >= start && base + end <= bytes.length) || end - start !== numel * 4) {
      fail(
        `tensor ${name}: data out of range or of the wrong size (offsets ${start}..${end}, shape [${shape}])`,
      );
    }
    const slice = Uint8Array.prototype.slice.call(bytes, base + start, base + end); // a copy (Buffer.slice is a view)
    const data =
      e.dtype === 'F32'
        ? new Float32Array(slice.buffer, 0, numel)
        : e.dtype === 'I32'
          ? new Int32Array(slice.buffer, 0, numel)
          : fail(`tensor ${name}: unsupported dtype ${String(e.dtype)}`);
    const dtype = e.dtype === 'F32' ? 'float32' : 'int32';
    const t: HostTensor = { dtype, storedDtype: dtype, shape, data };
    tensors.set(name, t);
  }
  return { tensors, metadata };
}

export async function writeTensorFile(
  path: string,
  tensors: StateDict,
  metadata: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeTensorFile(tensors, metadata));
}

export async function readTensorFile(
  path: string,
): Promise<{ tensors: StateDict; metadata: Record<string, string> }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new HpError(
      code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO',
      `readTensorFile: cannot read ${path}: expected an existing file, got ${(error as Error).message}`,
      { cause: error },
    );
  }
  return decodeTensorFile(bytes, path);
}
