/**
 * A tensor held in plain JS memory, as read from or written to a checkpoint file: no TF.js involved,
 * so checkpoint I/O works before any backend is chosen. Layout is the file's (PyTorch: row-major,
 * PyTorch dimension order); model packages convert to NHWC / `[in, out]` once, in their loaders.
 */
export type HostDType = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'int8' | 'bool';

/** Storage element types found in files (half precisions are widened to float32 on read). */
export type StoredDType = HostDType | 'float16' | 'bfloat16' | 'int16';

export interface HostTensor {
  /** Element type of `data`. */
  readonly dtype: HostDType;
  /** Element type in the file (differs from `dtype` for float16/bfloat16, widened to float32). */
  readonly storedDtype: StoredDType;
  /** Row-major (C-contiguous) shape. `[]` is a scalar. */
  readonly shape: readonly number[];
  /** Contiguous row-major data: Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array/Int8Array. */
  readonly data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;
}

/** A flat mapping from dotted parameter names to tensors (`blocks.0.attn.qkv.weight` → tensor). */
export type StateDict = Map<string, HostTensor>;
