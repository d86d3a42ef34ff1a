import type { StoredDType } from './host-tensor.js';

/**
 * The allow-list of pickle globals `readPth` accepts: containers, tensor rebuilds, storage types,
 * and a few classes read as plain data. Everything else is refused with `E_UNSAFE`.
 */

/** `torch.<Name>Storage` → element type. */
export const STORAGE_TYPES: Readonly<Record<string, StoredDType>> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

export type GlobalKind =
  | 'ordered-dict'
  | 'rebuild-tensor'
  | 'rebuild-tensor-v2'
  | 'rebuild-parameter'
  | 'storage-type'
  | 'codecs-encode'
  | 'numpy-scalar'
  | 'numpy-dtype'
  | 'torch-size'
  | 'torch-device'
  | 'set'
  | 'empty-bytes'
  | 'allowed-object';

export const ALLOWED: Readonly<Record<string, GlobalKind>> = {
  'collections.OrderedDict': 'ordered-dict',
  'torch._utils._rebuild_tensor': 'rebuild-tensor',
  'torch._utils._rebuild_tensor_v2': 'rebuild-tensor-v2',
  'torch._utils._rebuild_parameter': 'rebuild-parameter',
  'torch._utils._rebuild_parameter_with_state': 'rebuild-parameter',
  '_codecs.encode': 'codecs-encode',
  'numpy.core.multiarray.scalar': 'numpy-scalar',
  'numpy._core.multiarray.scalar': 'numpy-scalar',
  'numpy.dtype': 'numpy-dtype',
  'torch.Size': 'torch-size',
  'torch.device': 'torch-device',
  'builtins.set': 'set',
  'builtins.frozenset': 'set',
  '__builtin__.set': 'set', // protocol 2 writes Python 2 module names
  '__builtin__.frozenset': 'set',
  'builtins.bytes': 'empty-bytes',
  '__builtin__.bytes': 'empty-bytes',
};

/** `torch.<dtype>` objects (read as the string `torch.<name>`). */
export const TORCH_DTYPES: ReadonlySet<string> = new Set([
  'float32',
  'float',
  'float64',
  'double',
  'float16',
  'half',
  'bfloat16',
  'int64',
  'long',
  'int32',
  'int',
  'int16',
  'short',
  'int8',
  'uint8',
  'bool',
  'complex64',
  'complex128',
]);

/** The globals every `.pth` may use (for messages and the README). */
export const PTH_ALLOWED_GLOBALS: readonly string[] = [
  ...Object.keys(ALLOWED),
  ...Object.keys(STORAGE_TYPES).map((s) => `torch.${s}`),
  ...[...TORCH_DTYPES].map((s) => `torch.${s}`),
];
