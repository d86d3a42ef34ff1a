import { defineConfig } from 'tsup';

export default defineConfig({
  // tfjs-worker: the worker-thread entry of the tfjs engine's worker mode, loaded as dist/tfjs-worker.js.
  entry: { index: 'src/index.ts', 'tfjs-worker': 'src/tfjs-worker.ts' },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts' } },
  clean: true,
  sourcemap: true,
  target: 'node20',
});
