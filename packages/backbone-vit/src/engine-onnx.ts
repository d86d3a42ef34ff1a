import { HpError } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import type { InferenceSession } from 'onnxruntime-node';
import { checkImages, disposedError } from './input.js';
import { buildVitOnnx, ONNX_IO } from './onnx-graph.js';
import { interpolatePosEmbed } from './pos-embed.js';
import type { Backbone, BackboneOutput, ForwardOptions } from './types.js';
import type { VitHostWeights } from './weights.js';

type Ort = typeof import('onnxruntime-node');

export interface OnnxBackboneOptions {
  /** ONNX Runtime execution providers, e.g. `['cuda', 'cpu']` when the CUDA build is installed. Default `['cpu']`. */
  executionProviders?: string[];
  /** Intra-op threads. Default: the number of cores (`os.availableParallelism()`). */
  threads?: number;
  /** Graph operators (see `buildVitOnnx`). Default `'ort'`. */
  ops?: 'ort' | 'standard';
}

/** True when `error` says that `packageName` itself is not installed (not that it failed to load). */
function isPackageMissing(error: unknown, packageName: string): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(packageName);
}

/**
 * ONNX Runtime is an optional peer dependency (its install downloads nothing on CPU-only machines but
 * is large): loaded when the onnx engine is first used.
 */
export async function importOrt(
  load: () => Promise<unknown> = () => import('onnxruntime-node'),
): Promise<Ort> {
  let mod: Ort & { default?: Ort };
  try {
    mod = (await load()) as Ort & { default?: Ort };
  } catch (error) {
    const missing = isPackageMissing(error, 'onnxruntime-node');
    throw new HpError(
      'E_BACKEND',
      missing
        ? "loadBackbone: the onnx engine needs ONNX Runtime: expected the package onnxruntime-node (an optional peer dependency of @hpseg/backbone-vit), got none installed. Install it with `npm install onnxruntime-node`, or use { engine: 'tfjs' }"
        : `loadBackbone: the onnx engine is unavailable: expected onnxruntime-node to load, got ${(error as Error)?.message ?? String(error)}. Reinstall onnxruntime-node, or use { engine: 'tfjs' }`,
      { cause: error, hint: missing ? 'npm install onnxruntime-node' : "{ engine: 'tfjs' }" },
    );
  }
  return (mod.InferenceSession ? mod : mod.default) as Ort;
}

/**
 * The DINO ViT as an ONNX graph built in TypeScript, run by ONNX Runtime. One session, any batch and image
 * size (dynamic shapes); the interpolated positional embedding of each grid size is cached and fed as an input.
 */
export async function createOnnxBackbone(
  weights: VitHostWeights,
  options: OnnxBackboneOptions = {},
): Promise<Backbone> {
  const ort = await importOrt();
  const config = weights.config;
  const C = config.embedDim;
  const sessionOptions: InferenceSession.SessionOptions = {
    executionProviders: (options.executionProviders ?? [
      'cpu',
    ]) as InferenceSession.SessionOptions['executionProviders'],
    intraOpNumThreads: options.threads ?? (await import('node:os')).availableParallelism(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  // Keep only the trained positional embedding of the host weights (the rest may be garbage-collected).
  const trainedPosEmbed = weights.posEmbed;
  const posCache = new Map<string, Float32Array>();
  let disposed = false;
  // One graph with both outputs: fetching only the features costs the same as a features-only graph
  // (measured: 3268 vs 3191-3441 ms on a loaded 2-core machine), and one session holds the weights once.
  let session: InferenceSession;
  try {
    session = await ort.InferenceSession.create(
      buildVitOnnx(weights, { attentionOutput: true, ops: options.ops ?? 'ort' }),
      sessionOptions,
    );
  } catch (error) {
    throw new HpError(
      'E_BACKEND',
      `loadBackbone: ONNX Runtime refused the ViT graph: expected a session, got ${(error as Error).message}`,
      { cause: error },
    );
  }

  const posEmbedFor = (h: number, w: number): Float32Array => {
    const key = `${h}x${w}`;
    let pe = posCache.get(key);
    if (!pe) {
      pe = interpolatePosEmbed(trainedPosEmbed, config.trainedGrid, C, h, w);
      posCache.set(key, pe);
    }
    return pe;
  };

  const forward = async (images: tf.Tensor4D, opts: ForwardOptions = {}): Promise<BackboneOutput> => {
    if (disposed) throw disposedError();
    const { B, H, W, h, w, T } = checkImages('Backbone.forward', images, config);
    const attention = opts.attention === true;
    const pixels = (await images.data()) as Float32Array;
    const feeds = {
      [ONNX_IO.images]: new ort.Tensor('float32', pixels, [B, H, W, 3]),
      [ONNX_IO.posEmbed]: new ort.Tensor('float32', posEmbedFor(h, w), [1, T, C]),
    };
    const fetches = attention
      ? [ONNX_IO.patchTokens, ONNX_IO.clsToken, ONNX_IO.attentionLogits]
      : [ONNX_IO.patchTokens, ONNX_IO.clsToken];
    const result = await session.run(feeds, fetches);
    const data = (name: string) => result[name]!.data as Float32Array;
    const patchTokens = tf.tensor4d(data(ONNX_IO.patchTokens), [B, h, w, C]);
    const clsToken = tf.tensor2d(data(ONNX_IO.clsToken), [B, C]);
    if (!attention) return { patchTokens, clsToken };
    const attentionLogits = tf.tensor4d(data(ONNX_IO.attentionLogits), [B, config.numHeads, T, T]);
    return { patchTokens, clsToken, attentionLogits };
  };

  return {
    config,
    engine: 'onnx',
    forward,
    async dispose() {
      if (disposed) return;
      disposed = true;
      posCache.clear();
      await session.release();
    },
  };
}
