import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { abortRowExchange, createRowExchange, rowExchangeBytes } from '../src/row-exchange.js';

const T = 3;
const HEAD_DIM = 2;

function exchange(shared: SharedArrayBuffer, parties: number, start: number, end: number, timeoutMs = 5000) {
  return createRowExchange({ shared, parties, start, end, T, heads: 1, headDim: HEAD_DIM, timeoutMs });
}

describe('row exchange (shared keys and values with a barrier)', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('one party: its own rows come back as the whole key and value tensors', () => {
    const shared = new SharedArrayBuffer(rowExchangeBytes(T, HEAD_DIM));
    const k = tf.tensor2d([1, 2, 3, 4, 5, 6], [T, HEAD_DIM]);
    const v = tf.tensor2d([7, 8, 9, 10, 11, 12], [T, HEAD_DIM]);
    const all = exchange(shared, 1, 0, T).gather(0, [k], [v]);
    expect(all.k[0]!.arraySync()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(all.v[0]!.arraySync()).toEqual([
      [7, 8],
      [9, 10],
      [11, 12],
    ]);
    tf.dispose([k, v, ...all.k, ...all.v]);
  });

  it('a partner that never arrives → E_TIMEOUT naming the block and the party count', () => {
    const shared = new SharedArrayBuffer(rowExchangeBytes(T, HEAD_DIM));
    const k = tf.tensor2d([1, 2], [1, HEAD_DIM]);
    expect(() => exchange(shared, 2, 0, 1, 50).gather(4, [k], [k])).toThrow(
      expect.objectContaining({
        code: 'E_TIMEOUT',
        message: expect.stringContaining(
          'row-parallel block 4: expected 2 workers at the barrier within 50 ms',
        ),
      }),
    );
    k.dispose();
  });

  it('after an abort every gather fails with E_INTERRUPTED at once', () => {
    const shared = new SharedArrayBuffer(rowExchangeBytes(T, HEAD_DIM));
    abortRowExchange(shared);
    const k = tf.tensor2d([1, 2], [1, HEAD_DIM]);
    // Without the abort flag this would wait out the 20 s timeout and fail with E_TIMEOUT instead.
    expect(() => exchange(shared, 2, 0, 1, 20_000).gather(0, [k], [k])).toThrow(
      expect.objectContaining({
        code: 'E_INTERRUPTED',
        message: expect.stringContaining('another worker failed'),
      }),
    );
    k.dispose();
  });
});
