import { HpError, resolveWorkerEntry } from '@hpseg/core';
import {
  CONTROL_BYTES,
  type Control,
  controlOf,
  DONE,
  ERROR,
  NEXT,
  QUIT,
  readError,
  SEQ,
  TASK,
  THREADS,
  writeError,
} from './control.js';
import { createSharedMemory, kernelsModule, MAX_PAGES, type WasmMemory, type WasmModule } from './kernels.js';
import { runTask, ThreadContext } from './tasks.js';

/** What a worker thread receives (fused-worker.ts). */
export interface FusedWorkerData {
  readonly module: WasmModule;
  readonly memory: WasmMemory;
  readonly control: SharedArrayBuffer;
  readonly index: number;
}

/** The slice of `node:worker_threads`' Worker the pool uses. */
interface WorkerHandle {
  unref(): void;
  terminate(): Promise<number>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

/**
 * The threads of the fused engine: the calling thread plus `threads − 1` workers, all on one shared
 * WebAssembly memory. `run` is synchronous: it posts a task through the control block, computes the
 * calling thread's share, then blocks in `Atomics.wait` until the workers are done, so the loss stays
 * a synchronous function (it runs inside `tf.customGrad` and `tf.variableGrads`). Workers are unref'd:
 * they never keep the process alive.
 */
export class FusedPool {
  readonly memory: WasmMemory;
  readonly control: Control;
  readonly #controlBuffer: SharedArrayBuffer;
  readonly #main: ThreadContext;
  #workers: WorkerHandle[] = [];
  #disposed = false;

  private constructor(readonly threads: number) {
    this.memory = createSharedMemory();
    this.#controlBuffer = new SharedArrayBuffer(CONTROL_BYTES);
    this.control = controlOf(this.#controlBuffer);
    this.control.i32[THREADS] = threads;
    this.#main = new ThreadContext(kernelsModule(), this.memory);
  }

  /** A pool of the calling thread alone (no workers). */
  static single(): FusedPool {
    return new FusedPool(1);
  }

  /** A pool of `threads` threads; resolves once every worker has instantiated the kernels. */
  static async start(threads: number): Promise<FusedPool> {
    const pool = new FusedPool(threads);
    if (threads === 1) return pool;
    const { Worker } = await import('node:worker_threads');
    const spec = resolveWorkerEntry({
      fn: 'initFusedLoss',
      moduleUrl: import.meta.url,
      built: ['./fused-worker.js'],
      source: './fused-worker.ts',
      packageName: '@hpseg/hidden-positives',
    });
    const started = await Promise.allSettled(
      Array.from({ length: threads - 1 }, (_, i) => {
        const workerData: FusedWorkerData = {
          module: kernelsModule(),
          memory: pool.memory,
          control: pool.#controlBuffer,
          index: i + 1,
        };
        const worker = new Worker(spec.entry, {
          eval: spec.eval,
          workerData,
          ...(spec.execArgv ? { execArgv: spec.execArgv } : {}),
        });
        pool.#workers.push(worker);
        return new Promise<void>((resolve, reject) => {
          worker.once('message', () => resolve());
          worker.once('error', (error) =>
            reject(
              new HpError(
                'E_WORKER',
                `initFusedLoss: a worker failed to start: ${(error as Error).message}`,
                {
                  cause: error,
                },
              ),
            ),
          );
          worker.once('exit', (code) => {
            if (!pool.#disposed)
              reject(
                new HpError('E_WORKER', `initFusedLoss: a worker exited during start with code ${code}`),
              );
          });
        });
      }),
    );
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await pool.dispose();
      throw failed.reason;
    }
    for (const w of pool.#workers) w.unref();
    return pool;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Grows the shared memory to hold at least `bytes` bytes. */
  reserve(bytes: number, fn: string): void {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return;
    const pages = Math.ceil((bytes - have) / 65536);
    if (have / 65536 + pages > MAX_PAGES) {
      throw new HpError(
        'E_MEMORY',
        `${fn}: the fused engine needs ${(bytes / 2 ** 30).toFixed(2)} GiB of WebAssembly memory, expected at most 4 GiB. Use a smaller batch or engine: 'tfjs'.`,
      );
    }
    this.memory.grow(pages);
  }

  /**
   * Runs one task on every thread; throws the first error any of them hit. `before` runs on the calling
   * thread after the workers have started and before its own share (work it overlaps with theirs).
   */
  run(task: number, before?: () => void): void {
    if (this.#disposed)
      throw new HpError('E_DISPOSED', 'hiddenPositiveLoss: the fused engine pool was disposed');
    const i32 = this.control.i32;
    i32[TASK] = task;
    Atomics.store(i32, NEXT, 0);
    Atomics.store(i32, DONE, 0);
    Atomics.store(i32, ERROR, 0);
    Atomics.add(i32, SEQ, 1);
    Atomics.notify(i32, SEQ);
    try {
      before?.();
      runTask(this.#main, this.control, task, 0, this.threads);
    } catch (error) {
      writeError(this.control, (error as Error).message);
    }
    for (let done = Atomics.load(i32, DONE); done < this.threads - 1; done = Atomics.load(i32, DONE)) {
      Atomics.wait(i32, DONE, done, 1000);
    }
    if (Atomics.load(i32, ERROR) !== 0) {
      throw new HpError(
        'E_WORKER',
        `hiddenPositiveLoss: the fused engine failed: ${readError(this.control)}`,
      );
    }
  }

  /** Stops the workers (they leave their wait loop) and drops the memory. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    Atomics.store(this.control.i32, QUIT, 1);
    Atomics.add(this.control.i32, SEQ, 1);
    Atomics.notify(this.control.i32, SEQ);
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#workers = [];
  }
}
