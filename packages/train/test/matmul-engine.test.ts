import { createOnnxMatMul, type OnnxMatMul } from '@hpseg/backbone-vit';
import { HpError, installedHostMatMul, selectBackend, setHostMatMul } from '@hpseg/core';
import { dense, denseConstantInput, ensureGradients, matMul2d, upsampleBilinear } from '@hpseg/seg-head';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openMatMulEngine } from '../src/index.js';

/** max |a − b| / max |b|. */
function relErr(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let num = 0;
  let den = 0;
  for (let i = 0; i < y.length; i++) {
    num = Math.max(num, Math.abs(x[i]! - y[i]!));
    den = Math.max(den, Math.abs(y[i]!));
  }
  return num / den;
}

/** Values and gradients of `f` (a sum of squares, so every gradient is non-trivial) for `inputs`. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): tf.Tensor[] {
  const loss = (...xs: tf.Tensor[]) => tf.sum(tf.square(f(...xs)));
  const { value, grads } = tf.valueAndGrads(loss)(inputs);
  return [value, ...grads];
}

describe.each(['wasm', 'cpu'] as const)("the heads' products on ONNX Runtime (%s)", (backend) => {
  let onnx: OnnxMatMul;
  beforeAll(async () => {
    await selectBackend(backend);
    await ensureGradients();
    onnx = await createOnnxMatMul();
  });
  afterAll(() => onnx.dispose());
  afterEach(() => {
    setHostMatMul(undefined);
  });

  const x = () => tf.randomNormal([300, 48], 0, 1, 'float32', 1) as tf.Tensor2D;
  const w = () => tf.randomNormal([48, 40], 0, 0.2, 'float32', 2) as tf.Tensor2D;
  const b = () => tf.randomNormal([40], 0, 0.2, 'float32', 3) as tf.Tensor1D;
  const cases: [string, () => tf.Tensor[], (...xs: tf.Tensor[]) => tf.Tensor][] = [
    [
      'dense',
      () => [x(), w(), b()],
      (a, k, c) => dense(a as tf.Tensor2D, k as tf.Tensor2D, c as tf.Tensor1D),
    ],
    ['matMul2d', () => [x(), w()], (a, k) => matMul2d(a as tf.Tensor2D, k as tf.Tensor2D)],
    [
      'upsampleBilinear',
      () => [tf.randomNormal([2, 7, 5, 3], 0, 1, 'float32', 4)],
      (a) => upsampleBilinear(a as tf.Tensor4D, [20, 13]),
    ],
  ];
  for (const [name, make, f] of cases) {
    it(`${name}: value and every gradient equal the tf.matMul path to float32 rounding; no tensor left behind`, () => {
      const inputs = make();
      const reference = valueAndGrads(f, inputs);
      setHostMatMul(onnx);
      const before = tf.memory().numTensors;
      const got = valueAndGrads(f, inputs);
      expect(tf.memory().numTensors, 'only the returned value and gradients').toBe(before + got.length);
      for (const [i, t] of got.entries()) {
        expect(t.shape).toEqual(reference[i]!.shape);
        expect(relErr(t, reference[i]!), `${name} output ${i}`).toBeLessThan(2e-6);
      }
      // The engines differ (other summation orders), so this is not the same code path twice.
      expect(got.some((t, i) => relErr(t, reference[i]!) > 0)).toBe(true);
      tf.dispose([...inputs, ...reference, ...got]);
    });
  }

  it('denseConstantInput on ONNX Runtime: the same dw and db as dense, and no dx', () => {
    const [xs, ws, bs] = [x(), w(), b()];
    setHostMatMul(onnx);
    const g1 = tf.grads((k: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.square(denseConstantInput(xs, k as tf.Tensor2D, c as tf.Tensor1D))),
    )([ws, bs]);
    const g2 = tf.grads((k: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.square(dense(xs, k as tf.Tensor2D, c as tf.Tensor1D))),
    )([ws, bs]);
    expect(relErr(g1[0]!, g2[0]!)).toBe(0);
    expect(relErr(g1[1]!, g2[1]!)).toBe(0);
    tf.dispose([xs, ws, bs, ...g1, ...g2]);
  });

  it('without an installed product, dense is exactly the ops it always was (tf.matMul + tf.add)', () => {
    const [xs, ws, bs] = [x(), w(), b()];
    const ours = dense(xs, ws, bs);
    const plain = tf.add(tf.matMul(xs, ws), bs);
    expect(Array.from(ours.dataSync())).toEqual(Array.from(plain.dataSync()));
    tf.dispose([xs, ws, bs, ours, plain]);
  });
});

describe('openMatMulEngine', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('auto on wasm opens ONNX Runtime; use() installs it for the call only; tfjs installs nothing', async () => {
    const auto = await openMatMulEngine('auto');
    try {
      expect(auto.engine).toBe('onnx');
      expect(auto.label).toMatch(/^onnxruntime \(\d+ threads?\)$/);
      const seen = await auto.use(async () => installedHostMatMul());
      expect(seen).toBe(auto.host);
      expect(installedHostMatMul()).toBeUndefined();
      await expect(
        auto.use(async () => {
          throw new Error('step failed');
        }),
      ).rejects.toThrow('step failed');
      expect(installedHostMatMul(), 'restored after a failure too').toBeUndefined();
    } finally {
      auto.dispose();
    }
    const plain = await openMatMulEngine('tfjs');
    expect(plain).toMatchObject({ engine: 'tfjs', label: 'tfjs', host: undefined });
    expect(await plain.use(async () => installedHostMatMul())).toBeUndefined();
  });

  it('auto falls back to tf.matMul (and says why) when ONNX Runtime is unavailable; onnx does not', async () => {
    const create = () => Promise.reject(new HpError('E_BACKEND', 'no onnxruntime-node here'));
    const auto = await openMatMulEngine('auto', { create });
    expect(auto.engine).toBe('tfjs');
    expect(auto.label).toBe('tfjs (auto: ONNX Runtime unavailable: no onnxruntime-node here)');
    await expect(openMatMulEngine('onnx', { create })).rejects.toMatchObject({
      code: 'E_BACKEND',
      message: 'no onnxruntime-node here',
    });
  });

  it('onnx on a backend whose tensors are not on the host is refused (E_BACKEND); auto gives tf.matMul there', async () => {
    tf.registerBackend('hpseg-test-gpu', () => new MathBackendCPU());
    try {
      await tf.setBackend('hpseg-test-gpu');
      await expect(openMatMulEngine('onnx')).rejects.toMatchObject({
        code: 'E_BACKEND',
        message: expect.stringContaining('expected the wasm or cpu backend, got hpseg-test-gpu'),
      });
      expect((await openMatMulEngine('auto')).label).toBe('tfjs');
    } finally {
      await selectBackend('wasm');
      tf.removeBackend('hpseg-test-gpu');
    }
  });

  it('rejects an unknown engine with E_ARG', async () => {
    await expect(openMatMulEngine('blas' as never)).rejects.toMatchObject({
      code: 'E_ARG',
      message: expect.stringContaining('expected matmulEngine to be one of auto, onnx, tfjs, got "blas"'),
    });
  });
});
