import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type HostTensor,
  loadSafetensorsFile,
  readSafetensors,
  type StateDict,
  saveSafetensorsFile,
  writeSafetensors,
} from '../src/index.js';

function codeOf(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (error) {
    const e = error as { name: string; code: string; message: string };
    expect(e.name).toBe('HpError');
    return { code: e.code, message: e.message };
  }
  throw new Error('expected an HpError, got success');
}

/** A safetensors file built by hand from the format description (independent of writeSafetensors). */
function handMade(header: object, data: number[], pad = 0): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const every: StateDict = new Map<string, HostTensor>([
  [
    'f32',
    {
      dtype: 'float32',
      storedDtype: 'float32',
      shape: [2, 3],
      data: Float32Array.of(1, -2, 3.5, 0, 1e-30, -7),
    },
  ],
  ['f64', { dtype: 'float64', storedDtype: 'float64', shape: [2], data: Float64Array.of(1 / 3, -1e300) }],
  ['i64', { dtype: 'int64', storedDtype: 'int64', shape: [3], data: BigInt64Array.of(-1n, 2n ** 62n, 0n) }],
  ['i32', { dtype: 'int32', storedDtype: 'int32', shape: [1, 2], data: Int32Array.of(-5, 2 ** 31 - 1) }],
  ['u8', { dtype: 'uint8', storedDtype: 'uint8', shape: [3], data: Uint8Array.of(0, 128, 255) }],
  ['i8', { dtype: 'int8', storedDtype: 'int8', shape: [2], data: Int8Array.of(-128, 127) }],
  ['bool', { dtype: 'bool', storedDtype: 'bool', shape: [2], data: Uint8Array.of(1, 0) }],
  ['scalar', { dtype: 'float32', storedDtype: 'float32', shape: [], data: Float32Array.of(42) }],
  ['empty', { dtype: 'float32', storedDtype: 'float32', shape: [0, 4], data: new Float32Array(0) }],
  // half types are written as F16/BF16 and read back widened; these values are exactly representable
  [
    'f16',
    { dtype: 'float32', storedDtype: 'float16', shape: [3], data: Float32Array.of(1.5, -0.125, 65504) },
  ],
  ['bf16', { dtype: 'float32', storedDtype: 'bfloat16', shape: [2], data: Float32Array.of(-3, 2 ** 100) }],
]);

describe('safetensors', () => {
  it('round-trips every dtype, scalars, empty tensors and metadata', () => {
    const bytes = writeSafetensors(every, { format: 'pt', note: 'ünïcode' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const { tensors, metadata } = readSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect([...tensors.keys()]).toEqual([...every.keys()]);
    for (const [name, t] of every) {
      const got = tensors.get(name)!;
      expect(got.shape, name).toEqual(t.shape);
      expect(got.dtype, name).toBe(t.dtype);
      expect(got.storedDtype, name).toBe(t.storedDtype);
      expect(got.data, name).toEqual(t.data);
    }
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<
      string,
      { dtype: string }
    >;
    expect(header.f16!.dtype).toBe('F16');
    expect(header.bf16!.dtype).toBe('BF16');
    expect(header.i64!.dtype).toBe('I64');
  });

  it('reads a hand-made file (F16 and little-endian I32, padded header)', () => {
    const bytes = handMade(
      {
        __metadata__: { a: 'b' },
        h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
        n: { dtype: 'I32', shape: [1], data_offsets: [4, 8] },
      },
      [0x00, 0x3c, 0x00, 0xc0, 0x01, 0x02, 0x00, 0x00],
      5,
    );
    const { tensors, metadata } = readSafetensors(bytes);
    expect(metadata).toEqual({ a: 'b' });
    expect(Array.from(tensors.get('h')!.data as Float32Array)).toEqual([1, -2]);
    expect(tensors.get('h')!.storedDtype).toBe('float16');
    expect(Array.from(tensors.get('n')!.data as Int32Array)).toEqual([0x0201]);
  });

  it.each([
    [
      'overlapping tensors',
      {
        a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] },
        b: { dtype: 'U8', shape: [2], data_offsets: [1, 3] },
      },
      4,
      'overlap',
    ],
    [
      'offsets beyond the data',
      { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } },
      4,
      'outside the data',
    ],
    [
      'byte count not matching shape',
      { a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } },
      4,
      'wrong byte count',
    ],
    ['unknown dtype', { a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, 8, 'unsupported dtype'],
    ['negative shape', { a: { dtype: 'U8', shape: [-1], data_offsets: [0, 0] } }, 0, 'bad shape'],
  ])('refuses %s (E_FORMAT)', (_name, header, n, fragment) => {
    const e = codeOf(() => readSafetensors(handMade(header, new Array(n).fill(0))));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain(fragment);
  });

  it('refuses truncated files and a huge header length', () => {
    const bytes = writeSafetensors(every);
    for (const len of [0, 7, 8, 20, bytes.length - 1]) {
      expect(codeOf(() => readSafetensors(bytes.subarray(0, len))).code, `length ${len}`).toBe('E_FORMAT');
    }
    const huge = Uint8Array.from(bytes);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 60n, true);
    expect(codeOf(() => readSafetensors(huge)).message).toContain('bad header length');
  });

  it('refuses a tensor whose data does not match its shape on write', () => {
    const bad: StateDict = new Map([
      ['x', { dtype: 'float32', storedDtype: 'float32', shape: [3], data: new Float32Array(2) }],
    ]);
    expect(codeOf(() => writeSafetensors(bad)).code).toBe('E_SHAPE');
  });

  it('saves atomically and loads from disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpseg-st-'));
    const path = join(dir, 'w.safetensors');
    await saveSafetensorsFile(path, every, { k: 'v' });
    expect(readdirSync(dir)).toEqual(['w.safetensors']);
    const { tensors, metadata } = await loadSafetensorsFile(path);
    expect(metadata).toEqual({ k: 'v' });
    expect(tensors.get('f32')!.data).toEqual(every.get('f32')!.data);
    await expect(loadSafetensorsFile(join(dir, 'missing.safetensors'))).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
  });
});
