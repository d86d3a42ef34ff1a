import { describe, expect, it } from 'vitest';
import { assertInt, assertNumber, assertShape, describeValue, HpError, isHpError } from '../src/index.js';

describe('HpError', () => {
  it('carries a stable code, name, hint and details', () => {
    const e = new HpError('E_SHAPE', 'f: x is wrong: expected [2], got [3]', {
      hint: 'h',
      details: { a: 1 },
    });
    expect(e.name).toBe('HpError');
    expect(e.code).toBe('E_SHAPE');
    expect(e.hint).toBe('h');
    expect(e.details).toEqual({ a: 1 });
    expect(e).toBeInstanceOf(Error);
    expect(isHpError(e)).toBe(true);
    expect(isHpError(e, 'E_SHAPE')).toBe(true);
    expect(isHpError(e, 'E_ARG')).toBe(false);
  });

  it('recognises errors from another copy of the package by name and code', () => {
    const foreign = Object.assign(new Error('x'), { name: 'HpError', code: 'E_IO' });
    expect(isHpError(foreign, 'E_IO')).toBe(true);
    expect(isHpError(new Error('x'))).toBe(false);
    expect(isHpError(null)).toBe(false);
  });

  it('describes received values briefly', () => {
    expect(describeValue([1, 2, 3])).toBe('[1, 2, 3]');
    expect(describeValue(new Int32Array(5))).toBe('Int32Array(length 5)');
    expect(describeValue({ shape: [2, 3], dtype: 'float32' })).toBe('tensor float32[2, 3]');
    expect(describeValue('a')).toBe('"a"');
  });
});

describe('assertShape', () => {
  it('binds named dimensions and checks them across tensors', () => {
    const bound = assertShape('f', 'z', [6, 4], ['N', 'D']);
    expect(bound).toEqual({ N: 6, D: 4 });
    expect(assertShape('f', 'zMix', [6, 4], ['N', 'D'], bound)).toEqual({ N: 6, D: 4 });
    expect(() => assertShape('f', 'zMix', [5, 4], ['N', 'D'], bound)).toThrowError(
      /f: zMix has the wrong shape: expected \[N, D\] with N = 6, got \[5, 4\]/,
    );
  });

  it('checks rank, fixed sizes and wildcards', () => {
    expect(assertShape('f', 'x', [2, 3, 9], [null, 3, 9])).toEqual({});
    try {
      assertShape('f', 'x', [2, 3], [2, 3, 1]);
      expect.unreachable();
    } catch (e) {
      expect(isHpError(e, 'E_SHAPE')).toBe(true);
      expect((e as Error).message).toContain('expected [2, 3, 1] (rank 3), got [2, 3]');
    }
  });
});

describe('number checks', () => {
  it('accepts valid and rejects invalid values with the received value in the message', () => {
    expect(assertInt('f', 'k', 3, 1)).toBe(3);
    expect(() => assertInt('f', 'k', 0, 1)).toThrowError('f: k is invalid: expected an integer >= 1, got 0');
    expect(() => assertInt('f', 'k', 1.5)).toThrowError('expected an integer, got 1.5');
    expect(assertNumber('f', 'tau', 0.5, 0, 1)).toBe(0.5);
    expect(() => assertNumber('f', 'tau', Number.NaN, 0, 1)).toThrowError('got NaN');
  });
});
