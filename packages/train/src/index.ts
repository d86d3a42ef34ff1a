export type { PoolMeta, RunCheckpoint, RunCheckpointMeta, RunSources } from './checkpoint.js';
export {
  LEGACY_RUN_CHECKPOINT_FORMAT,
  loadRunCheckpoint,
  RUN_CHECKPOINT_FORMAT,
  saveRunCheckpoint,
} from './checkpoint.js';
export type { EvalBatch, EvalResult, EvaluateOptions, InferenceModules, Predictions } from './evaluate.js';
export { evaluate, predict, selectionScore } from './evaluate.js';
export type {
  CacheIdentity,
  CacheManifest,
  ChunkEntry,
  ComputeFeatureCacheOptions,
} from './feature-cache.js';
export {
  CacheReader,
  cacheFeatureSource,
  computeFeatureCache,
  FEATURE_CACHE_FORMAT,
  itemLayout,
  openCache,
  weightsFingerprint,
} from './feature-cache.js';
export type { FeatureSource, FeatureSourceContext, FeatureSourceFactory } from './features.js';
export { onlineFeatures, patchTokens, tokensWithLocalPositives } from './features.js';
export type { InferenceModel, LoadInferenceModelOptions } from './inference-model.js';
export { loadInferenceModel } from './inference-model.js';
export type { BaselineResult, FeatureFn } from './kmeans-baseline.js';
export { featureFn, kmeansBaseline } from './kmeans-baseline.js';
export type { MatMulEngine, OpenedMatMulEngine } from './matmul-engine.js';
export { MATMUL_ENGINES, openMatMulEngine } from './matmul-engine.js';
export type { HpModels, HpOptimizers, ModelSizes, OptimizedModule, OptimizerRates } from './models.js';
export {
  createHpModels,
  createHpOptimizers,
  disposeHpModels,
  disposeHpOptimizers,
  OPTIMIZED_MODULES,
} from './models.js';
export type { PoolContext } from './pools.js';
export { emptyReferencePools, fillReferencePools } from './pools.js';
export type { OpenedRun, OpenRunOptions, RunSpec } from './run.js';
export { cacheIdentityFor, openRun, resumeRun } from './run.js';
export { checkSupported, runPaths, stepConfigFrom } from './run-config.js';
export type { Segmentation, SegmentImageOptions } from './segment-image.js';
export { segmentImage } from './segment-image.js';
export type { BackboneSpec, DatasetSpec, RunPreset } from './specs.js';
export {
  openBackbone,
  openDataset,
  RUN_PRESETS,
  resolveRunConfig,
  SYNTHETIC_OVERRIDES,
  SYNTHETIC_VIT,
  syntheticSpecs,
} from './specs.js';
export type { DropoutMasks, StepDrawSizes, StepDraws } from './step-draws.js';
export { disposeStepDraws, drawStepRandomness } from './step-draws.js';
export type { Augment, AugmentMode, HostBatch } from './train-data.js';
export { photometricAugment, TrainData } from './train-data.js';
export type { StepConfig, StepGradients, StepInputs, StepResult } from './train-step.js';
export { disposeStepGradients, stepGradients, trainStep } from './train-step.js';
export type { TrainResult } from './trainer.js';
export { createTrainer, Trainer, train } from './trainer.js';
export type {
  CheckpointKind,
  TrainEvent,
  TrainOptions,
  TrainOutcome,
  TrainState,
  TrainStatus,
} from './trainer-types.js';
export { gitCommit, packageVersions } from './versions.js';
