import { HpError } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import type { RowExchange } from './engine-tfjs.js';

/**
 * The shared memory of one row-parallel image: a barrier (count, generation, abort flag) and two key/value
 * areas used by alternate blocks. Double buffering makes one barrier per block enough: a worker writes block
 * `l + 1` only after everyone arrived at block `l`'s barrier, and it can only come back to block `l`'s area
 * (at `l + 2`) once everyone has passed barrier `l + 1`, i.e. finished reading block `l`.
 */
const CONTROL_BYTES = 64;
const COUNT = 0;
const GENERATION = 1;
const ABORTED = 2;

/** Bytes of the shared buffer for `T` tokens of width `C`. */
export function rowExchangeBytes(T: number, C: number): number {
  return CONTROL_BYTES + 2 * 2 * T * C * 4;
}

/** Marks the exchange failed and wakes every waiting worker (they throw). Main thread, on a worker's failure. */
export function abortRowExchange(shared: SharedArrayBuffer): void {
  const control = new Int32Array(shared, 0, CONTROL_BYTES / 4);
  Atomics.store(control, ABORTED, 1);
  Atomics.add(control, GENERATION, 1);
  Atomics.notify(control, GENERATION);
}

export interface RowExchangeOptions {
  shared: SharedArrayBuffer;
  parties: number;
  /** This worker's token rows `[start, end)` of `T`. */
  start: number;
  end: number;
  T: number;
  heads: number;
  headDim: number;
  /** How long to wait at a barrier for the other workers. */
  timeoutMs: number;
}

/** The worker side: writes its rows of k and v, waits for the others, reads all rows back as tensors. */
export function createRowExchange(o: RowExchangeOptions): RowExchange {
  const control = new Int32Array(o.shared, 0, CONTROL_BYTES / 4);
  const data = new Float32Array(o.shared, CONTROL_BYTES);
  const headSize = o.T * o.headDim;
  const area = (parity: number, kind: 0 | 1, head: number) =>
    ((parity * 2 + kind) * o.heads + head) * headSize;

  const aborted = (block: number) =>
    new HpError('E_INTERRUPTED', `Backbone.forward: row-parallel block ${block}: another worker failed`);
  const barrier = (block: number) => {
    if (Atomics.load(control, ABORTED) !== 0) throw aborted(block);
    const generation = Atomics.load(control, GENERATION);
    if (Atomics.add(control, COUNT, 1) === o.parties - 1) {
      Atomics.store(control, COUNT, 0);
      Atomics.add(control, GENERATION, 1);
      Atomics.notify(control, GENERATION);
    } else {
      const deadline = Date.now() + o.timeoutMs;
      while (Atomics.load(control, GENERATION) === generation) {
        const left = deadline - Date.now();
        if (left <= 0 || Atomics.wait(control, GENERATION, generation, left) === 'timed-out') {
          throw new HpError(
            'E_TIMEOUT',
            `Backbone.forward: row-parallel block ${block}: expected ${o.parties} workers at the barrier within ${o.timeoutMs} ms, some did not arrive`,
          );
        }
      }
    }
    if (Atomics.load(control, ABORTED) !== 0) throw aborted(block);
  };

  return {
    start: o.start,
    end: o.end,
    gather(block, k, v) {
      const parity = block % 2;
      for (let head = 0; head < o.heads; head++) {
        data.set(k[head]!.dataSync() as Float32Array, area(parity, 0, head) + o.start * o.headDim);
        data.set(v[head]!.dataSync() as Float32Array, area(parity, 1, head) + o.start * o.headDim);
      }
      barrier(block);
      const read = (kind: 0 | 1) =>
        Array.from({ length: o.heads }, (_, head) => {
          const from = area(parity, kind, head);
          return tf.tensor2d(data.slice(from, from + headSize), [o.T, o.headDim]);
        });
      return { k: read(0), v: read(1) };
    },
  };
}
