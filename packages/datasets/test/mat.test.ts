import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { columnToRowMajor, getMatArray, readMat } from '../src/index.js';

const dir = new URL('./fixtures/mat/', import.meta.url);
const expected = JSON.parse(readFileSync(new URL('mat.json', dir), 'utf8')) as Record<
  string,
  Record<string, { shape: number[]; dtype: string; values: number[] }>
>;
const read = (name: string) => new Uint8Array(readFileSync(new URL(name, dir)));

describe('readMat (scipy.io.savemat fixtures)', () => {
  const cases = Object.entries(expected).flatMap(([file, vars]) =>
    Object.entries(vars).map(([key, v]) => [file, key, v] as const),
  );
  it.each(cases)('%s: %s has the scipy shape, class and row-major values', (file, key, v) => {
    const a = getMatArray(readMat(read(file), file), key, file);
    expect(a.shape).toEqual(v.shape.length === 1 ? [1, v.shape[0]] : v.shape);
    expect(a.className).toBe(v.dtype === 'float64' ? 'double' : v.dtype === 'float32' ? 'single' : v.dtype);
    if (v.dtype === 'float32') {
      v.values.forEach((x, i) => {
        expect(a.data[i]).toBeCloseTo(x, 6);
      });
    } else expect(Array.from(a.data)).toEqual(v.values);
  });
  it('the compressed and uncompressed files of the same arrays agree', () => {
    const a = readMat(read('mixed.mat'));
    const b = readMat(read('mixed_z.mat'));
    expect([...a.arrays.keys()].sort()).toEqual([...b.arrays.keys()].sort());
    for (const [k, v] of a.arrays) expect(b.arrays.get(k)!.data).toEqual(v.data);
  });
  it('columnToRowMajor handles 3-D arrays (H x W x C) correctly', () => {
    // MATLAB A(i,j,k) = 100i + 10j + k, shape 2x3x2, stored column-major
    const shape = [2, 3, 2];
    const col: number[] = [];
    for (let k = 0; k < 2; k++)
      for (let j = 0; j < 3; j++) for (let i = 0; i < 2; i++) col.push(100 * i + 10 * j + k);
    const row = columnToRowMajor(col, shape, new Float64Array(12));
    const expectedRow: number[] = [];
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) expectedRow.push(100 * i + 10 * j + k);
    expect(Array.from(row)).toEqual(expectedRow);
  });
  it('refuses v7.3 (HDF5) files with a hint to re-save with -v7', () => {
    const bytes = new Uint8Array(1024);
    bytes.set(
      new TextEncoder().encode(
        'MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .',
      ),
    );
    bytes.set([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a], 512);
    expect(() => readMat(bytes, 'tile.mat')).toThrow(
      expect.objectContaining({ code: 'E_FORMAT', message: expect.stringMatching(/v7\.3.*-v7/) }),
    );
    const headerOnly = bytes.slice(0, 200);
    expect(() => readMat(headerOnly)).toThrow(
      expect.objectContaining({ code: 'E_FORMAT', message: expect.stringContaining('v7.3') }),
    );
  });
  it('refuses non-MAT bytes, truncated files and missing keys', () => {
    expect(() => readMat(new TextEncoder().encode('hello'))).toThrow(
      expect.objectContaining({ code: 'E_FORMAT', message: expect.stringContaining('not a MATLAB v5') }),
    );
    const full = read('img_p0.mat');
    expect(() => readMat(full.subarray(0, full.length - 40))).toThrow(
      expect.objectContaining({ code: 'E_FORMAT', message: expect.stringContaining('truncated') }),
    );
    const z = read('img_p1.mat').slice();
    z[z.length - 20] = z[z.length - 20]! ^ 0xff;
    expect(() => readMat(z)).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
    expect(() => getMatArray(readMat(full), 'gt', 'img_p0.mat')).toThrow(
      expect.objectContaining({ code: 'E_FORMAT', message: expect.stringContaining('"gt" not found') }),
    );
  });

  it('reads big-endian files and MATLAB-style compact storage (double class stored as miUINT8)', () => {
    // A hand-written v5 file: one 2x3 double array "gt" whose values are stored as miUINT8, as
    // MATLAB does for integer-valued doubles; the name uses the small data element format.
    const write = (le: boolean): Uint8Array => {
      const buf = new Uint8Array(128 + 8 + 16 + 16 + 8 + 16);
      const v = new DataView(buf.buffer);
      buf.set(new TextEncoder().encode('MATLAB 5.0 MAT-file, written by a test'));
      v.setUint16(124, 0x0100, le);
      buf.set(new TextEncoder().encode(le ? 'IM' : 'MI'), 126);
      let o = 128;
      v.setUint32(o, 14, le); // miMATRIX
      v.setUint32(o + 4, buf.length - 136, le);
      o += 8;
      v.setUint32(o, 6, le); // flags: miUINT32, 8 bytes
      v.setUint32(o + 4, 8, le);
      v.setUint32(o + 8, 6, le); // mxDOUBLE_CLASS
      o += 16;
      v.setUint32(o, 5, le); // dims: miINT32, 8 bytes
      v.setUint32(o + 4, 8, le);
      v.setInt32(o + 8, 2, le);
      v.setInt32(o + 12, 3, le);
      o += 16;
      v.setUint32(o, (2 << 16) | 1, le); // small element: 2 bytes of miINT8
      buf.set([0x67, 0x74], o + 4); // "gt"
      o += 8;
      v.setUint32(o, 2, le); // real part: miUINT8, 6 bytes, column-major
      v.setUint32(o + 4, 6, le);
      buf.set([1, 4, 2, 5, 3, 255], o + 8);
      return buf;
    };
    for (const le of [true, false]) {
      const a = getMatArray(readMat(write(le)), 'gt');
      expect(a.className).toBe('double');
      expect(a.shape).toEqual([2, 3]);
      expect(a.data).toBeInstanceOf(Float64Array);
      expect(Array.from(a.data)).toEqual([1, 2, 3, 4, 5, 255]);
    }
  });
});
