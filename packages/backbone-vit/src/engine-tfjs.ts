import * as tf from '@tensorflow/tfjs-core';
import { checkImages, disposedError } from './input.js';
import { interpolatePosEmbed } from './pos-embed.js';
import type { Backbone, BackboneOutput, ForwardOptions } from './types.js';
import type { VitHostWeights } from './weights.js';

const LN_EPS = 1e-6;

/** One head's projections, `[C, hd]` kernels cut from the qkv kernel (q pre-scaled). */
interface HeadTensors {
  q: tf.Tensor2D;
  qBias: tf.Tensor1D;
  k: tf.Tensor2D;
  kBias: tf.Tensor1D;
  v: tf.Tensor2D;
  vBias: tf.Tensor1D;
}

interface BlockTensors {
  norm1Weight: tf.Tensor1D;
  norm1Bias: tf.Tensor1D;
  heads: HeadTensors[];
  projKernel: tf.Tensor2D;
  projBias: tf.Tensor1D;
  norm2Weight: tf.Tensor1D;
  norm2Bias: tf.Tensor1D;
  fc1Kernel: tf.Tensor2D;
  fc1Bias: tf.Tensor1D;
  fc2Kernel: tf.Tensor2D;
  fc2Bias: tf.Tensor1D;
}

/** LayerNorm over the last axis of `[N, C]`. */
function layerNorm(x: tf.Tensor2D, weight: tf.Tensor1D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true); // [N, 1]
    const xc = tf.sub(x, mean);
    const variance = tf.mean(tf.square(xc), -1, true);
    return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, LN_EPS))), weight), bias) as tf.Tensor2D;
  });
}

/** Exact GELU, `0.5·x·(1 + erf(x/√2))`. */
function gelu(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)) as tf.Tensor2D);
}

function linear(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: kernel, bias }) as tf.Tensor2D;
}

/** Every worker's k and v rows of one block, given this worker's: `[n, hd]` per head in, `[T, hd]` per head out. */
type GatherKeysValues = (
  k: readonly tf.Tensor2D[],
  v: readonly tf.Tensor2D[],
) => { k: readonly tf.Tensor2D[]; v: readonly tf.Tensor2D[] };

/**
 * Row-parallel execution of one image (engine-tfjs-workers.ts): this worker computes the token rows
 * `[start, end)` of every layer, and `gather` exchanges the keys and values each block needs from the others.
 */
export interface RowExchange {
  readonly start: number;
  readonly end: number;
  gather(block: number, k: readonly tf.Tensor2D[], v: readonly tf.Tensor2D[]): ReturnType<GatherKeysValues>;
}

/**
 * Multi-head self-attention of one image, `ln` `[n, C]` (the query rows) → `[n, C]` (before the output
 * projection); keys and values of all `T` rows come from `gather` when the rows are split across workers.
 * Each head projects q, k, v with its own `[C, hd]` kernel rather than slicing a `[T, 3C]` product:
 * TF.js wasm copies a slice's whole input out of the heap (18 slices of `[T, 3C]` per block took 17% of the
 * forward), and it sends a matmul to XNNPACK only when both operands are 2-D and untransposed by flag, so
 * keys are transposed explicitly.
 */
function attention(
  ln: tf.Tensor2D,
  heads: readonly HeadTensors[],
  keepLogits: boolean,
  gather?: GatherKeysValues,
): { out: tf.Tensor2D; logits?: tf.Tensor3D } {
  const qs = heads.map((head) => linear(ln, head.q, head.qBias)); // [n, hd], pre-scaled
  const own = {
    k: heads.map((head) => linear(ln, head.k, head.kBias)), // [n, hd]
    v: heads.map((head) => linear(ln, head.v, head.vBias)), // [n, hd]
  };
  const all = gather ? gather(own.k, own.v) : own;
  const outs: tf.Tensor2D[] = [];
  const logitsPerHead: tf.Tensor2D[] = [];
  qs.forEach((q, i) => {
    const logits = tf.matMul(q, tf.transpose(all.k[i]!)) as tf.Tensor2D; // [n, T]
    if (keepLogits) logitsPerHead.push(logits);
    outs.push(tf.matMul(tf.softmax(logits), all.v[i]!)); // [n, hd]
  });
  const out = tf.concat(outs, 1); // [n, C]
  return keepLogits ? { out, logits: tf.stack(logitsPerHead) as tf.Tensor3D } : { out };
}

/** One pre-norm block on `[n, C]` token rows of one image. */
function block(
  x: tf.Tensor2D,
  w: BlockTensors,
  keepLogits: boolean,
  gather?: GatherKeysValues,
): { x: tf.Tensor2D; logits?: tf.Tensor3D } {
  const r = tf.tidy(() => {
    const a = attention(layerNorm(x, w.norm1Weight, w.norm1Bias), w.heads, keepLogits, gather);
    const x1 = tf.add(x, linear(a.out, w.projKernel, w.projBias)) as tf.Tensor2D;
    const hidden = gelu(linear(layerNorm(x1, w.norm2Weight, w.norm2Bias), w.fc1Kernel, w.fc1Bias));
    const next = tf.add(x1, linear(hidden, w.fc2Kernel, w.fc2Bias)) as tf.Tensor2D;
    return a.logits ? [next, a.logits] : [next];
  });
  return r[1] ? { x: r[0] as tf.Tensor2D, logits: r[1] as tf.Tensor3D } : { x: r[0] as tf.Tensor2D };
}

/** Columns `[from, from + n)` of a row-major `[rows, cols]` matrix. */
function columns(data: Float32Array, rows: number, cols: number, from: number, n: number): Float32Array {
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * cols + from, r * cols + from + n), r * n);
  return out;
}

/** The tfjs backbone, plus the row-parallel entry its worker threads use. */
export interface TfjsBackbone extends Backbone {
  forwardImage(
    image: tf.Tensor4D,
    keepLogits: boolean,
    rows?: RowExchange,
  ): { tokens: tf.Tensor2D; logits?: tf.Tensor3D };
}

/** The DINO ViT on TF.js ops (any backend). Weights are plain tensors, never variables. */
export function createTfjsBackbone(weights: VitHostWeights): TfjsBackbone {
  const config = weights.config;
  const C = config.embedDim;
  const p = config.patchSize;
  const hidden = C * config.mlpRatio;
  const hd = C / config.numHeads;
  const t1 = (a: Float32Array) => tf.tensor1d(a);
  const patchKernel = tf.tensor4d(weights.patchKernelHWIO, [p, p, 3, C]);
  const patchBias = t1(weights.patchBias);
  const clsToken = tf.tensor2d(weights.clsToken, [1, C]);
  const normWeight = t1(weights.normWeight);
  const normBias = t1(weights.normBias);
  const blocks: BlockTensors[] = weights.blocks.map((b) => ({
    norm1Weight: t1(b.norm1Weight),
    norm1Bias: t1(b.norm1Bias),
    heads: Array.from({ length: config.numHeads }, (_, head) => {
      const part = (which: number): [tf.Tensor2D, tf.Tensor1D] => {
        const from = which * C + head * hd;
        return [
          tf.tensor2d(columns(b.qkvKernel, C, 3 * C, from, hd), [C, hd]),
          t1(b.qkvBias.subarray(from, from + hd)),
        ];
      };
      const [q, qBias] = part(0);
      const [k, kBias] = part(1);
      const [v, vBias] = part(2);
      return { q, qBias, k, kBias, v, vBias };
    }),
    projKernel: tf.tensor2d(b.projKernel, [C, C]),
    projBias: t1(b.projBias),
    norm2Weight: t1(b.norm2Weight),
    norm2Bias: t1(b.norm2Bias),
    fc1Kernel: tf.tensor2d(b.fc1Kernel, [C, hidden]),
    fc1Bias: t1(b.fc1Bias),
    fc2Kernel: tf.tensor2d(b.fc2Kernel, [hidden, C]),
    fc2Bias: t1(b.fc2Bias),
  }));
  /** Interpolated positional embeddings `[T, C]`, one per patch grid. */
  // Keep only the trained positional embedding of the host weights (the rest may be garbage-collected).
  const trainedPosEmbed = weights.posEmbed;
  const posCache = new Map<string, tf.Tensor2D>();
  let disposed = false;

  const posEmbedFor = (h: number, w: number): tf.Tensor2D => {
    const key = `${h}x${w}`;
    let t = posCache.get(key);
    if (!t) {
      const data = interpolatePosEmbed(trainedPosEmbed, config.trainedGrid, C, h, w);
      t = tf.tensor2d(data, [1 + h * w, C]);
      posCache.set(key, t);
    }
    return t;
  };

  /**
   * One image `[1, H, W, 3]` → final-normed tokens `[T, C]` (CLS first) and, if asked, the last block's logits
   * `[heads, T, T]`; with `rows`, only the token rows `[start, end)` (`[n, C]` and `[heads, n, T]`).
   */
  const forwardImage = (
    image: tf.Tensor4D,
    keepLogits: boolean,
    rows?: RowExchange,
  ): { tokens: tf.Tensor2D; logits?: tf.Tensor3D } => {
    const [, H, W] = image.shape;
    const h = H / p;
    const w = W / p;
    const pos = posEmbedFor(h, w);
    let x = tf.tidy(() => {
      const patches = tf.reshape(tf.add(tf.conv2d(image, patchKernel, p, 'valid'), patchBias), [h * w, C]);
      const all = tf.add(tf.concat([clsToken, patches], 0), pos) as tf.Tensor2D; // [T, C]
      return rows ? tf.slice(all, [rows.start, 0], [rows.end - rows.start, C]) : all;
    });
    let logits: tf.Tensor3D | undefined;
    try {
      for (let l = 0; l < blocks.length; l++) {
        const gather: GatherKeysValues | undefined = rows ? (k, v) => rows.gather(l, k, v) : undefined;
        const r = block(x, blocks[l]!, keepLogits && l === blocks.length - 1, gather);
        x.dispose();
        x = r.x;
        if (r.logits) logits = r.logits;
      }
      const tokens = layerNorm(x, normWeight, normBias);
      return logits ? { tokens, logits } : { tokens };
    } catch (error) {
      logits?.dispose();
      throw error;
    } finally {
      x.dispose();
    }
  };

  /**
   * Images run one at a time: the linear layers lose nothing at `T` rows (XNNPACK is as fast per row), the
   * attention is per image anyway, and the wasm heap (at most 4 GiB) only ever holds one image's activations.
   */
  const forward = async (images: tf.Tensor4D, options: ForwardOptions = {}): Promise<BackboneOutput> => {
    if (disposed) throw disposedError();
    const { B, H, W, h, w } = checkImages('Backbone.forward', images, config);
    const keepLogits = options.attention === true;
    const tokens: tf.Tensor2D[] = [];
    const logits: tf.Tensor3D[] = [];
    try {
      for (let b = 0; b < B; b++) {
        const image = B === 1 ? images : (tf.slice(images, [b, 0, 0, 0], [1, H, W, 3]) as tf.Tensor4D);
        try {
          const r = forwardImage(image, keepLogits);
          tokens.push(r.tokens);
          if (r.logits) logits.push(r.logits);
        } finally {
          if (image !== images) image.dispose();
        }
        // Let other work (timers, I/O, Ctrl-C) run between images.
        if (B > 1) await new Promise<void>((resolve) => setTimeout(resolve, 0));
      }
      return tf.tidy(() => {
        const y = tf.stack(tokens) as tf.Tensor3D; // [B, T, C]
        const out: BackboneOutput = {
          patchTokens: tf.reshape(tf.slice(y, [0, 1, 0], [B, h * w, C]), [B, h, w, C]) as tf.Tensor4D,
          clsToken: tf.reshape(tf.slice(y, [0, 0, 0], [B, 1, C]), [B, C]) as tf.Tensor2D,
        };
        if (keepLogits) out.attentionLogits = tf.stack(logits) as tf.Tensor4D;
        return out as unknown as tf.TensorContainer;
      }) as unknown as BackboneOutput;
    } finally {
      tf.dispose(tokens);
      tf.dispose(logits);
    }
  };

  return {
    config,
    engine: 'tfjs',
    forward,
    forwardImage(image, keepLogits, rows) {
      if (disposed) throw disposedError();
      return forwardImage(image, keepLogits, rows);
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      tf.dispose([patchKernel, patchBias, clsToken, normWeight, normBias]);
      for (const { heads, ...rest } of blocks) {
        tf.dispose(Object.values(rest));
        for (const head of heads) tf.dispose(Object.values(head));
      }
      tf.dispose([...posCache.values()]);
      posCache.clear();
    },
  };
}
