import { assertInt, assertNumber, HpError, l2Normalize } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { subSeed } from './init.js';
import { matMul2d } from './linear.js';
import { copyToVariable } from './params.js';

/**
 * Cluster probe (official `ClusterLookup(d, K)`): K learnable centroids `clusters [K, D]`,
 * initialised `randn` (seeded). Cosine similarity to every centroid; its loss is minus the cosine
 * to the nearest centroid, i.e. online spherical k-means trained by gradient.
 * All methods take `code [..., D]` (any leading shape, e.g. `[B, h, w, D]` or `[N, D]`).
 */
export class ClusterProbe {
  readonly nClusters: number;
  readonly dim: number;
  readonly params: Readonly<{ clusters: tf.Variable }>;

  private constructor(clusters: tf.Variable) {
    this.nClusters = clusters.shape[0]!;
    this.dim = clusters.shape[1]!;
    this.params = { clusters };
  }

  /** `clusters ~ N(0, 1)` of shape `[K, D]` (TF.js seeded generator). */
  static create(options: { nClusters: number; dim: number; seed?: number }): ClusterProbe {
    const k = assertInt('ClusterProbe.create', 'nClusters', options.nClusters, 1);
    const d = assertInt('ClusterProbe.create', 'dim', options.dim, 1);
    const init = tf.randomNormal([k, d], 0, 1, 'float32', subSeed(options.seed, 0)); // seed 0 would be unseeded
    const probe = new ClusterProbe(tf.variable(init));
    init.dispose();
    return probe;
  }

  /** From `clusters [K, D]` (copied). */
  static fromWeights(weights: { clusters: tf.Tensor }): ClusterProbe {
    const c = weights.clusters;
    if (c.rank !== 2) {
      throw new HpError(
        'E_CHECKPOINT',
        `ClusterProbe.fromWeights: clusters has the wrong shape: expected [K, D], got [${c.shape.join(', ')}]`,
      );
    }
    return new ClusterProbe(copyToVariable(c));
  }

  /** Cosine similarity of each code vector to each centroid: `[..., D]` → `[..., K]`. */
  forward(code: tf.Tensor): tf.Tensor {
    this.check('ClusterProbe.forward', code);
    return tf.tidy(() => {
      const flat = l2Normalize(tf.reshape(code, [-1, this.dim])) as tf.Tensor2D; // [N, D]
      const centroidsT = tf.transpose(l2Normalize(this.params.clusters)) as tf.Tensor2D; // [D, K]
      const cos = matMul2d(flat, centroidsT); // [N, K]; explicit-transpose gradient (XNNPACK on wasm)
      return tf.reshape(cos, [...code.shape.slice(0, -1), this.nClusters]);
    });
  }

  /**
   * The official cluster loss with `alpha = None`: `−mean_pixels Σ_k one_hot(argmax_k cos)·cos`.
   * The one-hot is a constant, so the gradient reaches only the nearest centroid (first on ties,
   * as `torch.argmax`).
   */
  clusterLoss(code: tf.Tensor): tf.Scalar {
    this.check('ClusterProbe.clusterLoss', code);
    return tf.tidy(() => {
      const cos = tf.reshape(this.forward(code), [-1, this.nClusters]); // [N, K]
      const probs = tf.cast(tf.oneHot(tf.argMax(cos, 1), this.nClusters), 'float32'); // [N, K], constant (int32 one-hot: the wasm OneHot ignores a float dtype)
      return tf.neg(tf.mean(tf.sum(tf.mul(probs, cos), 1))) as tf.Scalar;
    });
  }

  /** `log_softmax(alpha · cos)` over the K centroids (the CRF unary input, alpha = 2): `[..., K]`. */
  logProbs(code: tf.Tensor, alpha = 2): tf.Tensor {
    this.check('ClusterProbe.logProbs', code);
    assertNumber('ClusterProbe.logProbs', 'alpha', alpha, 0);
    return tf.tidy(() => tf.logSoftmax(tf.mul(this.forward(code), alpha), -1));
  }

  /** Index of the nearest centroid, int32 `[...]`. */
  predict(code: tf.Tensor): tf.Tensor {
    this.check('ClusterProbe.predict', code);
    return tf.tidy(() => tf.argMax(this.forward(code), -1));
  }

  dispose(): void {
    this.params.clusters.dispose();
  }

  private check(fn: string, code: tf.Tensor): void {
    if (code.rank < 2 || code.shape[code.rank - 1] !== this.dim) {
      throw new HpError(
        'E_SHAPE',
        `${fn}: code has the wrong shape: expected [..., ${this.dim}], got [${code.shape.join(', ')}]`,
      );
    }
  }
}
