export type { Batch, BatchOptions, BatchStream } from './batches.js';
export { iterateBatches, stackImages, stackLabels } from './batches.js';
export type { Dataset, DatasetItem } from './item.js';
export { assertItem } from './item.js';
export type { Rng } from './rng.js';
export { createRng, seededPermutation } from './rng.js';
export type { SyntheticOptions } from './synthetic.js';
export { syntheticDataset } from './synthetic.js';
export {
  centerCrop,
  centerCropOffsets,
  cropItem,
  evalView,
  IMAGENET_MEAN,
  IMAGENET_STD,
  imagenetDenormalize,
  imagenetNormalize,
  pilNearestIndices,
  resizeNearest,
  resizeShorterNearest,
  roundHalfEven,
  shorterSideSize,
  toUnitFloat,
  trainView,
} from './transforms.js';
