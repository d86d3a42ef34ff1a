import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { availableBackends, isHpError, selectBackend } from '../src/index.js';

describe('selectBackend', () => {
  it('activates cpu and wasm and computes on each', async () => {
    for (const name of ['cpu', 'wasm'] as const) {
      expect(await selectBackend(name)).toBe(name);
      expect(tf.getBackend()).toBe(name);
      const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])));
      expect(await y.data()).toEqual(new Float32Array([11]));
      y.dispose();
    }
  });

  it('auto falls back to the fastest installed backend (wasm here, tfjs-node is not installed)', async () => {
    const installed = await availableBackends();
    expect(installed).toContain('wasm');
    expect(installed).toContain('cpu');
    expect(await selectBackend('auto')).toBe(installed[0]);
  });

  it('names the npm command when tfjs-node is missing', async () => {
    for (const [name, pkg] of [
      ['tensorflow', '@tensorflow/tfjs-node'],
      ['tensorflow-gpu', '@tensorflow/tfjs-node-gpu'],
    ] as const) {
      const installed = await availableBackends();
      if (installed.includes(name)) continue; // a user machine with it installed
      try {
        await selectBackend(name);
        expect.unreachable();
      } catch (e) {
        expect(isHpError(e, 'E_BACKEND')).toBe(true);
        expect((e as Error).message).toContain(`npm install ${pkg}`);
      }
    }
  });

  it('rejects an unknown name', async () => {
    await expect(selectBackend('webgpu' as never)).rejects.toMatchObject({ name: 'HpError', code: 'E_ARG' });
  });
});
