import { basename, extname, join, resolve } from 'node:path';
import { HpError, selectBackend, writeJsonAtomic } from '@hpseg/core';
import { readImageFile } from '@hpseg/datasets';
import { loadInferenceModel, segmentImage } from '@hpseg/train';
import { backendFlag, choiceFlag, intFlag, requireString } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../errors.js';
import { createProgress } from '../progress.js';
import { inferenceModelFlags } from '../run-inputs.js';
import { colourise, legendImage, overlay, paletteColour, writeRgbPng } from '../visualize.js';
import { SEGMENT_SPEC } from './specs.js';

export const segmentCommand: Command = {
  spec: SEGMENT_SPEC,
  async execute({ values, positionals }, io) {
    if (positionals.length === 0) {
      throw new HpError('E_ARG', 'hpseg segment: no images: expected one or more image paths, got none', {
        hint: 'hpseg segment photo.jpg --checkpoint run/checkpoints/last.safetensors --out seg/',
      });
    }
    const checkpoint = resolve(requireString(values, 'checkpoint', 'segment'));
    const out = resolve(requireString(values, 'out', 'segment'));
    const probe = choiceFlag(values, 'probe', 'segment', ['cluster', 'linear'] as const, 'cluster') as
      | 'cluster'
      | 'linear';
    const fit = choiceFlag(values, 'fit', 'segment', ['pad', 'resize'] as const, 'pad') as 'pad' | 'resize';
    const maxSide = intFlag(values, 'max-side', 'segment', 640, 16);
    const backend = backendFlag(values, 'segment');
    await selectBackend(backend);
    const model = await loadInferenceModel(checkpoint, inferenceModelFlags(values, 'segment'));
    try {
      const K = probe === 'cluster' ? model.clusterProbe.nClusters : model.linearProbe.nClasses;
      const names =
        probe === 'linear' && model.classNames
          ? model.classNames
          : Array.from({ length: K }, (_, k) => (probe === 'cluster' ? `cluster ${k}` : `class ${k}`));
      const progress = createProgress(io, 'segment', positionals.length, { unit: 'img' });
      const written: { input: string; labels: string; overlay: string; height: number; width: number }[] = [];
      for (const input of positionals) {
        const img = await readImageFile(resolve(input));
        const { labels, height: H, width: W } = await segmentImage(model, img, { probe, fit, maxSide });
        const colours = colourise(labels);
        const stem = basename(input, extname(input));
        const labelsPath = join(out, `${stem}.labels.png`);
        const overlayPath = join(out, `${stem}.overlay.png`);
        await writeRgbPng(labelsPath, colours, H, W);
        await writeRgbPng(overlayPath, overlay(img.data, colours), H, W);
        written.push({ input, labels: labelsPath, overlay: overlayPath, height: H, width: W });
        progress.tick(1, stem);
      }
      progress.done();
      const legend = names.map((name, k) => ({ index: k, name, colour: paletteColour(k) }));
      const swatches = legendImage(K);
      await writeRgbPng(join(out, 'legend.png'), swatches.rgb, swatches.height, swatches.width);
      await writeJsonAtomic(join(out, 'legend.json'), {
        probe,
        fit,
        source: model.description,
        note:
          probe === 'cluster'
            ? 'cluster ids are unsupervised: which class a cluster is comes from Hungarian matching in `hpseg eval`'
            : 'linear-probe classes',
        legend,
        images: written,
      });
      if (values.json === true) io.stdout.write(`${JSON.stringify({ images: written, legend })}\n`);
      else {
        for (const w of written)
          io.stdout.write(`${w.input} -> ${w.labels}, ${w.overlay} (${w.width}x${w.height})\n`);
        io.stdout.write(
          `legend: ${join(out, 'legend.json')} (${K} ${probe === 'cluster' ? 'clusters' : 'classes'})\n`,
        );
      }
      return EXIT_OK;
    } finally {
      await model.dispose();
    }
  },
};
