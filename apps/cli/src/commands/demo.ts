import { join, resolve } from 'node:path';
import { selectBackend, writeJsonAtomic } from '@hpseg/core';
import {
  evaluate,
  featureFn,
  kmeansBaseline,
  openDataset,
  openRun,
  SYNTHETIC_VIT,
  syntheticSpecs,
} from '@hpseg/train';
import {
  backendFlag,
  engineFlag,
  intFlag,
  lossEngineFlag,
  matmulEngineFlag,
  optionalString,
} from '../args.js';
import type { Command } from '../command.js';
import { engineOptions } from '../engine-options.js';
import { EXIT_CODES, EXIT_OK } from '../errors.js';
import { configFromFlags } from '../run-inputs.js';
import { trainReporter } from '../train-report.js';
import { cliVersions } from '../versions.js';
import { colourise, hstack, writeRgbPng } from '../visualize.js';
import { DEMO_SPEC } from './specs.js';
import { loggedRates } from './train.js';

/**
 * The demo's synthetic set: 4 textured "stuff" classes in blob layouts, 64×64 px; 128 training
 * and 32 validation images (different seeds). Patch 8 → an 8×8 grid per image.
 */
export const DEMO_DATA = { length: 128, valLength: 32, size: 64, numClasses: 8 } as const;
const SHOWN = 4;

function matchColours(pred: Int32Array, assignment: readonly number[]): Int32Array {
  return pred.map((c) => assignment[c] ?? -1);
}

export const demoCommand: Command = {
  spec: DEMO_SPEC,
  async execute({ values }, io) {
    const started = performance.now();
    const seed = intFlag(values, 'seed', 'demo', 0);
    const iterations = intFlag(values, 'iterations', 'demo', 300, 1);
    const engine = engineFlag(values, 'demo');
    const backendChoice = backendFlag(values, 'demo');
    const out = resolve(optionalString(values, 'out') ?? './hpseg-demo');
    const json = values.json === true;
    const say = (line: string) => (json ? io.stderr : io.stdout).write(`${line}\n`);

    const backend = await selectBackend(backendChoice);
    say('hpseg demo: synthetic data + a small RANDOMLY initialised ViT (no download).');
    say(
      'Real results need DINO weights: `hpseg weights fetch vits8`, then `hpseg train --preset cocostuff27 ...`.',
    );
    const data = { ...DEMO_DATA, numClasses: intFlag(values, 'classes', 'demo', DEMO_DATA.numClasses, 2) };
    const specs = syntheticSpecs(seed, data);
    const config = await configFromFlags('synthetic', values);
    const runDir = join(out, 'run');
    const opened = await openRun(
      {
        config,
        preset: 'synthetic',
        dataset: specs.train,
        validation: null,
        backbone: { kind: 'random', config: { ...SYNTHETIC_VIT }, seed },
        seed,
        iterations,
      },
      runDir,
      {
        backbone: engineOptions(engine),
        versions: await cliVersions(),
        lossEngine: lossEngineFlag(values, 'demo'),
        matmulEngine: matmulEngineFlag(values, 'demo'),
        onEvent: trainReporter(io, { outDir: runDir, rates: loggedRates(config) }),
        ...(io.signal ? { signal: io.signal } : {}),
      },
    );
    try {
      const valSet = await openDataset(specs.val, 'val');
      const res = config.dataset.res;
      say(
        `data: ${data.length} train / ${data.valLength} val images ${res}x${res}, ${data.numClasses} classes; ViT dim ${SYNTHETIC_VIT.embedDim}, depth ${SYNTHETIC_VIT.depth}, patch ${SYNTHETIC_VIT.patchSize} (${engine}); TF.js backend ${backend}`,
      );
      const { models } = opened.trainer;
      // One clustering protocol for every line: seeded k-means on 64 training images, then the
      // validation pixels, Hungarian-matched (see baseline.ts).
      const clusterWith = (head: typeof models.head | undefined, keep: number) =>
        kmeansBaseline(featureFn(opened.backbone, head), opened.trainSet, valSet, {
          resolution: res,
          fitImages: 64,
          seed,
          keep,
        });
      const baseline = await clusterWith(undefined, SHOWN);
      // Control: the same clustering on the codes of the head as initialised (before any HP step), so
      // the output separates what the head's random projection does from what HP training does.
      const untrained = await clusterWith(models.head, 0);
      say(
        `baseline (k-means on raw ViT features): mIoU ${(100 * baseline.metrics.mIoU).toFixed(2)}; untrained head: mIoU ${(100 * untrained.metrics.mIoU).toFixed(2)}; training HP ...`,
      );
      const outcome = await opened.trainer.run();
      const shownPred: Int32Array[] = [];
      const shownImages: Uint8Array[] = [];
      const shownLabels: Int32Array[] = [];
      const hp = await evaluate(
        {
          backbone: opened.backbone,
          head: models.head,
          linearProbe: models.linearProbe,
          clusterProbe: models.clusterProbe,
        },
        valSet,
        {
          resolution: res,
          batchSize: 8,
          onBatch: ({ items, predictions, shape }) => {
            const per = shape[1] * shape[2];
            for (let b = 0; b < items.length && shownPred.length < SHOWN; b++) {
              shownPred.push(predictions.cluster.slice(b * per, (b + 1) * per));
              shownImages.push(items[b]!.image);
              shownLabels.push(items[b]!.label);
            }
          },
        },
      );
      // Same clustering as the baseline, on the trained head's codes: the apples-to-apples comparison.
      const hpKmeans = await clusterWith(models.head, SHOWN);
      const pngs: string[] = [];
      for (let i = 0; i < shownPred.length; i++) {
        const panel = hstack(
          [
            shownImages[i]!,
            colourise(shownLabels[i]!),
            colourise(matchColours(baseline.predictions[i]!, baseline.metrics.assignment)),
            colourise(matchColours(hpKmeans.predictions[i]!, hpKmeans.metrics.assignment)),
            colourise(matchColours(shownPred[i]!, hp.cluster.assignment)),
          ],
          res,
          res,
        );
        const path = join(out, `val-${i}.png`);
        await writeRgbPng(path, panel.rgb, res, panel.width);
        pngs.push(path);
      }
      const summary = {
        status: outcome.status,
        iterations: outcome.iteration,
        seconds: Math.round((performance.now() - started) / 1000),
        backend,
        engine,
        data,
        vit: SYNTHETIC_VIT,
        baseline: { mIoU: baseline.metrics.mIoU, accuracy: baseline.metrics.accuracy },
        untrainedHead: { kmeansMIoU: untrained.metrics.mIoU, kmeansAccuracy: untrained.metrics.accuracy },
        hp: {
          kmeansMIoU: hpKmeans.metrics.mIoU,
          kmeansAccuracy: hpKmeans.metrics.accuracy,
          clusterMIoU: hp.cluster.mIoU,
          clusterAccuracy: hp.cluster.accuracy,
          linearMIoU: hp.linear.mIoU,
          linearAccuracy: hp.linear.accuracy,
        },
        hpBeatsBaseline: hpKmeans.metrics.mIoU > baseline.metrics.mIoU,
        hpBeatsUntrainedHead: hpKmeans.metrics.mIoU > untrained.metrics.mIoU,
        hpClusterProbeBeatsBaseline: hp.cluster.mIoU > baseline.metrics.mIoU,
        firstLoss: outcome.losses[0]?.total ?? null,
        lastLoss: outcome.losses[outcome.losses.length - 1]?.total ?? null,
        pngs,
        checkpoint: outcome.lastCheckpoint,
        note: 'random ViT: numbers show the pipeline works, not what HP achieves; real results need DINO weights',
      };
      await writeJsonAtomic(join(out, 'summary.json'), summary);
      if (json) {
        io.stdout.write(`${JSON.stringify(summary)}\n`);
      } else {
        const row = (name: string, m: { mIoU: number; accuracy: number }) =>
          say(
            `  ${name.padEnd(52)} mIoU ${(100 * m.mIoU).toFixed(2).padStart(6)}   accuracy ${(100 * m.accuracy).toFixed(2).padStart(6)}`,
          );
        say(
          `results on ${data.valLength} validation images after ${outcome.iteration} HP iterations (Hungarian matching):`,
        );
        row('baseline: k-means on raw ViT features', baseline.metrics);
        row('control: same k-means on the UNTRAINED head codes', untrained.metrics);
        row('HP: same k-means on the trained head codes', hpKmeans.metrics);
        row('HP: official cluster probe (online, needs long runs)', hp.cluster);
        row('HP: linear probe (trained with labels, reference)', hp.linear);
        const points = (a: number, b: number) => `${(100 * (a - b)).toFixed(2)} mIoU points`;
        say(
          `HP codes ${summary.hpBeatsBaseline ? 'beat' : 'do NOT beat'} the raw-feature baseline (${points(hpKmeans.metrics.mIoU, baseline.metrics.mIoU)}) and ${summary.hpBeatsUntrainedHead ? 'beat' : 'do NOT beat'} the untrained head (${points(hpKmeans.metrics.mIoU, untrained.metrics.mIoU)}) with the same clustering.`,
        );
        say(`PNGs (image | ground truth | baseline | HP k-means | HP cluster probe): ${pngs.join(', ')}`);
        say(
          `summary: ${join(out, 'summary.json')}; checkpoint: ${outcome.lastCheckpoint}; ${summary.seconds} s`,
        );
      }
      return outcome.status === 'interrupted' ? (EXIT_CODES.E_INTERRUPTED as number) : EXIT_OK;
    } finally {
      await opened.dispose();
    }
  },
};
