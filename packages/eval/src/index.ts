export type { ConfusionCounts, ConfusionMatrix, ConfusionMatrixOptions } from './confusion-matrix.js';
export { createConfusionMatrix } from './confusion-matrix.js';
// --- crf ---
export type {
  BilateralKernelParams,
  CrfParams,
  CrfParamsInput,
  CrfPool,
  CrfPoolOptions,
  DenseCrfBatchOptions,
  DenseCrfInput,
  DenseCrfResult,
  GaussianKernelParams,
} from './crf/index.js';
export {
  createCrfPool,
  DEFAULT_CRF_PARAMS,
  DENSE_CRF_EXACT_MAX_PIXELS,
  denseCrf,
  denseCrfBatch,
  denseCrfExact,
} from './crf/index.js';
// --- end crf ---
export { assignmentTotal, maximumAssignment } from './hungarian.js';
export type { KMeansResult } from './kmeans.js';
export { assignToCentroids, kmeans } from './kmeans.js';
export type { IntLabelArray, LabelInput, TensorLike } from './labels.js';
export type { ExtraClusterRule, Matching, MetricsOptions, SegmentationMetrics } from './metrics.js';
export { computeMetrics } from './metrics.js';
export type { EvalReportJson, ReportOptions, ReportProtocol } from './report.js';
export { formatReport, toReportJson } from './report.js';
