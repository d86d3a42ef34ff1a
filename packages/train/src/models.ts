import { deriveSeed, HpError, type StateDict } from '@hpseg/core';
import {
  ClusterProbe,
  createAdam,
  createAdamW,
  createMomentumHead,
  disposeHeadModules,
  type HeadModules,
  LinearProbe,
  type Optimizer,
  ProjectionHead,
  SegHead,
} from '@hpseg/seg-head';

/** Every trainable module of an HP run (the frozen backbone lives elsewhere); the projection head is required. */
export interface HpModels extends HeadModules {
  readonly projectionHead: ProjectionHead;
}

/** The four official optimisers, one per trained module (the momentum head is not optimised). */
export interface HpOptimizers {
  /** AdamW over the head (`net_optimizer`). */
  readonly head: Optimizer;
  /** Adam over the projection head (`project_head_optimizer`). */
  readonly projectionHead: Optimizer;
  /** Adam over the linear probe (`linear_probe_optimizer`). */
  readonly linearProbe: Optimizer;
  /** Adam over the cluster probe (`cluster_probe_optimizer`). */
  readonly clusterProbe: Optimizer;
}

/** The optimised modules, in the order of `HpOptimizers` (and of the `optimizer.<module>.` checkpoint keys). */
export const OPTIMIZED_MODULES = ['head', 'projectionHead', 'linearProbe', 'clusterProbe'] as const;
export type OptimizedModule = (typeof OPTIMIZED_MODULES)[number];

export interface ModelSizes {
  /** Backbone width C. */
  readonly inChannels: number;
  /** Head width D (official `model.dim`). */
  readonly dim: number;
  /** Classes K of the linear probe = clusters of the cluster probe (official extra_clusters = 0). */
  readonly nClasses: number;
  /** Dropout2d rate of the heads in training mode: 0.1 with `pretrained.dropout`, else 0. */
  readonly dropoutRate: number;
}

/** Learning rates of the official optimisers (`optimizer.*` of the official JSON). */
export interface OptimizerRates {
  /** Head and projection head (`optimizer.net.lr`; the official projection optimiser reuses it). */
  readonly net: number;
  /** Decoupled weight decay of the head's AdamW (`optimizer.net.weight_decay`). */
  readonly weightDecay: number;
  /** Linear probe (`optimizer.linear.lr`). */
  readonly linear: number;
  /** Cluster probe (`optimizer.cluster.lr`). */
  readonly cluster: number;
}

/**
 * Fresh modules, seeded: PyTorch default init for the head, the projection head and the linear
 * probe, `randn` centroids; the momentum head starts as an exact copy of the head (`copy_`).
 */
export function createHpModels(sizes: ModelSizes, seed: number): HpModels {
  const head = SegHead.create({
    inChannels: sizes.inChannels,
    dim: sizes.dim,
    dropoutRate: sizes.dropoutRate,
    seed: deriveSeed(seed, 'init-head'),
  });
  return {
    head,
    momentumHead: createMomentumHead(head),
    projectionHead: ProjectionHead.create({ dim: sizes.dim, seed: deriveSeed(seed, 'init-projection') }),
    linearProbe: LinearProbe.create({
      nClasses: sizes.nClasses,
      dim: sizes.dim,
      seed: deriveSeed(seed, 'init-linear'),
    }),
    clusterProbe: ClusterProbe.create({
      nClusters: sizes.nClasses,
      dim: sizes.dim,
      seed: deriveSeed(seed, 'init-cluster'),
    }),
  };
}

export function disposeHpModels(models: HpModels): void {
  disposeHeadModules(models);
}

/** The official optimisers (`run.py:69-90`): AdamW for the head, Adam for the projection head and the probes. */
export function createHpOptimizers(models: HpModels, rates: OptimizerRates): HpOptimizers {
  return {
    head: createAdamW(models.head.params, { lr: rates.net, weightDecay: rates.weightDecay }),
    projectionHead: createAdam(models.projectionHead.params, { lr: rates.net }),
    linearProbe: createAdam(models.linearProbe.params, { lr: rates.linear }),
    clusterProbe: createAdam(models.clusterProbe.params, { lr: rates.cluster }),
  };
}

export function disposeHpOptimizers(optimizers: HpOptimizers): void {
  for (const m of OPTIMIZED_MODULES) optimizers[m].dispose();
}

/** Optimiser states under `optimizer.<module>.<parameter>.<slot>` (slots `step`, `exp_avg`, `exp_avg_sq`). */
export async function optimizersToStateDict(optimizers: HpOptimizers): Promise<StateDict> {
  const out: StateDict = new Map();
  for (const m of OPTIMIZED_MODULES) {
    for (const [key, value] of await optimizers[m].getState()) out.set(`optimizer.${m}.${key}`, value);
  }
  return out;
}

/** Restores every optimiser from `optimizer.<module>.` keys (strict, as `Optimizer.setState`). */
export function restoreOptimizers(optimizers: HpOptimizers, sd: StateDict): void {
  for (const m of OPTIMIZED_MODULES) {
    const prefix = `optimizer.${m}.`;
    const state: StateDict = new Map();
    for (const [key, value] of sd) if (key.startsWith(prefix)) state.set(key.slice(prefix.length), value);
    if (state.size === 0) {
      throw new HpError(
        'E_CHECKPOINT',
        `restoreOptimizers: no state for the ${m} optimiser: expected keys ${prefix}*, got none`,
        { hint: 'resuming needs a training checkpoint (checkpoints/last.safetensors of a run)' },
      );
    }
    optimizers[m].setState(state);
  }
}
