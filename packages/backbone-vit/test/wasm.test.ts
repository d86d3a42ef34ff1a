import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backbone } from '../src/index.js';
import { loadBackbone } from '../src/index.js';
import { goldenImage, maxAbsError, readGoldenModel, relativeError } from './golden.js';

const FEATURE_REL_TOL = 1e-4;
const LOGIT_ABS_TOL = 1e-3;

describe('tfjs engine on the wasm backend (per-head 2-D matmuls) matches PyTorch', () => {
  const golden = readGoldenModel('vit_p8');
  let backbone: Backbone;
  beforeAll(async () => {
    await selectBackend('wasm');
    backbone = await loadBackbone(golden.pthPath, { engine: 'tfjs', numHeads: 4 });
  });
  afterAll(async () => {
    await backbone.dispose();
  });

  it.each(golden.cases.map((c) => [c.tag, c] as const))('%s', async (_tag, c) => {
    expect(tf.getBackend()).toBe('wasm');
    const images = goldenImage(c.B, c.H, c.W, c.imageOffset);
    const before = tf.memory().numTensors;
    const out = await backbone.forward(images, { attention: true });
    try {
      expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 4); // 3 outputs + a cached pos-embed
      const ref = (k: string) => golden.array(`${c.tag}.${k}`).data;
      expect(relativeError(await out.patchTokens.data(), ref('patchTokens'))).toBeLessThan(FEATURE_REL_TOL);
      expect(relativeError(await out.clsToken.data(), ref('clsToken'))).toBeLessThan(FEATURE_REL_TOL);
      expect(maxAbsError(await out.attentionLogits!.data(), ref('attentionLogits'))).toBeLessThan(
        LOGIT_ABS_TOL,
      );
    } finally {
      images.dispose();
      tf.dispose(Object.values(out));
    }
  });
});
