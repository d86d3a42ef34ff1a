import { assertInt, describeValue, type HostMatMul, type HostMatMulRequest, HpError } from '@hpseg/core';
import { importOrt } from './engine-onnx.js';
import { buildGemmOnnx, GEMM_IO } from './onnx-graph.js';

/** The part of onnxruntime-node's native session (`onnxruntime-node/dist/binding.js`) this module uses. */
interface BindingSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(
    feeds: Record<string, unknown>,
    fetches: Record<string, null>,
    options: object,
  ): Record<string, { data: unknown; dims: readonly number[] }>;
  dispose(): void;
}
interface BindingModule {
  binding: { InferenceSession: new () => BindingSession };
  initOrt: () => void;
}

export interface OnnxMatMulOptions {
  /** Intra-op threads of each product. Default: the number of cores (`os.availableParallelism()`). */
  readonly threads?: number;
  /**
   * Let ONNX Runtime's threads spin between products (its default). Default `false`: they sleep, so they
   * do not take a core from the single-threaded TF.js kernels and the fused loss's workers in between.
   */
  readonly spinning?: boolean;
  /** Tests only: how onnxruntime-node's binding is loaded. */
  readonly loadBinding?: () => Promise<unknown>;
}

/** A host matrix product on ONNX Runtime's CPU `Gemm` (MLAS, multi-threaded); `dispose` frees its sessions. */
export interface OnnxMatMul extends HostMatMul {
  readonly threads: number;
  dispose(): void;
}

async function importBinding(load: () => Promise<unknown>): Promise<BindingModule> {
  let mod: unknown;
  try {
    mod = await load();
  } catch (error) {
    throw new HpError(
      'E_BACKEND',
      `createOnnxMatMul: expected onnxruntime-node's synchronous session binding (onnxruntime-node/dist/binding.js) to load, got ${(error as Error)?.message ?? String(error)}. Use { matmulEngine: 'tfjs' }`,
      { cause: error },
    );
  }
  const m = mod as Partial<BindingModule> & { default?: Partial<BindingModule> };
  const found = typeof m.binding?.InferenceSession === 'function' ? m : m.default;
  if (typeof found?.binding?.InferenceSession !== 'function' || typeof found.initOrt !== 'function') {
    throw new HpError(
      'E_BACKEND',
      `createOnnxMatMul: expected onnxruntime-node/dist/binding.js to export binding.InferenceSession and initOrt (as onnxruntime-node 1.30 does), got ${describeValue(mod)}. Use { matmulEngine: 'tfjs' }`,
    );
  }
  return found as BindingModule;
}

/**
 * A synchronous host matrix product on ONNX Runtime: one `Gemm` session per transpose/bias combination,
 * run through onnxruntime-node's native session object, whose `run` is synchronous (the public
 * `InferenceSession.run` only wraps it in a promise). Synchronous matters: the products run inside
 * TF.js tapes (`tf.customGrad`), which cannot await. Install it with `setHostMatMul` (@hpseg/core) and
 * `@hpseg/seg-head`'s `dense`, `matMul2d` and `upsampleBilinear` use it on the wasm and cpu backends:
 * at the head's shapes (`[6272, 384] @ [384, 512]`) a product takes about 18 ms on 2 cores against
 * about 85 ms in XNNPACK on TF.js wasm's one thread (the package README has the measurement).
 */
export async function createOnnxMatMul(options: OnnxMatMulOptions = {}): Promise<OnnxMatMul> {
  const fn = 'createOnnxMatMul';
  if (typeof options !== 'object' || options === null) {
    throw new HpError('E_ARG', `${fn}: expected an options object, got ${describeValue(options)}`);
  }
  const threads =
    options.threads === undefined
      ? (await import('node:os')).availableParallelism()
      : assertInt(fn, 'threads', options.threads, 1, 256);
  const ort = await importOrt();
  const mod = await importBinding(
    options.loadBinding ?? (() => import('onnxruntime-node/dist/binding.js' as string)),
  );
  mod.initOrt();
  const sessionOptions = {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: options.spinning === true ? '1' : '0' } } },
  };
  const sessions = new Map<string, BindingSession>();
  let disposed = false;
  const sessionFor = (transA: boolean, transB: boolean, bias: boolean): BindingSession => {
    const key = `${+transA}${+transB}${+bias}`;
    let session = sessions.get(key);
    if (session === undefined) {
      const model = buildGemmOnnx(transA, transB, bias);
      session = new mod.binding.InferenceSession();
      try {
        session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, sessionOptions);
      } catch (error) {
        throw new HpError(
          'E_BACKEND',
          `${fn}: ONNX Runtime refused the Gemm graph: expected a session, got ${(error as Error).message}`,
          { cause: error },
        );
      }
      sessions.set(key, session);
    }
    return session;
  };
  const name = `onnxruntime (${threads} thread${threads === 1 ? '' : 's'})`;
  const run = (request: HostMatMulRequest): Float32Array => {
    if (disposed) throw new HpError('E_DISPOSED', `${fn}: this host matrix product (${name}) was disposed`);
    const { a, aShape, b, bShape, transA, transB, bias } = request;
    for (const [label, data, shape] of [
      ['a', a, aShape],
      ['b', b, bShape],
    ] as const) {
      if (!(data instanceof Float32Array) || data.length !== shape[0] * shape[1]) {
        throw new HpError(
          'E_SHAPE',
          `${fn}: expected ${label} to be a Float32Array of ${shape[0]}×${shape[1]} = ${shape[0] * shape[1]} values, got ${describeValue(data)}`,
        );
      }
    }
    const feeds: Record<string, unknown> = {
      [GEMM_IO.a]: new ort.Tensor('float32', a, [aShape[0], aShape[1]]),
      [GEMM_IO.b]: new ort.Tensor('float32', b, [bShape[0], bShape[1]]),
    };
    if (bias !== undefined) feeds[GEMM_IO.bias] = new ort.Tensor('float32', bias, [bias.length]);
    let out: Record<string, { data: unknown }>;
    try {
      out = sessionFor(transA, transB, bias !== undefined).run(feeds, { [GEMM_IO.y]: null }, {});
    } catch (error) {
      if (error instanceof HpError) throw error;
      throw new HpError(
        'E_BACKEND',
        `${fn}: ONNX Runtime's Gemm failed on a [${aShape}]${transA ? 'ᵀ' : ''} @ [${bShape}]${transB ? 'ᵀ' : ''} product: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return out[GEMM_IO.y]!.data as Float32Array;
  };
  return {
    name,
    threads,
    run,
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const s of sessions.values()) s.dispose();
      sessions.clear();
    },
  };
}
