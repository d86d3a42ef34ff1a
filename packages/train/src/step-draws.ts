import { deriveSeed } from '@hpseg/core';
import { drawDropout2dMask } from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';

/**
 * The Dropout2d keep-masks of one official training step, `[B, 1, 1, channels]` float 0/1 (1 = kept),
 * before the `1/(1−p)` scaling. Numbers refer to the seven draws of the official training forward
 * (official-behaviour §3.1); the augmented view's head forward draws two more.
 */
export interface DropoutMasks {
  /** #1: input of the head's linear branch (`cluster1`), C channels. */
  readonly headCluster1: tf.Tensor4D;
  /** #3: input of the head's non-linear branch (`cluster2`), C channels. */
  readonly headCluster2: tf.Tensor4D;
  /** #2: input of the momentum head's linear branch, C channels. */
  readonly momentumCluster1: tf.Tensor4D;
  /** #4: input of the momentum head's non-linear branch, C channels. */
  readonly momentumCluster2: tf.Tensor4D;
  /** #5: `out[0] = Drop(f)`, the backbone features that select task-agnostic positives, C channels. */
  readonly features: tf.Tensor4D;
  /** #6: `out[2] = Drop(code_ema)`, the momentum-head output that selects task-specific positives, D channels. */
  readonly momentumOutput: tf.Tensor4D;
  /** #7: `out[3] = Drop(s_mix)`, the LHP-mixed head output, D channels. */
  readonly mix: tf.Tensor4D;
  /** Augmented view (`net_model(img_aug)`, module in train mode): the head's two branch inputs, C channels. */
  readonly augCluster1: tf.Tensor4D;
  readonly augCluster2: tf.Tensor4D;
}

/** Every random draw of one training step, passed in explicitly so a test can replay a reference's draws. */
export interface StepDraws {
  /** null: no dropout (the official `pretrained.dropout = false`, p = 0). */
  readonly dropout: DropoutMasks | null;
  /**
   * The ρ-sampled negatives R of `hiddenPositiveLoss` (`loss.py:186-188`): its seed, or the `[P, N]`
   * 0/1 mask itself; null when ρ = 1 (every token is a negative).
   */
  readonly negatives: { readonly seed: number } | { readonly mask: tf.Tensor2D } | null;
}

/** Sizes a step's draws depend on. */
export interface StepDrawSizes {
  /** Images B. */
  readonly batch: number;
  /** Backbone width C. */
  readonly inChannels: number;
  /** Head width D. */
  readonly dim: number;
}

/**
 * The draws of iteration `t` of a run with seed `seed`, keyed by (seed, purpose, t) so that a resumed
 * run replays exactly the draws of an uninterrupted one. Each branch of a head draws its own mask
 * (seed for `cluster1`, seed + 1 for `cluster2`, as `SegHead.forward({ seed })`). The purpose labels
 * (`'ema'`, `'ema-out'` for the momentum head) are those of earlier releases, so their runs replay.
 */
export function drawStepRandomness(
  seed: number,
  t: number,
  sizes: StepDrawSizes,
  config: { readonly dropoutRate: number; readonly negativeKeepRatio: number },
): StepDraws {
  const negatives = config.negativeKeepRatio < 1 ? { seed: deriveSeed(seed, 'negatives', t) } : null;
  const rate = config.dropoutRate;
  if (rate === 0) return { dropout: null, negatives };
  const s = (k: string) => deriveSeed(seed, 'dropout', t, k);
  const { batch: B, inChannels: C, dim: D } = sizes;
  const draw = (channels: number, key: string, offset = 0) =>
    drawDropout2dMask(B, channels, rate, s(key) + offset);
  return {
    dropout: {
      headCluster1: draw(C, 'head'),
      headCluster2: draw(C, 'head', 1),
      momentumCluster1: draw(C, 'ema'),
      momentumCluster2: draw(C, 'ema', 1),
      features: draw(C, 'feat'),
      momentumOutput: draw(D, 'ema-out'),
      mix: draw(D, 'mix'),
      augCluster1: draw(C, 'aug-head'),
      augCluster2: draw(C, 'aug-head', 1),
    },
    negatives,
  };
}

/** Disposes the mask tensors of `draws` (an injected negative mask included). */
export function disposeStepDraws(draws: StepDraws): void {
  if (draws.dropout) tf.dispose(Object.values(draws.dropout));
  if (draws.negatives && 'mask' in draws.negatives) draws.negatives.mask.dispose();
}
