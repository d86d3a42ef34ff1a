import { availableParallelism } from 'node:os';
import {
  type Backbone,
  type BackboneEngine,
  type LoadBackboneOptions,
  loadBackbone,
  randomVitWeights,
  type VitConfig,
} from '@hpseg/backbone-vit';
import { HpError } from '@hpseg/core';
import { localPositiveWeights } from '@hpseg/hidden-positives';
import * as tf from '@tensorflow/tfjs-core';
import type { BackboneSpec } from './train/checkpoint.js';
import type { HostBatch } from './train/data.js';
import type { FeatureSource } from './train/loop.js';

/**
 * Engine tuning from the environment, for every backbone the CLI loads:
 * - `HPSEG_ORT_PROVIDERS` (onnx engine): ONNX Runtime execution providers, e.g. `cuda,cpu` with the CUDA
 *   build of onnxruntime-node installed; default CPU.
 * - `HPSEG_TFJS_WORKERS` (tfjs engine): run the backbone on this many worker threads, each with its own
 *   TF.js wasm backend; `0` keeps it in the main thread. Default: one worker per core when the selected
 *   backend is wasm and there are several cores (TF.js wasm uses one thread per backend in Node), else 0.
 */
export function engineOptions(engine: BackboneEngine): LoadBackboneOptions {
  const options: LoadBackboneOptions = { engine };
  const providers = process.env.HPSEG_ORT_PROVIDERS;
  if (engine === 'onnx' && providers) {
    options.executionProviders = providers
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }
  const workers = process.env.HPSEG_TFJS_WORKERS;
  if (engine === 'tfjs' && workers) {
    if (!/^\d+$/.test(workers.trim())) {
      throw new HpError(
        'E_ARG',
        `hpseg: bad HPSEG_TFJS_WORKERS: expected a whole number of worker threads, got ${JSON.stringify(workers)}`,
      );
    }
    options.workers = Number(workers.trim());
  } else if (engine === 'tfjs' && tf.getBackend() === 'wasm' && availableParallelism() > 1) {
    options.workers = availableParallelism();
  }
  return options;
}

/** Opens the frozen backbone a spec describes (a weights file, or seeded random weights for demos/tests). */
export async function openBackbone(spec: BackboneSpec, engine: BackboneEngine): Promise<Backbone> {
  if (spec.kind === 'file') {
    return loadBackbone(spec.path, {
      ...engineOptions(engine),
      ...(spec.numHeads ? { numHeads: spec.numHeads } : {}),
    });
  }
  const config = spec.config as unknown as VitConfig;
  return loadBackbone(randomVitWeights(config, spec.seed), {
    ...engineOptions(engine),
    numHeads: config.numHeads,
  });
}

function batchTensor(images: Float32Array, shape: HostBatch['shape']): tf.Tensor4D {
  return tf.tensor4d(images, [shape[0], shape[1], shape[2], 3]);
}

/** Patch tokens `[B, h, w, C]` of normalised images, without attention. */
async function patchTokensOf(
  backbone: Backbone,
  images: Float32Array,
  shape: HostBatch['shape'],
): Promise<tf.Tensor4D> {
  const input = batchTensor(images, shape);
  try {
    const out = await backbone.forward(input);
    out.clsToken.dispose();
    return out.patchTokens;
  } finally {
    input.dispose();
  }
}

/**
 * Backbone features computed online for every batch: the main view with its last-block attention
 * (turned into sparse LHP weights at once, then freed), the augmented view without attention.
 */
export function onlineFeatures(backbone: Backbone, gridSize: number, consistency: boolean): FeatureSource {
  return {
    needsAugImages: consistency,
    async main(batch) {
      const input = batchTensor(batch.images, batch.shape);
      try {
        const out = await backbone.forward(input, { attention: true });
        out.clsToken.dispose();
        const attention = out.attentionLogits;
        if (!attention) throw new Error('backbone returned no attention logits');
        const lhp = localPositiveWeights(attention, { gridSize });
        attention.dispose();
        return { feat: out.patchTokens, lhp };
      } finally {
        input.dispose();
      }
    },
    plain: (batch) => patchTokensOf(backbone, batch.images, batch.shape),
    async augmented(batch) {
      if (!consistency || !batch.augImages) return null;
      return patchTokensOf(backbone, batch.augImages, batch.shape);
    },
  };
}
