export { denseCrf } from './dense-crf.js';
export { DENSE_CRF_EXACT_MAX_PIXELS, denseCrfExact } from './dense-crf-exact.js';
export type { BilateralKernelParams, CrfParams, CrfParamsInput, GaussianKernelParams } from './params.js';
export { DEFAULT_CRF_PARAMS } from './params.js';
export type { CrfPool, CrfPoolOptions, DenseCrfBatchOptions } from './pool.js';
export { createCrfPool, denseCrfBatch } from './pool.js';
export type { DenseCrfInput, DenseCrfResult } from './types.js';
