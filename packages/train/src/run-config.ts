import { join } from 'node:path';
import type { Backbone } from '@hpseg/backbone-vit';
import { HpError } from '@hpseg/core';
import type { HiddenPositiveLossEngine, HpConfig } from '@hpseg/hidden-positives';
import type { StepConfig } from './train-step.js';

/** Files of a run folder. */
export function runPaths(outDir: string) {
  return {
    last: join(outDir, 'checkpoints', 'last.safetensors'),
    best: join(outDir, 'checkpoints', 'best.safetensors'),
    config: join(outDir, 'config.json'),
    log: join(outDir, 'log.jsonl'),
  };
}

/** The step hyper-parameters of a resolved config (official keys in brackets in `StepConfig`). */
export function stepConfigFrom(config: HpConfig, lossEngine: HiddenPositiveLossEngine = 'auto'): StepConfig {
  return {
    lossEngine,
    dropoutRate: config.model.pretrained.dropout ? 0.1 : 0,
    momentum: config.model.momentum,
    temperature: config.temperature,
    negativeKeepRatio: config.negativeKeepRatio,
    consistencyWeight: config.consistencyWeight,
    gradNorm: config.train.gradNorm,
  };
}

/** Official options this port does not implement are refused (`E_CONFIG`), never silently ignored. */
export function checkSupported(config: HpConfig): void {
  const problems: string[] = [];
  if (config.model.pretrained.projectionType !== 'nonlinear') {
    problems.push(
      `model.pretrained.projectionType: expected 'nonlinear' (every official config), got '${config.model.pretrained.projectionType}'`,
    );
  }
  if (config.model.extraClusters !== 0 || config.eval.extraClusters !== 0) {
    problems.push('model.extraClusters / eval.extraClusters: expected 0 (every official config), got more');
  }
  if (config.dataset.cropType !== 'five' && config.dataset.dataType !== 'potsdam') {
    problems.push(
      `dataset.cropType: expected 'five' (training reads the five-crop set), got ${JSON.stringify(config.dataset.cropType)}`,
    );
  }
  if (config.dataset.cropRatio !== 0.5)
    problems.push(`dataset.cropRatio: expected 0.5, got ${config.dataset.cropRatio}`);
  if (problems.length > 0) {
    throw new HpError('E_CONFIG', `train: unsupported configuration: ${problems.join('; ')}`, {
      hint: 'these official options are fixed in every HP config; hpseg implements only those values',
    });
  }
}

/** Grid side h = w = res / patch, after checking that the backbone and the config agree (`E_CONFIG`). */
export function gridSizeOf(config: HpConfig, backbone: Backbone): number {
  const p = backbone.config.patchSize;
  if (config.model.pretrained.patchSize !== p || config.dataset.res % p !== 0) {
    throw new HpError(
      'E_CONFIG',
      `train: backbone and config disagree: expected model.pretrained.patchSize = ${p} (the weights' patch) and dataset.res a multiple of it, got patchSize ${config.model.pretrained.patchSize}, res ${config.dataset.res}`,
      { hint: 'set model.pretrained.patchSize / dataset.res in the config to match the weights' },
    );
  }
  return config.dataset.res / p;
}

/** Dotted paths where two JSON values differ, with both values. */
export function configDiff(a: unknown, b: unknown, path = ''): string[] {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) =>
      configDiff(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        path ? `${path}.${k}` : k,
      ),
    );
  }
  return JSON.stringify(a) === JSON.stringify(b)
    ? []
    : [`${path}: checkpoint ${JSON.stringify(a)}, given ${JSON.stringify(b)}`];
}
