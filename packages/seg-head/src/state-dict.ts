import { type HostTensor, HpError, type StateDict } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { ClusterProbe } from './cluster-probe.js';
import { hostToTensor, tensorToHost } from './host.js';
import { LinearProbe } from './linear-probe.js';
import { ProjectionHead } from './projection-head.js';
import { SEG_HEAD_PARAM_NAMES, SegHead } from './seg-head.js';

/**
 * The trainable modules of HP besides the frozen backbone, by their one name each: the head S, the
 * momentum head S′, the linear probe, the cluster probe and (training only) the projection head Z.
 */
export interface HeadModules {
  readonly head: SegHead;
  readonly momentumHead: SegHead;
  readonly linearProbe: LinearProbe;
  readonly clusterProbe: ClusterProbe;
  /** Training only; absent from official checkpoints and from inference-only files. */
  readonly projectionHead?: ProjectionHead;
}

/** The module names, in key order. Every key of a head state dict is `<module>.<parameter>`. */
export const HEAD_MODULE_NAMES = [
  'head',
  'momentumHead',
  'linearProbe',
  'clusterProbe',
  'projectionHead',
] as const;
export type HeadModuleName = (typeof HEAD_MODULE_NAMES)[number];

/** Parameter names of each module (our layout: weights `[in, out]`, clusters `[K, D]`). */
export const HEAD_MODULE_PARAMS: Readonly<Record<HeadModuleName, readonly string[]>> = {
  head: SEG_HEAD_PARAM_NAMES,
  momentumHead: SEG_HEAD_PARAM_NAMES,
  linearProbe: ['weight', 'bias'],
  clusterProbe: ['clusters'],
  projectionHead: ['weight', 'bias'],
};

/** Every key a head state dict holds, `<module>.<parameter>`, the projection head's only when asked. */
export function headStateDictKeys(withProjection: boolean): string[] {
  return HEAD_MODULE_NAMES.filter((m) => withProjection || m !== 'projectionHead').flatMap((m) =>
    HEAD_MODULE_PARAMS[m].map((p) => `${m}.${p}`),
  );
}

/**
 * The weights of `modules` as a state dict in the one key layout of hpseg (`head.cluster1.0.weight`,
 * `momentumHead.…`, `linearProbe.{weight,bias}`, `clusterProbe.clusters`, `projectionHead.{weight,bias}`),
 * shared by `saveHeadCheckpoint` and the training runs of @hpseg/train. Reads are asynchronous.
 */
export async function headModulesToStateDict(modules: HeadModules): Promise<StateDict> {
  const out: StateDict = new Map();
  for (const m of HEAD_MODULE_NAMES) {
    const module = modules[m];
    if (module === undefined) continue;
    const params = module.params as Readonly<Record<string, tf.Tensor>>;
    for (const p of HEAD_MODULE_PARAMS[m]) out.set(`${m}.${p}`, await tensorToHost(params[p]!));
  }
  return out;
}

export interface HeadModulesFromStateDictOptions {
  /** Dropout2d rate of the heads in training mode (official 0.1). */
  readonly dropoutRate?: number;
  /** `true`: `projectionHead.*` must be present (resuming training); `false`: ignored. Default: read if present. */
  readonly projection?: boolean;
  /** Keys of `sd` outside the head layout that belong to the caller (e.g. `optimizer.`): skipped, not refused. */
  readonly otherPrefixes?: readonly string[];
  /** Names the source in messages. */
  readonly source?: string;
}

/**
 * Rebuilds the modules from a state dict in the layout of `headModulesToStateDict` (strict: every key
 * with its shape, no unknown key outside `otherPrefixes`; one `E_CHECKPOINT` lists all problems).
 * Never invents weights: a missing projection head is an error when `projection` is `true`.
 */
export function headModulesFromStateDict(
  sd: StateDict,
  options: HeadModulesFromStateDictOptions = {},
): HeadModules {
  const fn = 'headModulesFromStateDict';
  const source = options.source ?? 'state dict';
  const withProjection =
    options.projection ?? HEAD_MODULE_PARAMS.projectionHead.some((p) => sd.has(`projectionHead.${p}`));
  const required = headStateDictKeys(withProjection);
  const known = new Set(headStateDictKeys(true));
  const missing = required.filter((k) => !sd.has(k));
  const unexpected = [...sd.keys()].filter(
    (k) => !known.has(k) && !(options.otherPrefixes ?? []).some((p) => k.startsWith(p)),
  );
  if (missing.length + unexpected.length > 0) {
    const hint =
      options.projection === true && missing.some((k) => k.startsWith('projectionHead.'))
        ? 'the projection head is needed to resume training; hpseg never replaces missing weights by random ones'
        : undefined;
    throw new HpError(
      'E_CHECKPOINT',
      `${fn}: ${source} does not hold the HP head modules: expected the ${required.length} keys ${required.length > 6 ? `head.*, momentumHead.*, linearProbe.*, clusterProbe.*${withProjection ? ', projectionHead.*' : ''}` : required.join(', ')}, got missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}]`,
      { details: { missing, unexpected }, ...(hint ? { hint } : {}) },
    );
  }
  const temps: tf.Tensor[] = [];
  const group = (m: HeadModuleName): Record<string, tf.Tensor> => {
    const out: Record<string, tf.Tensor> = {};
    for (const p of HEAD_MODULE_PARAMS[m]) {
      const t = hostToTensor(sd.get(`${m}.${p}`) as HostTensor);
      temps.push(t);
      out[p] = t;
    }
    return out;
  };
  const built: { -readonly [K in keyof HeadModules]?: HeadModules[K] } = {};
  try {
    const rate = options.dropoutRate === undefined ? {} : { dropoutRate: options.dropoutRate };
    built.head = SegHead.fromWeights(group('head'), rate);
    built.momentumHead = SegHead.fromWeights(group('momentumHead'), { trainable: false, ...rate });
    built.linearProbe = LinearProbe.fromWeights(
      group('linearProbe') as { weight: tf.Tensor; bias: tf.Tensor },
    );
    built.clusterProbe = ClusterProbe.fromWeights(group('clusterProbe') as { clusters: tf.Tensor });
    if (withProjection) {
      built.projectionHead = ProjectionHead.fromWeights(
        group('projectionHead') as { weight: tf.Tensor; bias: tf.Tensor },
      );
    }
    const h = built.head;
    const widths: string[] = [];
    if (built.momentumHead.inChannels !== h.inChannels || built.momentumHead.dim !== h.dim)
      widths.push(`momentumHead (C, D) = (${built.momentumHead.inChannels}, ${built.momentumHead.dim})`);
    if (built.linearProbe.dim !== h.dim) widths.push(`linearProbe D ${built.linearProbe.dim}`);
    if (built.clusterProbe.dim !== h.dim) widths.push(`clusterProbe D ${built.clusterProbe.dim}`);
    if (built.projectionHead !== undefined && built.projectionHead.dim !== h.dim)
      widths.push(`projectionHead D ${built.projectionHead.dim}`);
    if (widths.length > 0) {
      throw new HpError(
        'E_CHECKPOINT',
        `${fn}: ${source}: module widths disagree: expected (C, D) = (${h.inChannels}, ${h.dim}) throughout, got ${widths.join('; ')}`,
      );
    }
    return built as HeadModules;
  } catch (error) {
    disposeHeadModules(built);
    throw error;
  } finally {
    tf.dispose(temps);
  }
}

/** Disposes every module present. */
export function disposeHeadModules(modules: Partial<HeadModules>): void {
  for (const m of HEAD_MODULE_NAMES) modules[m]?.dispose();
}
