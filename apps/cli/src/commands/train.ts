import { resolve } from 'node:path';
import { HpError, isHpError, selectBackend } from '@hpseg/core';
import type { HpConfig } from '@hpseg/hidden-positives';
import { type OpenedRun, openRun, resumeRun, runPaths, type TrainOutcome } from '@hpseg/train';
import {
  backendFlag,
  choiceFlag,
  engineFlag,
  intFlag,
  lossEngineFlag,
  matmulEngineFlag,
  optionalString,
} from '../args.js';
import type { Command } from '../command.js';
import { engineOptions } from '../engine-options.js';
import { EXIT_CODES, EXIT_OK } from '../errors.js';
import type { CliIo } from '../io.js';
import { resolveRunInputs } from '../run-inputs.js';
import { logNumericError, trainReporter } from '../train-report.js';
import { cliVersions } from '../versions.js';
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

/** The learning rates logged with every step. */
export function loggedRates(config: HpConfig) {
  return {
    head: config.optimizer.net.lr,
    projectionHead: config.optimizer.net.lr,
    linearProbe: config.optimizer.linear.lr,
    clusterProbe: config.optimizer.cluster.lr,
  };
}

export const trainCommand: Command = {
  spec: TRAIN_SPEC,
  async execute({ values }, io) {
    const seed = intFlag(values, 'seed', 'train', 0);
    const engine = engineFlag(values, 'train');
    const backend = backendFlag(values, 'train');
    const stopAtValue = intFlag(values, 'stop-at', 'train', -1, -1);
    const cacheDir = optionalString(values, 'feature-cache');
    const augViews = intFlag(values, 'cached-aug-views', 'train', 0);
    const augmentMode = choiceFlag(values, 'augment', 'train', ['image', 'official'] as const, 'image');
    const resumeDir = optionalString(values, 'resume');
    const out = optionalString(values, 'out');
    if (!resumeDir && !out) {
      throw new HpError('E_ARG', 'hpseg train: missing --out: expected a run folder, got none', {
        hint: 'hpseg train --help',
      });
    }
    const outDir = resolve(resumeDir ?? (out as string));
    await selectBackend(backend);
    let reporter: ReturnType<typeof trainReporter> | undefined;
    const common = {
      backbone: engineOptions(engine),
      selectBest: values['select-best'] === true,
      stopAt: stopAtValue >= 0 ? stopAtValue : null,
      versions: await cliVersions(),
      lossEngine: lossEngineFlag(values, 'train'),
      matmulEngine: matmulEngineFlag(values, 'train'),
      onEvent: (e: Parameters<ReturnType<typeof trainReporter>>[0]) => reporter?.(e),
      ...(io.signal ? { signal: io.signal } : {}),
    };
    let opened: OpenedRun;
    if (resumeDir) {
      if (cacheDir) {
        throw new HpError('E_ARG', 'hpseg train: --feature-cache with --resume: expected neither, got both', {
          hint: 'a resumed run reads the feature cache it was started with',
        });
      }
      opened = await resumeRun(outDir, common);
    } else {
      const inputs = await resolveRunInputs(values, 'train', seed);
      const iterations = intFlag(values, 'iterations', 'train', 0, 1);
      opened = await openRun(
        {
          ...inputs,
          seed,
          augmentMode,
          ...(iterations > 0 ? { iterations } : {}),
          ...(cacheDir ? { featureCache: { dir: resolve(cacheDir), augViews } } : {}),
        },
        outDir,
        common,
      );
    }
    try {
      const { trainer } = opened;
      reporter = trainReporter(io, { outDir, rates: loggedRates(trainer.config) });
      const s = trainer.state;
      io.stderr.write(
        `${trainer.resumed ? 'resuming' : 'training'} ${runPaths(outDir).last}: iteration ${s.iteration}/${s.totalIterations}, ${trainer.data.batchesPerEpoch} batches/epoch, backbone ${opened.backbone.engine} C=${opened.backbone.config.embedDim}\n`,
      );
      let outcome: TrainOutcome;
      try {
        outcome = await trainer.run();
      } catch (error) {
        if (isHpError(error, 'E_NUMERIC')) await logNumericError(outDir, error.details);
        throw error;
      }
      printOutcome(io, outcome, values.json === true);
      return outcome.status === 'interrupted' ? (EXIT_CODES.E_INTERRUPTED as number) : EXIT_OK;
    } finally {
      await opened.dispose();
    }
  },
};
