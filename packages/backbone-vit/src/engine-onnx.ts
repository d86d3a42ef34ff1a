import { availableParallelism } from 'node:os';
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
}

async function importOrt(): Promise<Ort> {
  try {
    const mod = (await import('onnxruntime-node')) as Ort & { default?: Ort };
    return (mod.InferenceSession ? mod : mod.default) as Ort;
  } catch (error) {
    throw new HpError(
      'E_BACKEND',
      `loadBackbone: the onnx engine is unavailable: expected onnxruntime-node to load, got ${(error as Error).message}. Use { engine: 'tfjs' } or install onnxruntime-node`,
      { cause: error },
    );
  }
}

/**
 * The DINO ViT as an ONNX graph built in TypeScript, run by ONNX Runtime. Two sessions at most (with and
 * without the attention-logits output), created on first use; both accept any batch and image size.
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
    intraOpNumThreads: options.threads ?? availableParallelism(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  const sessions = new Map<boolean, Promise<InferenceSession>>();
  const posCache = new Map<string, Float32Array>();
  let disposed = false;

  const session = (attention: boolean): Promise<InferenceSession> => {
    let s = sessions.get(attention);
    if (!s) {
      s = (async () => {
        const model = buildVitOnnx(weights, { attentionOutput: attention });
        try {
          return await ort.InferenceSession.create(model, sessionOptions);
        } catch (error) {
          throw new HpError(
            'E_BACKEND',
            `loadBackbone: ONNX Runtime refused the ViT graph: expected a session, got ${(error as Error).message}`,
            { cause: error },
          );
        }
      })();
      sessions.set(attention, s);
    }
    return s;
  };

  const posEmbedFor = (h: number, w: number): Float32Array => {
    const key = `${h}x${w}`;
    let pe = posCache.get(key);
    if (!pe) {
      pe = interpolatePosEmbed(weights.posEmbed, config.trainedGrid, C, h, w);
      posCache.set(key, pe);
    }
    return pe;
  };

  // Build the common session now so loading errors surface in loadBackbone.
  await session(false);

  const forward = async (images: tf.Tensor4D, opts: ForwardOptions = {}): Promise<BackboneOutput> => {
    if (disposed) throw disposedError();
    const { B, H, W, h, w, T } = checkImages('Backbone.forward', images, config);
    const attention = opts.attention === true;
    const s = await session(attention);
    const pixels = (await images.data()) as Float32Array;
    const feeds = {
      [ONNX_IO.images]: new ort.Tensor('float32', pixels, [B, H, W, 3]),
      [ONNX_IO.posEmbed]: new ort.Tensor('float32', posEmbedFor(h, w), [1, T, C]),
    };
    const fetches = attention
      ? [ONNX_IO.patchTokens, ONNX_IO.clsToken, ONNX_IO.attentionLogits]
      : [ONNX_IO.patchTokens, ONNX_IO.clsToken];
    const result = await s.run(feeds, fetches);
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
      const all = [...sessions.values()];
      sessions.clear();
      posCache.clear();
      for (const s of all) await (await s).release();
    },
  };
}
