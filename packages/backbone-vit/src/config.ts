import type { HostTensor, StateDict } from '@hpseg/core';
import { HpError } from '@hpseg/core';

/** Architecture of a DINO ViT. Every field except `numHeads` is read from tensor shapes. */
export interface VitConfig {
  /** Token width `C` (384 for ViT-S, 768 for ViT-B). */
  readonly embedDim: number;
  /** Number of transformer blocks (12 for DINO). */
  readonly depth: number;
  /** Attention heads. Not visible in any tensor shape; DINO models use head width 64. */
  readonly numHeads: number;
  /** Patch side `p` in pixels (8 or 16). */
  readonly patchSize: number;
  /** Side of the trained patch grid, `sqrt(N0)` (28 for p = 8 at 224 px, 14 for p = 16). */
  readonly trainedGrid: number;
  /** MLP hidden width / embedDim (4). */
  readonly mlpRatio: number;
}

/** Expected official DINO key names and PyTorch shapes for a config (the strict key set). */
export function vitKeyShapes(config: VitConfig): Map<string, number[]> {
  const C = config.embedDim;
  const p = config.patchSize;
  const hidden = C * config.mlpRatio;
  const out = new Map<string, number[]>([
    ['cls_token', [1, 1, C]],
    ['pos_embed', [1, 1 + config.trainedGrid * config.trainedGrid, C]],
    ['patch_embed.proj.weight', [C, 3, p, p]],
    ['patch_embed.proj.bias', [C]],
  ]);
  for (let l = 0; l < config.depth; l++) {
    const b = `blocks.${l}.`;
    out.set(`${b}norm1.weight`, [C]);
    out.set(`${b}norm1.bias`, [C]);
    out.set(`${b}attn.qkv.weight`, [3 * C, C]);
    out.set(`${b}attn.qkv.bias`, [3 * C]);
    out.set(`${b}attn.proj.weight`, [C, C]);
    out.set(`${b}attn.proj.bias`, [C]);
    out.set(`${b}norm2.weight`, [C]);
    out.set(`${b}norm2.bias`, [C]);
    out.set(`${b}mlp.fc1.weight`, [hidden, C]);
    out.set(`${b}mlp.fc1.bias`, [hidden]);
    out.set(`${b}mlp.fc2.weight`, [C, hidden]);
    out.set(`${b}mlp.fc2.bias`, [C]);
  }
  out.set('norm.weight', [C]);
  out.set('norm.bias', [C]);
  return out;
}

export interface InferVitConfigOptions {
  /** Heads cannot be read from shapes; default `embedDim / 64` (DINO's head width). */
  numHeads?: number;
}

function need(stateDict: StateDict, key: string, rank: number): HostTensor {
  const t = stateDict.get(key);
  if (t === undefined || t.shape.length !== rank) {
    throw new HpError(
      'E_CHECKPOINT',
      `inferVitConfig: cannot read the architecture: expected tensor '${key}' of rank ${rank}, got ${
        t === undefined ? 'no such key' : `shape [${t.shape.join(', ')}]`
      }. Is this a DINO ViT state dict with official key names (see normalizeBackboneKeys)?`,
      { details: { key, keys: [...stateDict.keys()].slice(0, 20) } },
    );
  }
  return t;
}

/** Reads the architecture of an official-named DINO ViT state dict from its tensor shapes. */
export function inferVitConfig(stateDict: StateDict, options: InferVitConfigOptions = {}): VitConfig {
  const proj = need(stateDict, 'patch_embed.proj.weight', 4);
  const pos = need(stateDict, 'pos_embed', 3);
  const fc1 = need(stateDict, 'blocks.0.mlp.fc1.weight', 2);
  const [embedDim, inChannels, kh, kw] = proj.shape as [number, number, number, number];
  if (inChannels !== 3 || kh !== kw) {
    throw new HpError(
      'E_CHECKPOINT',
      `inferVitConfig: patch_embed.proj.weight has the wrong shape: expected [C, 3, p, p], got [${proj.shape.join(', ')}]`,
    );
  }
  const n0 = pos.shape[1]! - 1;
  const trainedGrid = Math.round(Math.sqrt(n0));
  if (trainedGrid * trainedGrid !== n0 || pos.shape[2] !== embedDim) {
    throw new HpError(
      'E_CHECKPOINT',
      `inferVitConfig: pos_embed has the wrong shape: expected [1, 1 + g*g, ${embedDim}], got [${pos.shape.join(', ')}]`,
    );
  }
  let depth = 0;
  for (const key of stateDict.keys()) {
    const m = /^blocks\.(\d+)\./.exec(key);
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  const hidden = fc1.shape[0]!;
  if (hidden % embedDim !== 0) {
    throw new HpError(
      'E_CHECKPOINT',
      `inferVitConfig: blocks.0.mlp.fc1.weight has the wrong shape: expected [k*${embedDim}, ${embedDim}], got [${fc1.shape.join(', ')}]`,
    );
  }
  const numHeads = options.numHeads ?? embedDim / 64;
  if (!Number.isInteger(numHeads) || numHeads < 1 || embedDim % numHeads !== 0) {
    throw new HpError(
      'E_ARG',
      `inferVitConfig: numHeads is invalid: expected a divisor of embedDim ${embedDim}, got ${numHeads}. Pass { numHeads } for models whose head width is not 64`,
    );
  }
  return { embedDim, depth, numHeads, patchSize: kh, trainedGrid, mlpRatio: hidden / embedDim };
}

/** Throws `E_ARG` unless the config is self-consistent. */
export function assertVitConfig(fn: string, config: VitConfig): void {
  const fields: (keyof VitConfig)[] = [
    'embedDim',
    'depth',
    'numHeads',
    'patchSize',
    'trainedGrid',
    'mlpRatio',
  ];
  for (const f of fields) {
    const v = config[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new HpError(
        'E_ARG',
        `${fn}: config.${f} is invalid: expected a positive integer, got ${String(v)}`,
      );
    }
  }
  if (config.embedDim % config.numHeads !== 0) {
    throw new HpError(
      'E_ARG',
      `${fn}: config.numHeads is invalid: expected a divisor of embedDim ${config.embedDim}, got ${config.numHeads}`,
    );
  }
}
