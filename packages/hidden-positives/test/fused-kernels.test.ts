import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createSharedMemory, instantiateKernels, kernelsModule } from '../src/fused/kernels.js';
import { KERNELS_WASM_BASE64 } from '../src/fused/kernels-wasm.js';

interface BuildWasm {
  assembleWat(source: string, name?: string): Promise<Uint8Array>;
  wasmModuleText(binary: Uint8Array, watName: string): string;
}

const wat = new URL('../src/fused/kernels.wat', import.meta.url);
const generated = new URL('../src/fused/kernels-wasm.ts', import.meta.url);

describe('fused kernels', () => {
  it('the committed kernels-wasm.ts is kernels.wat assembled (run `npm run build:wasm` after editing it)', async () => {
    const tool = new URL('../../../tools/build-wasm.mjs', import.meta.url).href;
    const { assembleWat, wasmModuleText } = (await import(tool)) as BuildWasm;
    const binary = await assembleWat(readFileSync(wat, 'utf8'), 'kernels.wat');
    expect(Buffer.from(KERNELS_WASM_BASE64, 'base64').equals(Buffer.from(binary))).toBe(true);
    expect(readFileSync(generated, 'utf8')).toBe(wasmModuleText(binary, 'kernels.wat'));
  });

  // Small, odd sizes (rows not a multiple of the 4×2 tile, K padded to 16) against float64 loops.
  const memory = createSharedMemory();
  memory.grow(16);
  const k = instantiateKernels(kernelsModule(), memory);
  const f32 = new Float32Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);
  const K = 7;
  const stride = 64; // 16 floats, zero-padded
  const rows = 11;
  let seed = 1;
  const rand = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647 - 0.5;
  };
  const x = 1024;
  for (let i = 0; i < rows; i += 1) for (let c = 0; c < K; c += 1) f32[x / 4 + (i * stride) / 4 + c] = rand();
  const dot = (i: number, j: number, base = x) => {
    let s = 0;
    for (let c = 0; c < K; c += 1)
      s += f32[base / 4 + (i * stride) / 4 + c]! * f32[x / 4 + (j * stride) / 4 + c]!;
    return s;
  };

  it('criterion: the max over the pool rows of the dot products', () => {
    const out = 8192;
    // pool = rows 6..10 (5 rows, odd), anchors rows 0..4
    k.criterion(x, stride, 0, 5, x + 6 * stride, 5, stride, out);
    for (let i = 0; i < 5; i += 1) {
      const want = Math.max(...[6, 7, 8, 9, 10].map((q) => dot(i, q)));
      expect(f32[out / 4 + i]).toBeCloseTo(want, 6);
    }
  });

  it('join: bit (i, j) and (j, i) set exactly where x_i · x_j > min(c_i, c_j), never on the diagonal', () => {
    const c = 8192;
    const bits = 12288;
    const rowBytes = 8;
    for (let i = 0; i < rows; i += 1) f32[c / 4 + i] = 0.02 * (i % 4);
    i32.fill(0, bits / 4, bits / 4 + rows * 2);
    k.join(x, stride, 0, 8, 0, rows, c, bits, rowBytes, stride);
    k.join(x, stride, 8, rows, 0, rows, c, bits, rowBytes, stride);
    let positives = 0;
    for (let i = 0; i < rows; i += 1) {
      for (let j = 0; j < rows; j += 1) {
        const bit = (i32[bits / 4 + i * 2 + (j >> 5)]! >>> (j & 31)) & 1;
        const d = Math.fround(dot(i, j));
        const want = i !== j && d > Math.min(f32[c / 4 + i]!, f32[c / 4 + j]!) ? 1 : 0;
        expect(bit, `(${i}, ${j}) d = ${d}`).toBe(want);
        positives += bit;
      }
    }
    expect(positives).toBeGreaterThan(4);
    expect(positives).toBeLessThan(rows * rows - rows);
  });

  it('threshold: blocks of given similarities mark (i, j) and (j, i) exactly where s_ij > min(c_i, c_j), j > i', () => {
    // n = 37 tokens, blocks of 16 rows starting at i0 (the host product's x[i0:] @ x[i0:]ᵀ rows), each
    // row 37 − i0 wide, so rows start at every alignment and end short of a 4-column test.
    const n = 37;
    const c = 16384;
    const sims = 20480;
    const bits = 32768;
    const rowBytes = 8;
    const s = (i: number, j: number) => Math.fround(Math.sin(i * 12.9898 + j * 78.233) * 0.5);
    for (let i = 0; i < n + 4; i += 1) f32[c / 4 + i] = i < n ? Math.fround(0.1 * ((i * 7) % 5) - 0.1) : -1; // padding that would pass
    i32.fill(0, bits / 4, bits / 4 + (n + 4) * 2);
    for (let i0 = 0; i0 < n; i0 += 16) {
      const blockRows = Math.min(16, n - i0);
      const width = n - i0;
      f32.fill(Number.NaN, sims / 4, sims / 4 + blockRows * width + 4);
      for (let r = 0; r < blockRows; r += 1)
        for (let j = i0; j < n; j += 1)
          f32[sims / 4 + r * width + j - i0] = s(Math.min(i0 + r, j), Math.max(i0 + r, j));
      k.threshold(sims, width, i0, 0, 5, n, c, bits, rowBytes);
      k.threshold(sims, width, i0, 5, blockRows, n, c, bits, rowBytes);
    }
    let positives = 0;
    // every bit of the two words of each row, and the rows past n: nothing outside the [n, n] matrix
    for (let i = 0; i < n + 4; i += 1) {
      for (let j = 0; j < 64; j += 1) {
        const bit = (i32[bits / 4 + i * 2 + (j >> 5)]! >>> (j & 31)) & 1;
        const sim = s(Math.min(i, j), Math.max(i, j));
        const want = i < n && j < n && i !== j && sim > Math.min(f32[c / 4 + i]!, f32[c / 4 + j]!) ? 1 : 0;
        expect(bit, `(${i}, ${j}) s = ${sim}`).toBe(want);
        positives += bit;
      }
    }
    expect(positives).toBeGreaterThan(n);
    expect(positives).toBeLessThan(n * n - 2 * n);
  });

  it('rowMax: the max of each row of a block, for widths with and without a remainder of 4', () => {
    const sims = 20480;
    const out = 16384;
    for (const q of [1, 3, 8, 13]) {
      const rowsHere = 6;
      for (let t = 0; t < rowsHere * q; t += 1) f32[sims / 4 + t] = Math.fround(Math.cos(t * 1.7 + q) * 3);
      f32.fill(0, out / 4, out / 4 + rowsHere);
      k.rowMax(sims, q, 1, rowsHere, out);
      expect(f32[out / 4]).toBe(0); // row 0 outside [r0, r1)
      for (let r = 1; r < rowsHere; r += 1) {
        const want = Math.max(...Array.from(f32.subarray(sims / 4 + r * q, sims / 4 + (r + 1) * q)));
        expect(f32[out / 4 + r], `q = ${q}, row ${r}`).toBe(want);
      }
    }
  });

  it('dotsIndexed, dotsRow, gradRows, gradCols, gradRow against float64 loops', () => {
    const ia = 8192;
    const ib = 8256;
    const out = 8320;
    const g = 8704;
    const acc = 16384;
    const anchors = [0, 3, 5, 6, 9]; // 5 anchors: one 4-tile and one left over
    const cols = [1, 2, 4, 7, 8, 10, 3]; // 7 columns, odd
    anchors.forEach((a, t) => {
      i32[ia / 4 + t] = a * stride;
    });
    cols.forEach((j, t) => {
      i32[ib / 4 + t] = j * stride;
    });
    k.dotsIndexed(x, ia, anchors.length, ib, cols.length, stride, out, 0.5);
    anchors.forEach((a, s) => {
      cols.forEach((j, t) => {
        expect(f32[out / 4 + s * cols.length + t]).toBeCloseTo(0.5 * dot(a, j), 6);
      });
    });
    k.dotsRow(x, 5 * stride, ib, cols.length, stride, out, 2);
    cols.forEach((j, t) => {
      expect(f32[out / 4 + t]).toBeCloseTo(2 * dot(5, j), 6);
    });
    const gv = anchors.map(() => cols.map(() => rand()));
    gv.forEach((row, s) => {
      row.forEach((v, t) => {
        f32[g / 4 + s * cols.length + t] = v;
      });
    });
    const grad = (fill: () => void) => {
      f32.fill(0, acc / 4, acc / 4 + (rows * stride) / 4);
      fill();
      return Array.from({ length: rows }, (_, i) =>
        Array.from({ length: K }, (_, c) => f32[acc / 4 + (i * stride) / 4 + c]!),
      );
    };
    const xv = (i: number, c: number) => f32[x / 4 + (i * stride) / 4 + c]!;
    // in two column ranges (g rows keep their full length), as the engine calls it
    const rowsGot = grad(() => {
      k.gradRows(x, ia, anchors.length, ib, 4, stride, g, acc, cols.length);
      k.gradRows(x, ia, anchors.length, ib + 16, 3, stride, g + 16, acc, cols.length);
    });
    const colsGot = grad(() => k.gradCols(x, ia, anchors.length, ib, cols.length, stride, g, acc));
    const rowsWant = Array.from({ length: rows }, () => new Array<number>(K).fill(0));
    const colsWant = Array.from({ length: rows }, () => new Array<number>(K).fill(0));
    anchors.forEach((a, s) => {
      cols.forEach((j, t) => {
        for (let c = 0; c < K; c += 1) {
          rowsWant[a]![c]! += gv[s]![t]! * xv(j, c);
          colsWant[j]![c]! += gv[s]![t]! * xv(a, c);
        }
      });
    });
    for (let i = 0; i < rows; i += 1) {
      for (let c = 0; c < K; c += 1) {
        expect(rowsGot[i]![c]).toBeCloseTo(rowsWant[i]![c]!, 6);
        expect(colsGot[i]![c]).toBeCloseTo(colsWant[i]![c]!, 6);
      }
    }
    // one anchor (5) against columns that exclude it
    const rowCols = [1, 2, 4, 7];
    const gRow = [0.3, -0.2, 0.7, 0.1];
    rowCols.forEach((j, t) => {
      i32[ib / 4 + t] = j * stride;
      f32[g / 4 + t] = gRow[t]!;
    });
    const oneGot = grad(() => k.gradRow(x, 5 * stride, ib, rowCols.length, stride, g, acc));
    for (let c = 0; c < K; c += 1) {
      const want5 = rowCols.reduce((s, j, t) => s + gRow[t]! * xv(j, c), 0);
      expect(oneGot[5]![c]).toBeCloseTo(want5, 6);
      rowCols.forEach((j, t) => {
        expect(oneGot[j]![c]).toBeCloseTo(gRow[t]! * xv(5, c), 6);
      });
    }
  });

  it('joinQuantized and criterionQuantized equal join and criterion bit for bit (integer pass, float decision near the threshold)', () => {
    // 300 unit rows of 40 dims; thresholds at the 95th percentile of their similarities, so that many
    // pairs sit within eps of a threshold; plus exact duplicates (ties).
    const n = 300;
    const cols = 40;
    const fStride = 192; // 48 floats
    const qStride = 128; // 64 int16
    const xs = 65536;
    const xq = xs + n * fStride;
    const c = xq + n * qStride;
    const bitsA = c + (n + 4) * 4;
    const rowBytes = Math.ceil(n / 64) * 8;
    const bitsB = bitsA + n * rowBytes;
    memory.grow(
      Math.max(0, Math.ceil((bitsB + n * rowBytes) / 65536) - memory.buffer.byteLength / 65536 + 1),
    );
    const v32 = new Float32Array(memory.buffer);
    const v16 = new Int16Array(memory.buffer);
    const vi = new Int32Array(memory.buffer);
    const rows: number[][] = [];
    for (let i = 0; i < n; i += 1) {
      const r =
        i % 50 === 7 ? rows[i - 1]! : Array.from({ length: cols }, () => rand() + (i % 3 === 0 ? 0.3 : 0));
      const norm = Math.hypot(...r);
      rows.push(r.map((v) => Math.fround(v / norm)));
    }
    let maxL1 = 0;
    rows.forEach((r, i) => {
      v32.fill(0, (xs + i * fStride) / 4, (xs + (i + 1) * fStride) / 4);
      v16.fill(0, (xq + i * qStride) / 2, (xq + (i + 1) * qStride) / 2);
      r.forEach((v, k) => {
        v32[(xs + i * fStride) / 4 + k] = v;
        v16[(xq + i * qStride) / 2 + k] = Math.round(v * 32767);
      });
      maxL1 = Math.max(
        maxL1,
        r.reduce((s, v) => s + Math.abs(v), 0),
      );
    });
    const sims = rows.flatMap((a, i) =>
      rows.slice(i + 1).map((b) => a.reduce((s, v, k) => s + v * b[k]!, 0)),
    );
    sims.sort((a, b) => a - b);
    const q95 = sims[Math.floor(0.95 * sims.length)]!;
    for (let i = 0; i < n; i += 1) v32[c / 4 + i] = Math.fround(q95 + 0.02 * (rand() - 0.5));
    const eps = 2 * (maxL1 / 32767 + (0.75 * cols) / 32767 ** 2 + 1.01 * cols * 2 ** -24) + 1e-6;
    vi.fill(0, bitsA / 4, (bitsB + n * rowBytes) / 4);
    for (let i0 = 0; i0 < n; i0 += 16) {
      const i1 = Math.min(n, i0 + 16);
      k.join(xs, fStride, i0, i1, 0, n, c, bitsA, rowBytes, fStride);
      k.joinQuantized(xq, qStride, qStride, xs, fStride, fStride, i0, i1, 0, n, c, bitsB, rowBytes, eps);
    }
    const a = vi.subarray(bitsA / 4, (bitsA + n * rowBytes) / 4);
    const b = vi.subarray(bitsB / 4, (bitsB + n * rowBytes) / 4);
    const ones = Array.from(a).reduce((s, w) => s + (w === 0 ? 0 : 1), 0);
    expect(ones).toBeGreaterThan(50);
    expect(Array.from(b)).toEqual(Array.from(a));
    // criteria of rows 100..299 against the pool rows 0..99 (duplicates included): equal bit for bit
    const outA = bitsB + n * rowBytes;
    const outB = outA + (n + 4) * 4;
    const approx = outB + (n + 4) * 4;
    for (let i0 = 100; i0 < n; i0 += 16) {
      const i1 = Math.min(n, i0 + 16);
      k.criterion(xs, fStride, i0, i1, xs, 100, fStride, outA);
      k.criterionQuantized(xq, xq, qStride, xs, xs, fStride, fStride, i0, i1, 100, outB, approx, eps);
    }
    const ca = Array.from(v32.subarray(outA / 4 + 100, outA / 4 + n));
    expect(Array.from(v32.subarray(outB / 4 + 100, outB / 4 + n))).toEqual(ca);
    expect(Math.min(...ca)).toBeGreaterThan(0);
  });
});
