import type { PthValue, StateDict } from '@hpseg/core';
import { HpError, loadPthFile, loadSafetensorsFile, toStateDict } from '@hpseg/core';
import type { VitConfig } from './config.js';
import { inferVitConfig } from './config.js';
import { createOnnxBackbone } from './engine-onnx.js';
import { createTfjsBackbone } from './engine-tfjs.js';
import type { BackboneKeyFormat } from './keys.js';
import { BACKBONE_KEY_FORMATS, normalizeBackboneKeys } from './keys.js';
import { checkBackboneStateDict } from './strict.js';
import type { Backbone, BackboneEngine } from './types.js';
import { toVitHostWeights } from './weights.js';

export interface LoadBackboneOptions {
  /** `onnx` (default in Node): ONNX Runtime; `tfjs`: TF.js ops on the active backend. */
  engine?: BackboneEngine;
  /** Key naming of the checkpoint; `auto` (default) detects it. */
  format?: BackboneKeyFormat | 'auto';
  /** Attention heads (not visible in shapes). Default `embedDim / 64`, right for every DINO release. */
  numHeads?: number;
  /** onnx engine: ONNX Runtime execution providers (default `['cpu']`; `['cuda', 'cpu']` with the CUDA build). */
  executionProviders?: string[];
  /** onnx engine: intra-op threads (default: number of cores). */
  threads?: number;
  /** onnx engine: graph operators, `'ort'` (default: ONNX Runtime's fused Attention and BiasGelu) or `'standard'`. */
  onnxOps?: 'ort' | 'standard';
  /**
   * tfjs engine, Node only: run the images of a batch on this many worker threads, each with its own TF.js
   * wasm backend and copy of the weights (TF.js wasm uses one thread per backend in Node). `0` (default):
   * in the calling thread, on the active backend. Parallel over images: a batch of one gains nothing.
   * Needs `@tensorflow/tfjs-backend-wasm`.
   */
  workers?: number;
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** Containers that hold the ViT inside a bigger checkpoint, tried in this order for `auto`. */
const ROOTS: readonly [string, BackboneKeyFormat | 'auto'][] = [
  ['teacher', 'dino-teacher'],
  ['net_model_state_dict', 'hp'],
  ['state_dict', 'auto'],
  ['model', 'auto'],
];

/** Picks the ViT's dict inside an unpickled checkpoint and flattens it. */
function stateDictFromPth(value: PthValue, format: BackboneKeyFormat | 'auto'): StateDict {
  if (value instanceof Map) {
    const hasTensorsAtTop = [...value.keys()].some(
      (k) => typeof k === 'string' && /^(blocks|pos_embed|cls_token)/.test(k),
    );
    if (!hasTensorsAtTop) {
      for (const [root, rootFormat] of ROOTS) {
        if (format !== 'auto' && rootFormat !== 'auto' && rootFormat !== format) continue;
        if (value.get(root) instanceof Map) return toStateDict(value, { prefix: root });
      }
    }
  }
  return toStateDict(value);
}

/** Reads a `.pth` / `.safetensors` file into a flat state dict (keys not yet normalised). */
export async function readBackboneFile(
  path: string,
  format: BackboneKeyFormat | 'auto' = 'auto',
): Promise<StateDict> {
  if (/\.safetensors$/i.test(path)) return (await loadSafetensorsFile(path)).tensors;
  // DINO training checkpoints pickle their `args` (argparse.Namespace): read as inert data, never executed.
  return stateDictFromPth(await loadPthFile(path, { allowGlobals: ['argparse.Namespace'] }), format);
}

/**
 * Loads a frozen DINO ViT from an official `.pth` (or a DINO training checkpoint, a timm file, an HP
 * checkpoint, a `.safetensors` file) or from an in-memory state dict. Loading is strict: any missing,
 * unexpected or mis-shaped tensor → one `E_CHECKPOINT` error listing them all.
 */
export async function loadBackbone(
  source: string | StateDict,
  options: LoadBackboneOptions = {},
): Promise<Backbone> {
  const fn = 'loadBackbone';
  const format = options.format ?? 'auto';
  if (!BACKBONE_KEY_FORMATS.includes(format)) {
    throw new HpError(
      'E_ARG',
      `${fn}: unknown format: expected one of ${BACKBONE_KEY_FORMATS.join(', ')}, got ${JSON.stringify(format)}`,
    );
  }
  const engine = options.engine ?? (isNode ? 'onnx' : 'tfjs');
  if (engine !== 'onnx' && engine !== 'tfjs') {
    throw new HpError(
      'E_ARG',
      `${fn}: unknown engine: expected 'onnx' or 'tfjs', got ${JSON.stringify(engine)}`,
    );
  }
  const workers = options.workers ?? 0;
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) {
    throw new HpError(
      'E_ARG',
      `${fn}: workers is invalid: expected an integer in [0, 64], got ${String(workers)}`,
    );
  }
  if (workers > 0 && (engine !== 'tfjs' || !isNode)) {
    throw new HpError(
      'E_ARG',
      `${fn}: workers is for the tfjs engine in Node: expected workers 0 with engine '${engine}'${isNode ? '' : ' outside Node'}, got ${workers}`,
    );
  }
  if (options.onnxOps !== undefined && options.onnxOps !== 'ort' && options.onnxOps !== 'standard') {
    throw new HpError(
      'E_ARG',
      `${fn}: unknown onnxOps: expected 'ort' or 'standard', got ${JSON.stringify(options.onnxOps)}`,
    );
  }
  let raw: StateDict;
  if (typeof source === 'string') raw = await readBackboneFile(source, format);
  else if (source instanceof Map) raw = source;
  else {
    throw new HpError(
      'E_ARG',
      `${fn}: source is invalid: expected a .pth/.safetensors path or a StateDict (Map), got ${typeof source}`,
    );
  }
  const stateDict = normalizeBackboneKeys(raw, format);
  const config: VitConfig = inferVitConfig(
    stateDict,
    options.numHeads === undefined ? {} : { numHeads: options.numHeads },
  );
  checkBackboneStateDict(stateDict, config);
  const weights = toVitHostWeights(stateDict, config);
  if (engine === 'tfjs') {
    if (workers === 0) return createTfjsBackbone(weights);
    // Imported on demand: the worker mode needs node:worker_threads, the rest of the package does not.
    const { createTfjsWorkerBackbone } = await import('./engine-tfjs-workers.js');
    return createTfjsWorkerBackbone(weights, workers);
  }
  return createOnnxBackbone(weights, {
    ...(options.executionProviders ? { executionProviders: options.executionProviders } : {}),
    ...(options.threads ? { threads: options.threads } : {}),
    ...(options.onnxOps ? { ops: options.onnxOps } : {}),
  });
}
