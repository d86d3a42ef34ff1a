import { resolve } from 'node:path';
import { HpError, selectBackend } from '@hpseg/core';
import {
  cacheIdentityFor,
  computeFeatureCache,
  openBackbone,
  openDataset,
  packageVersions,
} from '@hpseg/train';
import { backendFlag, choiceFlag, engineFlag, intFlag, optionalString } from '../args.js';
import type { Command } from '../command.js';
import { engineOptions } from '../engine-options.js';
import { EXIT_OK } from '../errors.js';
import { createProgress } from '../progress.js';
import { resolveRunInputs } from '../run-inputs.js';
import { cliVersions } from '../versions.js';
import { FEATURES_SPEC } from './specs.js';

export const featuresCommand: Command = {
  spec: FEATURES_SPEC,
  async execute({ values }, io) {
    const seed = intFlag(values, 'seed', 'features', 0);
    const augViews = intFlag(values, 'aug-views', 'features', 0);
    const chunkSize = intFlag(values, 'chunk-size', 'features', 256, 1);
    const augmentMode = choiceFlag(values, 'augment', 'features', ['image', 'official'] as const, 'image');
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
    const backbone = await openBackbone(inputs.backbone, engineOptions(engine));
    try {
      const trainSet = await openDataset(inputs.dataset, 'train');
      const identity = await cacheIdentityFor(
        { ...inputs, augmentMode },
        backbone,
        trainSet,
        inputs.config.dataset.res,
      );
      const progress = createProgress(io, 'features', trainSet.length, { unit: 'img' });
      let done = 0;
      const manifest = await computeFeatureCache({
        backbone,
        dataset: trainSet,
        identity,
        outDir: dir,
        augViews,
        seed,
        chunkSize,
        versions: packageVersions(await cliVersions()),
        ...(io.signal ? { signal: io.signal } : {}),
        onProgress: (n) => {
          progress.tick(n - done);
          done = n;
        },
      });
      progress.done();
      const bytes = manifest.chunks.reduce((a, c) => a + c.bytes, 0);
      io.stdout.write(
        `${dir}: ${manifest.items} images, ${manifest.chunks.length} chunks, ${(bytes / 2 ** 20).toFixed(1)} MiB float16 (tokens ${manifest.gridSize}x${manifest.gridSize}x${backbone.config.embedDim}, LHP weights, ${augViews} augmented views)\n`,
      );
      return EXIT_OK;
    } finally {
      await backbone.dispose();
    }
  },
};
