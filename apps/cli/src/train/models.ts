import type { HostTensor, StateDict } from '@hpseg/core';
import { deriveSeed, HpError } from '@hpseg/core';
import {
  ClusterProbe,
  createAdam,
  createAdamW,
  createMomentumHead,
  LinearProbe,
  type Optimizer,
  ProjectionHead,
  SegHead,
} from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';

/** Every trainable piece of an HP run. The backbone is frozen and lives elsewhere. */
export interface HpModels {
  readonly head: SegHead;
  readonly ema: SegHead;
  readonly projection: ProjectionHead;
  readonly linear: LinearProbe;
  readonly cluster: ClusterProbe;
}

export interface HpOptimizers {
  readonly head: Optimizer;
  readonly projection: Optimizer;
  readonly linear: Optimizer;
  readonly cluster: Optimizer;
}

export interface ModelSizes {
  /** Backbone width C. */
  readonly inChannels: number;
  /** Head width D. */
  readonly dim: number;
  /** Classes K (linear probe) = clusters (cluster probe, extra_clusters 0). */
  readonly nClasses: number;
  readonly dropoutRate: number;
}

/** Fresh models, seeded (PyTorch default init for the convolutions, randn centroids). */
export function createModels(sizes: ModelSizes, seed: number): HpModels {
  const head = SegHead.create({
    inChannels: sizes.inChannels,
    dim: sizes.dim,
    dropoutRate: sizes.dropoutRate,
    seed: deriveSeed(seed, 'init-head'),
  });
  return {
    head,
    ema: createMomentumHead(head),
    projection: ProjectionHead.create({ dim: sizes.dim, seed: deriveSeed(seed, 'init-projection') }),
    linear: LinearProbe.create({
      nClasses: sizes.nClasses,
      dim: sizes.dim,
      seed: deriveSeed(seed, 'init-linear'),
    }),
    cluster: ClusterProbe.create({
      nClusters: sizes.nClasses,
      dim: sizes.dim,
      seed: deriveSeed(seed, 'init-cluster'),
    }),
  };
}

/** The official optimisers: AdamW for the head, Adam for the projection head and the probes. */
export function createOptimizers(
  models: HpModels,
  lr: { net: number; weightDecay: number; linear: number; cluster: number },
): HpOptimizers {
  return {
    head: createAdamW(models.head.params, { lr: lr.net, weightDecay: lr.weightDecay }),
    projection: createAdam(models.projection.params, { lr: lr.net }),
    linear: createAdam(models.linear.params, { lr: lr.linear }),
    cluster: createAdam(models.cluster.params, { lr: lr.cluster }),
  };
}

export function disposeModels(models: HpModels): void {
  models.head.dispose();
  models.ema.dispose();
  models.projection.dispose();
  models.linear.dispose();
  models.cluster.dispose();
}

export function disposeOptimizers(optimizers: HpOptimizers): void {
  for (const o of Object.values(optimizers)) o.dispose();
}

export function toHost(t: tf.Tensor): HostTensor {
  const data =
    t.dtype === 'int32' ? Int32Array.from(t.dataSync() as Int32Array) : Float32Array.from(t.dataSync());
  const dtype = t.dtype === 'int32' ? 'int32' : 'float32';
  return { dtype, storedDtype: dtype, shape: [...t.shape], data };
}

export function fromHost(h: HostTensor): tf.Tensor {
  if (h.dtype === 'int32') return tf.tensor(h.data as Int32Array, [...h.shape], 'int32');
  if (h.dtype === 'float32') return tf.tensor(h.data as Float32Array, [...h.shape], 'float32');
  return tf.tensor(Float32Array.from(h.data as ArrayLike<number>), [...h.shape], 'float32');
}

function addParams(out: StateDict, prefix: string, params: Readonly<Record<string, tf.Tensor>>): void {
  for (const [name, v] of Object.entries(params)) out.set(`${prefix}.${name}`, toHost(v));
}

/** Weights of every model under `head.`, `ema.`, `projection.`, `linear.`, `cluster.` (our layout). */
export function modelsToStateDict(models: HpModels): StateDict {
  const out: StateDict = new Map();
  addParams(out, 'head', models.head.params);
  addParams(out, 'ema', models.ema.params);
  addParams(out, 'projection', models.projection.params);
  addParams(out, 'linear', models.linear.params);
  addParams(out, 'cluster', models.cluster.params);
  return out;
}

/** Tensors of `sd` under `prefix.` (prefix stripped), as TF.js tensors the caller disposes. */
export function takePrefix(sd: StateDict, prefix: string): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [key, value] of sd) {
    if (key.startsWith(`${prefix}.`)) out[key.slice(prefix.length + 1)] = fromHost(value);
  }
  return out;
}

function disposeRecord(r: Record<string, tf.Tensor>): void {
  for (const t of Object.values(r)) t.dispose();
}

/** Rebuilds the models of a checkpoint; missing parts are `E_CHECKPOINT`. */
export function modelsFromStateDict(sd: StateDict, dropoutRate: number): HpModels {
  const parts = ['head', 'ema', 'projection', 'linear', 'cluster'].map((p) => takePrefix(sd, p));
  try {
    const [head, ema, projection, linear, cluster] = parts as [
      Record<string, tf.Tensor>,
      Record<string, tf.Tensor>,
      Record<string, tf.Tensor>,
      Record<string, tf.Tensor>,
      Record<string, tf.Tensor>,
    ];
    if (!linear.weight || !linear.bias || !cluster.clusters) {
      throw new HpError(
        'E_CHECKPOINT',
        'modelsFromStateDict: probe weights missing: expected linear.weight, linear.bias and cluster.clusters, got none',
      );
    }
    const out: HpModels = {
      head: SegHead.fromWeights(head, { dropoutRate }),
      ema: SegHead.fromWeights(ema, { trainable: false, dropoutRate }),
      projection:
        projection.weight && projection.bias
          ? ProjectionHead.fromWeights({ weight: projection.weight, bias: projection.bias })
          : ProjectionHead.create({ dim: head['cluster1.0.weight']?.shape[1] ?? 1, seed: 0 }),
      linear: LinearProbe.fromWeights({ weight: linear.weight, bias: linear.bias }),
      cluster: ClusterProbe.fromWeights({ clusters: cluster.clusters }),
    };
    return out;
  } finally {
    for (const p of parts) disposeRecord(p);
  }
}

/** Optimiser states under `optim.<name>.`. */
export function optimizersToStateDict(optimizers: HpOptimizers): StateDict {
  const out: StateDict = new Map();
  for (const [name, opt] of Object.entries(optimizers)) {
    for (const [key, value] of opt.getState()) out.set(`optim.${name}.${key}`, value);
  }
  return out;
}

export function restoreOptimizers(optimizers: HpOptimizers, sd: StateDict): void {
  for (const [name, opt] of Object.entries(optimizers)) {
    const state: StateDict = new Map();
    const prefix = `optim.${name}.`;
    for (const [key, value] of sd) if (key.startsWith(prefix)) state.set(key.slice(prefix.length), value);
    opt.setState(state);
  }
}
