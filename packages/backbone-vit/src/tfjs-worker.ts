/**
 * Worker-thread entry of the tfjs engine's worker mode: one TF.js wasm backend and one copy of the weights
 * per worker; requests run one at a time, in arrival order. Loaded from `dist/` (built JS) or, in tests and
 * `tsx` runs, from source (see `resolveWorkerEntry` in @hpseg/core).
 */
import { parentPort } from 'node:worker_threads';
import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import type { TfjsBackbone } from './engine-tfjs.js';
import { createTfjsBackbone } from './engine-tfjs.js';
import { createRowExchange } from './row-exchange.js';
import type { TfjsWorkerRequest, TfjsWorkerResponse } from './tfjs-worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('tfjs-worker: must run inside a worker thread');

let backbone: TfjsBackbone | undefined;
/** How long a row-parallel worker waits for the others at a block's barrier. */
const BARRIER_TIMEOUT_MS = 300_000;
let queue: Promise<void> = Promise.resolve();

function failure(request: TfjsWorkerRequest, error: unknown): TfjsWorkerResponse {
  const e = error as { code?: unknown; message?: unknown };
  return {
    type: request.type,
    ...(request.type === 'init' ? {} : { id: request.id }),
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
    if (request.type === 'rows') {
      await forwardRows(backbone, request);
      return;
    }
    await forwardBatch(backbone, request);
  } catch (error) {
    port!.postMessage(failure(request, error));
  }
}

const values = async (t: tf.Tensor): Promise<Float32Array> => (await t.data()) as Float32Array;

/** Posts a response, transferring (not copying) the buffers of its arrays. */
function post(response: TfjsWorkerResponse, arrays: readonly (Float32Array | undefined)[]): void {
  const buffers = arrays
    .filter((a): a is Float32Array => a !== undefined)
    .map((a) => a.buffer as ArrayBuffer);
  port!.postMessage(response, buffers);
}

/** Whole images: exactly the in-process forward. */
async function forwardBatch(
  model: TfjsBackbone,
  request: Extract<TfjsWorkerRequest, { type: 'forward' }>,
): Promise<void> {
  const { B, H, W } = request;
  const images = tf.tensor4d(request.pixels, [B, H, W, 3]);
  try {
    const out = await model.forward(images, { attention: request.attention });
    try {
      const patchTokens = await values(out.patchTokens);
      const clsToken = await values(out.clsToken);
      const attentionLogits = out.attentionLogits ? await values(out.attentionLogits) : undefined;
      post(
        {
          type: 'forward',
          id: request.id,
          ok: true,
          patchTokens,
          clsToken,
          ...(attentionLogits ? { attentionLogits } : {}),
        },
        [patchTokens, clsToken, attentionLogits],
      );
    } finally {
      tf.dispose(Object.values(out));
    }
  } finally {
    images.dispose();
  }
}

/** The token rows `[start, end)` of one image, exchanging keys and values with the other workers. */
async function forwardRows(
  model: TfjsBackbone,
  request: Extract<TfjsWorkerRequest, { type: 'rows' }>,
): Promise<void> {
  const { H, W } = request;
  const { embedDim: C, numHeads, patchSize: p } = model.config;
  const exchange = createRowExchange({
    shared: request.shared,
    parties: request.parties,
    start: request.start,
    end: request.end,
    T: 1 + (H / p) * (W / p),
    heads: numHeads,
    headDim: C / numHeads,
    timeoutMs: BARRIER_TIMEOUT_MS,
  });
  const image = tf.tensor4d(request.pixels, [1, H, W, 3]);
  try {
    const r = model.forwardImage(image, request.attention, exchange);
    try {
      const tokens = await values(r.tokens);
      const attentionLogits = r.logits ? await values(r.logits) : undefined;
      post(
        { type: 'rows', id: request.id, ok: true, tokens, ...(attentionLogits ? { attentionLogits } : {}) },
        [tokens, attentionLogits],
      );
    } finally {
      tf.dispose([r.tokens, ...(r.logits ? [r.logits] : [])]);
    }
  } finally {
    image.dispose();
  }
}

port.on('message', (request: TfjsWorkerRequest) => {
  queue = queue.then(() => handle(request));
});
