import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

const KERNELS = ['Sum', 'Relu', 'BatchMatMul', 'Multiply', 'Reshape', 'Prod', 'Conv2D', 'Softmax'];

describe('@hpseg/core/register-gradients', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('registers the gradients of the core ops with the engine the program uses', async () => {
    expect(KERNELS.filter((k) => tf.getGradient(k) !== undefined)).toEqual([]); // tfjs-core alone: none
    await import('../src/register-gradients.js');
    expect(KERNELS.filter((k) => tf.getGradient(k) === undefined)).toEqual([]);
  });

  it('gradients computed through them are the hand-derived ones, and nothing leaks', async () => {
    await import('../src/register-gradients.js');
    const x = tf.tensor1d([1, -2, 3]);
    const w = tf.tensor2d([0.5, -1, 2, 0, 1, 3], [3, 2]);
    const before = tf.memory().numTensors;
    // f(x) = sum(relu(x W)) with x W = [-3.5, 7]: d/dx = W[:, 1] (only the second unit is active)
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.relu(tf.matMul(tf.reshape(v, [1, 3]), w))))(x);
    // f(x) = prod(x) = -6: d/dx_i = prod / x_i (Prod's gradient needs the chained tensor.reshape and tfjs-core's backend_util)
    const p = tf.grad((v: tf.Tensor) => tf.prod(v))(x);
    expect(Array.from(g.dataSync())).toEqual([-1, 0, 3]);
    expect(Array.from(g.dataSync())).toEqual([-1, 0, 3]);
    expect(Array.from(p.dataSync())).toEqual([-6, 3, -2]);
    tf.dispose([g, p]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w]);
  });

  it('the source entry also works under tsx (the CLI from a source checkout without a build)', () => {
    const tsx = createRequire(import.meta.url).resolve('tsx');
    const r = spawnSync(
      process.execPath,
      ['--import', tsx, join(import.meta.dirname, 'helpers', 'gradients-under-tsx.ts')],
      { encoding: 'utf8' },
    );
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const printed = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      registered: string[];
      grad: number[];
    };
    expect(printed).toEqual({
      registered: ['Sum', 'Relu', 'BatchMatMul', 'Multiply', 'Prod'],
      grad: [2, -4, 6],
    });
  });
});
