import {
  type HostTensor,
  HpError,
  isHostTensor,
  loadPthFile,
  type PthValue,
  type StateDict,
} from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { ClusterProbe } from './cluster-probe.js';
import { parseSegHeadConfig, type SegHeadConfig } from './config.js';
import { convWeightToInOut, hostToTensor } from './host.js';
import { LinearProbe } from './linear-probe.js';
import { OFFICIAL_BACKBONE_PREFIX, OFFICIAL_HEAD_KEYS, type OfficialKeyRule } from './official-keys.js';
import { SegHead } from './seg-head.js';

export interface OfficialHpImport {
  head: SegHead;
  momentumHead: SegHead;
  linearProbe: LinearProbe;
  clusterProbe: ClusterProbe;
  /** Widths inferred from the shapes (C, D, K, clusters). */
  config: SegHeadConfig;
  /** The frozen ViT's `model.*` entries of `net_model_state_dict`, untouched (keys keep `model.`). */
  backbone: StateDict;
  /** `epoch`, `iter`, `best_epoch`, `best_iter`, `best` of the checkpoint, when they are numbers. */
  meta: Record<string, number>;
}

const SECTIONS = ['net_model_state_dict', 'linear_model_state_dict', 'cluster_model_state_dict'] as const;

function expectedShape(rule: OfficialKeyRule, w: { C: number; D: number; K: number; Kc: number }): number[] {
  const letters: Record<string, number> = { C: w.C, D: w.D, K: rule.target === 'clusterProbe' ? w.Kc : w.K };
  return rule.torchShape
    .slice(1, -1)
    .split(',')
    .map((s) => s.trim())
    .map((s) => (s in letters ? letters[s]! : Number(s)));
}

/**
 * Imports the head, momentum head, linear probe and cluster probe of an official HP `ckpt.pth`
 * (`torch.save` of `net_model_state_dict`, `linear_model_state_dict`, `cluster_model_state_dict`,
 * official-behaviour §4.5), given its path or the value `readPth`/`loadPthFile` returned. Widths
 * come from the shapes. Strict: every head/probe key must be present with its shape and no other
 * non-backbone key may appear, else one `E_CHECKPOINT` lists all problems. The `model.*`
 * backbone entries are returned untouched for @hpseg/backbone-vit.
 */
export async function importOfficialHpCheckpoint(pathOrPth: string | PthValue): Promise<OfficialHpImport> {
  const value = typeof pathOrPth === 'string' ? await loadPthFile(pathOrPth) : pathOrPth;
  return importOfficialHpValue(value);
}

function importOfficialHpValue(value: PthValue): OfficialHpImport {
  const fn = 'importOfficialHpCheckpoint';
  if (!(value instanceof Map)) {
    throw new HpError(
      'E_FORMAT',
      `${fn}: not an HP checkpoint: expected a dict with ${SECTIONS.join(', ')}, got ${typeof value}`,
    );
  }
  const missing: string[] = [];
  const unexpected: string[] = [];
  const misShaped: string[] = [];
  const sections = new Map<string, Map<string, HostTensor>>();
  for (const s of SECTIONS) {
    const sec = value.get(s);
    if (!(sec instanceof Map)) {
      missing.push(`${s} (whole section)`);
      continue;
    }
    const flat = new Map<string, HostTensor>();
    for (const [k, v] of sec) if (isHostTensor(v)) flat.set(String(k), v);
    sections.set(s, flat);
  }
  const backbone: StateDict = new Map();
  for (const [k, v] of sections.get('net_model_state_dict') ?? [])
    if (k.startsWith(OFFICIAL_BACKBONE_PREFIX)) backbone.set(k, v);
  for (const [s, flat] of sections) {
    const known = new Set(OFFICIAL_HEAD_KEYS.filter((r) => r.section === s).map((r) => r.key));
    for (const k of flat.keys()) {
      if (!known.has(k) && !(s === 'net_model_state_dict' && k.startsWith(OFFICIAL_BACKBONE_PREFIX)))
        unexpected.push(`${s}.${k}`);
    }
  }
  const get = (r: OfficialKeyRule) => sections.get(r.section)?.get(r.key);
  for (const r of OFFICIAL_HEAD_KEYS)
    if (sections.has(r.section) && get(r) === undefined) missing.push(`${r.section}.${r.key}`);
  // widths from the shapes: cluster1.0.weight [D, C, 1, 1], linear weight [K, D, 1, 1], clusters [Kc, D]
  const w1 = sections.get('net_model_state_dict')?.get('cluster1.0.weight');
  const lw = sections.get('linear_model_state_dict')?.get('weight');
  const cc = sections.get('cluster_model_state_dict')?.get('clusters');
  const widths = {
    D: w1?.shape[0] ?? -1,
    C: w1?.shape[1] ?? -1,
    K: lw?.shape[0] ?? -1,
    Kc: cc?.shape[0] ?? -1,
  };
  for (const r of OFFICIAL_HEAD_KEYS) {
    const h = get(r);
    if (h === undefined) continue;
    const want = expectedShape(r, widths);
    if (h.shape.join(',') !== want.join(',')) {
      misShaped.push(
        `${r.section}.${r.key} [${h.shape.join(', ')}] (expected ${r.torchShape} = [${want.join(', ')}])`,
      );
    }
  }
  if (missing.length + unexpected.length + misShaped.length > 0) {
    throw new HpError(
      'E_CHECKPOINT',
      `${fn}: checkpoint does not match the HP head and probes: expected the ${OFFICIAL_HEAD_KEYS.length} keys of official-behaviour §4.5 with C = ${widths.C}, D = ${widths.D}, K = ${widths.K}, got missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}], mis-shaped [${misShaped.join('; ')}]`,
      { details: { missing, unexpected, misShaped } },
    );
  }
  const parts: Record<string, Record<string, tf.Tensor>> = {
    head: {},
    momentumHead: {},
    linearProbe: {},
    clusterProbe: {},
  };
  const temps: tf.Tensor[] = [];
  const built: Partial<OfficialHpImport> = {};
  try {
    for (const r of OFFICIAL_HEAD_KEYS) {
      const h = get(r)!;
      const t =
        r.transform === 'conv1x1' ? convWeightToInOut(h, fn, `${r.section}.${r.key}`) : hostToTensor(h);
      temps.push(t);
      parts[r.target]![r.param] = t;
    }
    built.head = SegHead.fromWeights(parts.head!);
    built.momentumHead = SegHead.fromWeights(parts.momentumHead!, { trainable: false });
    built.linearProbe = LinearProbe.fromWeights(parts.linearProbe as { weight: tf.Tensor; bias: tf.Tensor });
    built.clusterProbe = ClusterProbe.fromWeights(parts.clusterProbe as { clusters: tf.Tensor });
  } catch (error) {
    for (const m of Object.values(built)) (m as { dispose?: () => void }).dispose?.();
    throw error;
  } finally {
    tf.dispose(temps);
  }
  const meta: Record<string, number> = {};
  for (const k of ['epoch', 'iter', 'best_epoch', 'best_iter', 'best']) {
    const v = value.get(k);
    if (typeof v === 'number') meta[k] = v;
  }
  const config = parseSegHeadConfig(
    { inChannels: widths.C, dim: widths.D, nClasses: widths.K, nClusters: widths.Kc },
    fn,
  );
  return { ...(built as Omit<OfficialHpImport, 'config' | 'backbone' | 'meta'>), config, backbone, meta };
}
