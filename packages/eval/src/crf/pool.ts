import { Worker } from 'node:worker_threads';
import type { WorkerEntry } from '@hpseg/core';
import { HpError, resolveWorkerEntry } from '@hpseg/core';
import type { DenseCrfInput, DenseCrfResult } from './types.js';
import { validateCrfInput } from './validate.js';
import type { WorkerRequest, WorkerResponse } from './worker-protocol.js';

export interface CrfPoolOptions {
  /** Worker threads (bounded pool; each runs one image at a time). Default 2. */
  threads?: number;
  /**
   * Per-image time limit in ms, counted from when the image is handed to a worker (including that
   * worker's start-up on first use). On expiry that
   * image rejects with `E_TIMEOUT` and its worker is terminated and replaced. Default 120000;
   * `Infinity` disables.
   */
  timeoutMs?: number;
}

export interface CrfPool {
  readonly threads: number;
  /**
   * Refines one image on a worker. Rejects with `HpError` (validation codes, `E_TIMEOUT`, ...).
   * `options.timeoutMs` overrides the pool's limit for this image.
   */
  run(input: DenseCrfInput, options?: { timeoutMs?: number }): Promise<DenseCrfResult>;
  /** Terminates the workers; pending images reject with `E_INTERRUPTED`. Idempotent. */
  close(): Promise<void>;
}

export interface DenseCrfBatchOptions extends CrfPoolOptions {
  /** Called after each finished image with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

interface Task {
  id: number;
  timeoutMs: number;
  request: WorkerRequest;
  resolve: (result: DenseCrfResult) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  task: Task | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The built `crf-worker.js` next to this module (or in ./crf/), else the TypeScript source through tsx. */
function workerSpec(): WorkerEntry {
  return resolveWorkerEntry({
    fn: 'createCrfPool',
    moduleUrl: import.meta.url,
    built: ['./crf-worker.js', './crf/crf-worker.js'],
    source: './crf-worker.ts',
    packageName: '@hpseg/eval',
  });
}

function checkOptions(fn: string, options: CrfPoolOptions): { threads: number; timeoutMs: number } {
  const threads = options.threads ?? 2;
  const timeoutMs = options.timeoutMs ?? 120_000;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new HpError(
      'E_ARG',
      `${fn}: threads is invalid: expected an integer in [1, 256], got ${String(threads)}`,
    );
  }
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs <= 0) {
    throw new HpError(
      'E_ARG',
      `${fn}: timeoutMs is invalid: expected a positive number of milliseconds (or Infinity), got ${String(timeoutMs)}`,
    );
  }
  return { threads, timeoutMs };
}

/**
 * A bounded pool of worker threads running `denseCrf`. Results do not depend on the number of
 * threads (each image is computed by the same single-threaded code). Idle workers do not keep
 * the process alive; still call `close()` when done.
 */
export function createCrfPool(options: CrfPoolOptions = {}): CrfPool {
  const { threads, timeoutMs } = checkOptions('createCrfPool', options);
  const spec = workerSpec();
  const slots: Array<Slot | undefined> = new Array(threads).fill(undefined);
  const queue: Task[] = [];
  let nextId = 1;
  let closed = false;

  const fail = (slot: Slot, error: HpError) => {
    const task = slot.task;
    if (slot.timer !== undefined) clearTimeout(slot.timer);
    slot.task = undefined;
    slot.timer = undefined;
    const index = slots.indexOf(slot);
    if (index >= 0) slots[index] = undefined; // replaced lazily by the next dispatch
    void slot.worker.terminate();
    task?.reject(error);
    dispatch();
  };

  const spawn = (): Slot => {
    const worker = new Worker(spec.entry, {
      eval: spec.eval,
      ...(spec.execArgv ? { execArgv: spec.execArgv } : {}),
    });
    const slot: Slot = { worker, task: undefined, timer: undefined };
    worker.on('message', (response: WorkerResponse) => {
      const task = slot.task;
      if (task === undefined || task.id !== response.id) return;
      if (slot.timer !== undefined) clearTimeout(slot.timer);
      slot.task = undefined;
      slot.timer = undefined;
      worker.unref();
      if (response.ok) task.resolve({ probabilities: response.probabilities, labels: response.labels });
      else task.reject(new HpError(response.code, response.message));
      dispatch();
    });
    worker.on('error', (error) => {
      fail(slot, new HpError('E_WORKER', `denseCrf worker: crashed: ${error.message}`, { cause: error }));
    });
    worker.on('exit', (code) => {
      if (slots.includes(slot) && !closed) {
        fail(slot, new HpError('E_WORKER', `denseCrf worker: exited unexpectedly with code ${code}`));
      }
    });
    worker.unref();
    return slot;
  };

  const dispatch = () => {
    if (closed) return;
    for (let i = 0; i < slots.length && queue.length > 0; i++) {
      let slot = slots[i];
      if (slot?.task !== undefined) continue;
      if (slot === undefined) {
        slot = spawn();
        slots[i] = slot;
      }
      const task = queue.shift()!;
      slot.task = task;
      slot.worker.ref();
      const busy = slot;
      const limit = task.timeoutMs;
      if (Number.isFinite(limit)) {
        busy.timer = setTimeout(() => {
          fail(
            busy,
            new HpError(
              'E_TIMEOUT',
              `denseCrf: image timed out: expected to finish within ${limit} ms, it did not; its worker was replaced`,
            ),
          );
        }, limit);
      }
      busy.worker.postMessage(task.request);
    }
  };

  return {
    threads,
    run(input, runOptions) {
      if (closed)
        return Promise.reject(new HpError('E_ARG', 'CrfPool.run: the pool is closed: expected an open pool'));
      let request: WorkerRequest;
      let limit: number;
      try {
        limit = checkOptions('CrfPool.run', { timeoutMs: runOptions?.timeoutMs ?? timeoutMs }).timeoutMs;
        request = { id: nextId++, input: validateCrfInput('denseCrf', input) };
      } catch (error) {
        return Promise.reject(error);
      }
      return new Promise<DenseCrfResult>((resolve, reject) => {
        queue.push({ id: request.id, timeoutMs: limit, request, resolve, reject });
        dispatch();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      const interrupted = () =>
        new HpError('E_INTERRUPTED', 'CrfPool: the pool was closed before this image finished');
      for (const task of queue.splice(0)) task.reject(interrupted());
      const running = slots.filter((slot): slot is Slot => slot !== undefined);
      slots.fill(undefined);
      await Promise.all(
        running.map(async (slot) => {
          if (slot.timer !== undefined) clearTimeout(slot.timer);
          slot.task?.reject(interrupted());
          slot.task = undefined;
          await slot.worker.terminate();
        }),
      );
    },
  };
}

/**
 * Refines a batch of images on a temporary pool, preserving order. Rejects with the first
 * failure (an `HpError` whose `details.index` is the image's position) after stopping the pool.
 */
export async function denseCrfBatch(
  items: readonly DenseCrfInput[],
  options: DenseCrfBatchOptions = {},
): Promise<DenseCrfResult[]> {
  if (!Array.isArray(items)) {
    throw new HpError('E_ARG', `denseCrfBatch: items is invalid: expected an array, got ${typeof items}`);
  }
  checkOptions('denseCrfBatch', options);
  // Validate everything up front so a bad item fails before any work starts.
  items.forEach((item, index) => {
    try {
      validateCrfInput('denseCrfBatch', item);
    } catch (error) {
      const e = error as HpError;
      throw new HpError(e.code, `${e.message} (item ${index})`, { details: { index }, cause: error });
    }
  });
  const pool = createCrfPool({
    ...options,
    threads: Math.max(1, Math.min(options.threads ?? 2, items.length)),
  });
  let done = 0;
  try {
    return await Promise.all(
      items.map((item, index) =>
        pool.run(item).then(
          (result) => {
            done++;
            options.onProgress?.(done, items.length);
            return result;
          },
          (error: HpError) => {
            throw new HpError(error.code, `${error.message} (item ${index})`, {
              details: { index },
              cause: error,
            });
          },
        ),
      ),
    );
  } finally {
    await pool.close();
  }
}
