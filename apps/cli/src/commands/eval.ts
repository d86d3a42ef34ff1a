import { join, resolve } from 'node:path';
import { HpError, selectBackend, writeFileAtomic, writeJsonAtomic } from '@hpseg/core';
import { type Dataset, encodeGrayPng, imageFolder } from '@hpseg/datasets';
import {
  computeMetrics,
  createConfusionMatrix,
  denseCrfBatch,
  formatReport,
  type SegmentationMetrics,
  toReportJson,
} from '@hpseg/eval';
import {
  evaluate,
  gitCommit,
  type InferenceModel,
  loadInferenceModel,
  openDataset,
  packageVersions,
  RUN_PRESETS,
  syntheticSpecs,
} from '@hpseg/train';
import { backendFlag, intFlag, optionalString, requireString } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../errors.js';
import { createProgress } from '../progress.js';
import { checkDataDir, inferenceModelFlags } from '../run-inputs.js';
import { cliVersions } from '../versions.js';
import { EVAL_SPEC } from './specs.js';

const EVAL_PRESETS = [...RUN_PRESETS, 'folder'] as const;

async function openEvalDataset(
  preset: (typeof EVAL_PRESETS)[number],
  dataDir: string | undefined,
  model: InferenceModel,
): Promise<Dataset> {
  if (preset === 'synthetic') {
    // Our runs record their validation set; otherwise the default synthetic validation set.
    if (model.validation) return openDataset(model.validation, 'val');
    return openDataset(syntheticSpecs(0, { numClasses: model.clusterProbe.nClusters }).val, 'val');
  }
  const dir = resolve(await checkDataDir(dataDir, 'eval'));
  if (preset === 'folder') {
    return imageFolder({
      images: join(dir, 'images'),
      labels: join(dir, 'labels'),
      numClasses: model.clusterProbe.nClusters,
      name: 'folder',
    });
  }
  return openDataset({ kind: 'preset', preset, dataDir: dir }, 'val');
}

function metricsLine(name: string, m: SegmentationMetrics): string {
  return `${name.padEnd(28)} mIoU ${(100 * m.mIoU).toFixed(2).padStart(6)}   accuracy ${(100 * m.accuracy).toFixed(2).padStart(6)}`;
}

export const evalCommand: Command = {
  spec: EVAL_SPEC,
  async execute({ values }, io) {
    const checkpoint = resolve(requireString(values, 'checkpoint', 'eval'));
    const presetValue = optionalString(values, 'preset');
    if (presetValue === undefined || !(EVAL_PRESETS as readonly string[]).includes(presetValue)) {
      throw new HpError(
        'E_ARG',
        `hpseg eval: ${presetValue === undefined ? 'missing --preset' : 'unknown preset'}: expected one of ${EVAL_PRESETS.join(', ')}, got ${presetValue === undefined ? 'none' : JSON.stringify(presetValue)}`,
        { hint: 'folder = <data-dir>/images + <data-dir>/labels (label PNGs, 255 = ignore)' },
      );
    }
    const preset = presetValue as (typeof EVAL_PRESETS)[number];
    const backend = backendFlag(values, 'eval');
    const resolution = intFlag(values, 'resolution', 'eval', 320, 8);
    const batchSize = intFlag(values, 'batch-size', 'eval', 8, 1);
    const limit = intFlag(values, 'limit', 'eval', 0, 0);
    const crf = values.crf === true;
    const savePredictions = optionalString(values, 'save-predictions');
    const dataDir = optionalString(values, 'data-dir');
    if (preset !== 'synthetic') await checkDataDir(dataDir, 'eval');
    await selectBackend(backend);
    const model = await loadInferenceModel(checkpoint, inferenceModelFlags(values, 'eval'));
    try {
      const dataset = await openEvalDataset(preset, dataDir, model);
      const K = model.clusterProbe.nClusters;
      const KL = model.linearProbe.nClasses;
      if (dataset.numClasses !== K || dataset.numClasses !== KL) {
        throw new HpError(
          'E_CHECKPOINT',
          `hpseg eval: checkpoint and dataset disagree: expected ${dataset.numClasses} clusters and classes (${dataset.name}), got cluster probe K=${K}, linear probe K=${KL}`,
          { hint: 'evaluate a checkpoint on the dataset it was trained for' },
        );
      }
      const total = limit > 0 ? Math.min(limit, dataset.length) : dataset.length;
      io.stderr.write(
        `evaluating ${model.description} on ${dataset.name} val (${total} images, ${resolution} px)\n`,
      );
      const progress = createProgress(io, 'eval', total, { unit: 'img' });
      const crfCluster = crf ? createConfusionMatrix({ numClasses: dataset.numClasses }) : null;
      const crfLinear = crf ? createConfusionMatrix({ numClasses: dataset.numClasses }) : null;
      const result = await evaluate(model, dataset, {
        resolution,
        batchSize,
        ...(limit > 0 ? { limit } : {}),
        scores: crf,
        ...(io.signal ? { signal: io.signal } : {}),
        onBatch: async ({ items, predictions, shape, labels }) => {
          const [B, H, W] = shape;
          const per = H * W;
          if (savePredictions) {
            for (let b = 0; b < B; b++) {
              const id = items[b]!.id.replace(/[^\w.-]+/g, '_');
              const toU8 = (p: Int32Array) => Uint8Array.from(p.subarray(b * per, (b + 1) * per));
              await writeFileAtomic(
                join(savePredictions, `${id}.cluster.png`),
                encodeGrayPng(toU8(predictions.cluster), H, W),
              );
              await writeFileAtomic(
                join(savePredictions, `${id}.linear.png`),
                encodeGrayPng(toU8(predictions.linear), H, W),
              );
            }
          }
          if (crf && crfCluster && crfLinear && predictions.clusterLogProbs && predictions.linearLogProbs) {
            const inputs = (scores: Float32Array, k: number) =>
              items.map((it, b) => ({
                image: it.image,
                height: H,
                width: W,
                scores: scores.subarray(b * per * k, (b + 1) * per * k),
                numLabels: k,
                input: 'logits' as const,
              }));
            const refinedC = await denseCrfBatch(inputs(predictions.clusterLogProbs, K));
            const refinedL = await denseCrfBatch(inputs(predictions.linearLogProbs, KL));
            for (const [b, r] of refinedC.entries())
              crfCluster.update(r.labels, labels.subarray(b * per, (b + 1) * per));
            for (const [b, r] of refinedL.entries())
              crfLinear.update(r.labels, labels.subarray(b * per, (b + 1) * per));
          }
          progress.tick(B);
        },
      });
      progress.done();
      if (io.signal?.aborted) {
        throw new HpError(
          'E_INTERRUPTED',
          'hpseg eval: interrupted: expected the whole evaluation set, got a partial pass (no report written)',
        );
      }
      const classNames = dataset.classNames.length === dataset.numClasses ? dataset.classNames : undefined;
      const protocol = {
        dataset: dataset.name,
        split: 'val',
        resolution,
        source: model.description,
        notes:
          'NEAREST resize of the shorter side + centre crop; code bilinearly upsampled (align_corners=False) before the probes',
      };
      const names = classNames ? { classNames } : {};
      const out: Record<string, unknown> = {
        format: 'hpseg-eval',
        checkpoint,
        versions: packageVersions(await cliVersions()),
        gitCommit: await gitCommit(),
        images: result.images,
        cluster: toReportJson(result.cluster, {
          ...names,
          title: 'cluster probe (unsupervised)',
          protocol: { ...protocol, crf: false },
        }),
        linear: toReportJson(result.linear, {
          ...names,
          title: 'linear probe',
          protocol: { ...protocol, crf: false },
        }),
      };
      const lines = [
        formatReport(result.cluster, {
          ...names,
          title: 'Unsupervised: cluster probe, Hungarian matching',
          protocol,
        }),
        formatReport(result.linear, { ...names, title: 'Linear probe (identity)', protocol }),
        'summary',
        metricsLine('cluster (no CRF)', result.cluster),
      ];
      if (crfCluster && crfLinear) {
        const c = computeMetrics(crfCluster, { matching: 'hungarian' });
        const l = computeMetrics(crfLinear, { matching: 'identity' });
        lines.push(metricsLine('cluster + CRF', c));
        out.clusterCrf = toReportJson(c, {
          ...names,
          title: 'cluster probe + dense CRF',
          protocol: { ...protocol, crf: true },
        });
        out.linearCrf = toReportJson(l, {
          ...names,
          title: 'linear probe + dense CRF',
          protocol: { ...protocol, crf: true },
        });
        lines.push(metricsLine('linear (no CRF)', result.linear), metricsLine('linear + CRF', l));
      } else {
        lines.push(metricsLine('linear (no CRF)', result.linear));
      }
      const reportPath = resolve(optionalString(values, 'out') ?? `${checkpoint}.eval.json`);
      await writeJsonAtomic(reportPath, out);
      if (values.json === true) io.stdout.write(`${JSON.stringify(out)}\n`);
      else io.stdout.write(`${lines.join('\n')}\nreport: ${reportPath}\n`);
      return EXIT_OK;
    } finally {
      await model.dispose();
    }
  },
};
