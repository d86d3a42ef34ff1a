import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { deriveSeed, HpError, selectBackend } from '@hpseg/core';
import { augmentedView, stackImages, trainView } from '@hpseg/datasets';
import { LHP_SIGMA, localPositiveWeights } from '@hpseg/hidden-positives';
import * as tf from '@tensorflow/tfjs-core';
import { backendFlag, choiceFlag, engineFlag, intFlag, optionalString } from '../args.js';
import { openBackbone } from '../backbone.js';
import type { Command } from '../command.js';
import { openDataset } from '../data-source.js';
import { EXIT_OK } from '../errors.js';
import {
  ChunkWriter,
  FEATURE_CACHE_FORMAT,
  itemLayout,
  weightsFingerprint,
  writeManifest,
} from '../features/cache.js';
import { createProgress } from '../progress.js';
import { resolveRunInputs } from '../run-inputs.js';
import { packageVersions } from '../versions.js';
import { FEATURES_SPEC } from './specs.js';

export const featuresCommand: Command = {
  spec: FEATURES_SPEC,
  async execute({ values }, io) {
    const seed = intFlag(values, 'seed', 'features', 0);
    const augViews = intFlag(values, 'aug-views', 'features', 0);
    const chunkSize = intFlag(values, 'chunk-size', 'features', 256, 1);
    const augmentMode = choiceFlag(values, 'augment', 'features', ['image', 'official'] as const, 'image') as
      | 'image'
      | 'official';
    const engine = engineFlag(values, 'features');
    const backendChoice = backendFlag(values, 'features');
    const out = optionalString(values, 'out');
    if (!out)
      throw new HpError('E_ARG', 'hpseg features: missing --out: expected a cache folder, got none', {
        hint: 'hpseg features --help',
      });
    const dir = resolve(out);
    const inputs = await resolveRunInputs(values, 'features', seed);
    await selectBackend(backendChoice);
    const backbone = await openBackbone(inputs.backbone, engine);
    try {
      const res = inputs.config.dataset.res;
      const p = backbone.config.patchSize;
      if (res % p !== 0)
        throw new HpError(
          'E_CONFIG',
          `hpseg features: dataset.res ${res} is not a multiple of the patch size ${p}`,
        );
      const gridSize = res / p;
      const trainSet = await openDataset(inputs.dataset, 'train');
      await mkdir(dir, { recursive: true });
      const writer = new ChunkWriter(dir, chunkSize);
      const layout = itemLayout(gridSize, backbone.config.embedDim, augViews);
      const batch = 8;
      const progress = createProgress(io, 'features', trainSet.length, { unit: 'img' });
      for (let start = 0; start < trainSet.length; start += batch) {
        if (io.signal?.aborted)
          throw new HpError(
            'E_INTERRUPTED',
            'hpseg features: interrupted: the cache is incomplete (no manifest written)',
          );
        const indices = Array.from({ length: Math.min(batch, trainSet.length - start) }, (_, j) => start + j);
        const items = await Promise.all(indices.map(async (i) => trainView(await trainSet.get(i), res)));
        const images = stackImages(items);
        const B = indices.length;
        const input = tf.tensor4d(images.data, [B, res, res, 3]);
        const main = await backbone.forward(input, { attention: true });
        input.dispose();
        main.clsToken.dispose();
        const lhp = localPositiveWeights(main.attentionLogits as tf.Tensor4D, { gridSize, sigma: LHP_SIGMA });
        main.attentionLogits?.dispose();
        const tokens = main.patchTokens.dataSync() as Float32Array;
        const weights = lhp.dataSync() as Float32Array;
        main.patchTokens.dispose();
        lhp.dispose();
        const aug: Float32Array[] = [];
        for (let k = 0; k < augViews; k++) {
          const views = new Float32Array(B * res * res * 3);
          items.forEach((it, b) => {
            const seedK = deriveSeed(seed, 'cache-aug', indices[b] as number, k);
            views.set(
              augmentedView(it.image, it.height, it.width, { seed: seedK, mode: augmentMode }).data,
              b * res * res * 3,
            );
          });
          const t = tf.tensor4d(views, [B, res, res, 3]);
          const o = await backbone.forward(t);
          t.dispose();
          o.clsToken.dispose();
          aug.push(Float32Array.from(o.patchTokens.dataSync()));
          o.patchTokens.dispose();
        }
        for (let b = 0; b < B; b++) {
          const row = new Float32Array(layout.total);
          row.set(tokens.subarray(b * layout.tokens, (b + 1) * layout.tokens), 0);
          row.set(weights.subarray(b * layout.lhp, (b + 1) * layout.lhp), layout.tokens);
          for (const [k, a] of aug.entries()) {
            row.set(
              a.subarray(b * layout.tokens, (b + 1) * layout.tokens),
              layout.tokens + layout.lhp + k * layout.tokens,
            );
          }
          await writer.add(row);
        }
        progress.tick(B);
      }
      await writer.flush();
      progress.done();
      await writeManifest(dir, {
        format: FEATURE_CACHE_FORMAT,
        identity: {
          preset: inputs.preset,
          dataset: inputs.dataset,
          datasetLength: trainSet.length,
          weights: await weightsFingerprint(inputs.backbone),
          resolution: res,
          patchSize: p,
          embedDim: backbone.config.embedDim,
          sigma: LHP_SIGMA,
          augmentMode,
        },
        gridSize,
        augViews,
        seed,
        chunkSize,
        items: trainSet.length,
        chunks: writer.chunks,
        createdAt: new Date().toISOString(),
        versions: await packageVersions(),
      });
      const bytes = writer.chunks.reduce((a, c) => a + c.bytes, 0);
      io.stdout.write(
        `${dir}: ${trainSet.length} images, ${writer.chunks.length} chunks, ${(bytes / 2 ** 20).toFixed(1)} MiB float16 (tokens ${gridSize}x${gridSize}x${backbone.config.embedDim}, LHP weights, ${augViews} augmented views)\n`,
      );
      return EXIT_OK;
    } finally {
      await backbone.dispose();
    }
  },
};
