import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomVitWeights, type VitConfig } from '@hpseg/backbone-vit';
import { saveSafetensorsFile, selectBackend } from '@hpseg/core';
import { imagenetNormalize, type RgbImage } from '@hpseg/datasets';
import { saveHeadCheckpoint } from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadInferenceModel,
  openRun,
  predict,
  resolveRunConfig,
  runPaths,
  SYNTHETIC_VIT,
  segmentImage,
  syntheticSpecs,
} from '../src/index.js';

let dir: string;
let runDir: string;
let weightsPath: string;

beforeAll(async () => {
  await selectBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'hpseg-infer-'));
  runDir = join(dir, 'run');
  const specs = syntheticSpecs(4, { length: 8, valLength: 4 });
  const opened = await openRun(
    {
      config: resolveRunConfig('synthetic', { model: { poolSize: 8, dim: 8 }, dataloader: { batchSize: 4 } }),
      preset: 'synthetic',
      backbone: { kind: 'random', config: { ...SYNTHETIC_VIT }, seed: 4 },
      dataset: specs.train,
      validation: specs.val,
      seed: 4,
      iterations: 2,
    },
    runDir,
    { backbone: { engine: 'tfjs' } },
  );
  try {
    await opened.trainer.run();
    // the same modules as a head checkpoint, and the run's random ViT as a weights file
    const m = opened.trainer.models;
    await saveHeadCheckpoint(join(dir, 'head.safetensors'), m);
  } finally {
    await opened.dispose();
  }
  weightsPath = join(dir, 'vit.safetensors');
  await saveSafetensorsFile(weightsPath, randomVitWeights(SYNTHETIC_VIT as unknown as VitConfig, 4));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const image = (height: number, width: number): RgbImage => ({
  data: Uint8Array.from({ length: height * width * 3 }, (_, i) => (i * 37 + (i % 3) * 50) % 256),
  height,
  width,
});

describe('loadInferenceModel', () => {
  it('a run checkpoint (backbone from its spec) and a head checkpoint (backbone from weights) predict the same', async () => {
    const fromRun = await loadInferenceModel(runPaths(runDir).last, { backbone: { engine: 'tfjs' } });
    expect(fromRun.source).toBe('hpseg-run');
    expect(fromRun.validation?.kind).toBe('synthetic');
    expect(fromRun.classNames).toHaveLength(4);
    expect(fromRun.trainResolution).toBe(64);
    const fromHead = await loadInferenceModel(join(dir, 'head.safetensors'), {
      weights: weightsPath,
      backbone: { engine: 'tfjs', numHeads: SYNTHETIC_VIT.numHeads },
    });
    expect(fromHead.source).toBe('hpseg-head');
    const img = image(64, 64);
    const a = await predict(fromRun, imagenetNormalize(img.data), [1, 64, 64, 3], { scores: true });
    const b = await predict(fromHead, imagenetNormalize(img.data), [1, 64, 64, 3]);
    expect(Array.from(a.cluster)).toEqual(Array.from(b.cluster));
    expect(Array.from(a.linear)).toEqual(Array.from(b.linear));
    expect(a.clusterLogProbs).toHaveLength(64 * 64 * 4);
    // log-probabilities of every pixel sum to 1 after exp
    expect([0, 1, 2, 3].reduce((s, k) => s + Math.exp(a.clusterLogProbs![k]!), 0)).toBeCloseTo(1, 5);
    const before = tf.memory().numTensors;
    await fromRun.dispose();
    await fromHead.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
  });

  it('refuses a head checkpoint without weights, a foreign safetensors file and a missing file', async () => {
    await expect(loadInferenceModel(join(dir, 'head.safetensors'))).rejects.toMatchObject({
      code: 'E_ARG',
      message: expect.stringContaining('is a head checkpoint (no backbone inside)'),
    });
    await expect(loadInferenceModel(weightsPath)).rejects.toMatchObject({
      code: 'E_FORMAT',
      message: expect.stringContaining('without hpseg metadata'),
    });
    await writeFile(join(dir, 'garbage.bin'), 'not a checkpoint');
    await expect(loadInferenceModel(join(dir, 'garbage.bin'))).rejects.toMatchObject({ code: 'E_FORMAT' });
    await expect(loadInferenceModel(join(dir, 'missing.pth'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});

describe('segmentImage', () => {
  it('labels at the input size; on a patch multiple it is exactly the official predict() path', async () => {
    const model = await loadInferenceModel(runPaths(runDir).last, { backbone: { engine: 'tfjs' } });
    try {
      const img = image(48, 64);
      const seg = await segmentImage(model, img);
      const direct = await predict(model, imagenetNormalize(img.data), [1, 48, 64, 3]);
      expect([seg.height, seg.width, seg.probe]).toEqual([48, 64, 'cluster']);
      expect(Array.from(seg.labels)).toEqual(Array.from(direct.cluster));
      const linear = await segmentImage(model, img, { probe: 'linear' });
      expect(Array.from(linear.labels)).toEqual(Array.from(direct.linear));
      for (const fit of ['pad', 'resize'] as const) {
        const odd = await segmentImage(model, image(37, 50), { fit });
        expect([odd.height, odd.width, odd.labels.length]).toEqual([37, 50, 37 * 50]);
        expect(Math.max(...odd.labels)).toBeLessThan(4);
      }
      const big = await segmentImage(model, image(40, 120), { maxSide: 60 }); // downscaled to 20×60 first
      expect(big.labels.length).toBe(40 * 120);
      await expect(segmentImage(model, img, { fit: 'crop' as 'pad' })).rejects.toMatchObject({
        code: 'E_ARG',
      });
    } finally {
      await model.dispose();
    }
  });
});
