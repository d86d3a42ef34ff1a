/**
 * A worker thread of the fused engine's pool (built as dist/fused-worker.js; from source it runs through
 * tsx, see `resolveWorkerEntry` in @hpseg/core). It waits on the control block, runs its share of each
 * task on the shared memory and counts itself done; it never uses its event loop after start.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { controlOf, DONE, QUIT, SEQ, TASK, THREADS, writeError } from './control.js';
import type { FusedWorkerData } from './pool.js';
import { runTask, ThreadContext } from './tasks.js';

const data = workerData as FusedWorkerData;
const control = controlOf(data.control);
const ctx = new ThreadContext(data.module, data.memory);
let seen = Atomics.load(control.i32, SEQ);
parentPort?.postMessage('ready');

for (;;) {
  Atomics.wait(control.i32, SEQ, seen);
  seen = Atomics.load(control.i32, SEQ);
  if (Atomics.load(control.i32, QUIT) !== 0) break;
  try {
    runTask(ctx, control, control.i32[TASK]!, data.index, control.i32[THREADS]!);
  } catch (error) {
    writeError(control, `worker ${data.index}: ${(error as Error).message}`);
  }
  Atomics.add(control.i32, DONE, 1);
  Atomics.notify(control.i32, DONE);
}
