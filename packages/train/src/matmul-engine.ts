import { createOnnxMatMul, type OnnxMatMul } from '@hpseg/backbone-vit';
import {
  describeValue,
  HOST_MATMUL_BACKENDS,
  type HostMatMul,
  HpError,
  isHpError,
  setHostMatMul,
} from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Where the heads' matrix products run (the head and momentum head, the projection head, the probes, the
 * probe's upsample): `onnx` on ONNX Runtime's multi-threaded CPU `Gemm` (host backends wasm and cpu only),
 * `tfjs` on `tf.matMul` (XNNPACK on one thread on wasm), `auto` (default) `onnx` when the backend is wasm or
 * cpu and onnxruntime-node is installed, else `tfjs`.
 */
export type MatMulEngine = 'auto' | 'onnx' | 'tfjs';

export const MATMUL_ENGINES: readonly MatMulEngine[] = ['auto', 'onnx', 'tfjs'];

/** An opened engine: what it is (for logs and `config.json`) and its host product, if any. */
export interface OpenedMatMulEngine {
  readonly engine: 'onnx' | 'tfjs';
  /** E.g. `onnxruntime (2 threads)`, `tfjs`, or `tfjs (auto: …why onnx is not used…)`. */
  readonly label: string;
  readonly host: HostMatMul | undefined;
  /** Runs `fn` with the host product installed (`setHostMatMul`), restoring the previous one after. */
  use<T>(fn: () => Promise<T>): Promise<T>;
  dispose(): void;
}

function opened(engine: 'onnx' | 'tfjs', label: string, host: OnnxMatMul | undefined): OpenedMatMulEngine {
  return {
    engine,
    label,
    host,
    async use<T>(fn: () => Promise<T>): Promise<T> {
      const previous = setHostMatMul(host);
      try {
        return await fn();
      } finally {
        setHostMatMul(previous);
      }
    },
    dispose() {
      host?.dispose();
    },
  };
}

/** Opens the heads' matrix-product engine for the active backend (see `MatMulEngine`). */
export async function openMatMulEngine(
  choice: MatMulEngine = 'auto',
  options: { threads?: number; create?: typeof createOnnxMatMul } = {},
): Promise<OpenedMatMulEngine> {
  const fn = 'openMatMulEngine';
  if (!MATMUL_ENGINES.includes(choice)) {
    throw new HpError(
      'E_ARG',
      `${fn}: expected matmulEngine to be one of ${MATMUL_ENGINES.join(', ')}, got ${describeValue(choice)}`,
    );
  }
  const backend = tf.getBackend();
  if (choice === 'tfjs') return opened('tfjs', 'tfjs', undefined);
  if (!HOST_MATMUL_BACKENDS.has(backend)) {
    if (choice === 'onnx') {
      throw new HpError(
        'E_BACKEND',
        `${fn}: matmulEngine 'onnx' runs on host tensors: expected the wasm or cpu backend, got ${backend}`,
        { hint: "matmulEngine: 'auto' or 'tfjs'" },
      );
    }
    return opened('tfjs', 'tfjs', undefined);
  }
  const create = options.create ?? createOnnxMatMul;
  try {
    const host = await create(options.threads === undefined ? {} : { threads: options.threads });
    return opened('onnx', host.name, host);
  } catch (error) {
    if (choice === 'auto' && isHpError(error) && error.code === 'E_BACKEND') {
      return opened('tfjs', `tfjs (auto: ONNX Runtime unavailable: ${error.message})`, undefined);
    }
    throw error;
  }
}
