import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  availableBackends,
  BACKEND_CHOICES,
  describeBackend,
  formatBackend,
  isHpError,
  selectBackend,
} from '../src/index.js';

describe('selectBackend', () => {
  it('describeBackend before any selection initialises nothing', () => {
    expect(describeBackend()).toEqual({ name: null, selected: null, packageName: null, webgpu: null });
    expect(formatBackend()).toBe('no TF.js backend selected');
  });

  it('activates cpu and wasm and computes on each', async () => {
    for (const name of ['cpu', 'wasm'] as const) {
      expect(await selectBackend(name)).toBe(name);
      expect(tf.getBackend()).toBe(name);
      const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])));
      expect(await y.data()).toEqual(new Float32Array([11]));
      y.dispose();
    }
  });

  it('auto falls back to the fastest installed backend (wasm here, tfjs-node is not installed), never webgpu', async () => {
    const installed = await availableBackends();
    expect(installed).toContain('wasm');
    expect(installed).toContain('cpu');
    expect(installed).toContain('webgpu'); // importable here (root devDependencies) ...
    expect(await selectBackend('auto')).toBe(installed.filter((b) => b !== 'webgpu')[0]); // ... but auto never picks it
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

  it('describes the active backend for run configs and logs', async () => {
    await selectBackend('wasm');
    expect(describeBackend()).toEqual({
      name: 'wasm',
      selected: 'wasm',
      packageName: '@tensorflow/tfjs-backend-wasm',
      webgpu: null,
    });
    expect(formatBackend()).toBe('wasm (@tensorflow/tfjs-backend-wasm)');
    await tf.setBackend('cpu'); // set behind selectBackend's back: the description follows TF.js
    expect(describeBackend()).toMatchObject({
      name: 'cpu',
      selected: null,
      packageName: '@tensorflow/tfjs-backend-cpu',
    });
  });

  it('knows webgpu by name (the CLI offers these)', () => {
    expect(BACKEND_CHOICES).toEqual(['auto', 'tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu']);
  });

  it('accepts any backend registered with TF.js', async () => {
    tf.registerBackend('hp-test-cpu', () => new MathBackendCPU());
    try {
      expect(await selectBackend('hp-test-cpu')).toBe('hp-test-cpu');
      expect(tf.getBackend()).toBe('hp-test-cpu');
      expect(describeBackend()).toEqual({
        name: 'hp-test-cpu',
        selected: 'hp-test-cpu',
        packageName: null,
        webgpu: null,
      });
      expect(formatBackend()).toBe('hp-test-cpu');
    } finally {
      await selectBackend('cpu');
      tf.removeBackend('hp-test-cpu');
    }
  });

  it('a registered backend that fails to initialise → E_BACKEND', async () => {
    tf.registerBackend('hp-test-broken', () => {
      throw new Error('no device here');
    });
    const warn = console.warn;
    console.warn = () => undefined; // TF.js warns about the failed initialisation
    try {
      await expect(selectBackend('hp-test-broken')).rejects.toMatchObject({
        code: 'E_BACKEND',
        message: expect.stringContaining("backend 'hp-test-broken' failed to initialise"),
      });
    } finally {
      console.warn = warn;
      tf.removeBackend('hp-test-broken');
    }
  });

  it('rejects a name that is neither known nor registered, listing the registered ones', async () => {
    await expect(selectBackend('wegbpu')).rejects.toMatchObject({
      name: 'HpError',
      code: 'E_ARG',
      message: expect.stringMatching(
        /^selectBackend: unknown backend: expected one of auto, tensorflow-gpu, tensorflow, webgpu, wasm, cpu or a backend registered with TF\.js \(registered now: .*cpu.*wasm.*\), got "wegbpu"/,
      ),
    });
    await expect(selectBackend('' as never)).rejects.toMatchObject({ code: 'E_ARG' });
    await expect(selectBackend(3 as never)).rejects.toMatchObject({ code: 'E_ARG' });
  });
});
