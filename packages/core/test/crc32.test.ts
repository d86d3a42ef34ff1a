import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crc32Js } from '../src/checkpoint/crc32.js';
import { crc32 } from '../src/index.js';

describe('crc32', () => {
  it('matches the standard check value and the JS fallback on random data', () => {
    const check = new TextEncoder().encode('123456789');
    expect(crc32(check)).toBe(0xcbf43926);
    expect(crc32Js(check)).toBe(0xcbf43926);
    for (const n of [0, 1, 7, 8, 9, 1000, 65_537]) {
      const data = randomBytes(n);
      expect(crc32Js(data), `length ${n}`).toBe(crc32(data));
      expect(crc32Js(data.subarray(5), crc32Js(data.subarray(0, 5))), `continued, length ${n}`).toBe(
        crc32(data),
      );
    }
  });
});
