import { assertInt, describeValue, HpError } from '@hpseg/core';
import { FusedPool } from './pool.js';

/** Backends whose tensors live in host memory: there `engine: 'auto'` picks the fused (host) engines. */
export const HOST_BACKENDS: ReadonlySet<string> = new Set(['wasm', 'cpu']);

export interface FusedLossOptions {
  /**
   * Threads of the fused engine, the calling thread included; default: the number of cores
   * (`os.availableParallelism()`). 1 runs on the calling thread only.
   */
  readonly threads?: number;
}

let started: FusedPool | undefined;
let local: FusedPool | undefined;

/**
 * Starts the fused engine's worker threads (once; again with another count replaces them). Without it
 * the fused engine runs on the calling thread alone. The workers are unref'd (they do not keep the
 * process alive); `disposeFusedLoss` stops them and frees their memory.
 */
export async function initFusedLoss(options: FusedLossOptions = {}): Promise<{ threads: number }> {
  const fn = 'initFusedLoss';
  if (typeof options !== 'object' || options === null) {
    throw new HpError('E_ARG', `${fn}: expected an options object, got ${describeValue(options)}`);
  }
  let threads = options.threads;
  if (threads === undefined) {
    const os = await import('node:os');
    threads = os.availableParallelism?.() ?? os.cpus().length;
  } else {
    assertInt(fn, 'threads', threads, 1, 256);
  }
  if (started !== undefined && !started.disposed && started.threads === threads) return { threads };
  await disposeFusedLoss();
  started = await FusedPool.start(threads);
  return { threads };
}

/** Stops the fused engine's workers and drops its memory (a later call starts from scratch). */
export async function disposeFusedLoss(): Promise<void> {
  const pools = [started, local];
  started = undefined;
  local = undefined;
  await Promise.all(pools.map((p) => p?.dispose()));
}

/** The pool the fused engine runs on: the started one, else the calling thread alone. */
export function fusedPool(): FusedPool {
  if (started !== undefined && !started.disposed) return started;
  local ??= FusedPool.single();
  return local;
}

/** Threads the fused engine uses now. */
export function fusedLossThreads(): number {
  return started !== undefined && !started.disposed ? started.threads : 1;
}

let supported: boolean | undefined;

/** Whether this runtime has what the fused engine needs (WebAssembly SIMD with shared memory). */
export function fusedLossSupported(): boolean {
  if (supported === undefined) {
    try {
      fusedPool();
      supported = true;
    } catch {
      supported = false;
    }
  }
  return supported;
}

/** What the fused engine reports to a benchmark about one call. */
export interface FusedLossProfiler {
  /** Wall time of one phase. */
  phase(name: string, ms: number): void;
  /** Entries of the sampled products: `tile` in the [B, |R_r|] group tiles, `extra` positives outside R. */
  entries(tile: number, extra: number): void;
}

let profiler: FusedLossProfiler | undefined;

/** Benchmarks only (not exported from the package). */
export function setFusedLossProfiler(value: FusedLossProfiler | undefined): void {
  profiler = value;
}

export function fusedLossProfiler(): FusedLossProfiler | undefined {
  return profiler;
}
