import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPthFile, saveSafetensorsFile, selectBackend, toStateDict } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backbone, LoadBackboneOptions } from '../src/index.js';
import { loadBackbone } from '../src/index.js';
import { goldenImage, maxAbsError, readGoldenModel, relativeError } from './golden.js';

/** Named tolerances: a whole ViT forward in float32 vs PyTorch. */
const FEATURE_REL_TOL = 1e-4; // max |diff| / max |ref| of patch tokens and CLS
const LOGIT_ABS_TOL = 1e-3; // max |diff| of the attention logits

const MODELS = ['vit_p8', 'vit_p16'] as const;
/** Engine variants: the onnx engine with ONNX Runtime's fused operators (default) and with standard ones. */
const VARIANTS: Record<string, LoadBackboneOptions> = {
  onnx: { engine: 'onnx' },
  'onnx (standard ops)': { engine: 'onnx', onnxOps: 'standard' },
  tfjs: { engine: 'tfjs' },
};
const ENGINES = Object.keys(VARIANTS);

describe.each(MODELS)('golden %s (torch.save .pth, PyTorch reference)', (name) => {
  const golden = readGoldenModel(name);
  const backbones = new Map<string, Backbone>();

  beforeAll(async () => {
    await selectBackend('cpu');
    for (const engine of ENGINES) {
      backbones.set(
        engine,
        await loadBackbone(golden.pthPath, { ...VARIANTS[engine], numHeads: golden.config.numHeads }),
      );
    }
  });
  afterAll(async () => {
    for (const b of backbones.values()) await b.dispose();
  });

  it('infers the architecture from the checkpoint shapes', () => {
    expect(backbones.get('onnx')!.config).toEqual(golden.config);
  });

  const cases = golden.cases.map((c) => [c.tag, c] as const);
  describe.each(ENGINES)('engine %s', (engine) => {
    it.each(cases)('%s: patch tokens, CLS and attention logits match', async (_tag, c) => {
      const images = goldenImage(c.B, c.H, c.W, c.imageOffset);
      const out = await backbones.get(engine)!.forward(images, { attention: true });
      try {
        const p = golden.config.patchSize;
        expect(out.patchTokens.shape).toEqual([c.B, c.H / p, c.W / p, golden.config.embedDim]);
        expect(out.clsToken.shape).toEqual([c.B, golden.config.embedDim]);
        const T = 1 + (c.H / p) * (c.W / p);
        expect(out.attentionLogits!.shape).toEqual([c.B, golden.config.numHeads, T, T]);
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
});

describe('golden through other containers', () => {
  const golden = readGoldenModel('vit_p8');
  const c = golden.cases[1]!; // 48x48: interpolated positional embedding
  let dir: string;
  beforeAll(async () => {
    await selectBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'hpseg-bb-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function check(backbone: Backbone): Promise<void> {
    const images = goldenImage(c.B, c.H, c.W, c.imageOffset);
    const out = await backbone.forward(images);
    try {
      expect(out.attentionLogits).toBeUndefined();
      const err = relativeError(await out.patchTokens.data(), golden.array(`${c.tag}.patchTokens`).data);
      expect(err).toBeLessThan(FEATURE_REL_TOL);
    } finally {
      images.dispose();
      tf.dispose(Object.values(out));
      await backbone.dispose();
    }
  }

  it('a .safetensors file written by core loads and matches', async () => {
    const path = join(dir, 'vit_p8.safetensors');
    await saveSafetensorsFile(path, toStateDict(await loadPthFile(golden.pthPath)));
    await check(await loadBackbone(path, { engine: 'onnx', numHeads: 4 }));
  });

  it('an HP-style checkpoint (model. prefix beside head weights) loads via format auto', async () => {
    const sd = toStateDict(await loadPthFile(golden.pthPath));
    const hp = new Map([...sd].map(([k, v]) => [`model.${k}`, v]));
    hp.set('cluster1.0.weight', {
      dtype: 'float32',
      storedDtype: 'float32',
      shape: [2, 32, 1, 1],
      data: new Float32Array(64),
    });
    await check(await loadBackbone(hp, { engine: 'tfjs', numHeads: 4 }));
  });

  it('a DINO teacher state dict (backbone. prefix, DINOHead) loads via format dino-teacher', async () => {
    const sd = toStateDict(await loadPthFile(golden.pthPath));
    const teacher = new Map([...sd].map(([k, v]) => [`backbone.${k}`, v]));
    teacher.set('head.last_layer.weight_g', {
      dtype: 'float32',
      storedDtype: 'float32',
      shape: [4, 1],
      data: new Float32Array(4),
    });
    await check(await loadBackbone(teacher, { engine: 'onnx', format: 'dino-teacher', numHeads: 4 }));
  });
});
