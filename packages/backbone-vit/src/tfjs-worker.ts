/**
 * Worker-thread entry of the tfjs engine's worker mode: one TF.js wasm backend and one copy of the weights
 * per worker; requests run one at a time, in arrival order. Loaded from `dist/` (built JS) or, in tests and
 * `tsx` runs, from source (see `resolveWorkerEntry` in @hpseg/core).
 */
import { parentPort } from 'node:worker_threads';
import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { createTfjsBackbone } from './engine-tfjs.js';
import type { TfjsWorkerRequest, TfjsWorkerResponse } from './tfjs-worker-protocol.js';
import type { Backbone } from './types.js';

const port = parentPort;
if (port === null) throw new Error('tfjs-worker: must run inside a worker thread');

let backbone: Backbone | undefined;
let queue: Promise<void> = Promise.resolve();

function failure(request: TfjsWorkerRequest, error: unknown): TfjsWorkerResponse {
  const e = error as { code?: unknown; message?: unknown };
  return {
    type: request.type,
    ...(request.type === 'forward' ? { id: request.id } : {}),
    ok: false,
    code: typeof e?.code === 'string' ? e.code : 'E_WORKER',
    message: typeof e?.message === 'string' ? e.message : String(error),
  };
}

async function handle(request: TfjsWorkerRequest): Promise<void> {
  try {
    if (request.type === 'init') {
      const backend = await selectBackend('wasm');
      backbone = createTfjsBackbone(request.weights);
      port!.postMessage({ type: 'ready', ok: true, backend } satisfies TfjsWorkerResponse);
      return;
    }
    if (backbone === undefined) throw new Error('tfjs-worker: forward before init');
    const { B, H, W } = request;
    const images = tf.tensor4d(request.pixels, [B, H, W, 3]);
    try {
      const out = await backbone.forward(images, { attention: request.attention });
      try {
        const response: TfjsWorkerResponse = {
          type: 'forward',
          id: request.id,
          ok: true,
          patchTokens: (await out.patchTokens.data()) as Float32Array,
          clsToken: (await out.clsToken.data()) as Float32Array,
          ...(out.attentionLogits
            ? { attentionLogits: (await out.attentionLogits.data()) as Float32Array }
            : {}),
        };
        const buffers = [response.patchTokens, response.clsToken, response.attentionLogits]
          .filter((a): a is Float32Array => a !== undefined)
          .map((a) => a.buffer as ArrayBuffer);
        port!.postMessage(response, buffers);
      } finally {
        tf.dispose(Object.values(out));
      }
    } finally {
      images.dispose();
    }
  } catch (error) {
    port!.postMessage(failure(request, error));
  }
}

port.on('message', (request: TfjsWorkerRequest) => {
  queue = queue.then(() => handle(request));
});
