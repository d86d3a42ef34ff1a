import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  activeHostMatMul,
  type HostMatMul,
  type HostMatMulRequest,
  hostColumnSums,
  hostMatMul2d,
  hostValues,
  installedHostMatMul,
  selectBackend,
  setHostMatMul,
} from '../src/index.js';

/** A naive host product in float64, recording its requests. */
function referenceHost(): HostMatMul & { calls: HostMatMulRequest[] } {
  const calls: HostMatMulRequest[] = [];
  return {
    name: 'reference (test)',
    calls,
    run(r) {
      calls.push(r);
      const [ar, ac] = r.aShape;
      const [br, bc] = r.bShape;
      const m = r.transA ? ac : ar;
      const k = r.transA ? ar : ac;
      const n = r.transB ? br : bc;
      const at = (i: number, p: number) => (r.transA ? r.a[p * ac + i]! : r.a[i * ac + p]!);
      const bt = (p: number, j: number) => (r.transB ? r.b[j * bc + p]! : r.b[p * bc + j]!);
      const out = new Float32Array(m * n);
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = r.bias ? r.bias[j]! : 0;
          for (let p = 0; p < k; p++) s += at(i, p) * bt(p, j);
          out[i * n + j] = s;
        }
      return out;
    },
  };
}

// a [2, 3], b [3, 2]: a @ b = [[1·1+2·3+3·5, 1·2+2·4+3·6], [4·1+5·3+6·5, 4·2+5·4+6·6]] = [[22, 28], [49, 64]]
const A = [1, 2, 3, 4, 5, 6];
const B = [1, 2, 3, 4, 5, 6];

describe('hostMatMul2d and the host matrix product registry', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });
  afterEach(() => {
    setHostMatMul(undefined);
  });

  for (const host of [false, true]) {
    it(`op(a) @ op(b) (+ bias) with every transpose flag, ${host ? 'on an installed host product' : 'on tf.matMul'} (hand-computed)`, () => {
      const ref = referenceHost();
      if (host) setHostMatMul(ref);
      const a = tf.tensor2d(A, [2, 3]);
      const b = tf.tensor2d(B, [3, 2]);
      const aT = tf.tensor2d([1, 4, 2, 5, 3, 6], [3, 2]); // aᵀ stored
      const bT = tf.tensor2d([1, 3, 5, 2, 4, 6], [2, 3]); // bᵀ stored
      const bias = tf.tensor1d([10, -1]);
      const before = tf.memory().numTensors;
      const results = [
        hostMatMul2d(a, b),
        hostMatMul2d(aT, b, true, false),
        hostMatMul2d(a, bT, false, true),
        hostMatMul2d(aT, bT, true, true),
        hostMatMul2d(a, b, false, false, bias),
      ];
      expect(tf.memory().numTensors, 'one new tensor per product, nothing else').toBe(before + 5);
      for (const r of results.slice(0, 4)) {
        expect(r.shape).toEqual([2, 2]);
        expect(Array.from(r.dataSync())).toEqual([22, 28, 49, 64]);
      }
      expect(Array.from(results[4]!.dataSync())).toEqual([32, 27, 59, 63]);
      expect(ref.calls.length).toBe(host ? 5 : 0);
      if (host) {
        expect(ref.calls.map((c) => [c.transA, c.transB, c.bias !== undefined])).toEqual([
          [false, false, false],
          [true, false, false],
          [false, true, false],
          [true, true, false],
          [false, false, true],
        ]);
        expect(ref.calls[1]!.aShape).toEqual([3, 2]);
      }
      tf.dispose([a, b, aT, bT, bias, ...results]);
    });
  }

  it('is differentiable through tf.customGrad users and leaves no tensor behind', () => {
    setHostMatMul(referenceHost());
    const a = tf.tensor2d(A, [2, 3]);
    const b = tf.tensor2d(B, [3, 2]);
    const before = tf.memory().numTensors;
    const y = tf.tidy(() => tf.sum(hostMatMul2d(a, b)));
    expect(y.dataSync()[0]).toBe(22 + 28 + 49 + 64);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([a, b, y]);
  });

  it('is active only on host backends (wasm, cpu): elsewhere the products stay on tf.matMul', async () => {
    const ref = referenceHost();
    setHostMatMul(ref);
    expect(installedHostMatMul()).toBe(ref);
    expect(activeHostMatMul()).toBe(ref);
    // A device-like backend of another name (cpu kernels under it): not a host backend for the registry.
    tf.registerBackend('hpseg-test-device', () => new MathBackendCPU());
    const kernels = tf.getKernelsForBackend('cpu').map((k) => ({ ...k, backendName: 'hpseg-test-device' }));
    for (const k of kernels) tf.registerKernel(k);
    try {
      await tf.setBackend('hpseg-test-device');
      expect(activeHostMatMul()).toBeUndefined();
      const a = tf.tensor2d(A, [2, 3]);
      const b = tf.tensor2d(B, [3, 2]);
      const y = hostMatMul2d(a, b);
      expect(Array.from(y.dataSync())).toEqual([22, 28, 49, 64]);
      expect(ref.calls.length).toBe(0);
      tf.dispose([a, b, y]);
    } finally {
      await selectBackend('cpu');
      for (const k of kernels) tf.unregisterKernel(k.kernelName, k.backendName);
      tf.removeBackend('hpseg-test-device');
    }
    expect(activeHostMatMul()).toBe(ref);
  });

  it('hostColumnSums: the column sums (hand-computed), as 1ᵀx on the host product, tf.sum without one', () => {
    const x = tf.tensor2d(A, [2, 3]);
    for (const host of [false, true]) {
      const ref = referenceHost();
      setHostMatMul(host ? ref : undefined);
      const before = tf.memory().numTensors;
      const s = hostColumnSums(x);
      expect(tf.memory().numTensors).toBe(before + 1);
      expect(s.shape).toEqual([3]);
      expect(Array.from(s.dataSync())).toEqual([5, 7, 9]);
      expect(ref.calls.map((c) => [c.aShape, c.transA])).toEqual(host ? [[[2, 1], true]] : []);
      s.dispose();
    }
    x.dispose();
  });

  it('hostValues: a view of the heap on wasm (no copy), the values elsewhere; int tensors are copied', async () => {
    try {
      for (const backend of ['wasm', 'cpu'] as const) {
        await selectBackend(backend);
        const t = tf.tensor2d([1.5, -2, 3, 4.25], [2, 2]);
        const v = hostValues(t);
        expect(Array.from(v)).toEqual([1.5, -2, 3, 4.25]);
        const heap = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8;
        expect(v.buffer === heap?.buffer, backend).toBe(backend === 'wasm');
        const i = tf.tensor1d([1, 2], 'int32');
        expect(Array.from(hostValues(i))).toEqual([1, 2]);
        tf.dispose([t, i]);
      }
    } finally {
      await selectBackend('cpu');
    }
  });

  it('setHostMatMul returns the product it replaces', () => {
    const first = referenceHost();
    const second = referenceHost();
    expect(setHostMatMul(first)).toBeUndefined();
    expect(setHostMatMul(second)).toBe(first);
    expect(setHostMatMul(undefined)).toBe(second);
    expect(installedHostMatMul()).toBeUndefined();
  });

  it('rejects bad input with HpErrors that say what was expected and what came', () => {
    const a = tf.tensor2d(A, [2, 3]);
    const b = tf.tensor2d(B, [3, 2]);
    expect(() => setHostMatMul({ name: 'x' } as never)).toThrow(
      expect.objectContaining({
        code: 'E_ARG',
        message: expect.stringMatching(/expected an object with a run\(request\) method/),
      }),
    );
    expect(() => hostMatMul2d(a, a)).toThrow(
      expect.objectContaining({
        code: 'E_SHAPE',
        message: expect.stringMatching(/inner sizes to agree, got 3 .* and 2/),
      }),
    );
    const badBias = tf.tensor1d([1, 2, 3]);
    expect(() => hostMatMul2d(a, b, false, false, badBias)).toThrow(
      expect.objectContaining({
        code: 'E_SHAPE',
        message: expect.stringMatching(/bias of shape \[2\], got \[3\]/),
      }),
    );
    setHostMatMul({ name: 'short', run: () => new Float32Array(3) });
    const before = tf.memory().numTensors;
    expect(() => hostMatMul2d(a, b)).toThrow(
      expect.objectContaining({
        code: 'E_BACKEND',
        message: expect.stringMatching(/short returned .*expected a Float32Array of 2×2 = 4 values/),
      }),
    );
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, badBias]);
  });
});
