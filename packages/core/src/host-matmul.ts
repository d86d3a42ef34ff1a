import * as tf from '@tensorflow/tfjs-core';
import { describeValue, HpError } from './errors.js';

/** Backends whose tensors live in host memory: only there may a host matrix product replace `tf.matMul`. */
export const HOST_MATMUL_BACKENDS: ReadonlySet<string> = new Set(['wasm', 'cpu']);

/**
 * One matrix product for a host engine: `op(a) @ op(b) (+ bias)`, where `op` transposes when the flag says so.
 * `a` is `aShape` row-major, `b` is `bShape` row-major; `bias` (length = the result's columns) is added to
 * every row. Returns the `[rows, cols]` result row-major.
 */
export interface HostMatMulRequest {
  readonly a: Float32Array;
  readonly aShape: readonly [number, number];
  readonly b: Float32Array;
  readonly bShape: readonly [number, number];
  readonly transA: boolean;
  readonly transB: boolean;
  readonly bias?: Float32Array;
}

/** A synchronous host matrix product (it runs inside `tf.customGrad` and `tf.variableGrads`). */
export interface HostMatMul {
  /** Shown in logs and run records, e.g. `onnxruntime (2 threads)`. */
  readonly name: string;
  run(request: HostMatMulRequest): Float32Array;
}

let installed: HostMatMul | undefined;

/**
 * Installs the host matrix product that `hostMatMul2d` (and through it `@hpseg/seg-head`'s `dense`,
 * `matMul2d` and `upsampleBilinear`) use on the wasm and cpu backends; `undefined` goes back to
 * `tf.matMul`. Returns the one it replaces. Process-wide, like a backend: a trainer installs it at start
 * and restores the previous one when it ends.
 */
export function setHostMatMul(impl: HostMatMul | undefined): HostMatMul | undefined {
  if (impl !== undefined && (typeof impl !== 'object' || impl === null || typeof impl.run !== 'function')) {
    throw new HpError(
      'E_ARG',
      `setHostMatMul: expected an object with a run(request) method or undefined, got ${describeValue(impl)}`,
    );
  }
  const previous = installed;
  installed = impl;
  return previous;
}

/** The installed host matrix product, whatever the backend (see `activeHostMatMul`). */
export function installedHostMatMul(): HostMatMul | undefined {
  return installed;
}

/** The installed host matrix product when the active backend keeps its tensors on the host, else `undefined`. */
export function activeHostMatMul(): HostMatMul | undefined {
  return installed !== undefined && HOST_MATMUL_BACKENDS.has(tf.getBackend()) ? installed : undefined;
}

/** The parts of TF.js's wasm backend that `hostValues` reads (feature-detected: any other shape → a copy). */
interface WasmBackendInternals {
  dataIdMap?: { get(id: object): { memoryOffset?: number | null } | undefined };
  wasm?: { HEAPU8?: Uint8Array };
}

/**
 * The float32 values of `t` for a host computation that finishes before the next TF.js op: on the wasm
 * backend a view of the backend's heap (no copy; a 12.8 MB tensor costs 5–7 ms to `dataSync` there),
 * elsewhere `dataSync()`. The view must not be written to or kept: the heap moves when it grows.
 */
export function hostValues(t: tf.Tensor): Float32Array {
  if (t.dtype === 'float32' && tf.getBackend() === 'wasm') {
    const backend = tf.backend() as unknown as WasmBackendInternals;
    const offset = backend.dataIdMap?.get(t.dataId)?.memoryOffset;
    const heap = backend.wasm?.HEAPU8;
    if (typeof offset === 'number' && heap !== undefined && offset + t.size * 4 <= heap.byteLength) {
      return new Float32Array(heap.buffer, heap.byteOffset + offset, t.size);
    }
  }
  return t.dataSync() as Float32Array;
}

/**
 * `op(a) @ op(b) (+ bias)` for 2-D tensors. With an active host matrix product (`activeHostMatMul`) the
 * operands are read to the host and the product comes back as a new tensor; otherwise it is `tf.matMul` of
 * explicitly transposed operands (`tf.transpose`, never the transpose flags: TF.js wasm sends only
 * un-flagged 2-D products to XNNPACK), plus `tf.add` of the bias, exactly the ops that `@hpseg/seg-head`
 * always used, so results on that path are bit for bit the same as before.
 */
export function hostMatMul2d(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  transA = false,
  transB = false,
  bias?: tf.Tensor1D,
): tf.Tensor2D {
  const rows = transA ? a.shape[1] : a.shape[0];
  const inner = transA ? a.shape[0] : a.shape[1];
  const innerB = transB ? b.shape[1] : b.shape[0];
  const cols = transB ? b.shape[0] : b.shape[1];
  if (inner !== innerB) {
    throw new HpError(
      'E_SHAPE',
      `hostMatMul2d: expected the inner sizes to agree, got ${inner} (a [${a.shape}]${transA ? 'ᵀ' : ''}) and ${innerB} (b [${b.shape}]${transB ? 'ᵀ' : ''})`,
    );
  }
  if (bias !== undefined && (bias.rank !== 1 || bias.shape[0] !== cols)) {
    throw new HpError('E_SHAPE', `hostMatMul2d: expected a bias of shape [${cols}], got [${bias.shape}]`);
  }
  const host = activeHostMatMul();
  if (host === undefined) {
    return tf.tidy(() => {
      const product = tf.matMul(transA ? tf.transpose(a) : a, transB ? tf.transpose(b) : b);
      return (bias === undefined ? product : tf.add(product, bias)) as tf.Tensor2D;
    });
  }
  // Views of the operands (no TF.js op runs until the product is back), then a new tensor of the result.
  const values = host.run({
    a: hostValues(a),
    aShape: [a.shape[0], a.shape[1]],
    b: hostValues(b),
    bShape: [b.shape[0], b.shape[1]],
    transA,
    transB,
    ...(bias === undefined ? {} : { bias: hostValues(bias) }),
  });
  if (!(values instanceof Float32Array) || values.length !== rows * cols) {
    throw new HpError(
      'E_BACKEND',
      `hostMatMul2d: the host matrix product ${host.name} returned ${describeValue(values)}, expected a Float32Array of ${rows}×${cols} = ${rows * cols} values`,
    );
  }
  return tf.tensor2d(values, [rows, cols]);
}

/**
 * `Σ_rows x` of a 2-D `x [m, n]` → `[n]` (a bias gradient). With an active host matrix product it is the
 * product `1ᵀ x` there; otherwise `tf.sum(x, 0)`, the op `@hpseg/seg-head` always used.
 */
export function hostColumnSums(x: tf.Tensor2D): tf.Tensor1D {
  if (activeHostMatMul() === undefined) return tf.sum(x, 0) as tf.Tensor1D;
  return tf.tidy(() => tf.reshape(hostMatMul2d(tf.ones([x.shape[0], 1]), x, true, false), [x.shape[1]]));
}
