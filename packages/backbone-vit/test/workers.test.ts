import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitRuns } from '../src/engine-tfjs-workers.js';
import type { Backbone, BackboneOutput } from '../src/index.js';
import { loadBackbone, randomVitWeights } from '../src/index.js';
import { goldenImage, maxAbsError, readGoldenModel, relativeError } from './golden.js';

const FEATURE_REL_TOL = 1e-4;
const LOGIT_ABS_TOL = 1e-3;

describe('splitRuns', () => {
  it('contiguous runs, sizes differing by at most one, never an empty run', () => {
    expect(splitRuns(5, 2)).toEqual([
      { start: 0, count: 3 },
      { start: 3, count: 2 },
    ]);
    expect(splitRuns(8, 3)).toEqual([
      { start: 0, count: 3 },
      { start: 3, count: 3 },
      { start: 6, count: 2 },
    ]);
    expect(splitRuns(1, 4)).toEqual([{ start: 0, count: 1 }]);
  });
});

describe('tfjs engine on 2 worker threads (wasm in each)', () => {
  const golden = readGoldenModel('vit_p8');
  let pooled: Backbone;
  let local: Backbone;
  beforeAll(async () => {
    await selectBackend('wasm');
    pooled = await loadBackbone(golden.pthPath, { engine: 'tfjs', numHeads: 4, workers: 2 });
    local = await loadBackbone(golden.pthPath, { engine: 'tfjs', numHeads: 4 });
  });
  afterAll(async () => {
    await pooled.dispose();
    await local.dispose();
  });

  const data = async (out: BackboneOutput) => [
    await out.patchTokens.data(),
    await out.clsToken.data(),
    await out.attentionLogits!.data(),
  ];

  it.each(golden.cases.map((c) => [c.tag, c] as const))(
    '%s: matches PyTorch, and equals the in-process wasm engine bit for bit',
    async (_tag, c) => {
      const images = goldenImage(c.B, c.H, c.W, c.imageOffset);
      const before = tf.memory().numTensors;
      const out = await pooled.forward(images, { attention: true });
      try {
        expect(tf.memory().numTensors).toBe(before + 3); // only the outputs live in this thread
        const T = 1 + (c.H / 8) * (c.W / 8);
        expect(out.patchTokens.shape).toEqual([c.B, c.H / 8, c.W / 8, 32]);
        expect(out.attentionLogits!.shape).toEqual([c.B, 4, T, T]);
        const ref = (k: string) => golden.array(`${c.tag}.${k}`).data;
        const [patch, cls, logits] = await data(out);
        expect(relativeError(patch!, ref('patchTokens'))).toBeLessThan(FEATURE_REL_TOL);
        expect(relativeError(cls!, ref('clsToken'))).toBeLessThan(FEATURE_REL_TOL);
        expect(maxAbsError(logits!, ref('attentionLogits'))).toBeLessThan(LOGIT_ABS_TOL);
        const inProcess = await local.forward(images, { attention: true });
        try {
          expect(await data(inProcess)).toEqual([patch, cls, logits]);
        } finally {
          tf.dispose(Object.values(inProcess));
        }
      } finally {
        images.dispose();
        tf.dispose(Object.values(out));
      }
    },
  );

  it('an uneven batch (3 images on 2 workers) keeps the image order', async () => {
    const images = goldenImage(3, 32, 32, 77);
    const [a, b] = [await pooled.forward(images), await local.forward(images)];
    try {
      expect(await a.patchTokens.data()).toEqual(await b.patchTokens.data());
      expect(await a.clsToken.data()).toEqual(await b.clsToken.data());
      expect(a.attentionLogits).toBeUndefined();
    } finally {
      images.dispose();
      tf.dispose([...Object.values(a), ...Object.values(b)]);
    }
  });

  it.each(golden.cases.map((c) => [c.tag, c] as const))(
    '%s, one image: split by token rows over both workers, matches PyTorch and the in-process engine',
    async (_tag, c) => {
      const images = goldenImage(1, c.H, c.W, c.imageOffset); // the first image of the golden case
      const out = await pooled.forward(images, { attention: true });
      const inProcess = await local.forward(images, { attention: true });
      try {
        const T = 1 + (c.H / 8) * (c.W / 8);
        expect(out.attentionLogits!.shape).toEqual([1, 4, T, T]);
        const ref = (k: string, n: number) => golden.array(`${c.tag}.${k}`).data.subarray(0, n);
        const [patch, cls, logits] = await data(out);
        expect(relativeError(patch!, ref('patchTokens', patch!.length))).toBeLessThan(FEATURE_REL_TOL);
        expect(relativeError(cls!, ref('clsToken', cls!.length))).toBeLessThan(FEATURE_REL_TOL);
        expect(maxAbsError(logits!, ref('attentionLogits', logits!.length))).toBeLessThan(LOGIT_ABS_TOL);
        const [patchLocal, clsLocal, logitsLocal] = await data(inProcess);
        expect(maxAbsError(patch!, patchLocal!)).toBeLessThan(1e-5);
        expect(maxAbsError(cls!, clsLocal!)).toBeLessThan(1e-5);
        expect(maxAbsError(logits!, logitsLocal!)).toBeLessThan(1e-5);
      } finally {
        images.dispose();
        tf.dispose([...Object.values(out), ...Object.values(inProcess)]);
      }
    },
  );

  it('bad images are refused in the calling thread', async () => {
    const images = tf.zeros([2, 30, 32, 3]) as tf.Tensor4D;
    await expect(pooled.forward(images)).rejects.toMatchObject({
      code: 'E_SHAPE',
      message: expect.stringContaining('expected H and W multiples of 8, got 30x32'),
    });
    images.dispose();
  });
});

describe('row split over 3 workers (uneven rows), two images one after the other', () => {
  it('equals the in-process engine', async () => {
    const golden = readGoldenModel('vit_p16');
    await selectBackend('wasm');
    const pooled = await loadBackbone(golden.pthPath, {
      engine: 'tfjs',
      numHeads: golden.config.numHeads,
      workers: 3,
    });
    const local = await loadBackbone(golden.pthPath, { engine: 'tfjs', numHeads: golden.config.numHeads });
    const images = goldenImage(2, 48, 64, 5); // T = 1 + 3·4 = 13 rows → 5, 4, 4
    try {
      const [a, b] = [
        await pooled.forward(images, { attention: true }),
        await local.forward(images, { attention: true }),
      ];
      for (const k of ['patchTokens', 'clsToken', 'attentionLogits'] as const) {
        expect(a[k]!.shape).toEqual(b[k]!.shape);
        expect(maxAbsError(await a[k]!.data(), await b[k]!.data())).toBeLessThan(1e-5);
      }
      tf.dispose([...Object.values(a), ...Object.values(b)]);
    } finally {
      images.dispose();
      await pooled.dispose();
      await local.dispose();
    }
  });
});

describe('worker option checks', () => {
  const tiny = () =>
    randomVitWeights({ embedDim: 16, depth: 1, numHeads: 2, patchSize: 4, trainedGrid: 2, mlpRatio: 4 }, 1);

  it.each([-1, 1.5, 65, Number.NaN])('workers = %s → E_ARG', async (workers) => {
    await expect(loadBackbone(tiny(), { engine: 'tfjs', numHeads: 2, workers })).rejects.toMatchObject({
      code: 'E_ARG',
      message: expect.stringContaining(`expected an integer in [0, 64], got ${workers}`),
    });
  });

  it('workers with the onnx engine → E_ARG', async () => {
    await expect(loadBackbone(tiny(), { engine: 'onnx', numHeads: 2, workers: 2 })).rejects.toMatchObject({
      code: 'E_ARG',
      message: expect.stringContaining("expected workers 0 with engine 'onnx', got 2"),
    });
  });

  it('an unknown onnxOps → E_ARG', async () => {
    await expect(
      loadBackbone(tiny(), { engine: 'onnx', numHeads: 2, onnxOps: 'fast' as 'ort' }),
    ).rejects.toMatchObject({ code: 'E_ARG', message: expect.stringContaining(`got "fast"`) });
  });

  it('after dispose: forward → E_ARG, and dispose again is a no-op', async () => {
    const backbone = await loadBackbone(tiny(), { engine: 'tfjs', numHeads: 2, workers: 1 });
    await backbone.dispose();
    await backbone.dispose();
    const images = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
    await expect(backbone.forward(images)).rejects.toMatchObject({ code: 'E_ARG' });
    images.dispose();
  });
});
