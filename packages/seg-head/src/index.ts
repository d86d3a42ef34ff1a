export type { HeadCheckpoint, SaveHeadCheckpointInput } from './checkpoint.js';
export {
  HEAD_CHECKPOINT_FORMAT,
  HEAD_CHECKPOINT_VERSION,
  headConfigPathFor,
  loadHeadCheckpoint,
  saveHeadCheckpoint,
} from './checkpoint.js';
export { ClusterProbe } from './cluster-probe.js';
export type { SegHeadConfig, SegHeadConfigInput } from './config.js';
export { parseSegHeadConfig, SegHeadConfigSchema } from './config.js';
export type { DropoutDraw } from './dropout2d.js';
export { drawDropout2dMask, dropout2d } from './dropout2d.js';
export { ensureGradients, gradientsRegistered } from './gradients.js';
export { dense, denseConstantInput, matMul2d } from './linear.js';
export { LinearProbe, linearProbeLoss } from './linear-probe.js';
export { createMomentumHead, updateMomentumHead } from './momentum-head.js';
export type { OfficialHpImport } from './official-import.js';
export { importOfficialHpCheckpoint } from './official-import.js';
export type { OfficialKeyRule, OfficialTarget, OfficialTransform } from './official-keys.js';
export { OFFICIAL_BACKBONE_PREFIX, OFFICIAL_HEAD_KEYS } from './official-keys.js';
export type { AdamOptions, AdamWOptions, Optimizer } from './optim/adam.js';
export { createAdam, createAdamW } from './optim/adam.js';
export { clipGradNorm } from './optim/clip.js';
export type { GradMap, ParamMap } from './params.js';
export { computeGradients, copyToVariable, disposeMap } from './params.js';
export { ProjectionHead } from './projection-head.js';
export type { SegHeadForwardOptions, SegHeadOptions, SegHeadParamName } from './seg-head.js';
export { createSegHead, SEG_HEAD_PARAM_NAMES, SegHead, segHeadParamShapes } from './seg-head.js';
export type { HeadModuleName, HeadModules, HeadModulesFromStateDictOptions } from './state-dict.js';
export {
  disposeHeadModules,
  HEAD_MODULE_NAMES,
  HEAD_MODULE_PARAMS,
  headModulesFromStateDict,
  headModulesToStateDict,
  headStateDictKeys,
} from './state-dict.js';
export { bilinearMatrix, upsampleBilinear } from './upsample.js';
