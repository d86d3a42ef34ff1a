import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  type HostTensor,
  HpError,
  loadSafetensorsFile,
  type StateDict,
  saveSafetensorsFile,
  writeJsonAtomic,
} from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { ClusterProbe } from './cluster-probe.js';
import { parseSegHeadConfig, type SegHeadConfig, type SegHeadConfigInput } from './config.js';
import { hostToTensor, tensorToHost } from './host.js';
import { LinearProbe } from './linear-probe.js';
import { ProjectionHead } from './projection-head.js';
import { SEG_HEAD_PARAM_NAMES, SegHead } from './seg-head.js';

/** Format tag written into the safetensors metadata and the JSON. */
export const HEAD_CHECKPOINT_FORMAT = 'hpseg-seg-head';
export const HEAD_CHECKPOINT_VERSION = 1;

export interface HeadCheckpoint {
  head: SegHead;
  momentumHead: SegHead;
  linearProbe: LinearProbe;
  clusterProbe: ClusterProbe;
  /** Training only; absent from official checkpoints. */
  projectionHead?: ProjectionHead;
  config: SegHeadConfig;
}

export interface SaveHeadCheckpointInput extends Omit<HeadCheckpoint, 'config'> {
  /** Widths are taken from the modules; anything given must agree with them. */
  config?: Partial<SegHeadConfigInput>;
}

/** `weights.safetensors` → `weights.json`. */
export function headConfigPathFor(path: string): string {
  return `${path.slice(0, -'.safetensors'.length)}.json`;
}

function checkPath(fn: string, path: string): void {
  if (!path.endsWith('.safetensors')) {
    throw new HpError(
      'E_ARG',
      `${fn}: bad path: expected a file name ending in .safetensors, got ${JSON.stringify(path)}`,
    );
  }
}

/**
 * Writes all head/probe weights to `path` (`.safetensors`, our layout: `[in, out]` weights,
 * keys `head.*`, `momentumHead.*`, `linearProbe.{weight,bias}`, `clusterProbe.clusters`,
 * `projectionHead.{weight,bias}`) and the config to the sibling `.json`. Both atomically.
 */
export async function saveHeadCheckpoint(
  path: string,
  input: SaveHeadCheckpointInput,
): Promise<{ weightsPath: string; configPath: string; config: SegHeadConfig }> {
  const fn = 'saveHeadCheckpoint';
  checkPath(fn, path);
  const { head, momentumHead, linearProbe, clusterProbe, projectionHead } = input;
  const derived = {
    inChannels: head.inChannels,
    dim: head.dim,
    nClasses: linearProbe.nClasses,
    nClusters: clusterProbe.nClusters,
    dropoutRate: head.dropoutRate,
  };
  const conflicts = Object.entries(derived)
    .filter(
      ([k, v]) =>
        input.config?.[k as keyof typeof derived] !== undefined &&
        input.config[k as keyof typeof derived] !== v,
    )
    .map(([k, v]) => `${k}: modules ${v}, config ${String(input.config?.[k as keyof typeof derived])}`);
  const widthProblems: string[] = [];
  if (momentumHead.inChannels !== head.inChannels || momentumHead.dim !== head.dim)
    widthProblems.push('momentumHead (C, D)');
  if (linearProbe.dim !== head.dim) widthProblems.push(`linearProbe D ${linearProbe.dim}`);
  if (clusterProbe.dim !== head.dim) widthProblems.push(`clusterProbe D ${clusterProbe.dim}`);
  if (projectionHead !== undefined && projectionHead.dim !== head.dim)
    widthProblems.push(`projectionHead D ${projectionHead.dim}`);
  if (conflicts.length + widthProblems.length > 0) {
    throw new HpError(
      'E_CONFIG',
      `${fn}: modules and config disagree: expected one (C, D) = (${head.inChannels}, ${head.dim}) throughout, got ${[...conflicts, ...widthProblems].join('; ')}`,
    );
  }
  const config = parseSegHeadConfig({ ...input.config, ...derived }, fn);
  const named: [string, tf.Tensor][] = [];
  for (const n of SEG_HEAD_PARAM_NAMES) named.push([`head.${n}`, head.params[n]]);
  for (const n of SEG_HEAD_PARAM_NAMES) named.push([`momentumHead.${n}`, momentumHead.params[n]]);
  named.push(
    ['linearProbe.weight', linearProbe.params.weight],
    ['linearProbe.bias', linearProbe.params.bias],
  );
  named.push(['clusterProbe.clusters', clusterProbe.params.clusters]);
  if (projectionHead !== undefined) {
    named.push(
      ['projectionHead.weight', projectionHead.params.weight],
      ['projectionHead.bias', projectionHead.params.bias],
    );
  }
  const tensors: StateDict = new Map();
  for (const [k, t] of named) tensors.set(k, await tensorToHost(t));
  const configPath = headConfigPathFor(path);
  await saveSafetensorsFile(path, tensors, {
    format: HEAD_CHECKPOINT_FORMAT,
    version: String(HEAD_CHECKPOINT_VERSION),
    layout: 'weights [in, out]; clusters [K, D]',
    config: JSON.stringify(config),
  });
  await writeJsonAtomic(configPath, {
    format: HEAD_CHECKPOINT_FORMAT,
    version: HEAD_CHECKPOINT_VERSION,
    weights: basename(path),
    config,
    keys: named.map(([k]) => k),
  });
  return { weightsPath: path, configPath, config };
}

/**
 * Reads a checkpoint written by `saveHeadCheckpoint` (strict: exactly the expected keys, exact
 * shapes; the projection head is optional). The config comes from the sibling `.json`.
 */
export async function loadHeadCheckpoint(path: string): Promise<HeadCheckpoint> {
  const fn = 'loadHeadCheckpoint';
  checkPath(fn, path);
  const configPath = headConfigPathFor(path);
  let json: { format?: unknown; version?: unknown; config?: unknown };
  try {
    json = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new HpError(
      code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_FORMAT',
      `${fn}: cannot read the config ${configPath}: expected the JSON written by saveHeadCheckpoint, got ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (json.format !== HEAD_CHECKPOINT_FORMAT || json.version !== HEAD_CHECKPOINT_VERSION) {
    throw new HpError(
      'E_FORMAT',
      `${fn}: ${configPath} is not a seg-head checkpoint config: expected format ${HEAD_CHECKPOINT_FORMAT} version ${HEAD_CHECKPOINT_VERSION}, got ${String(json.format)} version ${String(json.version)}`,
    );
  }
  const config = parseSegHeadConfig(json.config, fn);
  const { tensors } = await loadSafetensorsFile(path);
  const expected = [
    ...SEG_HEAD_PARAM_NAMES.map((n) => `head.${n}`),
    ...SEG_HEAD_PARAM_NAMES.map((n) => `momentumHead.${n}`),
    'linearProbe.weight',
    'linearProbe.bias',
    'clusterProbe.clusters',
  ];
  const optional = ['projectionHead.weight', 'projectionHead.bias'];
  const hasProjection = optional.some((k) => tensors.has(k));
  const required = hasProjection ? [...expected, ...optional] : expected;
  const missing = required.filter((k) => !tensors.has(k));
  const unexpected = [...tensors.keys()].filter((k) => !required.includes(k));
  if (missing.length + unexpected.length > 0) {
    throw new HpError(
      'E_CHECKPOINT',
      `${fn}: ${path} does not hold a seg-head checkpoint: expected exactly ${required.length} keys, got missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}]`,
      { details: { missing, unexpected } },
    );
  }
  const group = (prefix: string): Record<string, tf.Tensor> => {
    const out: Record<string, tf.Tensor> = {};
    for (const [k, h] of tensors)
      if (k.startsWith(prefix)) out[k.slice(prefix.length)] = hostToTensor(h as HostTensor);
    return out;
  };
  const built: Partial<HeadCheckpoint> = {};
  const temps: tf.Tensor[] = [];
  try {
    const take = (prefix: string) => {
      const g = group(prefix);
      temps.push(...Object.values(g));
      return g;
    };
    built.head = SegHead.fromWeights(take('head.'), { dropoutRate: config.dropoutRate });
    built.momentumHead = SegHead.fromWeights(take('momentumHead.'), {
      trainable: false,
      dropoutRate: config.dropoutRate,
    });
    built.linearProbe = LinearProbe.fromWeights(
      take('linearProbe.') as { weight: tf.Tensor; bias: tf.Tensor },
    );
    built.clusterProbe = ClusterProbe.fromWeights(take('clusterProbe.') as { clusters: tf.Tensor });
    if (hasProjection)
      built.projectionHead = ProjectionHead.fromWeights(
        take('projectionHead.') as { weight: tf.Tensor; bias: tf.Tensor },
      );
    const got = {
      inChannels: built.head.inChannels,
      dim: built.head.dim,
      nClasses: built.linearProbe.nClasses,
      nClusters: built.clusterProbe.nClusters,
    };
    const wrong = Object.entries(got).filter(([k, v]) => config[k as keyof typeof got] !== v);
    if (wrong.length > 0 || built.linearProbe.dim !== got.dim || built.clusterProbe.dim !== got.dim) {
      throw new HpError(
        'E_CHECKPOINT',
        `${fn}: weights and config disagree: expected the widths of ${configPath}, got ${wrong.map(([k, v]) => `${k} ${v} (config ${config[k as keyof typeof got]})`).join('; ') || 'probe widths differing from the head'}`,
      );
    }
    return { ...(built as Omit<HeadCheckpoint, 'config'>), config };
  } catch (error) {
    for (const m of Object.values(built)) (m as { dispose?: () => void } | undefined)?.dispose?.();
    throw error;
  } finally {
    tf.dispose(temps);
  }
}
