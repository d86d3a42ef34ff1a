import { assertInt, HpError } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { subSeed, torchDefaultUniform } from './init.js';
import { dense } from './linear.js';
import { copyToVariable } from './params.js';

/**
 * Projection head Z (`run.py: project_head = nn.Linear(d, d)`): applied per patch vector before
 * the contrastive loss; training only, not stored in official checkpoints. The L2 normalisation
 * that follows it in the official code is the loss's business, not the head's.
 */
export class ProjectionHead {
  readonly dim: number;
  /** `weight [D, D]` (`[in, out]`, transposed from PyTorch's `[out, in]`), `bias [D]`. */
  readonly params: Readonly<{ weight: tf.Variable; bias: tf.Variable }>;

  private constructor(weight: tf.Variable, bias: tf.Variable) {
    this.dim = weight.shape[0]!;
    this.params = { weight, bias };
  }

  /** PyTorch default `Linear` init: weight and bias ~ U(−1/√D, 1/√D). */
  static create(options: { dim: number; seed?: number }): ProjectionHead {
    const d = assertInt('ProjectionHead.create', 'dim', options.dim, 1);
    const w = torchDefaultUniform([d, d], d, subSeed(options.seed, 0));
    const b = torchDefaultUniform([d], d, subSeed(options.seed, 1));
    const head = new ProjectionHead(tf.variable(w), tf.variable(b));
    w.dispose();
    b.dispose();
    return head;
  }

  /** From our-layout weights (copied): `weight [D, D]` as `[in, out]`, `bias [D]`. */
  static fromWeights(weights: { weight: tf.Tensor; bias: tf.Tensor }): ProjectionHead {
    const { weight, bias } = weights;
    const d = weight.shape[0];
    if (weight.rank !== 2 || weight.shape[1] !== d || bias.rank !== 1 || bias.shape[0] !== d) {
      throw new HpError(
        'E_CHECKPOINT',
        `ProjectionHead.fromWeights: weights do not match: expected weight [D, D] and bias [D], got weight [${weight.shape.join(', ')}] and bias [${bias.shape.join(', ')}]`,
      );
    }
    return new ProjectionHead(copyToVariable(weight), copyToVariable(bias));
  }

  /** `x [..., D]` → `[..., D]`. */
  forward(x: tf.Tensor): tf.Tensor {
    const d = this.dim;
    if (x.rank < 1 || x.shape[x.rank - 1] !== d) {
      throw new HpError(
        'E_SHAPE',
        `ProjectionHead.forward: x has the wrong shape: expected [..., ${d}], got [${x.shape.join(', ')}]`,
      );
    }
    return tf.tidy(() => {
      const flat = tf.reshape(x, [-1, d]) as tf.Tensor2D; // [N, D]
      const y = dense(flat, this.params.weight as tf.Tensor2D, this.params.bias as tf.Tensor1D);
      return tf.reshape(y, x.shape);
    });
  }

  dispose(): void {
    this.params.weight.dispose();
    this.params.bias.dispose();
  }
}
