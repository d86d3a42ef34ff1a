import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backbone, VitConfig } from '../src/index.js';
import {
  IMAGENET_MEAN,
  IMAGENET_STD,
  imagenetNormalize,
  loadBackbone,
  randomVitWeights,
} from '../src/index.js';

const TINY: VitConfig = { embedDim: 16, depth: 1, numHeads: 2, patchSize: 4, trainedGrid: 2, mlpRatio: 4 };

describe('imagenetNormalize', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('maps uint8 RGB to (x/255 - mean)/std per channel', async () => {
    const data = Uint8Array.from([0, 128, 255, 255, 0, 10]); // two pixels
    const out = imagenetNormalize({ data, shape: [1, 1, 2, 3] });
    expect(out.shape).toEqual([1, 1, 2, 3]);
    const got = await out.data();
    out.dispose();
    for (let i = 0; i < 6; i++) {
      const c = i % 3;
      expect(got[i]).toBeCloseTo((data[i]! / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!, 5);
    }
    expect(got[0]).toBeCloseTo(-0.485 / 0.229, 5);
  });

  it('accepts an int32 tensor and leaks nothing', () => {
    const x = tf.tensor4d([255, 255, 255], [1, 1, 1, 3], 'int32');
    const before = tf.memory().numTensors;
    const out = imagenetNormalize(x);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(out.dtype).toBe('float32');
    tf.dispose([x, out]);
  });

  it('rejects a non-RGB shape and a wrong data length', () => {
    expect(() => imagenetNormalize({ data: new Uint8Array(4), shape: [1, 1, 1, 4] })).toThrow(
      expect.objectContaining({ code: 'E_SHAPE', message: expect.stringContaining('expected [B, H, W, 3]') }),
    );
    expect(() => imagenetNormalize({ data: new Uint8Array(5), shape: [1, 1, 2, 3] })).toThrow(
      expect.objectContaining({ code: 'E_SHAPE', message: expect.stringContaining('expected 6, got 5') }),
    );
  });
});

describe.each(['tfjs', 'onnx'] as const)('forward input checks (%s)', (engine) => {
  let backbone: Backbone;
  beforeAll(async () => {
    await selectBackend('cpu');
    backbone = await loadBackbone(randomVitWeights(TINY, 3), { engine, numHeads: 2 });
  });
  afterAll(async () => {
    await backbone.dispose();
  });

  it('H or W not a multiple of the patch size → E_SHAPE with the sizes', async () => {
    const x = tf.zeros([1, 8, 10, 3]) as tf.Tensor4D;
    await expect(backbone.forward(x)).rejects.toMatchObject({
      code: 'E_SHAPE',
      message: expect.stringContaining('expected H and W multiples of 4, got 8x10'),
    });
    x.dispose();
  });

  it('NCHW input → E_SHAPE; int32 input → E_DTYPE', async () => {
    const nchw = tf.zeros([1, 3, 8, 8]) as tf.Tensor4D;
    await expect(backbone.forward(nchw)).rejects.toMatchObject({ code: 'E_SHAPE' });
    const ints = tf.zeros([1, 8, 8, 3], 'int32') as tf.Tensor4D;
    await expect(backbone.forward(ints)).rejects.toMatchObject({
      code: 'E_DTYPE',
      message: expect.stringContaining('imagenetNormalize'),
    });
    tf.dispose([nchw, ints]);
  });

  it('a disposed backbone refuses to run', async () => {
    const other = await loadBackbone(randomVitWeights(TINY, 3), { engine, numHeads: 2 });
    await other.dispose();
    const x = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
    await expect(other.forward(x)).rejects.toMatchObject({
      code: 'E_ARG',
      message: expect.stringContaining('disposed'),
    });
    x.dispose();
  });
});

describe('loadBackbone arguments', () => {
  it('unknown engine and format → E_ARG', async () => {
    const sd = randomVitWeights(TINY, 3);
    await expect(loadBackbone(sd, { engine: 'torch' as 'onnx', numHeads: 2 })).rejects.toMatchObject({
      code: 'E_ARG',
    });
    await expect(loadBackbone(sd, { format: 'keras' as 'dino', numHeads: 2 })).rejects.toMatchObject({
      code: 'E_ARG',
    });
  });

  it('a missing file → E_NOT_FOUND from the reader', async () => {
    await expect(loadBackbone('/nonexistent/dino.pth')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});
