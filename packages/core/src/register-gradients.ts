/**
 * `import '@hpseg/core/register-gradients'` registers TF.js's gradient functions (Sum, Relu, MatMul,
 * ...) with the engine of the `@tensorflow/tfjs-core` the program uses: one import, in plain Node,
 * under a bundler or in tests, before `tf.grad`/`valueAndGrads`/optimisers.
 *
 * Why an entry of its own: tfjs-core registers no gradients by itself (the `@tensorflow/tfjs` union
 * package does). Its `dist/register_all_gradients.js` does, but it is an ES module written for
 * bundlers: extension-less (`./ops/add`) and directory (`./gradients`) imports, which plain Node
 * refuses. The published `dist/register-gradients.js` is that file and what it imports, bundled by
 * tsup (`tsup.config.ts`), with `@tensorflow/tfjs-core` itself left external. The bundled copy of
 * tfjs-core's modules registers into the user's engine because tfjs keeps its engine (`_tfengine`),
 * kernel and gradient registries on one global object (`getGlobal` in tfjs-core's `global_util`),
 * shared by every copy; `test/register-gradients.test.ts` and `tools/pack-scripts/` check it.
 *
 * tfjs-core's Prod gradient calls the chained method `tensor.reshape(...)`, which tfjs-core alone does
 * not define (the union package registers every chained op): this entry adds that one method to the
 * Tensor prototype, nothing else. (GatherV2's gradient with `batchDims: 1` also calls chained `split`
 * and `slice`; it stays what tfjs-core gives without the union package.)
 */
import { createRequire } from 'node:module';
// First: the user's tfjs-core evaluates before the bundled modules, so it creates the global engine.
import { getGradient } from '@tensorflow/tfjs-core';
import { HpError } from './errors.js';

try {
  // Bundled into one dist chunk by tsup; from source (vitest, bundlers) an ordinary import.
  await import('./tfjs-gradients.js');
} catch (error) {
  // Source runs under tsx only: tsx's ESM resolver trips on `./gradients`, which is both a directory
  // and `gradients.js`; its CommonJS path (require, which tsx transpiles) resolves the file first.
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== 'ERR_UNSUPPORTED_DIR_IMPORT' && code !== 'ERR_MODULE_NOT_FOUND') throw error;
  // The same two modules as tfjs-gradients.ts.
  const require = createRequire(import.meta.url);
  require('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  require('@tensorflow/tfjs-core/dist/public/chained_ops/reshape.js');
}

if (getGradient('Sum') === undefined) {
  throw new HpError(
    'E_BACKEND',
    "@hpseg/core/register-gradients: TF.js gradients after loading tfjs-core's register_all_gradients: expected the 'Sum' gradient registered, got none. Likely two major versions of @tensorflow/tfjs-core are installed (npm ls @tensorflow/tfjs-core).",
  );
}
