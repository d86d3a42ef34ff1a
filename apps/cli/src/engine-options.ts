import { availableParallelism } from 'node:os';
import type { BackboneEngine, LoadBackboneOptions } from '@hpseg/backbone-vit';
import { HpError } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Engine tuning from the environment, for every backbone the CLI loads:
 * - `HPSEG_ORT_PROVIDERS` (onnx engine): ONNX Runtime execution providers, e.g. `cuda,cpu` with the CUDA
 *   build of onnxruntime-node installed; default CPU.
 * - `HPSEG_TFJS_WORKERS` (tfjs engine): run the backbone on this many worker threads, each with its own
 *   TF.js wasm backend; `0` keeps it in the main thread. Default: one worker per core when the selected
 *   backend is wasm and there are several cores (TF.js wasm uses one thread per backend in Node), else 0.
 */
export function engineOptions(engine: BackboneEngine): LoadBackboneOptions {
  const options: LoadBackboneOptions = { engine };
  const providers = process.env.HPSEG_ORT_PROVIDERS;
  if (engine === 'onnx' && providers) {
    options.executionProviders = providers
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }
  const workers = process.env.HPSEG_TFJS_WORKERS;
  if (engine === 'tfjs' && workers) {
    if (!/^\d+$/.test(workers.trim())) {
      throw new HpError(
        'E_ARG',
        `hpseg: bad HPSEG_TFJS_WORKERS: expected a whole number of worker threads, got ${JSON.stringify(workers)}`,
      );
    }
    options.workers = Number(workers.trim());
  } else if (engine === 'tfjs' && tf.getBackend() === 'wasm' && availableParallelism() > 1) {
    options.workers = availableParallelism();
  }
  return options;
}
