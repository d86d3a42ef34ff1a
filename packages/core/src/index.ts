export type {
  BackendChoice,
  BackendDescription,
  ConcreteBackend,
  KnownBackend,
  SelectBackendOptions,
} from './backend.js';
export {
  availableBackends,
  BACKEND_CHOICES,
  describeBackend,
  formatBackend,
  selectBackend,
} from './backend.js';
export { crc32 } from './checkpoint/crc32.js';
export {
  bfloat16ToFloat32,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  roundToFloat16,
} from './checkpoint/half.js';
export type { HostDType, HostTensor, StateDict, StoredDType } from './checkpoint/host-tensor.js';
export type { ReadPthOptions } from './checkpoint/pth.js';
export { loadPthFile, readPth } from './checkpoint/pth.js';
export type { PthKey, PthValue } from './checkpoint/pth-value.js';
export { isHostTensor, PthObject } from './checkpoint/pth-value.js';
export type { SafetensorsContent } from './checkpoint/safetensors.js';
export {
  loadSafetensorsFile,
  readSafetensors,
  saveSafetensorsFile,
  writeSafetensors,
} from './checkpoint/safetensors.js';
export type { ToStateDictOptions } from './checkpoint/state-dict.js';
export { toStateDict } from './checkpoint/state-dict.js';
export { PTH_ALLOWED_GLOBALS } from './checkpoint/torch-globals.js';
export type { ZipArchive, ZipEntry } from './checkpoint/zip.js';
export { readZip } from './checkpoint/zip.js';
export type { DownloadOptions, DownloadProgress, DownloadResult } from './download.js';
export { downloadFile, sha256File } from './download.js';
export type { HpErrorCode, HpErrorOptions } from './errors.js';
export { describeValue, HpError, isHpError } from './errors.js';
export { readFileChecked, temporaryPathFor, writeFileAtomic, writeJsonAtomic } from './fs.js';
export type { GpuLibraryReport } from './gpu-libraries.js';
export { gpuLibraryReport } from './gpu-libraries.js';
export type { HostMatMul, HostMatMulRequest } from './host-matmul.js';
export {
  activeHostMatMul,
  HOST_MATMUL_BACKENDS,
  hostColumnSums,
  hostMatMul2d,
  hostValues,
  installedHostMatMul,
  setHostMatMul,
} from './host-matmul.js';
export { IMAGENET_MEAN, IMAGENET_STD } from './imagenet.js';
export { deriveSeed, mulberry32, permutation, randomSeed } from './random.js';
export type { DimSpec } from './shape.js';
export { assertInt, assertNumber, assertShape, formatShape, sizeOf } from './shape.js';
export { L2_NORMALIZE_EPS, l2Normalize, l2NormalizeRows } from './tensor/l2-normalize.js';
export type {
  AdapterAttempt,
  GpuAdapterInfoLike,
  GpuAdapterLike,
  GpuDeviceLike,
  GpuLike,
  WebGpuAdapterDescription,
  WebGpuFeatureLevel,
  WebGpuOptions,
} from './webgpu.js';
export { isSoftwareAdapter, webgpuAdapterAttempts } from './webgpu.js';
export type { WorkerEntry, WorkerEntryOptions } from './worker-entry.js';
export { resolveWorkerEntry } from './worker-entry.js';
