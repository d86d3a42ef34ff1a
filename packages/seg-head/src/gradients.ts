import { HpError } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * `@tensorflow/tfjs-core` alone registers no gradient functions (the `@tensorflow/tfjs` union
 * package does). `@hpseg/core/register-gradients` registers them in plain Node, under bundlers and in
 * tests (see its source for why it is a bundled entry); `@tensorflow/tfjs`, an optional peer, is the
 * fallback. Importing either is a side effect on TF.js's global registry, hence no import at the top
 * of this package but an explicit, idempotent `ensureGradients()`.
 */
const SOURCES = ['@hpseg/core/register-gradients', '@tensorflow/tfjs'] as const;

const IMPORTS: Readonly<Record<(typeof SOURCES)[number], () => Promise<unknown>>> = {
  '@hpseg/core/register-gradients': () => import('@hpseg/core/register-gradients'),
  '@tensorflow/tfjs': () => {
    const specifier: string = '@tensorflow/tfjs'; // computed: an optional peer, bundlers and tsc need not find it
    return import(specifier);
  },
};

/** True once the gradient functions of the core ops (Sum, Relu, MatMul, ...) are registered. */
export function gradientsRegistered(): boolean {
  return ['Sum', 'Relu', 'BatchMatMul', 'Multiply', 'Reshape'].every((k) => tf.getGradient(k) !== undefined);
}

/**
 * Registers TF.js's gradient functions if they are not yet: from `@hpseg/core/register-gradients`,
 * else by importing `@tensorflow/tfjs` (its Node bundle registers them). Throws `E_BACKEND` naming
 * both when neither works.
 */
export async function ensureGradients(): Promise<void> {
  if (gradientsRegistered()) return;
  const failures: string[] = [];
  for (const source of SOURCES) {
    try {
      await IMPORTS[source]();
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
      hint: "import '@hpseg/core/register-gradients' once at startup, or npm install @tensorflow/tfjs",
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
