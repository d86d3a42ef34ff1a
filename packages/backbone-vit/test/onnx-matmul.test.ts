import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOnnxMatMul, type OnnxMatMul } from '../src/index.js';

/** op(a) @ op(b) (+ bias) in float64. */
function reference(
  a: Float32Array,
  [ar, ac]: readonly [number, number],
  b: Float32Array,
  [br, bc]: readonly [number, number],
  transA: boolean,
  transB: boolean,
  bias?: Float32Array,
): Float64Array {
  const m = transA ? ac : ar;
  const k = transA ? ar : ac;
  const n = transB ? br : bc;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j]! : 0;
      for (let p = 0; p < k; p++)
        s += (transA ? a[p * ac + i]! : a[i * ac + p]!) * (transB ? b[j * bc + p]! : b[p * bc + j]!);
      out[i * n + j] = s;
    }
  return out;
}

/** Deterministic values in [−1, 1). */
function values(count: number, seed: number): Float32Array {
  let x = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 31 - 1;
  });
}

describe('createOnnxMatMul: a synchronous host matrix product on ONNX Runtime', () => {
  let mm: OnnxMatMul;
  beforeAll(async () => {
    mm = await createOnnxMatMul({ threads: 2 });
  });
  afterAll(() => mm.dispose());

  it('names itself with its thread count', () => {
    expect(mm.name).toBe('onnxruntime (2 threads)');
    expect(mm.threads).toBe(2);
  });

  it('hand-computed 2×3 @ 3×2, with and without a bias', () => {
    const a = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const out = mm.run({ a, aShape: [2, 3], b: a, bShape: [3, 2], transA: false, transB: false });
    expect(Array.from(out)).toEqual([22, 28, 49, 64]);
    const bias = Float32Array.from([10, -1]);
    const withBias = mm.run({ a, aShape: [2, 3], b: a, bShape: [3, 2], transA: false, transB: false, bias });
    expect(Array.from(withBias)).toEqual([32, 27, 59, 63]);
  });

  for (const [transA, transB] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it(`transA ${transA}, transB ${transB}: equals a float64 product to float32 rounding (odd sizes, one bias)`, () => {
      const [m, k, n] = [37, 129, 23];
      const aShape: [number, number] = transA ? [k, m] : [m, k];
      const bShape: [number, number] = transB ? [n, k] : [k, n];
      const a = values(m * k, 1);
      const b = values(k * n, 2);
      const bias = transA && transB ? values(n, 3) : undefined;
      const out = mm.run({ a, aShape, b, bShape, transA, transB, ...(bias ? { bias } : {}) });
      const want = reference(a, aShape, b, bShape, transA, transB, bias);
      expect(out).toBeInstanceOf(Float32Array);
      expect(out.length).toBe(m * n);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(out[i]! - want[i]!));
      // k = 129 terms of |x| < 1: float32 sums stay within ~k·2⁻²⁴·Σ|aᵢbᵢ| ≈ 1e-4 of the exact value
      expect(worst).toBeLessThan(2e-5);
      expect(worst).toBeGreaterThan(0); // float32, not a float64 copy of the reference
    });
  }

  it('one thread gives the same values as two (each output is one dot product)', async () => {
    const one = await createOnnxMatMul({ threads: 1 });
    try {
      expect(one.name).toBe('onnxruntime (1 thread)');
      const a = values(300 * 64, 4);
      const b = values(64 * 200, 5);
      const req = {
        a,
        aShape: [300, 64] as const,
        b,
        bShape: [64, 200] as const,
        transA: false,
        transB: false,
      };
      const x = one.run(req);
      const y = mm.run(req);
      let worst = 0;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
      expect(worst).toBeLessThan(1e-5);
    } finally {
      one.dispose();
    }
  });

  it('bad input and a disposed product give HpErrors that say what was expected', async () => {
    await expect(createOnnxMatMul({ threads: 0 })).rejects.toMatchObject({ code: 'E_ARG' });
    await expect(createOnnxMatMul(null as never)).rejects.toMatchObject({
      code: 'E_ARG',
      message: expect.stringContaining('expected an options object, got null'),
    });
    await expect(
      createOnnxMatMul({ loadBinding: () => Promise.reject(new Error('no such file: binding.js')) }),
    ).rejects.toMatchObject({
      code: 'E_BACKEND',
      message: expect.stringMatching(/synchronous session binding .* to load, got no such file: binding.js/),
    });
    await expect(
      createOnnxMatMul({ loadBinding: () => Promise.resolve({ binding: {} }) }),
    ).rejects.toMatchObject({
      code: 'E_BACKEND',
      message: expect.stringContaining('to export binding.InferenceSession and initOrt'),
    });
    const a = Float32Array.from([1, 2, 3, 4]);
    const bad = mm.run.bind(mm);
    expect(() => bad({ a, aShape: [2, 2], b: a, bShape: [3, 1], transA: false, transB: false })).toThrow(
      expect.objectContaining({
        code: 'E_SHAPE',
        message: expect.stringContaining('expected b to be a Float32Array of 3×1 = 3 values'),
      }),
    );
    expect(() => bad({ a, aShape: [2, 2], b: a, bShape: [4, 1], transA: false, transB: false })).toThrow(
      expect.objectContaining({
        code: 'E_BACKEND',
        message: expect.stringContaining("ONNX Runtime's Gemm failed on a [2,2] @ [4,1] product"),
      }),
    );
    const gone = await createOnnxMatMul({ threads: 1 });
    gone.dispose();
    gone.dispose(); // twice is fine
    expect(() => gone.run({ a, aShape: [2, 2], b: a, bShape: [2, 2], transA: false, transB: false })).toThrow(
      expect.objectContaining({ code: 'E_DISPOSED' }),
    );
  });
});
