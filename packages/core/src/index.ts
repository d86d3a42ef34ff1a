export type { BackendChoice, ConcreteBackend } from './backend.js';
export { availableBackends, BACKEND_CHOICES, selectBackend } from './backend.js';
export type { HpErrorCode, HpErrorOptions } from './errors.js';
export { describeValue, HpError, isHpError } from './errors.js';
export { temporaryPathFor, writeFileAtomic, writeJsonAtomic } from './fs.js';
export type { DimSpec } from './shape.js';
export { assertInt, assertNumber, assertShape, formatShape, sizeOf } from './shape.js';
export type { HostDType, StoredDType, HostTensor, StateDict } from './checkpoint/host-tensor.js';
