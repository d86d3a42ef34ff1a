/**
 * Worker-thread entry of the CRF pool: receives validated inputs, runs `denseCrfValidated`, posts
 * the result back (buffers transferred). Loaded from `dist/` (built JS) or from source via tsx.
 */
import { parentPort } from 'node:worker_threads';
import { denseCrfValidated } from './solve.js';
import type { WorkerRequest, WorkerResponse } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('crf-worker: must run inside a worker thread');

port.on('message', (request: WorkerRequest) => {
  let response: WorkerResponse;
  try {
    const { probabilities, labels } = denseCrfValidated(request.input);
    response = { id: request.id, ok: true, probabilities, labels };
    port.postMessage(response, [probabilities.buffer as ArrayBuffer, labels.buffer as ArrayBuffer]);
  } catch (error) {
    const e = error as { name?: unknown; code?: unknown; message?: unknown };
    response = {
      id: request.id,
      ok: false,
      code: typeof e.code === 'string' ? e.code : 'E_WORKER',
      message: typeof e.message === 'string' ? e.message : String(error),
    };
    port.postMessage(response);
  }
});
