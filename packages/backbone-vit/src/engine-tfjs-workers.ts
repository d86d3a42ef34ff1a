import { Worker } from 'node:worker_threads';
import { HpError, resolveWorkerEntry } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { checkImages, disposedError } from './input.js';
import { abortRowExchange, rowExchangeBytes } from './row-exchange.js';
import type { TfjsWorkerRequest, TfjsWorkerResponse } from './tfjs-worker-protocol.js';
import type { Backbone, BackboneOutput, ForwardOptions } from './types.js';
import type { VitHostWeights } from './weights.js';

type ForwardResult = Extract<TfjsWorkerResponse, { type: 'forward'; ok: true }>;
type RowsResult = Extract<TfjsWorkerResponse, { type: 'rows'; ok: true }>;
type WorkerResult = ForwardResult | RowsResult;

interface Pending {
  resolve: (result: WorkerResult) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Set once the worker died: every later request fails with it. */
  dead: HpError | undefined;
}

/** Splits `length` items (images, token rows) into at most `n` contiguous runs whose sizes differ by at most one. */
export function splitRuns(length: number, n: number): { start: number; count: number }[] {
  const parts = Math.min(length, n);
  const runs: { start: number; count: number }[] = [];
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const count = Math.floor(length / parts) + (i < length % parts ? 1 : 0);
    runs.push({ start, count });
    start += count;
  }
  return runs;
}

/**
 * The tfjs engine on `workers` worker threads, each with its own TF.js wasm backend and its own copy of the
 * weights (TF.js wasm runs one thread per backend in Node). A batch of at least `workers` images is split into
 * contiguous runs, one per worker (each image computed by the same code as in-process, so the result is
 * identical); a smaller batch is computed image by image, each image's token rows split over all workers.
 * Results are gathered into tensors on the caller's active backend.
 */
export async function createTfjsWorkerBackbone(weights: VitHostWeights, workers: number): Promise<Backbone> {
  const config = weights.config;
  const C = config.embedDim;
  const spec = resolveWorkerEntry({
    fn: 'loadBackbone',
    moduleUrl: import.meta.url,
    built: ['./tfjs-worker.js'],
    source: './tfjs-worker.ts',
    packageName: '@hpseg/backbone-vit',
  });
  let nextId = 1;
  let disposed = false;
  const slots: Slot[] = [];

  const kill = (slot: Slot, error: HpError) => {
    slot.dead ??= error;
    for (const p of slot.pending.values()) p.reject(slot.dead);
    slot.pending.clear();
  };

  const start = (): Promise<Slot> =>
    new Promise((resolve, reject) => {
      const worker = new Worker(spec.entry, {
        eval: spec.eval,
        ...(spec.execArgv ? { execArgv: spec.execArgv } : {}),
      });
      const slot: Slot = { worker, pending: new Map(), dead: undefined };
      let ready = false;
      worker.on('message', (message: TfjsWorkerResponse) => {
        if (message.type === 'ready') {
          ready = true;
          worker.unref();
          resolve(slot);
          return;
        }
        if (!message.ok && message.type === 'init') {
          reject(
            new HpError(message.code, `loadBackbone: a tfjs worker failed to start: ${message.message}`),
          );
          void worker.terminate();
          return;
        }
        const id = message.id ?? -1;
        const pending = slot.pending.get(id);
        if (pending === undefined) return;
        slot.pending.delete(id);
        if (slot.pending.size === 0) worker.unref();
        if (message.ok) pending.resolve(message as WorkerResult);
        else pending.reject(new HpError(message.code, message.message));
      });
      const onDeath = (error: HpError) => {
        kill(slot, error);
        if (!ready) reject(error);
      };
      worker.on('error', (error) =>
        onDeath(
          new HpError('E_WORKER', `Backbone.forward: a tfjs worker crashed: ${error.message}`, {
            cause: error,
          }),
        ),
      );
      worker.on('exit', (code) => {
        if (!disposed)
          onDeath(new HpError('E_WORKER', `Backbone.forward: a tfjs worker exited with code ${code}`));
      });
      worker.postMessage({ type: 'init', weights } satisfies TfjsWorkerRequest);
    });

  // Start the workers together (each loads TF.js, its wasm backend and the weights).
  const started = await Promise.allSettled(Array.from({ length: workers }, start));
  for (const s of started) if (s.status === 'fulfilled') slots.push(s.value);
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    disposed = true;
    await Promise.all(slots.map((s) => s.worker.terminate()));
    throw failed.reason;
  }

  const request = <R extends WorkerResult>(
    slot: Slot,
    message: Extract<TfjsWorkerRequest, { type: 'forward' | 'rows' }>,
  ) =>
    new Promise<R>((resolve, reject) => {
      if (slot.dead) {
        reject(slot.dead);
        return;
      }
      slot.pending.set(message.id, { resolve: resolve as (r: WorkerResult) => void, reject });
      slot.worker.ref();
      slot.worker.postMessage(message, [message.pixels.buffer as ArrayBuffer]);
    });

  /**
   * Fewer images than workers: each image is split by token rows over all workers, which exchange keys
   * and values once per block through shared memory (see row-exchange.ts).
   */
  const forwardByRows = async (
    pixels: Float32Array,
    g: { B: number; H: number; W: number; h: number; w: number; T: number },
    attention: boolean,
  ): Promise<BackboneOutput> => {
    const { B, H, W, h, w, T } = g;
    const heads = config.numHeads;
    const perImage = H * W * 3;
    const tokens = new Float32Array(B * T * C);
    const logits = attention ? new Float32Array(B * heads * T * T) : undefined;
    for (let b = 0; b < B; b++) {
      const runs = splitRuns(T, slots.length);
      const shared = new SharedArrayBuffer(rowExchangeBytes(T, C));
      const image = pixels.subarray(b * perImage, (b + 1) * perImage);
      const results = await Promise.all(
        runs.map(({ start, count }, i) =>
          request<RowsResult>(slots[i]!, {
            type: 'rows',
            id: nextId++,
            pixels: image.slice(),
            H,
            W,
            attention,
            start,
            end: start + count,
            parties: runs.length,
            shared,
          }).catch((error: unknown) => {
            abortRowExchange(shared); // the others would wait for this worker at the next barrier
            throw error;
          }),
        ),
      );
      results.forEach((r, i) => {
        const { start, count } = runs[i]!;
        tokens.set(r.tokens, (b * T + start) * C);
        if (logits) {
          // This worker's logits are [heads, count, T]: rows start..start+count of every head.
          for (let head = 0; head < heads; head++) {
            logits.set(
              r.attentionLogits!.subarray(head * count * T, (head + 1) * count * T),
              ((b * heads + head) * T + start) * T,
            );
          }
        }
      });
    }
    const patchTokens = new Float32Array(B * h * w * C);
    const clsToken = new Float32Array(B * C);
    for (let b = 0; b < B; b++) {
      clsToken.set(tokens.subarray(b * T * C, b * T * C + C), b * C);
      patchTokens.set(tokens.subarray(b * T * C + C, (b + 1) * T * C), b * h * w * C);
    }
    const out: BackboneOutput = {
      patchTokens: tf.tensor4d(patchTokens, [B, h, w, C]),
      clsToken: tf.tensor2d(clsToken, [B, C]),
    };
    if (logits) out.attentionLogits = tf.tensor4d(logits, [B, heads, T, T]);
    return out;
  };

  const forward = async (images: tf.Tensor4D, options: ForwardOptions = {}): Promise<BackboneOutput> => {
    if (disposed) throw disposedError();
    const { B, H, W, h, w, T } = checkImages('Backbone.forward', images, config);
    const attention = options.attention === true;
    const pixels = (await images.data()) as Float32Array;
    if (B < slots.length) return forwardByRows(pixels, { B, H, W, h, w, T }, attention);
    const perImage = H * W * 3;
    const runs = splitRuns(B, slots.length);
    const results = await Promise.all(
      runs.map(({ start, count }, i) =>
        request<ForwardResult>(slots[i]!, {
          type: 'forward',
          id: nextId++,
          pixels: pixels.slice(start * perImage, (start + count) * perImage),
          B: count,
          H,
          W,
          attention,
        }),
      ),
    );
    const gather = (part: (r: ForwardResult) => Float32Array, size: number): Float32Array => {
      const out = new Float32Array(B * size);
      results.forEach((r, i) => {
        out.set(part(r), runs[i]!.start * size);
      });
      return out;
    };
    const out: BackboneOutput = {
      patchTokens: tf.tensor4d(
        gather((r) => r.patchTokens, h * w * C),
        [B, h, w, C],
      ),
      clsToken: tf.tensor2d(
        gather((r) => r.clsToken, C),
        [B, C],
      ),
    };
    if (attention) {
      const size = config.numHeads * T * T;
      out.attentionLogits = tf.tensor4d(
        gather((r) => r.attentionLogits!, size),
        [B, config.numHeads, T, T],
      );
    }
    return out;
  };

  return {
    config,
    engine: 'tfjs',
    forward,
    async dispose() {
      if (disposed) return;
      disposed = true;
      for (const slot of slots)
        kill(slot, new HpError('E_INTERRUPTED', 'Backbone.forward: the backbone was disposed'));
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
