export type { HpConfig, HpConfigInput, HpConfigOverrides, HpDerived, HpPresetName } from './config/index.js';
export {
  BACKBONE_WIDTH,
  deriveHpValues,
  fromOfficialJson,
  HP_PRESET_NAMES,
  HP_PRESETS,
  HpConfigSchema,
  OFFICIAL_DERIVED_KEY,
  OFFICIAL_KEYS,
  resolveHpConfig,
  toOfficialJson,
} from './config/index.js';
export { consistencyLoss } from './consistency-loss.js';
export type { FusedLossOptions } from './fused/engine.js';
export { disposeFusedLoss, fusedLossThreads, initFusedLoss } from './fused/engine.js';
export type { GridSize } from './grid.js';
export type { HiddenPositiveLossEngine, HiddenPositiveLossInputs } from './hidden-positive-loss.js';
export {
  BASE_TEMPERATURE,
  HIDDEN_POSITIVE_LOSS_ENGINES,
  hiddenPositiveLoss,
  resolveLossEngine,
} from './hidden-positive-loss.js';
export type { LambdaScheduleOptions } from './lambda-schedule.js';
export { lambdaSchedule } from './lambda-schedule.js';
export type { LocalPositiveOptions, MixLocalPositivesOptions } from './local-positives.js';
export {
  LHP_SIGMA,
  LOCAL_WINDOW_OFFSETS,
  localPositiveWeights,
  mixLocalPositives,
} from './local-positives.js';
export type {
  PoolStorage,
  ReferencePoolOptions,
  ReferencePoolState,
  ReferencePools,
  ReferencePoolsOptions,
} from './reference-pool.js';
export { createReferencePools, ReferencePool, shouldRenewReferencePool } from './reference-pool.js';
