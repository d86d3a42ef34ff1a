import { resolve } from 'node:path';
import { HpError } from '@hpseg/core';
import {
  cityscapes27,
  cocoStuff27,
  formatVerifyReport,
  prepareFiveCrop,
  verifyDataset,
} from '@hpseg/datasets';
import { openDataset } from '@hpseg/train';
import { choiceFlag, optionalString } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_CODES, EXIT_OK } from '../errors.js';
import { createProgress } from '../progress.js';
import { checkDataDir, checkPreset } from '../run-inputs.js';
import { DATA_PREPARE_SPEC, DATA_VERIFY_SPEC } from './specs.js';

export const dataVerifyCommand: Command = {
  spec: DATA_VERIFY_SPEC,
  async execute({ values }, io) {
    const preset = checkPreset(optionalString(values, 'preset'), 'data verify');
    if (preset === 'synthetic')
      throw new HpError('E_ARG', 'hpseg data verify: the synthetic preset has no files to verify');
    const dir = resolve(await checkDataDir(optionalString(values, 'data-dir'), 'data verify'));
    let failed = false;
    const reports: unknown[] = [];
    const splits: { split: 'train' | 'val'; crop: 'five' | null }[] =
      preset === 'potsdam'
        ? [
            { split: 'train', crop: null },
            { split: 'val', crop: null },
          ]
        : [
            { split: 'train', crop: 'five' },
            { split: 'val', crop: null },
          ];
    for (const { split } of splits) {
      const dataset = await openDataset({ kind: 'preset', preset, dataDir: dir }, split);
      const progress = createProgress(io, `verify ${split}`, dataset.length, { unit: 'img' });
      let last = 0;
      const report = await verifyDataset(dataset, {
        onProgress: (done) => {
          progress.tick(done - last);
          last = done;
        },
      });
      progress.done();
      reports.push({ split, ...report });
      if (!report.ok) failed = true;
      if (values.json !== true) io.stdout.write(`${formatVerifyReport(report)}\n`);
    }
    if (values.json === true) io.stdout.write(`${JSON.stringify(reports)}\n`);
    return failed ? (EXIT_CODES.E_DATASET as number) : EXIT_OK;
  },
};

export const dataPrepareCommand: Command = {
  spec: DATA_PREPARE_SPEC,
  async execute({ values }, io) {
    const preset = checkPreset(optionalString(values, 'preset'), 'data prepare');
    if (preset !== 'cocostuff27' && preset !== 'cityscapes') {
      throw new HpError(
        'E_ARG',
        `hpseg data prepare: five-crop preparation is for cocostuff27 and cityscapes: expected one of them, got ${preset}`,
        { hint: 'Potsdam trains on its tiles directly' },
      );
    }
    const split = choiceFlag(values, 'split', 'data prepare', ['train', 'val'] as const, 'train') as
      | 'train'
      | 'val';
    const root = resolve(await checkDataDir(optionalString(values, 'data-dir'), 'data prepare'));
    const dataset =
      preset === 'cocostuff27' ? await cocoStuff27({ root, split }) : await cityscapes27({ root, split });
    const progress = createProgress(io, `five-crop ${split}`, dataset.length, { unit: 'img' });
    let last = 0;
    const result = await prepareFiveCrop({
      dataset,
      root,
      name: preset,
      split,
      onProgress: ({ done }) => {
        progress.tick(done - last);
        last = done;
      },
    });
    progress.done();
    io.stdout.write(
      `wrote ${result.dir}: ${result.crops} crops (${result.written} images cropped now, ${result.skipped} already done)\n`,
    );
    return EXIT_OK;
  },
};
