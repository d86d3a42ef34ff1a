import type { Backbone } from '@hpseg/backbone-vit';
import { HpError } from '@hpseg/core';
import { localPositiveWeights } from '@hpseg/hidden-positives';
import * as tf from '@tensorflow/tfjs-core';
import type { HostBatch } from './train-data.js';

/** Backbone features of the training loop: computed online, or read from a feature cache. */
export interface FeatureSource {
  /** Whether `TrainData.load` must produce the augmented view's pixels. */
  readonly needsAugImages: boolean;
  /** Main view: `[B, h, w, C]` tokens and `[B, P, 9]` LHP weights (from the last block's attention). */
  main(batch: HostBatch): Promise<{ feat: tf.Tensor4D; lhp: tf.Tensor3D }>;
  /** Tokens only (reference pools). */
  plain(batch: HostBatch): Promise<tf.Tensor4D>;
  /** Augmented view tokens, or null when the consistency term is off. */
  augmented(batch: HostBatch, iteration: number): Promise<tf.Tensor4D | null>;
}

/** What a feature-source factory is given when a run opens. */
export interface FeatureSourceContext {
  readonly backbone: Backbone;
  readonly gridSize: number;
  /** α > 0: the augmented view is needed. */
  readonly consistency: boolean;
  readonly seed: number;
}

export type FeatureSourceFactory = (ctx: FeatureSourceContext) => Promise<FeatureSource>;

/** Patch tokens `[B, h, w, C]` of ImageNet-normalised `[B, H, W, 3]` pixels, without attention. */
export async function patchTokens(
  backbone: Backbone,
  images: Float32Array,
  shape: HostBatch['shape'],
): Promise<tf.Tensor4D> {
  const input = tf.tensor4d(images, [shape[0], shape[1], shape[2], 3]);
  try {
    const out = await backbone.forward(input);
    out.clsToken.dispose();
    return out.patchTokens;
  } finally {
    input.dispose();
  }
}

/**
 * Tokens and LHP weights of ImageNet-normalised pixels: the backbone with its last block's attention,
 * turned into sparse `[B, P, 9]` weights at once and freed (official-behaviour §3.7).
 */
export async function tokensWithLocalPositives(
  backbone: Backbone,
  images: Float32Array,
  shape: HostBatch['shape'],
  gridSize: number,
): Promise<{ feat: tf.Tensor4D; lhp: tf.Tensor3D }> {
  const input = tf.tensor4d(images, [shape[0], shape[1], shape[2], 3]);
  try {
    const out = await backbone.forward(input, { attention: true });
    out.clsToken.dispose();
    const attention = out.attentionLogits;
    if (!attention) {
      out.patchTokens.dispose();
      throw new HpError(
        'E_BACKEND',
        `tokensWithLocalPositives: the ${backbone.engine} backbone returned no attention: expected last-block attention logits, got none`,
      );
    }
    try {
      return { feat: out.patchTokens, lhp: localPositiveWeights(attention, { gridSize }) };
    } catch (error) {
      out.patchTokens.dispose();
      throw error;
    } finally {
      attention.dispose();
    }
  } finally {
    input.dispose();
  }
}

/** Backbone features computed online for every batch (main view with attention, augmented view without). */
export function onlineFeatures(backbone: Backbone, gridSize: number, consistency: boolean): FeatureSource {
  return {
    needsAugImages: consistency,
    main: (batch) => tokensWithLocalPositives(backbone, batch.images, batch.shape, gridSize),
    plain: (batch) => patchTokens(backbone, batch.images, batch.shape),
    async augmented(batch) {
      if (!consistency || !batch.augImages) return null;
      return patchTokens(backbone, batch.augImages, batch.shape);
    },
  };
}

/** The default factory: `onlineFeatures` of the run's backbone. */
export const online: FeatureSourceFactory = async (ctx) =>
  onlineFeatures(ctx.backbone, ctx.gridSize, ctx.consistency);
