export type { Batch, BatchOptions, BatchStream } from './batches.js';
export { itemRng, iterateBatches, stackImages, stackLabels } from './batches.js';
export type { CityscapesOptions } from './cityscapes.js';
export { CITYSCAPES_LAYOUT, CITYSCAPES_LOOKUP, CITYSCAPES_SIZES, cityscapes27 } from './cityscapes.js';
export type { CocoStuffOptions } from './coco-stuff.js';
export { COCO_CURATED, COCO_LAYOUT, COCO_LOOKUP, cocoStuff27 } from './coco-stuff.js';
export type { FileDatasetSpec, FileEntry } from './file-dataset.js';
export { fileDataset } from './file-dataset.js';
export type { CropBox, PrepareFiveCropOptions, PrepareFiveCropResult } from './five-crop.js';
export { encodeFiveCropLabel, fiveCrop, fiveCropBoxes, prepareFiveCrop } from './five-crop.js';
export type { FiveCropDatasetOptions } from './five-crop-dataset.js';
export { fiveCropDataset, fiveCropDir } from './five-crop-dataset.js';
export type { ImageFolderOptions } from './image-folder.js';
export { imageFolder } from './image-folder.js';
export type { RawLabel, RgbImage } from './image-io.js';
export { decodeImage, encodeJpeg, readImageFile, readLabelPng, resizeImageLinear } from './image-io.js';
export type { Dataset, DatasetItem } from './item.js';
export { assertItem } from './item.js';
export { applyLabelMap, buildLookup } from './label-map.js';
export {
  CITYSCAPES_FIRST_LABEL_ID,
  CITYSCAPES_LAST_LABEL_ID,
  CITYSCAPES27_CLASS_NAMES,
} from './label-maps/cityscapes.js';
export { COCO_FINE_TO_COARSE, COCO27_CLASS_NAMES, COCO27_FIRST_STUFF } from './label-maps/coco.js';
export { POTSDAM_FINE_TO_COARSE, POTSDAM3_CLASS_NAMES, POTSDAM6_CLASS_NAMES } from './label-maps/potsdam.js';
export type { MatArray, MatClass, MatData } from './mat.js';
export { columnToRowMajor, getMatArray, readMat } from './mat.js';
export type { DatasetName, OpenDatasetOptions } from './open-dataset.js';
export { DATASET_NAMES, openDataset } from './open-dataset.js';
export type { AugmentedViewOptions, PhotometricConfig, PhotometricParams } from './photometric.js';
export { applyPhotometric, augmentedView, drawPhotometricParams, gaussianBlur } from './photometric.js';
export type { IndexPng } from './png.js';
export { decodeLabelPng, encodeGrayPng } from './png.js';
export type { PotsdamOptions } from './potsdam.js';
export {
  POTSDAM_LAYOUT,
  POTSDAM3_LOOKUP,
  POTSDAM6_LOOKUP,
  potsdam3,
  potsdamImageFromMat,
  potsdamLabelFromMat,
} from './potsdam.js';
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
export type { VerifyOptions, VerifyReport } from './verify.js';
export { formatVerifyReport, verifyDataset } from './verify.js';
export type { VerifiableDataset, VerifyProblem } from './verify-types.js';
