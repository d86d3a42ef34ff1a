import type { HostTensor, StateDict } from '@hpseg/core';
import type { VitConfig } from './config.js';

/** One transformer block in engine layout: linear kernels are `[in, out]` (PyTorch `[out, in]` transposed). */
export interface BlockHostWeights {
  readonly norm1Weight: Float32Array; // [C]
  readonly norm1Bias: Float32Array; // [C]
  /** `[C, 3C]`, columns q | k | v; the q columns are pre-multiplied by head_dim^-0.5. */
  readonly qkvKernel: Float32Array;
  readonly qkvBias: Float32Array; // [3C], q part pre-scaled
  readonly projKernel: Float32Array; // [C, C]
  readonly projBias: Float32Array; // [C]
  readonly norm2Weight: Float32Array; // [C]
  readonly norm2Bias: Float32Array; // [C]
  readonly fc1Kernel: Float32Array; // [C, 4C]
  readonly fc1Bias: Float32Array; // [4C]
  readonly fc2Kernel: Float32Array; // [4C, C]
  readonly fc2Bias: Float32Array; // [C]
}

/** All weights of a checked ViT state dict, converted once to the layouts both engines use. */
export interface VitHostWeights {
  readonly config: VitConfig;
  /** PyTorch conv layout `[C, 3, p, p]` (ONNX Conv uses it as-is). */
  readonly patchKernelOIHW: Float32Array;
  /** TF.js conv2d layout `[p, p, 3, C]`. */
  readonly patchKernelHWIO: Float32Array;
  readonly patchBias: Float32Array; // [C]
  readonly clsToken: Float32Array; // [C]
  /** `[1 + g*g, C]`, CLS row first. */
  readonly posEmbed: Float32Array;
  readonly blocks: readonly BlockHostWeights[];
  readonly normWeight: Float32Array; // [C]
  readonly normBias: Float32Array; // [C]
}

function f32(t: HostTensor): Float32Array {
  return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
}

/** `[rows, cols]` → `[cols, rows]`. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c]!;
  }
  return out;
}

/** `[O, I, kh, kw]` → `[kh, kw, I, O]`. */
function oihwToHwio(data: Float32Array, o: number, i: number, k: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let oo = 0; oo < o; oo++)
    for (let ii = 0; ii < i; ii++)
      for (let y = 0; y < k; y++)
        for (let x = 0; x < k; x++)
          out[((y * k + x) * i + ii) * o + oo] = data[((oo * i + ii) * k + y) * k + x]!;
  return out;
}

/** Converts an official-named, strictly checked state dict (see `checkBackboneStateDict`). */
export function toVitHostWeights(stateDict: StateDict, config: VitConfig): VitHostWeights {
  const get = (key: string): Float32Array => f32(stateDict.get(key)!);
  const C = config.embedDim;
  const hidden = C * config.mlpRatio;
  const scale = (C / config.numHeads) ** -0.5;
  const blocks: BlockHostWeights[] = [];
  for (let l = 0; l < config.depth; l++) {
    const b = `blocks.${l}.`;
    const qkvKernel = transpose2d(get(`${b}attn.qkv.weight`), 3 * C, C); // [C, 3C]
    for (let r = 0; r < C; r++) for (let c = 0; c < C; c++) qkvKernel[r * 3 * C + c]! *= scale;
    const qkvBias = get(`${b}attn.qkv.bias`).slice();
    for (let c = 0; c < C; c++) qkvBias[c]! *= scale;
    blocks.push({
      norm1Weight: get(`${b}norm1.weight`),
      norm1Bias: get(`${b}norm1.bias`),
      qkvKernel,
      qkvBias,
      projKernel: transpose2d(get(`${b}attn.proj.weight`), C, C),
      projBias: get(`${b}attn.proj.bias`),
      norm2Weight: get(`${b}norm2.weight`),
      norm2Bias: get(`${b}norm2.bias`),
      fc1Kernel: transpose2d(get(`${b}mlp.fc1.weight`), hidden, C),
      fc1Bias: get(`${b}mlp.fc1.bias`),
      fc2Kernel: transpose2d(get(`${b}mlp.fc2.weight`), C, hidden),
      fc2Bias: get(`${b}mlp.fc2.bias`),
    });
  }
  const patch = get('patch_embed.proj.weight');
  return {
    config,
    patchKernelOIHW: patch,
    patchKernelHWIO: oihwToHwio(patch, C, 3, config.patchSize),
    patchBias: get('patch_embed.proj.bias'),
    clsToken: get('cls_token'),
    posEmbed: get('pos_embed'),
    blocks,
    normWeight: get('norm.weight'),
    normBias: get('norm.bias'),
  };
}
