import { basename, extname, join, resolve } from 'node:path';
import { HpError, selectBackend, writeJsonAtomic } from '@hpseg/core';
import { imagenetNormalize, readImageFile } from '@hpseg/datasets';
import sharp from 'sharp';
import { backendFlag, choiceFlag, intFlag, requireString } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../errors.js';
import { predictBatch } from '../evaluate.js';
import { inferenceModelFlags, loadInferenceModel } from '../model-loader.js';
import { createProgress } from '../progress.js';
import { colourise, legendImage, overlay, paletteColour, writeRgbPng } from '../visualize.js';
import { SEGMENT_SPEC } from './specs.js';

/** Edge-replicating pad of `[H, W, 3]` to `[H2, W2, 3]` (bottom/right). */
function padEdge(img: Uint8Array, h: number, w: number, h2: number, w2: number): Uint8Array {
  const out = new Uint8Array(h2 * w2 * 3);
  for (let y = 0; y < h2; y++) {
    const sy = Math.min(y, h - 1);
    for (let x = 0; x < w2; x++) {
      const sx = Math.min(x, w - 1);
      out.set(img.subarray((sy * w + sx) * 3, (sy * w + sx) * 3 + 3), (y * w2 + x) * 3);
    }
  }
  return out;
}

async function resizeRgb(img: Uint8Array, h: number, w: number, h2: number, w2: number): Promise<Uint8Array> {
  const { data } = await sharp(Buffer.from(img.buffer, img.byteOffset, img.byteLength), {
    raw: { width: w, height: h, channels: 3 },
  })
    .resize(w2, h2, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** NEAREST resize of a label map (pixel centres, as PIL). */
function resizeLabels(labels: Int32Array, h: number, w: number, h2: number, w2: number): Int32Array {
  const out = new Int32Array(h2 * w2);
  for (let y = 0; y < h2; y++) {
    const sy = Math.min(h - 1, Math.floor(((y + 0.5) * h) / h2));
    for (let x = 0; x < w2; x++) {
      const sx = Math.min(w - 1, Math.floor(((x + 0.5) * w) / w2));
      out[y * w2 + x] = labels[sy * w + sx] as number;
    }
  }
  return out;
}

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
    const modelOptions = inferenceModelFlags(values, 'segment');
    const backend = backendFlag(values, 'segment');
    await selectBackend(backend);
    const model = await loadInferenceModel(checkpoint, modelOptions);
    try {
      const p = model.backbone.config.patchSize;
      const K = probe === 'cluster' ? model.cluster.nClusters : model.linear.nClasses;
      const names =
        probe === 'linear' && model.classNames
          ? model.classNames
          : Array.from({ length: K }, (_, k) => (probe === 'cluster' ? `cluster ${k}` : `class ${k}`));
      const progress = createProgress(io, 'segment', positionals.length, { unit: 'img' });
      const written: { input: string; labels: string; overlay: string; height: number; width: number }[] = [];
      for (const input of positionals) {
        const img = await readImageFile(resolve(input));
        const { height: H, width: W } = img;
        // 1. downscale large images (keeps the aspect ratio), 2. reach a multiple of the patch size.
        const scale = Math.min(1, maxSide / Math.max(H, W));
        const h1 = Math.max(p, Math.round(H * scale));
        const w1 = Math.max(p, Math.round(W * scale));
        const base = scale < 1 ? await resizeRgb(img.data, H, W, h1, w1) : img.data;
        const h2 = fit === 'pad' ? Math.ceil(h1 / p) * p : Math.max(p, Math.round(h1 / p) * p);
        const w2 = fit === 'pad' ? Math.ceil(w1 / p) * p : Math.max(p, Math.round(w1 / p) * p);
        const fitted =
          fit === 'pad'
            ? padEdge(base, h1, w1, h2, w2)
            : h2 === h1 && w2 === w1
              ? base
              : await resizeRgb(base, h1, w1, h2, w2);
        const pred = await predictBatch(model, imagenetNormalize(fitted), [1, h2, w2, 3]);
        const raw = probe === 'cluster' ? pred.cluster : pred.linear;
        // Back to the input size: crop the padding (pad) or resize (resize), then undo the downscale.
        let labels: Int32Array;
        if (fit === 'pad') {
          labels = new Int32Array(h1 * w1);
          for (let y = 0; y < h1; y++) labels.set(raw.subarray(y * w2, y * w2 + w1), y * w1);
        } else labels = resizeLabels(raw, h2, w2, h1, w1);
        if (h1 !== H || w1 !== W) labels = resizeLabels(labels, h1, w1, H, W);
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
