import type * as tf from '@tensorflow/tfjs-core';
import type { VitConfig } from './config.js';

export type BackboneEngine = 'onnx' | 'tfjs';

export interface ForwardOptions {
  /** Also return the last block's pre-softmax attention logits (large: B·heads·(1+hw)² floats). */
  attention?: boolean;
}

/** What one forward pass returns. The caller owns (and disposes) these tensors. */
export interface BackboneOutput {
  /** `[B, h, w, C]`: last block tokens after the final LayerNorm, CLS dropped. */
  patchTokens: tf.Tensor4D;
  /** `[B, C]`: the CLS token after the final LayerNorm. */
  clsToken: tf.Tensor2D;
  /** `[B, heads, 1+h·w, 1+h·w]`: last block `q·kᵀ·head_dim^-0.5` before softmax (token 0 = CLS). */
  attentionLogits?: tf.Tensor4D;
}

/** A frozen DINO ViT. */
export interface Backbone {
  readonly config: VitConfig;
  readonly engine: BackboneEngine;
  /** `images`: ImageNet-normalised `[B, H, W, 3]` float32, H and W multiples of the patch size. */
  forward(images: tf.Tensor4D, options?: ForwardOptions): Promise<BackboneOutput>;
  /** Frees every weight tensor, cached positional embedding and ONNX Runtime session. */
  dispose(): Promise<void>;
}
