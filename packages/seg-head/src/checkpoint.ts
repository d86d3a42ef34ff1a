import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { HpError, loadSafetensorsFile, saveSafetensorsFile, writeJsonAtomic } from '@hpseg/core';
import { parseSegHeadConfig, type SegHeadConfig, type SegHeadConfigInput } from './config.js';
import {
  disposeHeadModules,
  type HeadModules,
  headModulesFromStateDict,
  headModulesToStateDict,
} from './state-dict.js';

/** Format tag written into the safetensors metadata and the JSON. */
export const HEAD_CHECKPOINT_FORMAT = 'hpseg-seg-head';
export const HEAD_CHECKPOINT_VERSION = 1;

/** The modules of a head checkpoint and their config (widths, dropout rate, `extra`). */
export interface HeadCheckpoint extends HeadModules {
  readonly config: SegHeadConfig;
}

export interface SaveHeadCheckpointInput extends HeadModules {
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
 * Writes all head/probe weights to `path` (`.safetensors` in the layout of `headModulesToStateDict`:
 * `[in, out]` weights, keys `head.*`, `momentumHead.*`, `linearProbe.{weight,bias}`, `clusterProbe.clusters`,
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
  const tensors = await headModulesToStateDict(input);
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
    keys: [...tensors.keys()],
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
  const built = headModulesFromStateDict(tensors, { dropoutRate: config.dropoutRate, source: path });
  try {
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
    return { ...built, config };
  } catch (error) {
    disposeHeadModules(built);
    throw error;
  }
}
