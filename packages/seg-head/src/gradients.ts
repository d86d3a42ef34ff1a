import { HpError } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * `@tensorflow/tfjs-core` alone registers no gradient functions (the `@tensorflow/tfjs` union
 * package does). Its `dist/register_all_gradients.js` is ESM with extension-less relative imports:
 * bundlers and vitest load it, plain Node does not. Hence no side-effect import here (it would make
 * this package un-importable in Node) but an explicit, idempotent `ensureGradients()`.
 */
const SOURCES = ['@tensorflow/tfjs-core/dist/register_all_gradients.js', '@tensorflow/tfjs'] as const;

/** True once the gradient functions of the core ops (Sum, Relu, MatMul, ...) are registered. */
export function gradientsRegistered(): boolean {
  return ['Sum', 'Relu', 'BatchMatMul', 'Multiply', 'Reshape'].every((k) => tf.getGradient(k) !== undefined);
}

/**
 * Registers TF.js's gradient functions if they are not yet: first from tfjs-core's
 * `register_all_gradients` (works under bundlers and vitest), else by importing `@tensorflow/tfjs`
 * (its Node bundle registers them). Throws `E_BACKEND` naming both when neither works.
 */
export async function ensureGradients(): Promise<void> {
  if (gradientsRegistered()) return;
  const failures: string[] = [];
  for (const source of SOURCES) {
    try {
      const specifier: string = source; // computed, so bundlers and tsc do not require it
      await import(specifier);
      if (gradientsRegistered()) return;
      failures.push(`${source}: imported but registered no gradients`);
    } catch (error) {
      failures.push(`${source}: ${String((error as Error)?.message ?? error).slice(0, 160)}`);
    }
  }
  throw new HpError(
    'E_BACKEND',
    `ensureGradients: TF.js gradient functions could not be registered: expected one of ${SOURCES.join(', ')} to load, got ${failures.join('; ')}`,
    {
      hint: 'npm install @tensorflow/tfjs (its Node bundle registers every gradient), or run under a bundler',
    },
  );
}

/** Throws `E_BACKEND` when gradients are missing (instead of TF.js's "gradient function not found"). */
export function assertGradientsRegistered(fn: string): void {
  if (!gradientsRegistered()) {
    throw new HpError(
      'E_BACKEND',
      `${fn}: TF.js gradient functions are not registered: expected \`await ensureGradients()\` once before training, got none registered`,
      { hint: 'await ensureGradients() from @hpseg/seg-head' },
    );
  }
}
