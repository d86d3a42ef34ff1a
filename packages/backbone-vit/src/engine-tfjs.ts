import * as tf from '@tensorflow/tfjs-core';
import type { VitConfig } from './config.js';
import { checkImages, disposedError } from './input.js';
import { interpolatePosEmbed } from './pos-embed.js';
import type { Backbone, BackboneOutput, ForwardOptions } from './types.js';
import type { VitHostWeights } from './weights.js';

const LN_EPS = 1e-6;

interface BlockTensors {
  norm1Weight: tf.Tensor1D;
  norm1Bias: tf.Tensor1D;
  qkvKernel: tf.Tensor2D;
  qkvBias: tf.Tensor1D;
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

/**
 * Multi-head self-attention of one image. `qkv` is `[T, 3C]` (q pre-scaled). All matmuls are 2-D and
 * untransposed by flag (keys are transposed explicitly): TF.js wasm only sends those to XNNPACK.
 */
function attentionOneImage(
  qkv: tf.Tensor2D,
  heads: number,
  C: number,
  keepLogits: boolean,
): { out: tf.Tensor2D; logits?: tf.Tensor3D } {
  const T = qkv.shape[0];
  const hd = C / heads;
  const outs: tf.Tensor2D[] = [];
  const logitsPerHead: tf.Tensor2D[] = [];
  for (let head = 0; head < heads; head++) {
    const q = tf.slice(qkv, [0, head * hd], [T, hd]); // [T, hd]
    const kT = tf.transpose(tf.slice(qkv, [0, C + head * hd], [T, hd])); // [hd, T]
    const v = tf.slice(qkv, [0, 2 * C + head * hd], [T, hd]); // [T, hd]
    const logits = tf.matMul(q, kT) as tf.Tensor2D; // [T, T]
    if (keepLogits) logitsPerHead.push(logits);
    outs.push(tf.matMul(tf.softmax(logits), v)); // [T, hd]
  }
  const out = tf.concat(outs, 1); // [T, C]
  return keepLogits ? { out, logits: tf.stack(logitsPerHead) as tf.Tensor3D } : { out };
}

/** One pre-norm block on `[B*T, C]`; per-image attention in its own scope. */
function block(
  x: tf.Tensor2D,
  w: BlockTensors,
  config: VitConfig,
  B: number,
  T: number,
  keepLogits: boolean,
): { x: tf.Tensor2D; logits?: tf.Tensor4D } {
  const C = config.embedDim;
  const qkv = tf.tidy(() => linear(layerNorm(x, w.norm1Weight, w.norm1Bias), w.qkvKernel, w.qkvBias)); // [B*T, 3C]
  const attnOuts: tf.Tensor2D[] = [];
  const logits: tf.Tensor3D[] = [];
  try {
    for (let b = 0; b < B; b++) {
      const r = tf.tidy(() => {
        const res = attentionOneImage(tf.slice(qkv, [b * T, 0], [T, 3 * C]), config.numHeads, C, keepLogits);
        return res.logits ? [res.out, res.logits] : [res.out];
      });
      attnOuts.push(r[0] as tf.Tensor2D);
      if (r[1]) logits.push(r[1] as tf.Tensor3D);
    }
    const next = tf.tidy(() => {
      const attn = B === 1 ? attnOuts[0]! : tf.concat(attnOuts, 0); // [B*T, C]
      const x1 = tf.add(x, linear(attn as tf.Tensor2D, w.projKernel, w.projBias)) as tf.Tensor2D;
      const hidden = gelu(linear(layerNorm(x1, w.norm2Weight, w.norm2Bias), w.fc1Kernel, w.fc1Bias));
      return tf.add(x1, linear(hidden, w.fc2Kernel, w.fc2Bias)) as tf.Tensor2D;
    });
    const stacked = keepLogits ? (tf.stack(logits) as tf.Tensor4D) : undefined; // [B, heads, T, T]
    return stacked ? { x: next, logits: stacked } : { x: next };
  } finally {
    qkv.dispose();
    tf.dispose(attnOuts);
    tf.dispose(logits);
  }
}

/** The DINO ViT on TF.js ops (any backend). Weights are plain tensors, never variables. */
export function createTfjsBackbone(weights: VitHostWeights): Backbone {
  const config = weights.config;
  const C = config.embedDim;
  const p = config.patchSize;
  const hidden = C * config.mlpRatio;
  const t1 = (a: Float32Array) => tf.tensor1d(a);
  const patchKernel = tf.tensor4d(weights.patchKernelHWIO, [p, p, 3, C]);
  const patchBias = t1(weights.patchBias);
  const clsToken = tf.tensor3d(weights.clsToken, [1, 1, C]);
  const normWeight = t1(weights.normWeight);
  const normBias = t1(weights.normBias);
  const blocks: BlockTensors[] = weights.blocks.map((b) => ({
    norm1Weight: t1(b.norm1Weight),
    norm1Bias: t1(b.norm1Bias),
    qkvKernel: tf.tensor2d(b.qkvKernel, [C, 3 * C]),
    qkvBias: t1(b.qkvBias),
    projKernel: tf.tensor2d(b.projKernel, [C, C]),
    projBias: t1(b.projBias),
    norm2Weight: t1(b.norm2Weight),
    norm2Bias: t1(b.norm2Bias),
    fc1Kernel: tf.tensor2d(b.fc1Kernel, [C, hidden]),
    fc1Bias: t1(b.fc1Bias),
    fc2Kernel: tf.tensor2d(b.fc2Kernel, [hidden, C]),
    fc2Bias: t1(b.fc2Bias),
  }));
  /** Interpolated positional embeddings `[1, T, C]`, one per patch grid. */
  // Keep only the trained positional embedding of the host weights (the rest may be garbage-collected).
  const trainedPosEmbed = weights.posEmbed;
  const posCache = new Map<string, tf.Tensor3D>();
  let disposed = false;

  const posEmbedFor = (h: number, w: number): tf.Tensor3D => {
    const key = `${h}x${w}`;
    let t = posCache.get(key);
    if (!t) {
      const data = interpolatePosEmbed(trainedPosEmbed, config.trainedGrid, C, h, w);
      t = tf.tensor3d(data, [1, 1 + h * w, C]);
      posCache.set(key, t);
    }
    return t;
  };

  const forward = async (images: tf.Tensor4D, options: ForwardOptions = {}): Promise<BackboneOutput> => {
    if (disposed) throw disposedError();
    const { B, h, w, T } = checkImages('Backbone.forward', images, config);
    const pos = posEmbedFor(h, w);
    let x = tf.tidy(() => {
      const patches = tf.conv2d(images, patchKernel, p, 'valid'); // [B, h, w, C]
      const tokens = tf.reshape(tf.add(patches, patchBias), [B, h * w, C]); // [B, h*w, C]
      const cls = tf.tile(clsToken, [B, 1, 1]); // [B, 1, C]
      return tf.reshape(tf.add(tf.concat([cls, tokens], 1), pos), [B * T, C]) as tf.Tensor2D; // [B*T, C]
    });
    let logits: tf.Tensor4D | undefined;
    try {
      for (let l = 0; l < blocks.length; l++) {
        const last = l === blocks.length - 1;
        const r = block(x, blocks[l]!, config, B, T, last && options.attention === true);
        x.dispose();
        x = r.x;
        if (r.logits) logits = r.logits;
      }
      const [patchTokens, clsOut] = tf.tidy(() => {
        const y = tf.reshape(layerNorm(x, normWeight, normBias), [B, T, C]); // [B, T, C]
        const cls = tf.reshape(tf.slice(y, [0, 0, 0], [B, 1, C]), [B, C]); // [B, C]
        const patch = tf.reshape(tf.slice(y, [0, 1, 0], [B, h * w, C]), [B, h, w, C]); // [B, h, w, C]
        return [patch as tf.Tensor4D, cls as tf.Tensor2D];
      });
      return logits
        ? { patchTokens: patchTokens!, clsToken: clsOut!, attentionLogits: logits }
        : { patchTokens: patchTokens!, clsToken: clsOut! };
    } catch (error) {
      logits?.dispose();
      throw error;
    } finally {
      x.dispose();
    }
  };

  return {
    config,
    engine: 'tfjs',
    forward,
    async dispose() {
      if (disposed) return;
      disposed = true;
      tf.dispose([patchKernel, patchBias, clsToken, normWeight, normBias]);
      for (const b of blocks) tf.dispose(Object.values(b));
      tf.dispose([...posCache.values()]);
      posCache.clear();
    },
  };
}
