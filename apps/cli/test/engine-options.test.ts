import { availableParallelism } from 'node:os';
import { selectBackend } from '@hpseg/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { engineOptions } from '../src/engine-options.js';

describe('engineOptions (HPSEG_ORT_PROVIDERS, HPSEG_TFJS_WORKERS)', () => {
  beforeEach(async () => {
    await selectBackend('cpu');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it.skipIf(availableParallelism() < 2)(
    'tfjs on the wasm backend: one worker per core unless HPSEG_TFJS_WORKERS says otherwise',
    async () => {
      vi.stubEnv('HPSEG_TFJS_WORKERS', '');
      await selectBackend('wasm');
      expect(engineOptions('tfjs')).toEqual({ engine: 'tfjs', workers: availableParallelism() });
      expect(engineOptions('onnx')).toEqual({ engine: 'onnx' });
      vi.stubEnv('HPSEG_TFJS_WORKERS', '0');
      expect(engineOptions('tfjs')).toEqual({ engine: 'tfjs', workers: 0 });
    },
  );

  it('nothing set, cpu backend: just the engine', () => {
    vi.stubEnv('HPSEG_ORT_PROVIDERS', '');
    vi.stubEnv('HPSEG_TFJS_WORKERS', '');
    expect(engineOptions('onnx')).toEqual({ engine: 'onnx' });
    expect(engineOptions('tfjs')).toEqual({ engine: 'tfjs' });
  });

  it('each variable applies to its own engine only', () => {
    vi.stubEnv('HPSEG_ORT_PROVIDERS', 'cuda, cpu');
    vi.stubEnv('HPSEG_TFJS_WORKERS', ' 2 ');
    expect(engineOptions('onnx')).toEqual({ engine: 'onnx', executionProviders: ['cuda', 'cpu'] });
    expect(engineOptions('tfjs')).toEqual({ engine: 'tfjs', workers: 2 });
  });

  it('a worker count that is not a whole number → E_ARG naming the variable and the value', () => {
    vi.stubEnv('HPSEG_TFJS_WORKERS', 'two');
    expect(() => engineOptions('tfjs')).toThrow(
      expect.objectContaining({
        code: 'E_ARG',
        message: 'hpseg: bad HPSEG_TFJS_WORKERS: expected a whole number of worker threads, got "two"',
      }),
    );
  });
});
