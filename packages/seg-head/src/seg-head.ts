import { assertInt, assertNumber, assertShape, HpError } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { type DropoutDraw, dropout2d } from './dropout2d.js';
import { subSeed, torchDefaultUniform } from './init.js';
import { dense, denseConstantInput } from './linear.js';
import { copyToVariable, type ParamMap } from './params.js';

/** Parameter names of the head, as in the official `DinoFeaturizer` (`cluster2.1` is the ReLU). */
export const SEG_HEAD_PARAM_NAMES = [
  'cluster1.0.weight',
  'cluster1.0.bias',
  'cluster2.0.weight',
  'cluster2.0.bias',
  'cluster2.2.weight',
  'cluster2.2.bias',
] as const;
export type SegHeadParamName = (typeof SEG_HEAD_PARAM_NAMES)[number];

/** Shapes in our layout (`[in, out]`, transposed from PyTorch's `[out, in, 1, 1]`). */
export function segHeadParamShapes(inChannels: number, dim: number): Record<SegHeadParamName, number[]> {
  return {
    'cluster1.0.weight': [inChannels, dim],
    'cluster1.0.bias': [dim],
    'cluster2.0.weight': [inChannels, inChannels],
    'cluster2.0.bias': [inChannels],
    'cluster2.2.weight': [inChannels, dim],
    'cluster2.2.bias': [dim],
  };
}

export interface SegHeadOptions {
  /** Backbone width C (384 ViT-S, 768 ViT-B). */
  inChannels: number;
  /** Head output width D (`model.dim`: 512 COCO-Stuff / Cityscapes, 256 Potsdam). */
  dim: number;
  /** `Dropout2d` rate on each branch input in training mode (official 0.1). */
  dropoutRate?: number;
  /** Seed of the PyTorch-default initialisation; unseeded when absent. */
  seed?: number;
  /** `false` for the momentum head (variables excluded from gradients). Default `true`. */
  trainable?: boolean;
}

export interface SegHeadForwardOptions {
  /** Training mode: Dropout2d active on both branch inputs. Default `false` (eval, identity). */
  training?: boolean;
  /** Keep-masks `[B, 1, 1, C]` to replay, one per branch input (training mode only). */
  masks?: { cluster1?: tf.Tensor; cluster2?: tf.Tensor };
  /** Seed of the masks not given (branch 1 uses `seed`, branch 2 `seed + 1`). */
  seed?: number;
  /**
   * `false` when `feat` is a constant of the gradient tape (HP's frozen backbone tokens): the backward
   * then skips the two products that only the input's gradient needs (`dy @ wᵀ` of both branches'
   * first layer, a third of the head's backward FLOPs). Asking a tape for the gradient of `feat` then
   * fails with a TF.js shape error. Default `true` (the input's gradient is computed).
   */
  inputGradient?: boolean;
}

/**
 * STEGO/HP segmentation head S: `code = cluster1(Drop f) + cluster2(Drop f)` with
 * `cluster1 = 1×1 conv C→D` and `cluster2 = 1×1 conv C→C → ReLU → 1×1 conv C→D`, every 1×1 conv
 * written as a matmul on `[N, C]`. The two `Drop` calls draw independent masks.
 */
export class SegHead {
  readonly inChannels: number;
  readonly dim: number;
  readonly dropoutRate: number;
  readonly trainable: boolean;
  /** The six parameters, `[in, out]` layout. */
  readonly params: Readonly<Record<SegHeadParamName, tf.Variable>> & ParamMap;
  private disposed = false;

  private constructor(
    params: Record<SegHeadParamName, tf.Variable>,
    inChannels: number,
    dim: number,
    dropoutRate: number,
    trainable: boolean,
  ) {
    this.params = params;
    this.inChannels = inChannels;
    this.dim = dim;
    this.dropoutRate = dropoutRate;
    this.trainable = trainable;
  }

  /** A freshly initialised head (PyTorch default init of `Conv2d`, fan_in = C for every layer). */
  static create(options: SegHeadOptions): SegHead {
    const fn = 'SegHead.create';
    const c = assertInt(fn, 'inChannels', options.inChannels, 1);
    const d = assertInt(fn, 'dim', options.dim, 1);
    const rate = assertNumber(fn, 'dropoutRate', options.dropoutRate ?? 0.1, 0, 0.999999);
    const trainable = options.trainable ?? true;
    const shapes = segHeadParamShapes(c, d);
    const params = {} as Record<SegHeadParamName, tf.Variable>;
    SEG_HEAD_PARAM_NAMES.forEach((name, i) => {
      // every conv of the head has fan_in = C (cluster2.2 too: its input is the C-wide hidden layer)
      const init = torchDefaultUniform(shapes[name], c, subSeed(options.seed, i));
      params[name] = tf.variable(init, trainable);
      init.dispose();
    });
    return new SegHead(params, c, d, rate, trainable);
  }

  /**
   * A head from existing weights in our layout (copied; the caller keeps ownership of `weights`).
   * Widths are inferred from the shapes; missing or mis-shaped weights throw `E_CHECKPOINT`.
   */
  static fromWeights(
    weights: Readonly<Record<string, tf.Tensor>>,
    options: { trainable?: boolean; dropoutRate?: number } = {},
  ): SegHead {
    const fn = 'SegHead.fromWeights';
    const w1 = weights['cluster1.0.weight'];
    if (w1 === undefined || w1.rank !== 2) {
      throw new HpError(
        'E_CHECKPOINT',
        `${fn}: cluster1.0.weight is missing or not 2-D: expected [C, D], got ${w1 === undefined ? 'none' : `[${w1.shape.join(', ')}]`}`,
      );
    }
    const [c, d] = w1.shape as [number, number];
    const shapes = segHeadParamShapes(c, d);
    const missing = SEG_HEAD_PARAM_NAMES.filter((n) => weights[n] === undefined);
    const wrong = SEG_HEAD_PARAM_NAMES.filter(
      (n) => weights[n] !== undefined && weights[n]!.shape.join(',') !== shapes[n].join(','),
    ).map((n) => `${n} [${weights[n]!.shape.join(', ')}] (expected [${shapes[n].join(', ')}])`);
    if (missing.length > 0 || wrong.length > 0) {
      throw new HpError(
        'E_CHECKPOINT',
        `${fn}: head weights do not match: expected ${SEG_HEAD_PARAM_NAMES.join(', ')} for C = ${c}, D = ${d}, got missing [${missing.join(', ')}], mis-shaped [${wrong.join('; ')}]`,
        { details: { missing, wrong } },
      );
    }
    const trainable = options.trainable ?? true;
    const rate = assertNumber(fn, 'dropoutRate', options.dropoutRate ?? 0.1, 0, 0.999999);
    const params = {} as Record<SegHeadParamName, tf.Variable>;
    for (const name of SEG_HEAD_PARAM_NAMES) {
      params[name] = copyToVariable(weights[name]!, trainable);
    }
    return new SegHead(params, c, d, rate, trainable);
  }

  /** `feat [B, h, w, C]` → `code [B, h, w, D]`. */
  forward(feat: tf.Tensor4D, options: SegHeadForwardOptions = {}): tf.Tensor4D {
    const fn = 'SegHead.forward';
    this.assertAlive(fn);
    const dims = assertShape(fn, 'feat', feat.shape, ['B', 'h', 'w', this.inChannels]);
    const training = options.training ?? false;
    if (!training && options.masks !== undefined) {
      throw new HpError(
        'E_ARG',
        `${fn}: masks given in eval mode: expected training: true with masks, got training: false`,
      );
    }
    const { B, h, w } = dims as { B: number; h: number; w: number };
    const p = this.params;
    return tf.tidy(() => {
      const draw = (mask: tf.Tensor | undefined, offset: number): DropoutDraw =>
        mask ?? (options.seed === undefined ? undefined : options.seed + offset);
      const in1 = training ? dropout2d(feat, this.dropoutRate, draw(options.masks?.cluster1, 0)) : feat;
      const in2 = training ? dropout2d(feat, this.dropoutRate, draw(options.masks?.cluster2, 1)) : feat;
      const x1 = tf.reshape(in1, [B * h * w, this.inChannels]) as tf.Tensor2D; // [N, C]
      const x2 = tf.reshape(in2, [B * h * w, this.inChannels]) as tf.Tensor2D; // [N, C]
      const first = options.inputGradient === false ? denseConstantInput : dense;
      const linear = first(x1, p['cluster1.0.weight'] as tf.Tensor2D, p['cluster1.0.bias'] as tf.Tensor1D);
      const hidden = tf.relu(
        first(x2, p['cluster2.0.weight'] as tf.Tensor2D, p['cluster2.0.bias'] as tf.Tensor1D),
      );
      const nonlinear = dense(
        hidden as tf.Tensor2D,
        p['cluster2.2.weight'] as tf.Tensor2D,
        p['cluster2.2.bias'] as tf.Tensor1D,
      );
      return tf.reshape(tf.add(linear, nonlinear), [B, h, w, this.dim]) as tf.Tensor4D; // [B, h, w, D]
    });
  }

  /** Copies of the weights (caller owns them), our layout. */
  getWeights(): Record<SegHeadParamName, tf.Tensor> {
    this.assertAlive('SegHead.getWeights');
    const out = {} as Record<SegHeadParamName, tf.Tensor>;
    for (const name of SEG_HEAD_PARAM_NAMES) out[name] = tf.clone(this.params[name]);
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of Object.values(this.params)) v.dispose();
  }

  private assertAlive(fn: string): void {
    if (this.disposed)
      throw new HpError('E_ARG', `${fn}: the head is disposed: expected a live head, got a disposed one`);
  }
}

/** `SegHead.create`: a new head with PyTorch's default initialisation. */
export function createSegHead(options: SegHeadOptions): SegHead {
  return SegHead.create(options);
}
