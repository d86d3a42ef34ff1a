import { describeBackend, formatBackend, selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webgpuSkipReason } from '../../../tools/test/webgpu-available.js';
import type { Backbone } from '../src/index.js';
import { loadBackbone } from '../src/index.js';
import { goldenImage, maxAbsError, readGoldenModel, relativeError } from './golden.js';

/** The same named tolerances as the cpu/wasm golden test (backbone-golden.test.ts): a whole ViT forward in float32. */
const FEATURE_REL_TOL = 1e-4; // max |diff| / max |ref| of patch tokens and CLS
const LOGIT_ABS_TOL = 1e-3; // max |diff| of the attention logits

const skip = await webgpuSkipReason();
if (skip === null) console.log(`backbone-vit webgpu golden tests on: ${formatBackend()}`);

describe.skipIf(skip !== null).each(['vit_p8', 'vit_p16'] as const)(
  'webgpu: tfjs engine golden %s (PyTorch reference)',
  (name) => {
    const golden = readGoldenModel(name);
    let backbone: Backbone;
    beforeAll(async () => {
      await selectBackend('webgpu');
      backbone = await loadBackbone(golden.pthPath, { engine: 'tfjs', numHeads: golden.config.numHeads });
    });
    afterAll(async () => {
      const before = tf.memory().numTensors;
      await backbone?.dispose();
      // dispose() frees every weight: 5 + (10 + 6 heads) per block, and the 3 cached positional embeddings.
      const { depth, numHeads } = golden.config;
      expect(before - tf.memory().numTensors).toBe(5 + (10 + 6 * numHeads) * depth + golden.cases.length);
    });

    it.each(golden.cases.map((c) => [c.tag, c] as const))(
      '%s: patch tokens, CLS and attention logits match',
      async (_tag, c) => {
        const images = goldenImage(c.B, c.H, c.W, c.imageOffset);
        const before = tf.memory().numTensors;
        const out = await backbone.forward(images, { attention: true });
        try {
          // The three outputs, plus the positional embedding of this new grid, cached by the backbone.
          expect(tf.memory().numTensors).toBe(before + 3 + 1);
          const ref = (k: string) => golden.array(`${c.tag}.${k}`).data;
          const errors = {
            patchTokens: relativeError(await out.patchTokens.data(), ref('patchTokens')),
            clsToken: relativeError(await out.clsToken.data(), ref('clsToken')),
            attentionLogits: maxAbsError(await out.attentionLogits!.data(), ref('attentionLogits')),
          };
          console.log(`webgpu ${name} ${c.tag}: ${JSON.stringify(errors)}`);
          expect(errors.patchTokens).toBeLessThan(FEATURE_REL_TOL);
          expect(errors.clsToken).toBeLessThan(FEATURE_REL_TOL);
          expect(errors.attentionLogits).toBeLessThan(LOGIT_ABS_TOL);
          expect(describeBackend().webgpu!.gpuErrors).toEqual([]);
        } finally {
          images.dispose();
          tf.dispose(Object.values(out));
        }
      },
    );
  },
);

if (skip !== null) it.skip(`webgpu golden tests: skipped (${skip})`, () => {});
