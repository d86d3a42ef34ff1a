import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BackboneKeyFormat } from '../src/index.js';
import { loadBackbone, readBackboneFile } from '../src/index.js';
import { FIXTURES, goldenImage, relativeError } from './golden.js';

const FEATURE_REL_TOL = 1e-4;
const ref = JSON.parse(readFileSync(join(FIXTURES, 'container_ckpt.json'), 'utf8')) as {
  H: number;
  W: number;
  imageOffset: number;
  config: { embedDim: number; numHeads: number };
  patchTokens: number[];
  clsToken: number[];
};

describe('whole checkpoints written by torch.save (micro ViT, features vs PyTorch at 8x12)', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it.each([
    ['dino_train_ckpt.pth', 'auto'],
    ['dino_train_ckpt.pth', 'dino-teacher'],
    ['hp_ckpt.pth', 'auto'],
    ['hp_ckpt.pth', 'hp'],
  ] as [string, BackboneKeyFormat | 'auto'][])('%s with format %s', async (file, format) => {
    const backbone = await loadBackbone(join(FIXTURES, file), { engine: 'tfjs', format, numHeads: 2 });
    const images = goldenImage(1, ref.H, ref.W, ref.imageOffset);
    const out = await backbone.forward(images);
    try {
      expect(out.patchTokens.shape).toEqual([1, 2, 3, 16]);
      expect(relativeError(await out.patchTokens.data(), ref.patchTokens)).toBeLessThan(FEATURE_REL_TOL);
      expect(relativeError(await out.clsToken.data(), ref.clsToken)).toBeLessThan(FEATURE_REL_TOL);
    } finally {
      tf.dispose([images, ...Object.values(out)]);
      await backbone.dispose();
    }
  });

  it('the DINO training checkpoint: teacher is read, student (+1 offset) and the pickled args are not', async () => {
    const sd = await readBackboneFile(join(FIXTURES, 'dino_train_ckpt.pth'));
    expect(sd.has('backbone.cls_token')).toBe(true);
    expect([...sd.keys()].some((k) => k.includes('module.'))).toBe(false);
  });

  it('an HP checkpoint read with the wrong format (dino) → E_CHECKPOINT naming what is missing', async () => {
    await expect(
      loadBackbone(join(FIXTURES, 'hp_ckpt.pth'), { engine: 'tfjs', format: 'dino', numHeads: 2 }),
    ).rejects.toMatchObject({
      code: 'E_CHECKPOINT',
      message: expect.stringContaining("'patch_embed.proj.weight'"),
    });
  });
});
