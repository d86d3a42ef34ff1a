import { appendFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { HpError, selectBackend } from '@hpseg/core';
import { backendFlag, choiceFlag, engineFlag, intFlag, optionalString } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_CODES, EXIT_OK } from '../errors.js';
import { cacheFeatureSource } from '../features/source.js';
import type { CliIo } from '../io.js';
import { resolveRunInputs } from '../run-inputs.js';
import { checkpointPaths, type TrainOutcome, trainLoop } from '../train/loop.js';
import { openNewRun, openResumedRun } from '../train/setup.js';
import { TRAIN_SPEC } from './specs.js';

export function printOutcome(io: CliIo, outcome: TrainOutcome, json: boolean): void {
  const last = outcome.losses[outcome.losses.length - 1];
  if (json) {
    io.stdout.write(
      `${JSON.stringify({
        status: outcome.status,
        iteration: outcome.iteration,
        lastLoss: last ?? null,
        checkpoint: outcome.lastCheckpoint,
        validation: outcome.lastValidation
          ? {
              clusterMIoU: outcome.lastValidation.cluster.mIoU,
              clusterAccuracy: outcome.lastValidation.cluster.accuracy,
              linearMIoU: outcome.lastValidation.linear.mIoU,
              linearAccuracy: outcome.lastValidation.linear.accuracy,
            }
          : null,
        losses: outcome.losses.map((l) => l.total),
      })}\n`,
    );
    return;
  }
  io.stdout.write(
    `${outcome.status} at iteration ${outcome.iteration}${last ? `, last loss ${last.total.toFixed(5)}` : ''}; checkpoint ${outcome.lastCheckpoint}\n`,
  );
  if (outcome.lastValidation) {
    const v = outcome.lastValidation;
    io.stdout.write(
      `validation: cluster mIoU ${(100 * v.cluster.mIoU).toFixed(2)} acc ${(100 * v.cluster.accuracy).toFixed(2)} | linear mIoU ${(100 * v.linear.mIoU).toFixed(2)} acc ${(100 * v.linear.accuracy).toFixed(2)}\n`,
    );
  }
}

export const trainCommand: Command = {
  spec: TRAIN_SPEC,
  async execute({ values }, io) {
    const seed = intFlag(values, 'seed', 'train', 0);
    const engine = engineFlag(values, 'train');
    const backend = backendFlag(values, 'train');
    const stopAtValue = intFlag(values, 'stop-at', 'train', -1, -1);
    const control = {
      selectBest: values['select-best'] === true,
      stopAt: stopAtValue >= 0 ? stopAtValue : null,
    };
    const cacheDir = optionalString(values, 'feature-cache');
    const augViews = intFlag(values, 'cached-aug-views', 'train', 0);
    const augmentMode = choiceFlag(values, 'augment', 'train', ['image', 'official'] as const, 'image') as
      | 'image'
      | 'official';
    const featureSource = cacheDir ? cacheFeatureSource(resolve(cacheDir), augViews) : undefined;
    await selectBackend(backend);
    const resumeDir = optionalString(values, 'resume');
    const opened = resumeDir
      ? await openResumedRun(resolve(resumeDir), control, featureSource)
      : await (async () => {
          const out = optionalString(values, 'out');
          if (!out) {
            throw new HpError('E_ARG', 'hpseg train: missing --out: expected a run folder, got none', {
              hint: 'hpseg train --help',
            });
          }
          const { preset, config, dataset, validation, backbone } = await resolveRunInputs(
            values,
            'train',
            seed,
          );
          const iterations = intFlag(values, 'iterations', 'train', 0, 1);
          return openNewRun(
            {
              config,
              preset,
              dataset,
              validation,
              backbone,
              engine,
              outDir: resolve(out),
              seed,
              augmentMode,
              ...(iterations > 0 ? { totalIterations: iterations } : {}),
              ...(featureSource
                ? { featureSource, featureCache: resolve(cacheDir as string), cachedAugViews: augViews }
                : {}),
            },
            control,
          );
        })();
    try {
      const s = opened.session.state;
      io.stderr.write(
        `${opened.resumed ? 'resuming' : 'training'} ${checkpointPaths(opened.session.outDir).last}: iteration ${s.iteration}/${s.totalIterations}, ${opened.session.data.batchesPerEpoch} batches/epoch, backbone ${opened.backbone.engine} C=${opened.backbone.config.embedDim}\n`,
      );
      if (opened.resumed) {
        // Lines logged after the checkpoint (a crash between checkpoints) are superseded from here on.
        await appendFile(
          checkpointPaths(opened.session.outDir).log,
          `${JSON.stringify({ type: 'resume', iteration: s.iteration, note: 'records with iteration >= this one before this line are superseded' })}\n`,
        );
      }
      const outcome = await trainLoop(opened.session, io);
      printOutcome(io, outcome, values.json === true);
      return outcome.status === 'interrupted' ? (EXIT_CODES.E_INTERRUPTED as number) : EXIT_OK;
    } finally {
      await opened.dispose();
    }
  },
};
