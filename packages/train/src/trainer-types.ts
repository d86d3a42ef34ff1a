import type { Backbone } from '@hpseg/backbone-vit';
import type { BackendDescription } from '@hpseg/core';
import type { Dataset } from '@hpseg/datasets';
import type { HiddenPositiveLossEngine, ReferencePools } from '@hpseg/hidden-positives';
import type { RunCheckpoint, RunCheckpointMeta, RunSources } from './checkpoint.js';
import type { EvalResult } from './evaluate.js';
import type { FeatureSourceFactory } from './features.js';
import type { MatMulEngine } from './matmul-engine.js';
import type { AugmentMode } from './train-data.js';
import type { StepResult } from './train-step.js';

/** What a run records about where it runs, once, when it opens. */
export interface StartedMeta {
  readonly versions: Record<string, string>;
  readonly gitCommit: string | null;
  /** The TF.js backend (with the adapter on webgpu). */
  readonly backend: BackendDescription;
  readonly backendLine: string;
  /** The HP-loss engine resolved for this backend, with its thread count. */
  readonly lossEngine: string;
  /** The heads' matrix-product engine resolved for this backend (`openMatMulEngine`'s label). */
  readonly matmulEngine: string;
}

/** The explicit state of a run: everything a resume needs besides the weights. */
export interface TrainState {
  iteration: number;
  epoch: number;
  batchInEpoch: number;
  readonly totalIterations: number;
  readonly seed: number;
  lambda: number;
  best: { score: number; iteration: number } | null;
  poolBuiltAt: { epoch: number; batch: number };
  lastLoss: number | null;
  pools: ReferencePools | null;
}

export type TrainStatus = 'completed' | 'stopped' | 'interrupted';
export type CheckpointKind = RunCheckpointMeta['kind'];

/** What a run reports while it goes; the CLI turns these into its progress bar and `log.jsonl`. */
export type TrainEvent =
  | {
      readonly type: 'start';
      readonly resumed: boolean;
      readonly iteration: number;
      readonly totalIterations: number;
      readonly batchesPerEpoch: number;
      /** The TF.js backend (and its adapter on webgpu), in one line (`formatBackend`). */
      readonly backend: string;
      /** The HP-loss engine: `tfjs`, or `fused (N threads)`. */
      readonly lossEngine: string;
      /** The heads' matrix products: `onnxruntime (N threads)`, or `tfjs`. */
      readonly matmulEngine: string;
    }
  | {
      readonly type: 'pools';
      readonly reason: 'initial' | 'renewal';
      readonly iteration: number;
      readonly epoch: number;
      readonly batch: number;
      readonly size: number;
      readonly ms: number;
    }
  | {
      readonly type: 'step';
      readonly iteration: number;
      readonly epoch: number;
      readonly batch: number;
      readonly lambda: number;
      readonly result: StepResult;
      /** Milliseconds of the whole iteration, of loading the batch, of the backbone (or the cache). */
      readonly stepMs: number;
      readonly dataMs: number;
      readonly backboneMs: number;
    }
  | {
      readonly type: 'validation';
      readonly iteration: number;
      readonly epoch: number;
      readonly result: EvalResult;
      readonly score: number;
    }
  | {
      readonly type: 'checkpoint';
      readonly kind: CheckpointKind;
      readonly path: string;
      readonly iteration: number;
    }
  | { readonly type: 'end'; readonly status: TrainStatus; readonly iteration: number };

export interface TrainOptions {
  /** The frozen backbone (the caller's: never disposed by the run). */
  readonly backbone: Backbone;
  /** Training images (labels train the linear probe only). */
  readonly data: Dataset;
  /** Validation images, evaluated every `train.validFreq` batches and at each epoch's end. */
  readonly validation?: Dataset | null;
  /** Run folder (`config.json`, `checkpoints/`); without one nothing is written. */
  readonly outDir?: string;
  /** Backbone features: online (default) or a feature cache (`cacheFeatureSource`). */
  readonly features?: FeatureSourceFactory;
  /** Aborting finishes the current step, writes an `interrupted` checkpoint and returns. */
  readonly signal?: AbortSignal;
  /** Awaited for every event, in order. */
  readonly onEvent?: (event: TrainEvent) => void | Promise<void>;
  /** Run seed (every draw is keyed by it); default 0. A resumed run keeps its own. */
  readonly seed?: number;
  /** Iterations of the whole schedule (λ ramp end); default batches per epoch × `train.epochs`. */
  readonly iterations?: number;
  /** Stop with a `last` checkpoint when the iteration counter reaches this value. */
  readonly stopAt?: number | null;
  /** Also keep `best.safetensors` (selected with validation LABELS, as the official code). */
  readonly selectBest?: boolean;
  /** Continue the run of `outDir` from `checkpoints/last.safetensors` (or from this checkpoint). */
  readonly resume?: boolean | RunCheckpoint;
  /** Photometric view of the consistency term (default `image`). */
  readonly augmentMode?: AugmentMode;
  /** Evaluation view during training: official 320 px, batch 16. */
  readonly validationOptions?: {
    readonly resolution?: number;
    readonly batchSize?: number;
    readonly limit?: number;
  };
  /** Where the inputs came from, recorded in checkpoints so that `resumeRun` can reopen them. */
  readonly sources?: Partial<RunSources>;
  /** Extra versions to record (an application's own). */
  readonly versions?: Readonly<Record<string, string>>;
  /** Engine of the HP loss (`auto`: fused on wasm / cpu, TF.js ops elsewhere). */
  readonly lossEngine?: HiddenPositiveLossEngine;
  /**
   * Threads of the fused engine, the calling thread included (default: every core). Its results can
   * differ in the last bits between thread counts: a run resumed on another machine is then not
   * bit-identical (the count is recorded in `config.json`).
   */
  readonly lossThreads?: number;
  /**
   * Engine of the heads' matrix products (`auto`: ONNX Runtime's multi-threaded `Gemm` on wasm / cpu when
   * onnxruntime-node is installed, `tf.matMul` elsewhere). Its sums are ordered differently from
   * XNNPACK's: a run resumed with another engine is not bit-identical (the engine is in `config.json`).
   */
  readonly matmulEngine?: MatMulEngine;
}

export interface TrainOutcome {
  readonly status: TrainStatus;
  readonly iteration: number;
  readonly losses: StepResult[];
  /** Path of the last checkpoint written, or null without a run folder. */
  readonly lastCheckpoint: string | null;
  readonly lastValidation: EvalResult | null;
}
