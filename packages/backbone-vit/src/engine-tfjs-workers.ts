import { Worker } from 'node:worker_threads';
import { HpError, resolveWorkerEntry } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { checkImages, disposedError } from './input.js';
import type { TfjsWorkerRequest, TfjsWorkerResponse } from './tfjs-worker-protocol.js';
import type { Backbone, BackboneOutput, ForwardOptions } from './types.js';
import type { VitHostWeights } from './weights.js';

type ForwardResult = Extract<TfjsWorkerResponse, { type: 'forward'; ok: true }>;

interface Pending {
  resolve: (result: ForwardResult) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Set once the worker died: every later request fails with it. */
  dead: HpError | undefined;
}

/** Splits `B` images into at most `n` contiguous runs whose sizes differ by at most one. */
export function splitBatch(B: number, n: number): { start: number; count: number }[] {
  const parts = Math.min(B, n);
  const runs: { start: number; count: number }[] = [];
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const count = Math.floor(B / parts) + (i < B % parts ? 1 : 0);
    runs.push({ start, count });
    start += count;
  }
  return runs;
}

/**
 * The tfjs engine on `workers` worker threads, each with its own TF.js wasm backend and its own copy of the
 * weights (TF.js wasm runs one thread per backend in Node). A forward splits the batch into contiguous runs,
 * one per worker, and gathers the results into tensors on the caller's active backend. Each image is computed
 * by the same single-threaded code whatever the number of workers, so results do not depend on it; a batch of
 * one image gains nothing.
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
        if (message.ok) pending.resolve(message as ForwardResult);
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

  try {
    for (let i = 0; i < workers; i++) slots.push(await start());
  } catch (error) {
    disposed = true;
    await Promise.all(slots.map((s) => s.worker.terminate()));
    throw error;
  }

  const request = (slot: Slot, message: Extract<TfjsWorkerRequest, { type: 'forward' }>) =>
    new Promise<ForwardResult>((resolve, reject) => {
      if (slot.dead) {
        reject(slot.dead);
        return;
      }
      slot.pending.set(message.id, { resolve, reject });
      slot.worker.ref();
      slot.worker.postMessage(message, [message.pixels.buffer as ArrayBuffer]);
    });

  const forward = async (images: tf.Tensor4D, options: ForwardOptions = {}): Promise<BackboneOutput> => {
    if (disposed) throw disposedError();
    const { B, H, W, h, w, T } = checkImages('Backbone.forward', images, config);
    const attention = options.attention === true;
    const pixels = (await images.data()) as Float32Array;
    const perImage = H * W * 3;
    const runs = splitBatch(B, slots.length);
    const results = await Promise.all(
      runs.map(({ start, count }, i) =>
        request(slots[i]!, {
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
