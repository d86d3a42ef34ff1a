import { assertInt, assertShape, HpError } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { subSeed, torchDefaultUniform } from './init.js';
import { dense } from './linear.js';
import { copyToVariable } from './params.js';
import { upsampleBilinear } from './upsample.js';

/**
 * Linear probe (official `nn.Conv2d(d, K, 1×1)`), a matmul on `[N, D]`. Trained on detached head
 * output with ground-truth labels (`linearProbeLoss`).
 */
export class LinearProbe {
  readonly nClasses: number;
  readonly dim: number;
  /** `weight [D, K]` (`[in, out]`, from PyTorch's `[K, D, 1, 1]`), `bias [K]`. */
  readonly params: Readonly<{ weight: tf.Variable; bias: tf.Variable }>;

  private constructor(weight: tf.Variable, bias: tf.Variable) {
    this.dim = weight.shape[0]!;
    this.nClasses = weight.shape[1]!;
    this.params = { weight, bias };
  }

  /** PyTorch default `Conv2d` init, fan_in = D. */
  static create(options: { nClasses: number; dim: number; seed?: number }): LinearProbe {
    const k = assertInt('LinearProbe.create', 'nClasses', options.nClasses, 1);
    const d = assertInt('LinearProbe.create', 'dim', options.dim, 1);
    const w = torchDefaultUniform([d, k], d, subSeed(options.seed, 0));
    const b = torchDefaultUniform([k], d, subSeed(options.seed, 1));
    const probe = new LinearProbe(tf.variable(w), tf.variable(b));
    w.dispose();
    b.dispose();
    return probe;
  }

  /** From our-layout weights (copied): `weight [D, K]`, `bias [K]`. */
  static fromWeights(weights: { weight: tf.Tensor; bias: tf.Tensor }): LinearProbe {
    const { weight, bias } = weights;
    if (weight.rank !== 2 || bias.rank !== 1 || bias.shape[0] !== weight.shape[1]) {
      throw new HpError(
        'E_CHECKPOINT',
        `LinearProbe.fromWeights: weights do not match: expected weight [D, K] and bias [K], got weight [${weight.shape.join(', ')}] and bias [${bias.shape.join(', ')}]`,
      );
    }
    return new LinearProbe(copyToVariable(weight), copyToVariable(bias));
  }

  /** Logits: `code [..., D]` → `[..., K]`. */
  forward(code: tf.Tensor): tf.Tensor {
    if (code.rank < 2 || code.shape[code.rank - 1] !== this.dim) {
      throw new HpError(
        'E_SHAPE',
        `LinearProbe.forward: code has the wrong shape: expected [..., ${this.dim}], got [${code.shape.join(', ')}]`,
      );
    }
    return tf.tidy(() => {
      const flat = tf.reshape(code, [-1, this.dim]) as tf.Tensor2D; // [N, D]
      const logits = dense(flat, this.params.weight as tf.Tensor2D, this.params.bias as tf.Tensor1D); // [N, K]
      return tf.reshape(logits, [...code.shape.slice(0, -1), this.nClasses]);
    });
  }

  /** Class index of the largest logit, int32 `[...]`. */
  predict(code: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.argMax(this.forward(code), -1));
  }

  dispose(): void {
    this.params.weight.dispose();
    this.params.bias.dispose();
  }
}

/**
 * The official linear-probe loss: `logits [B, h, w, K]` bilinearly upsampled (`align_corners=False`)
 * to the label size, then cross-entropy averaged over the valid pixels `0 <= label < K` of
 * `labels` (int32 `[B, H, W]`; −1, 255, ≥ K are ignored). With no valid pixel the result is 0
 * with a zero gradient (torch would return NaN and poison the step).
 */
export function linearProbeLoss(logits: tf.Tensor4D, labels: tf.Tensor3D): tf.Scalar {
  const fn = 'linearProbeLoss';
  const dims = assertShape(fn, 'logits', logits.shape, ['B', 'h', 'w', 'K']);
  if (labels.dtype !== 'int32') {
    throw new HpError('E_DTYPE', `${fn}: labels have the wrong dtype: expected int32, got ${labels.dtype}`);
  }
  assertShape(fn, 'labels', labels.shape, ['B', 'H', 'W'], { B: dims.B! });
  const K = dims.K!;
  const [, H, W] = labels.shape as [number, number, number];
  return tf.tidy(() => {
    const up = upsampleBilinear(logits, [H, W]); // [B, H, W, K]
    const flat = tf.reshape(up, [-1, K]) as tf.Tensor2D; // [B*H*W, K]
    const lab = tf.reshape(labels, [-1]) as tf.Tensor1D; // [B*H*W]
    return maskedCrossEntropy(flat, lab);
  });
}

/** Valid-pixel mask, class indices with ignored pixels pointed at 0, and max(#valid, 1). */
function targets(
  labels: tf.Tensor1D,
  k: number,
): { valid: tf.Tensor1D; oneHot: tf.Tensor2D; count: tf.Scalar } {
  const valid = tf.logicalAnd(tf.greaterEqual(labels, 0), tf.less(labels, k));
  const safe = tf.where(valid, labels, tf.zerosLike(labels));
  const oneHot = tf.cast(tf.oneHot(safe, k), 'float32') as tf.Tensor2D; // int32 one-hot: wasm's OneHot ignores a float dtype
  const validF = tf.cast(valid, 'float32') as tf.Tensor1D;
  return { valid: validF, oneHot, count: tf.maximum(tf.sum(validF), 1) as tf.Scalar };
}

/**
 * `−Σ_valid log_softmax(x)[label] / #valid` over rows of `x [M, K]`, with the closed-form gradient
 * `(softmax(x) − one_hot) · valid / #valid`: the backward keeps only `x` and the labels instead of
 * several `[M, K]` intermediates (M = B·224·224 rows at the official label size).
 */
const maskedCrossEntropy: (x: tf.Tensor2D, labels: tf.Tensor1D) => tf.Scalar = tf.customGrad(
  // biome-ignore lint/suspicious/noExplicitAny: tf.customGrad's typing is (...args: Tensor[]) => ...
  ((x: tf.Tensor2D, labels: tf.Tensor1D, save: any) => {
    save([x, labels]);
    const k = x.shape[1]!;
    const { valid, oneHot, count } = targets(labels, k);
    const picked = tf.sum(tf.mul(tf.logSoftmax(x, -1), oneHot), 1); // [M]
    const value = tf.div(tf.neg(tf.sum(tf.mul(picked, valid))), count) as tf.Scalar;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ls] = saved as [tf.Tensor2D, tf.Tensor1D];
      const t = targets(ls, k);
      const scale = tf.div(tf.reshape(t.valid, [-1, 1]), t.count); // [M, 1]
      const dx = tf.mul(tf.mul(tf.sub(tf.softmax(xs, -1), t.oneHot), scale), dy); // [M, K]
      return [dx, tf.zerosLike(ls)];
    };
    return { value, gradFunc };
  }) as never,
) as never;
